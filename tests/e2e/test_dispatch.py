"""test_dispatch.py — POST /v1/dispatch over HTTP: who may call it, input
checks, an instance where greedy nearest-first is provably worse than the
optimum, and apply: true turning the plan into bookings exactly once.
Optimality on random instances is proved by tests/unit/test_match_dispatch.c."""
from harness import GUIYANG, E2ETestCase, offset_point

BOX = [GUIYANG[1] - 1, GUIYANG[0] - 1, GUIYANG[1] + 1, GUIYANG[0] + 1]


class Dispatch(E2ETestCase):
    def setUp(self):
        super().setUp()
        s = self.s = self.start_server()
        self.co = s.create_company()
        # Load A at Guiyang, load B 5 km north.  Truck 1 stands at A; truck 2
        # 20 km south reaches A (26 road km) but not B (32.5 > 30).
        self.a = s.create_load(self.co, origin=GUIYANG, types=("high_rail",))
        self.b = s.create_load(self.co, origin=offset_point(GUIYANG, north_km=5), types=("high_rail",))
        self.t1 = s.create_driver(plate="贵A1", position=GUIYANG)
        self.t2 = s.create_driver(plate="贵A2", position=offset_point(GUIYANG, north_km=-20))

    def dispatch(self, **body):
        body.setdefault("bbox", BOX)
        body.setdefault("radius_km", 30)
        return self.s.post("/v1/dispatch", body, token="admin")

    def test_optimum_beats_greedy(self):
        r = self.dispatch()
        self.assertStatus(r, 200)
        d = r.body
        self.assertEqual(d["greedy_matched"], 1)
        self.assertEqual(d["matched"], 2)
        got = {p["load_id"]: p["driver_id"] for p in d["pairs"]}
        self.assertEqual(got, {self.a["id"]: self.t2["id"], self.b["id"]: self.t1["id"]})
        self.assertAlmostEqual(d["total_deadhead_km"], sum(p["deadhead_km"] for p in d["pairs"]), delta=0.05)
        self.assertFalse(d["apply"])
        # A plan alone books nothing.
        self.assertEqual(self.s.get("/v1/loads/%d" % self.a["id"], token="admin").body["status"], "open")

    def test_apply_books_the_plan_once(self):
        r = self.dispatch(apply=True)
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body["bookings"]), 2)
        self.assertEqual(r.body["refused"], [])
        for load in (self.a, self.b):
            self.assertEqual(self.s.get("/v1/loads/%d" % load["id"], token="admin").body["status"], "booked")
        self.assertEqual(self.s.get("/v1/drivers/%d" % self.t1["id"], token="admin").body["status"], "on_trip")
        # Nothing is left to dispatch, and the bookings survive a restart.
        self.assertEqual(self.dispatch(apply=True).body["matched"], 0)
        self.s.restart(kill=True)
        self.assertEqual(self.s.get("/v1/loads/%d" % self.b["id"], token="admin").body["status"], "booked")

    def test_by_province(self):
        r = self.s.post("/v1/dispatch", {"province": "贵州", "radius_km": 30}, token="admin")
        self.assertStatus(r, 200)
        self.assertEqual(r.body["matched"], 2)

    def test_input_and_roles(self):
        self.assertStatus(self.s.post("/v1/dispatch", {"radius_km": 30}, token="admin"), 400, "missing_field", "province")
        self.assertStatus(self.s.post("/v1/dispatch", {"province": "Atlantis"}, token="admin"), 400, "invalid_field", "province")
        self.assertStatus(self.dispatch(bbox=[107, 27, 106, 26]), 400, "invalid_field", "bbox")
        self.assertStatus(self.dispatch(radius_km=0), 400, "invalid_field", "radius_km")
        self.assertStatus(self.dispatch(apply="yes"), 400, "invalid_field", "apply")
        self.assertStatus(self.s.post("/v1/dispatch", {"bbox": BOX}, token=self.co["token"]), 403, "forbidden")
        self.assertStatus(self.s.post("/v1/dispatch", {"bbox": BOX}, token=self.t1["token"]), 403, "forbidden")
