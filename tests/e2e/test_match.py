"""test_match.py — ranked matches for a load and ranked loads for a driver
over HTTP: who may ask, what the answers hold (scores with their reasons,
hard filters, privacy-snapped positions for companies), backhaul toward
home or a province.  Exactness against brute force is proved by the unit
test tests/unit/test_match_match.c; here the contract is checked."""
from urllib.parse import quote

from harness import CHENGDU, GUIYANG, KUNMING, E2ETestCase, offset_point


class MatchesForALoad(E2ETestCase):
    def setUp(self):
        super().setUp()
        s = self.s = self.start_server()
        self.owner = s.create_company()
        self.other = s.create_company(name="另一家")
        # Five fitting trucks at 2, 10, 20, 40, 80 km; one too small; one of the wrong type; one far away.
        self.near = []
        for i, km in enumerate((2, 10, 20, 40, 80)):
            self.near.append(s.create_driver(plate="贵A0000%d" % i, position=offset_point(GUIYANG, north_km=km)))
        self.small = s.create_driver(plate="贵A1", capacity_t=2, position=offset_point(GUIYANG, east_km=1))
        self.flat = s.create_driver(plate="贵A2", truck_type="flatbed", position=offset_point(GUIYANG, east_km=1))
        self.far = s.create_driver(plate="川A3", position=CHENGDU)
        self.load = s.create_load(self.owner, types=("high_rail",), weight_t=12.5)

    def test_owner_gets_ranked_fitting_trucks_with_reasons(self):
        r = self.s.get("/v1/loads/%d/matches?limit=20&radius_km=150" % self.load["id"], token=self.owner["token"])
        self.assertStatus(r, 200)
        ms = r.body["matches"]
        ids = [m["driver_id"] for m in ms]
        self.assertEqual(ids, [d["id"] for d in self.near], r)  # nearest scores best, others filtered out
        scores = [m["score"] for m in ms]
        self.assertEqual(scores, sorted(scores, reverse=True))
        for m in ms:
            self.assertLessEqual(m["deadhead_km"], 150)
            self.assertFalse(m["position_exact"])
            points = sum(x["points"] for x in m["reasons"])
            self.assertAlmostEqual(points, m["score"], delta=0.1)
            self.assertEqual({x["factor"] for x in m["reasons"]},
                             {"deadhead", "pickup_time", "destination", "rating", "price"})
        # Companies see positions snapped to the privacy grid, never the exact one.
        exact = self.s.get("/v1/drivers/%d" % self.near[0]["id"], token="admin").body["position"]
        self.assertNotEqual((ms[0]["position"]["lat"], ms[0]["position"]["lon"]), (exact["lat"], exact["lon"]))
        self.assertLess(abs(ms[0]["position"]["lat"] - exact["lat"]), 0.011)

    def test_radius_and_limit(self):
        r = self.s.get("/v1/loads/%d/matches?radius_km=30&limit=2" % self.load["id"], token=self.owner["token"])
        self.assertStatus(r, 200)
        self.assertEqual([m["driver_id"] for m in r.body["matches"]], [self.near[0]["id"], self.near[1]["id"]])
        r = self.s.get("/v1/loads/%d/matches?radius_km=0" % self.load["id"], token=self.owner["token"])
        self.assertStatus(r, 400, "invalid_field", "radius_km")

    def test_admin_sees_exact_positions(self):
        r = self.s.get("/v1/loads/%d/matches" % self.load["id"], token="admin")
        self.assertStatus(r, 200)
        self.assertTrue(all(m["position_exact"] for m in r.body["matches"]))

    def test_who_may_ask(self):
        path = "/v1/loads/%d/matches" % self.load["id"]
        self.assertStatus(self.s.get(path, token=self.other["token"]), 403, "forbidden")
        self.assertStatus(self.s.get(path, token=self.near[0]["token"]), 403, "forbidden")
        self.assertStatus(self.s.get(path), 401, "unauthorized")
        self.assertStatus(self.s.get("/v1/loads/999/matches", token=self.owner["token"]), 404, "not_found")

    def test_booked_load_has_no_matches_and_booked_truck_leaves(self):
        other_load = self.s.create_load(self.owner, types=("high_rail",))
        self.s.book(self.near[0], other_load)
        r = self.s.get("/v1/loads/%d/matches" % self.load["id"], token=self.owner["token"])
        self.assertNotIn(self.near[0]["id"], [m["driver_id"] for m in r.body["matches"]])
        self.assertStatus(self.s.get("/v1/loads/%d/matches" % other_load["id"], token=self.owner["token"]),
                          409, "load_not_open")


class LoadsForADriver(E2ETestCase):
    def setUp(self):
        super().setUp()
        s = self.s = self.start_server()
        self.co = s.create_company()
        # A Guiyang-based truck now standing in Kunming.
        self.driver = s.create_driver(home=GUIYANG, position=KUNMING)
        here = offset_point(KUNMING, north_km=5)
        self.to_home = s.create_load(self.co, origin=here, destination=offset_point(GUIYANG, east_km=3),
                                     types=("high_rail",))
        self.to_chengdu = s.create_load(self.co, origin=here, destination=CHENGDU, types=("high_rail",))
        self.wrong_type = s.create_load(self.co, origin=here, destination=GUIYANG, types=("tanker",))

    def get(self, query=""):
        return self.s.get("/v1/drivers/%d/loads?%s" % (self.driver["id"], query), token=self.driver["token"])

    def test_lists_fitting_loads_with_reasons(self):
        r = self.get()
        self.assertStatus(r, 200)
        ids = [x["load"]["id"] for x in r.body["loads"]]
        self.assertEqual(sorted(ids), sorted([self.to_home["id"], self.to_chengdu["id"]]))
        for x in r.body["loads"]:
            self.assertNotIn("contact", x["load"])  # not booked: the public view
            self.assertGreater(x["loaded_km"], 0)
            self.assertAlmostEqual(sum(p["points"] for p in x["reasons"]), x["score"], delta=0.1)

    def test_toward_home_and_toward_a_province(self):
        r = self.get("toward=home")
        self.assertStatus(r, 200)
        self.assertEqual(r.body["toward"], "home")
        self.assertEqual(r.body["loads"][0]["load"]["id"], self.to_home["id"])
        r = self.get("toward=" + quote("四川"))
        self.assertStatus(r, 200)
        self.assertEqual(r.body["toward"], "Sichuan")
        self.assertEqual(r.body["loads"][0]["load"]["id"], self.to_chengdu["id"])
        self.assertStatus(self.get("toward=atlantis"), 400, "invalid_field", "toward")

    def test_only_that_driver(self):
        other = self.s.create_driver(plate="贵B1")
        path = "/v1/drivers/%d/loads" % self.driver["id"]
        self.assertStatus(self.s.get(path, token=other["token"]), 403, "forbidden")
        self.assertStatus(self.s.get(path, token=self.co["token"]), 403, "forbidden")
        self.assertStatus(self.s.get(path, token="admin"), 403, "forbidden")
