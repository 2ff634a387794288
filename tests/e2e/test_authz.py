"""test_authz.py — the authorization matrix.

Roles: admin, company A, company B, driver X, driver Y (and Z, W), a gateway
and anonymous callers.  For every route in the server's route table
(src/api/router.c, parsed so that a new route cannot slip past this file)
every role the API contract does not allow gets 403 (anonymous: 401), and
members the route allows but who do not own the object get 403 or 404.
Afterwards the whole observable state, read as the admin, must be exactly
what it was: no refused call may have changed anything.

The acting member always comes from the token, never from the body: bodies
naming another member are ignored.
"""
import os
import re
import time

from harness import GUIYANG, KUNMING, REPO_ROOT, E2ETestCase, dump_state, load_body

ROLES = ("admin", "company", "driver", "gateway")

# Who may call each route, from the API contract (docs: /work/shared/api.md).
CONTRACT = {
    ("GET", "/healthz"): "public",
    ("GET", "/metrics"): "public",
    ("GET", "/"): "public",
    ("GET", "/v1/opendata/lanes.csv"): "public",
    # Extensions (docs/api.md#the-dashboard): the dashboard's files and its public aggregate.
    ("GET", "/assets/*"): "public",
    ("GET", "/v1/public/dashboard"): "public",
    ("POST", "/v1/companies"): {"admin"},
    ("GET", "/v1/companies/{id}"): {"admin", "company"},
    ("POST", "/v1/drivers"): {"admin"},
    ("GET", "/v1/drivers/{id}"): {"admin", "driver"},
    ("PUT", "/v1/drivers/{id}/position"): {"driver", "gateway"},
    ("PUT", "/v1/drivers/{id}/status"): {"driver"},
    ("GET", "/v1/drivers/{id}/loads"): {"driver"},
    ("POST", "/v1/gateways"): {"admin"},
    ("POST", "/v1/positions"): {"gateway"},
    ("POST", "/v1/loads"): {"company"},
    ("GET", "/v1/loads"): {"admin", "company", "driver", "gateway"},
    ("GET", "/v1/loads/{id}"): {"admin", "company", "driver", "gateway"},
    ("DELETE", "/v1/loads/{id}"): {"company"},
    ("GET", "/v1/loads/{id}/matches"): {"admin", "company"},
    ("POST", "/v1/loads/{id}/book"): {"driver"},
    ("GET", "/v1/trucks"): {"admin", "company"},
    ("GET", "/v1/bookings/{id}"): {"admin", "company", "driver"},
    ("POST", "/v1/bookings/{id}/pickup"): {"driver"},
    ("POST", "/v1/bookings/{id}/deliver"): {"driver"},
    ("POST", "/v1/bookings/{id}/cancel"): {"company", "driver"},
    ("POST", "/v1/bookings/{id}/rating"): {"company", "driver"},
    ("POST", "/v1/dispatch"): {"admin"},
    ("GET", "/v1/stats/overview"): {"admin", "company", "driver", "gateway"},
    ("GET", "/v1/stats/lanes"): {"admin", "company", "driver", "gateway"},
    ("GET", "/v1/stats/regions"): {"admin", "company", "driver", "gateway"},
    ("POST", "/v1/admin/snapshot"): {"admin"},
    # An extension for tests (docs/api.md): admin only, 404 unless --fault-injection 1.
    ("POST", "/v1/admin/faults"): {"admin"},
}


def route_table():
    """(method, pattern) of every route in src/api/router.c."""
    with open(os.path.join(REPO_ROOT, "src", "api", "router.c"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("fn_routes[] = {")
    end = text.index("};", start)
    return re.findall(r'\{"([A-Z]+)",\s*"([^"]+)"', text[start:end])


class AuthzMatrix(E2ETestCase):
    e2e_weight = 2.0

    def setUp(self):
        super().setUp()
        s = self.s = self.start_server("--rate-limit", "0")
        self.A = s.create_company(name="甲公司", kind="shipper")          # company 1
        self.B = s.create_company(name="乙公司", kind="carrier")          # company 2
        self.X = s.create_driver(name="X", plate="贵A00001", position=GUIYANG)  # driver 1
        self.Y = s.create_driver(name="Y", plate="贵A00002", position=GUIYANG)  # driver 2
        self.Z = s.create_driver(name="Z", plate="贵A00003", position=GUIYANG)  # driver 3
        self.W = s.create_driver(name="W", plate="贵A00004", position=GUIYANG)  # driver 4
        self.G = s.create_gateway()                                       # gateway 1
        self.LA1 = s.create_load(self.A)                                  # load 1, open
        self.LA2 = s.create_load(self.A)                                  # load 2, booked by X
        self.LA3 = s.create_load(self.A)                                  # load 3, picked up by Z
        self.LA4 = s.create_load(self.A)                                  # load 4, delivered by W
        self.LB1 = s.create_load(self.B)                                  # load 5, open
        self.BX = s.book(self.X, self.LA2)                                # booking 1
        self.BZ = s.book(self.Z, self.LA3)                                # booking 2
        self.BW = s.book(self.W, self.LA4)                                # booking 3
        for b, d in ((self.BZ, self.Z), (self.BW, self.W)):
            self.assertStatus(s.post("/v1/bookings/%d/pickup" % b["id"], token=d["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/deliver" % self.BW["id"], token=self.W["token"]), 200)
        self.tokens = {"admin": "admin", "company": self.B["token"], "driver": self.Y["token"],
                       "gateway": self.G["token"], "anonymous": None}

    def sample(self, method, pattern):
        """A path (on objects the role-level callers do not own) and a valid body."""
        now = int(time.time())
        ids = {
            "/v1/companies/{id}": self.A["id"],
            "/v1/drivers/{id}": self.X["id"],
            "/v1/drivers/{id}/position": self.X["id"],
            "/v1/drivers/{id}/status": self.X["id"],
            "/v1/drivers/{id}/loads": self.X["id"],
            "/v1/loads/{id}": self.LA1["id"],
            "/v1/loads/{id}/matches": self.LA1["id"],
            "/v1/loads/{id}/book": self.LA1["id"],
            "/v1/bookings/{id}": self.BX["id"],
            "/v1/bookings/{id}/pickup": self.BX["id"],
            "/v1/bookings/{id}/deliver": self.BZ["id"],
            "/v1/bookings/{id}/cancel": self.BX["id"],
            "/v1/bookings/{id}/rating": self.BW["id"],
        }
        bodies = {
            "/v1/companies": {"name": "入侵者", "kind": "shipper"},
            "/v1/drivers": {"name": "入侵者", "phone": "13800000000", "home": {"lat": 26.6, "lon": 106.6},
                            "truck": {"plate": "贵Z99999", "type": "van", "length_m": 9.6, "capacity_t": 10}},
            "/v1/gateways": {"name": "入侵者"},
            "/v1/drivers/{id}/position": {"lat": KUNMING[0], "lon": KUNMING[1], "ts": now},
            "/v1/drivers/{id}/status": {"status": "offline"},
            "/v1/positions": {"positions": [{"driver_id": self.X["id"], "lat": KUNMING[0], "lon": KUNMING[1],
                                             "ts": now}]},
            "/v1/loads": load_body(),
            "/v1/bookings/{id}/rating": {"stars": 1, "comment": "不是我的"},
            "/v1/dispatch": {"radius_km": 100, "apply": True},
            "/v1/admin/faults": {"fsync": "fail"},
        }
        path = pattern.replace("{id}", str(ids.get(pattern, 1)))
        if pattern in ("/v1/loads", "/v1/trucks"):
            path += "?near=%f,%f" % GUIYANG
        if pattern == "/v1/stats/lanes":
            path += "?origin=Guizhou&destination=Yunnan"
        return path, bodies.get(pattern)

    def call(self, role, method, path, body):
        tok = self.tokens[role] if role in self.tokens else role
        if body is None and method in ("POST", "PUT"):
            return self.s.request(method, path, token=tok, raw_body=b"", headers={"Content-Type": "application/json"})
        return self.s.request(method, path, body=body, token=tok)

    def test_route_table_matches_contract(self):
        table = route_table()
        self.assertGreater(len(table), 20)
        missing = [r for r in table if tuple(r) not in CONTRACT]
        self.assertEqual(missing, [], "routes in router.c that this matrix does not know: update CONTRACT")
        gone = [r for r in CONTRACT if r not in set(map(tuple, table))]
        self.assertEqual(gone, [], "contract routes missing from router.c")

    def test_roles_not_allowed_are_refused(self):
        before = dump_state(self.s)
        checked = 0
        for method, pattern in route_table():
            allowed = CONTRACT[(method, pattern)]
            path, body = self.sample(method, pattern)
            if allowed == "public":
                r = self.call("anonymous", method, path, body)
                with self.subTest(route="%s %s" % (method, pattern), role="anonymous"):
                    self.assertNotIn(r.status, (401, 403), r)
                continue
            for role in ROLES + ("anonymous",):
                if role in allowed:
                    continue
                r = self.call(role, method, path, body)
                with self.subTest(route="%s %s" % (method, pattern), role=role):
                    if role == "anonymous":
                        self.assertStatus(r, 401, "unauthorized")
                        self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"))
                    else:
                        self.assertStatus(r, 403, "forbidden")
                checked += 1
        self.assertGreater(checked, 60)
        self.assertEqual(dump_state(self.s), before, "a refused call changed the state")

    def test_members_cannot_touch_what_is_not_theirs(self):
        s = self.s
        A, B, X, Y, Z, W, G = self.A, self.B, self.X, self.Y, self.Z, self.W, self.G
        now = int(time.time())
        far = {"lat": KUNMING[0], "lon": KUNMING[1], "ts": now}
        # (who, method, path, body, status, code)
        cases = [
            (B, "GET", "/v1/companies/%d" % A["id"], None, 403, "forbidden"),
            (A, "GET", "/v1/companies/%d" % B["id"], None, 403, "forbidden"),
            (Y, "GET", "/v1/drivers/%d" % X["id"], None, 403, "forbidden"),
            (Y, "PUT", "/v1/drivers/%d/position" % X["id"], far, 403, "forbidden"),
            (X, "PUT", "/v1/drivers/%d/status" % Y["id"], {"status": "offline"}, 403, "forbidden"),
            (Y, "PUT", "/v1/drivers/%d/status" % X["id"], {"status": "available"}, 403, "forbidden"),
            (B, "DELETE", "/v1/loads/%d" % self.LA1["id"], None, 403, "forbidden"),
            (B, "DELETE", "/v1/loads/%d" % self.LA2["id"], None, 403, "forbidden"),
            (A, "DELETE", "/v1/loads/%d" % self.LB1["id"], None, 403, "forbidden"),
            # Bookings are private to their two parties: others get 404.
            (B, "GET", "/v1/bookings/%d" % self.BX["id"], None, 404, "not_found"),
            (Y, "GET", "/v1/bookings/%d" % self.BX["id"], None, 404, "not_found"),
            (Z, "GET", "/v1/bookings/%d" % self.BX["id"], None, 404, "not_found"),
            # Driver 1 (X) is not company 1 (A): ids of different kinds never mix.
            (X, "GET", "/v1/bookings/%d" % self.BZ["id"], None, 404, "not_found"),
            (Y, "POST", "/v1/bookings/%d/pickup" % self.BX["id"], None, 404, "not_found"),
            (Z, "POST", "/v1/bookings/%d/pickup" % self.BX["id"], None, 404, "not_found"),
            (X, "POST", "/v1/bookings/%d/deliver" % self.BZ["id"], None, 404, "not_found"),
            (Y, "POST", "/v1/bookings/%d/deliver" % self.BZ["id"], None, 404, "not_found"),
            (Y, "POST", "/v1/bookings/%d/cancel" % self.BX["id"], None, 404, "not_found"),
            (B, "POST", "/v1/bookings/%d/cancel" % self.BX["id"], None, 404, "not_found"),
            (Y, "POST", "/v1/bookings/%d/rating" % self.BW["id"], {"stars": 1}, 404, "not_found"),
            (X, "POST", "/v1/bookings/%d/rating" % self.BW["id"], {"stars": 1}, 404, "not_found"),
            (B, "POST", "/v1/bookings/%d/rating" % self.BW["id"], {"stars": 1}, 404, "not_found"),
            # The load's owner may cancel, but trip steps are the driver's.
            (A, "POST", "/v1/bookings/%d/pickup" % self.BX["id"], None, 403, "forbidden"),
            (A, "POST", "/v1/bookings/%d/deliver" % self.BZ["id"], None, 403, "forbidden"),
            # The admin sees bookings but does not act in them.
            ("admin", "POST", "/v1/bookings/%d/cancel" % self.BX["id"], None, 403, "forbidden"),
            ("admin", "POST", "/v1/bookings/%d/rating" % self.BW["id"], {"stars": 1}, 403, "forbidden"),
            ("admin", "POST", "/v1/bookings/%d/pickup" % self.BX["id"], None, 403, "forbidden"),
            ("admin", "DELETE", "/v1/loads/%d" % self.LA1["id"], None, 403, "forbidden"),
            # A gateway reports positions and does nothing else.
            (G, "POST", "/v1/loads", load_body(), 403, "forbidden"),
            (G, "POST", "/v1/loads/%d/book" % self.LA1["id"], None, 403, "forbidden"),
            (G, "GET", "/v1/bookings/%d" % self.BX["id"], None, 403, "forbidden"),
            (G, "PUT", "/v1/drivers/%d/status" % X["id"], {"status": "offline"}, 403, "forbidden"),
            # Drivers do not read companies; companies do not book or move trucks.
            (X, "GET", "/v1/companies/%d" % A["id"], None, 403, "forbidden"),
            (A, "GET", "/v1/drivers/%d" % X["id"], None, 403, "forbidden"),
            (A, "PUT", "/v1/drivers/%d/position" % X["id"], far, 403, "forbidden"),
            (A, "POST", "/v1/loads/%d/book" % self.LB1["id"], None, 403, "forbidden"),
            (X, "POST", "/v1/positions", {"positions": [dict(far, driver_id=X["id"])]}, 403, "forbidden"),
            (X, "POST", "/v1/loads", load_body(), 403, "forbidden"),
        ]
        before = dump_state(self.s)
        for who, method, path, body, status, code in cases:
            tok = who if isinstance(who, str) else who["token"]
            label = who if isinstance(who, str) else "member %s" % who.get("name")
            if body is None and method in ("POST", "PUT"):
                r = s.request(method, path, token=tok, raw_body=b"", headers={"Content-Type": "application/json"})
            else:
                r = s.request(method, path, body=body, token=tok)
            with self.subTest(who=label, call="%s %s" % (method, path)):
                self.assertStatus(r, status, code)
        # Not-yet-implemented routes must at least never answer 2xx to a non-owner.
        for who, path in ((B, "/v1/loads/%d/matches" % self.LA1["id"]), (Y, "/v1/drivers/%d/loads" % X["id"])):
            r = s.get(path, token=who["token"])
            with self.subTest(call=path):
                self.assertIn(r.status, (403, 404, 501), r)
        self.assertEqual(dump_state(self.s), before, "a refused call changed the state")

    def test_public_view_of_others_loads(self):
        for who in (self.B, self.Y, self.G):
            for load in (self.LA1, self.LA2):
                r = self.s.get("/v1/loads/%d" % load["id"], token=who["token"])
                body = self.assertStatus(r, 200)
                self.assertNotIn("contact", body)
                self.assertNotIn("booking_id", body)
                self.assertNotIn("13900001111", r.raw.decode("utf-8"))
        for who in ("admin", self.A["token"], self.X["token"]):
            body = self.assertStatus(self.s.get("/v1/loads/%d" % self.LA2["id"], token=who), 200)
            self.assertEqual(body["contact"]["phone"], "13900001111")
            self.assertEqual(body["booking_id"], self.BX["id"])
        # The driver of another load sees the public view.
        body = self.assertStatus(self.s.get("/v1/loads/%d" % self.LA2["id"], token=self.Z["token"]), 200)
        self.assertNotIn("contact", body)


class AuthzIdentityFromToken(E2ETestCase):
    """Bodies that name another member are ignored: the token decides."""

    def setUp(self):
        super().setUp()
        s = self.s = self.start_server("--rate-limit", "0")
        self.A = s.create_company(name="甲公司", kind="shipper")
        self.B = s.create_company(name="乙公司", kind="carrier")
        self.X = s.create_driver(name="X", plate="贵A00001", position=GUIYANG)
        self.Y = s.create_driver(name="Y", plate="贵A00002", position=GUIYANG)

    def test_load_owner_comes_from_token(self):
        r = self.s.post("/v1/loads", load_body(company_id=self.B["id"], company_name="乙公司", status="booked",
                                               id=77, booking_id=3), token=self.A["token"])
        l = self.assertStatus(r, 201)
        self.assertEqual(l["company_id"], self.A["id"])
        self.assertEqual(l["company_name"], "甲公司")
        self.assertEqual(l["id"], 1)
        self.assertEqual(l["status"], "open")
        self.assertIsNone(l["booking_id"])
        self.assertEqual(self.s.get("/v1/companies/%d" % self.A["id"], token="admin").body["counts"]["loads_posted"], 1)
        self.assertEqual(self.s.get("/v1/companies/%d" % self.B["id"], token="admin").body["counts"]["loads_posted"], 0)
        # B cannot cancel it, though the body said it was B's.
        self.assertStatus(self.s.delete("/v1/loads/1", token=self.B["token"]), 403, "forbidden")
        self.assertStatus(self.s.delete("/v1/loads/1", token=self.A["token"]), 200)

    def test_position_driver_comes_from_path_and_token(self):
        now = int(time.time())
        body = {"lat": KUNMING[0], "lon": KUNMING[1], "ts": now, "driver_id": self.Y["id"]}
        self.assertStatus(self.s.put("/v1/drivers/%d/position" % self.X["id"], body, token=self.X["token"]), 204)
        x = self.s.get("/v1/drivers/%d" % self.X["id"], token="admin").body["position"]
        y = self.s.get("/v1/drivers/%d" % self.Y["id"], token="admin").body["position"]
        self.assertEqual((x["lat"], x["lon"]), KUNMING)
        self.assertEqual((y["lat"], y["lon"]), GUIYANG)

    def test_booking_driver_comes_from_token(self):
        l = self.s.create_load(self.B)
        r = self.s.request("POST", "/v1/loads/%d/book" % l["id"], body={"driver_id": self.X["id"]},
                           token=self.Y["token"])
        b = self.assertStatus(r, 201)
        self.assertEqual(b["driver_id"], self.Y["id"])
        self.assertEqual(self.s.get("/v1/drivers/%d" % self.X["id"], token="admin").body["status"], "available")
        self.assertEqual(self.s.get("/v1/drivers/%d" % self.Y["id"], token="admin").body["status"], "on_trip")
        # The owner cancels, claiming in the body to be the driver.
        r = self.s.request("POST", "/v1/bookings/%d/cancel" % b["id"], body={"cancelled_by": "driver",
                                                                           "driver_id": self.Y["id"]},
                           token=self.B["token"])
        self.assertEqual(self.assertStatus(r, 200)["cancelled_by"], "company")

    def test_rating_side_comes_from_token(self):
        l = self.s.create_load(self.A)
        b = self.s.book(self.X, l)
        for step in ("pickup", "deliver"):
            self.assertStatus(self.s.post("/v1/bookings/%d/%s" % (b["id"], step), token=self.X["token"]), 200)
        r = self.s.post("/v1/bookings/%d/rating" % b["id"], {"stars": 5, "by": "driver", "role": "driver",
                                                              "company_id": self.B["id"]}, token=self.A["token"])
        out = self.assertStatus(r, 201)
        self.assertEqual(out["rating_by_company"]["stars"], 5)
        self.assertIsNone(out["rating_by_driver"])
        self.assertEqual(self.s.get("/v1/drivers/%d" % self.X["id"], token="admin").body["rating"], 5.0)
        for c in (self.A, self.B):
            self.assertIsNone(self.s.get("/v1/companies/%d" % c["id"], token="admin").body["rating"])

    def test_created_ids_and_tokens_are_the_servers(self):
        r = self.s.post("/v1/companies", {"name": "丙", "kind": "broker", "id": 99, "token": "fnt_mine",
                                          "rating": 5}, token="admin")
        c = self.assertStatus(r, 201)
        self.assertEqual(c["id"], 3)
        self.assertNotEqual(c["token"], "fnt_mine")
        self.assertIsNone(c["rating"])
        self.assertStatus(self.s.get("/v1/companies/3", token="fnt_mine"), 401, "unauthorized")
        r = self.s.post("/v1/drivers", {"name": "Q", "phone": "13800000000", "home": {"lat": 26.6, "lon": 106.6},
                                        "truck": {"plate": "贵Q00001", "type": "van", "length_m": 9.6,
                                                  "capacity_t": 10},
                                        "id": 50, "status": "on_trip", "booking_id": 1, "rating": 5},
                        token="admin")
        d = self.assertStatus(r, 201)
        self.assertEqual(d["id"], 3)
        self.assertEqual(d["status"], "available")
        self.assertIsNone(d["booking_id"])
        self.assertIsNone(d["rating"])

    def test_tokens_of_one_member_do_not_open_another(self):
        # Every kind has an id 1; a token of one kind never acts as another kind.
        s = self.s
        g = s.create_gateway()
        self.assertEqual((self.A["id"], self.X["id"], g["id"]), (1, 1, 1))
        self.assertStatus(s.get("/v1/drivers/1", token=self.A["token"]), 403, "forbidden")
        self.assertStatus(s.get("/v1/companies/1", token=self.X["token"]), 403, "forbidden")
        self.assertStatus(s.get("/v1/companies/1", token=g["token"]), 403, "forbidden")
        self.assertStatus(s.put("/v1/drivers/1/status", {"status": "offline"}, token=self.A["token"]), 403,
                          "forbidden")
        self.assertEqual(s.get("/v1/drivers/1", token="admin").body["status"], "available")
