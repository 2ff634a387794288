"""test_api.py — every route's success path and its main error paths, with
the exact status, error code and field; plus the HTTP-level behaviour
(404/405/401/415/400/413/429), UTF-8 handling, /healthz and /metrics.

Each test starts its own server (it takes a few milliseconds)."""
import http.client
import json
import math
import os
import re
import stat
import subprocess
import time

from harness import (CHENGDU, GUIYANG, KUNMING, TOKYO, E2ETestCase, Server,
                     freightd_bin, load_body)

JSON = {"Content-Type": "application/json"}


def haversine_km(a, b):
    r = 6371.0088
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, h)))


def offset(p, north_km=0.0, east_km=0.0):
    """The point north_km north and east_km east of p."""
    return (p[0] + north_km / 111.19508, p[1] + east_km / (111.19508 * math.cos(math.radians(p[0]))))


class World(E2ETestCase):
    """A server with company A and B, drivers X and Y (positioned), a gateway."""

    server_args = ()

    def setUp(self):
        super().setUp()
        self.s = self.start_server(*self.server_args)
        s = self.s
        self.A = s.create_company(name="贵阳黔运物流有限公司", kind="logistics", city="贵阳", province="贵州")
        self.B = s.create_company(name="昆明滇运", kind="shipper")
        self.X = s.create_driver(name="张师傅", position=GUIYANG)
        self.Y = s.create_driver(name="李师傅", plate="云A88888", position=offset(GUIYANG, 3, 0))
        self.G = s.create_gateway()

    def admin_get(self, path):
        r = self.s.get(path, token="admin")
        self.assertStatus(r, 200, msg="admin GET " + path)
        return r.body


class CompanyTests(World):
    def test_create_with_chinese_name(self):
        r = self.s.post("/v1/companies", {"name": "重庆山城货运有限公司", "kind": "carrier", "city": "重庆",
                                          "province": "重庆市"}, token="admin")
        c = self.assertStatus(r, 201)
        self.assertEqual(c["id"], 3)
        self.assertIsInstance(c["token"], str)
        self.assertGreaterEqual(len(c["token"]), 16)
        self.assertEqual(c["name"], "重庆山城货运有限公司")
        self.assertEqual(c["kind"], "carrier")
        self.assertEqual(c["city"], "重庆")
        self.assertEqual(c["province"], "Chongqing")
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        # The token works and reads back the same record.
        got = self.assertStatus(self.s.get("/v1/companies/3", token=c["token"]), 200)
        self.assertEqual(got["name"], "重庆山城货运有限公司")
        self.assertEqual(got["counts"]["loads_posted"], 0)
        self.assertIsNone(got["rating"])
        self.assertNotIn("token", got)

    def test_optional_fields_read_null(self):
        c = self.assertStatus(self.s.post("/v1/companies", {"name": "无城市", "kind": "shipper"}, token="admin"), 201)
        self.assertIsNone(c["city"])
        self.assertIsNone(c["province"])
        self.assertEqual(c["counts"], {"loads_posted": 0, "loads_booked": 0, "loads_delivered": 0,
                                       "loads_cancelled": 0})

    def test_name_of_100_chinese_characters_is_accepted(self):
        r = self.s.post("/v1/companies", {"name": "货" * 100, "kind": "broker"}, token="admin")
        self.assertEqual(self.assertStatus(r, 201)["name"], "货" * 100)

    def test_bad_kind(self):
        r = self.s.post("/v1/companies", {"name": "x", "kind": "farmer"}, token="admin")
        self.assertStatus(r, 400, "invalid_field", "kind")

    def test_missing_name(self):
        r = self.s.post("/v1/companies", {"kind": "shipper"}, token="admin")
        self.assertStatus(r, 400, "missing_field", "name")

    def test_missing_kind(self):
        r = self.s.post("/v1/companies", {"name": "x"}, token="admin")
        self.assertStatus(r, 400, "missing_field", "kind")

    def test_name_too_long(self):
        r = self.s.post("/v1/companies", {"name": "x" * 101, "kind": "shipper"}, token="admin")
        self.assertStatus(r, 400, "invalid_field", "name")
        r = self.s.post("/v1/companies", {"name": "货" * 101, "kind": "shipper"}, token="admin")
        self.assertStatus(r, 400, "invalid_field", "name")

    def test_name_wrong_type_and_empty(self):
        self.assertStatus(self.s.post("/v1/companies", {"name": 5, "kind": "shipper"}, token="admin"), 400,
                          "invalid_field", "name")
        self.assertStatus(self.s.post("/v1/companies", {"name": "", "kind": "shipper"}, token="admin"), 400,
                          "invalid_field", "name")

    def test_bad_province(self):
        r = self.s.post("/v1/companies", {"name": "x", "kind": "shipper", "province": "Atlantis"}, token="admin")
        self.assertStatus(r, 400, "invalid_field", "province")

    def test_control_characters_in_name(self):
        for bad in ("a\u0001b", "line\nbreak", "tab\there", "del\u007f"):
            r = self.s.post("/v1/companies", {"name": bad, "kind": "shipper"}, token="admin")
            self.assertStatus(r, 400, "invalid_field", "name", msg=repr(bad))

    def test_get_own_and_other(self):
        own = self.assertStatus(self.s.get("/v1/companies/%d" % self.A["id"], token=self.A["token"]), 200)
        self.assertEqual(own["id"], self.A["id"])
        self.assertEqual(own["name"], "贵阳黔运物流有限公司")
        self.assertStatus(self.s.get("/v1/companies/%d" % self.B["id"], token=self.A["token"]), 403, "forbidden")
        # Other ids, existing or not, answer the same 403.
        self.assertStatus(self.s.get("/v1/companies/999", token=self.A["token"]), 403, "forbidden")
        self.assertEqual(self.admin_get("/v1/companies/%d" % self.B["id"])["name"], "昆明滇运")
        self.assertStatus(self.s.get("/v1/companies/999", token="admin"), 404, "not_found")

    def test_company_counts_and_rating(self):
        s = self.s
        load = s.create_load(self.A)
        s.create_load(self.A)
        b = s.book(self.X, load)
        self.assertStatus(s.post("/v1/bookings/%d/pickup" % b["id"], token=self.X["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/deliver" % b["id"], token=self.X["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/rating" % b["id"], {"stars": 4}, token=self.X["token"]), 201)
        c = self.admin_get("/v1/companies/%d" % self.A["id"])
        self.assertEqual(c["counts"], {"loads_posted": 2, "loads_booked": 1, "loads_delivered": 1,
                                       "loads_cancelled": 0})
        self.assertEqual(c["rating"], 4.0)
        self.assertEqual(c["rating_count"], 1)


class DriverTests(World):
    def driver_body(self, **over):
        body = {"name": "王师傅", "phone": "13800001234", "home": {"lat": CHENGDU[0], "lon": CHENGDU[1]},
                "truck": {"plate": "川A12345", "type": "refrigerated", "length_m": 7.6, "capacity_t": 8.5,
                          "volume_m3": 30},
                "preferred_provinces": ["四川", "Guizhou", "广西壮族自治区"]}
        for k, v in over.items():
            if k.startswith("truck_"):
                body["truck"][k[6:]] = v
            elif v is None:
                body.pop(k)
            else:
                body[k] = v
        return body

    def test_create(self):
        r = self.s.post("/v1/drivers", self.driver_body(), token="admin")
        d = self.assertStatus(r, 201)
        self.assertEqual(d["id"], 3)
        self.assertTrue(d["token"])
        self.assertEqual(d["name"], "王师傅")
        self.assertEqual(d["phone"], "13800001234")
        self.assertEqual(d["home"], {"lat": CHENGDU[0], "lon": CHENGDU[1]})
        self.assertEqual(d["truck"]["type"], "refrigerated")
        self.assertEqual(d["truck"]["type_zh"], "冷藏")
        self.assertEqual(d["truck"]["length_m"], 7.6)
        self.assertEqual(d["truck"]["capacity_t"], 8.5)
        self.assertEqual(d["truck"]["volume_m3"], 30)
        self.assertEqual(d["truck"]["plate"], "川A12345")
        self.assertEqual(d["status"], "available")
        self.assertEqual(sorted(d["preferred_provinces"]), ["Guangxi", "Guizhou", "Sichuan"])
        self.assertIsNone(d["position"])
        got = self.assertStatus(self.s.get("/v1/drivers/3", token=d["token"]), 200)
        self.assertEqual(got["truck"], d["truck"])
        self.assertNotIn("token", got)

    def test_every_truck_type_and_length(self):
        types = ["flatbed", "low_rail", "high_rail", "van", "refrigerated", "insulated", "container", "dump",
                 "tanker", "hazmat", "wing_van", "lowbed"]
        lengths = [4.2, 5.2, 6.8, 7.6, 8.7, 9.6, 12.5, 13, 15, 16, 17.5]
        for i, t in enumerate(types):
            r = self.s.post("/v1/drivers", self.driver_body(truck_type=t, truck_length_m=lengths[i % len(lengths)]),
                            token="admin")
            d = self.assertStatus(r, 201, msg=t)
            self.assertEqual(d["truck"]["type"], t)
            self.assertEqual(d["truck"]["length_m"], lengths[i % len(lengths)])

    def test_bad_truck_type(self):
        r = self.s.post("/v1/drivers", self.driver_body(truck_type="spaceship"), token="admin")
        self.assertStatus(r, 400, "invalid_field", "truck.type")

    def test_bad_length(self):
        r = self.s.post("/v1/drivers", self.driver_body(truck_length_m=10.0), token="admin")
        self.assertStatus(r, 400, "invalid_field", "truck.length_m")
        r = self.s.post("/v1/drivers", self.driver_body(truck_length_m="9.6"), token="admin")
        self.assertStatus(r, 400, "invalid_field", "truck.length_m")

    def test_bad_capacity(self):
        r = self.s.post("/v1/drivers", self.driver_body(truck_capacity_t=0), token="admin")
        self.assertStatus(r, 400, "invalid_field", "truck.capacity_t")
        body = self.driver_body()
        del body["truck"]["capacity_t"]
        self.assertStatus(self.s.post("/v1/drivers", body, token="admin"), 400, "missing_field", "truck.capacity_t")

    def test_bad_phone(self):
        for phone in ("call me", "12", "+86 138 0000 000x", "1" * 21):
            r = self.s.post("/v1/drivers", self.driver_body(phone=phone), token="admin")
            self.assertStatus(r, 400, "invalid_field", "phone", msg=phone)

    def test_missing_parts(self):
        self.assertStatus(self.s.post("/v1/drivers", self.driver_body(truck=None), token="admin"), 400,
                          "missing_field", "truck")
        self.assertStatus(self.s.post("/v1/drivers", self.driver_body(home=None), token="admin"), 400,
                          "missing_field", "home")
        self.assertStatus(self.s.post("/v1/drivers", self.driver_body(home={"lat": 30}), token="admin"), 400,
                          "missing_field", "home.lon")
        self.assertStatus(self.s.post("/v1/drivers", self.driver_body(name=None), token="admin"), 400,
                          "missing_field", "name")

    def test_home_outside_china(self):
        r = self.s.post("/v1/drivers", self.driver_body(home={"lat": TOKYO[0], "lon": TOKYO[1]}), token="admin")
        self.assertStatus(r, 422, "outside_service_area", "home.lat")

    def test_bad_preferred_province(self):
        r = self.s.post("/v1/drivers", self.driver_body(preferred_provinces=["四川", "Atlantis"]), token="admin")
        self.assertStatus(r, 400, "invalid_field", "preferred_provinces[1]")

    def test_get_own_and_other(self):
        d = self.assertStatus(self.s.get("/v1/drivers/%d" % self.X["id"], token=self.X["token"]), 200)
        self.assertEqual(d["id"], self.X["id"])
        self.assertEqual(d["position"]["lat"], GUIYANG[0])
        self.assertEqual(d["position"]["lon"], GUIYANG[1])
        self.assertStatus(self.s.get("/v1/drivers/%d" % self.Y["id"], token=self.X["token"]), 403, "forbidden")
        self.assertStatus(self.s.get("/v1/drivers/999", token=self.X["token"]), 403, "forbidden")
        self.assertStatus(self.s.get("/v1/drivers/999", token="admin"), 404, "not_found")

    def test_status(self):
        path = "/v1/drivers/%d/status" % self.X["id"]
        d = self.assertStatus(self.s.put(path, {"status": "offline"}, token=self.X["token"]), 200)
        self.assertEqual(d["status"], "offline")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["status"], "offline")
        d = self.assertStatus(self.s.put(path, {"status": "available"}, token=self.X["token"]), 200)
        self.assertEqual(d["status"], "available")
        self.assertStatus(self.s.put(path, {"status": "on_trip"}, token=self.X["token"]), 400, "invalid_field",
                          "status")
        self.assertStatus(self.s.put(path, {"status": "asleep"}, token=self.X["token"]), 400, "invalid_field",
                          "status")
        self.assertStatus(self.s.put(path, {}, token=self.X["token"]), 400, "missing_field", "status")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["status"], "available")

    def test_status_refused_while_on_trip(self):
        load = self.s.create_load(self.A)
        self.s.book(self.X, load)
        r = self.s.put("/v1/drivers/%d/status" % self.X["id"], {"status": "offline"}, token=self.X["token"])
        self.assertStatus(r, 409, "driver_on_trip")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["status"], "on_trip")


class GatewayTests(World):
    def test_create(self):
        r = self.s.post("/v1/gateways", {"name": "北斗车联网"}, token="admin")
        g = self.assertStatus(r, 201)
        self.assertEqual(g["id"], 2)
        self.assertEqual(g["name"], "北斗车联网")
        self.assertTrue(g["token"])

    def test_missing_name(self):
        self.assertStatus(self.s.post("/v1/gateways", {}, token="admin"), 400, "missing_field", "name")


class PositionTests(World):
    def pos(self, driver, body, token):
        return self.s.put("/v1/drivers/%d/position" % driver["id"], body, token=token)

    def test_driver_puts_own_position(self):
        now = int(time.time())
        p = offset(GUIYANG, 12.3, -4.5)
        r = self.pos(self.X, {"lat": p[0], "lon": p[1], "ts": now, "speed_kmh": 63.5, "heading_deg": 270},
                     self.X["token"])
        self.assertStatus(r, 204)
        self.assertFalse(r.raw)
        d = self.admin_get("/v1/drivers/%d" % self.X["id"])
        self.assertAlmostEqual(d["position"]["lat"], p[0], places=9)
        self.assertAlmostEqual(d["position"]["lon"], p[1], places=9)
        self.assertEqual(d["position"]["ts"], now)
        self.assertEqual(d["position"]["speed_kmh"], 63.5)
        self.assertEqual(d["position"]["heading_deg"], 270)

    def test_gateway_puts_any_drivers_position(self):
        now = int(time.time())
        for drv in (self.X, self.Y):
            r = self.pos(drv, {"lat": KUNMING[0], "lon": KUNMING[1], "ts": now}, self.G["token"])
            self.assertStatus(r, 204)
            d = self.admin_get("/v1/drivers/%d" % drv["id"])
            self.assertEqual((d["position"]["lat"], d["position"]["lon"]), KUNMING)
        self.assertStatus(self.pos({"id": 999}, {"lat": 26, "lon": 106, "ts": now}, self.G["token"]), 404,
                          "not_found")

    def test_other_driver_refused(self):
        before = self.admin_get("/v1/drivers/%d" % self.Y["id"])["position"]
        r = self.pos(self.Y, {"lat": KUNMING[0], "lon": KUNMING[1], "ts": int(time.time())}, self.X["token"])
        self.assertStatus(r, 403, "forbidden")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.Y["id"])["position"], before)

    def test_validation(self):
        now = int(time.time())
        tok = self.X["token"]
        cases = [
            ({"lat": 91, "lon": 106, "ts": now}, 400, "invalid_field", "lat"),
            ({"lat": -91, "lon": 106, "ts": now}, 400, "invalid_field", "lat"),
            ({"lat": 26, "lon": 181, "ts": now}, 400, "invalid_field", "lon"),
            ({"lat": "26", "lon": 106, "ts": now}, 400, "invalid_field", "lat"),
            ({"lon": 106, "ts": now}, 400, "missing_field", "lat"),
            ({"lat": 26, "lon": 106}, 400, "missing_field", "ts"),
            ({"lat": 26, "lon": 106, "ts": now + 3600}, 400, "invalid_field", "ts"),
            ({"lat": 26, "lon": 106, "ts": 12345}, 400, "invalid_field", "ts"),
            ({"lat": 26, "lon": 106, "ts": now + 0.5}, 400, "invalid_field", "ts"),
            ({"lat": 26, "lon": 106, "ts": now, "speed_kmh": 300}, 400, "invalid_field", "speed_kmh"),
            ({"lat": 26, "lon": 106, "ts": now, "speed_kmh": -1}, 400, "invalid_field", "speed_kmh"),
            ({"lat": 26, "lon": 106, "ts": now, "heading_deg": 361}, 400, "invalid_field", "heading_deg"),
            ({"lat": TOKYO[0], "lon": TOKYO[1], "ts": now}, 422, "outside_service_area", "lat"),
        ]
        before = self.admin_get("/v1/drivers/%d" % self.X["id"])["position"]
        for body, status, code, field in cases:
            self.assertStatus(self.pos(self.X, body, tok), status, code, field, msg=json.dumps(body))
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["position"], before)

    def test_older_report_does_not_replace_newer(self):
        now = int(time.time())
        self.assertStatus(self.pos(self.X, {"lat": 27.0, "lon": 107.0, "ts": now}, self.X["token"]), 204)
        self.assertStatus(self.pos(self.X, {"lat": 28.0, "lon": 108.0, "ts": now - 60}, self.X["token"]), 204)
        p = self.admin_get("/v1/drivers/%d" % self.X["id"])["position"]
        self.assertEqual((p["lat"], p["lon"], p["ts"]), (27.0, 107.0, now))


class BatchPositionTests(World):
    def test_mixed_batch(self):
        now = int(time.time())
        batch = [
            {"driver_id": self.X["id"], "lat": 27.1, "lon": 107.1, "ts": now, "speed_kmh": 50},
            {"driver_id": self.X["id"], "lat": 91, "lon": 107.1, "ts": now},
            {"driver_id": 999, "lat": 27.0, "lon": 107.0, "ts": now},
            {"driver_id": self.Y["id"], "lat": 27.2, "lon": 107.2, "ts": now},
            "not an object",
            {"lat": 27.0, "lon": 107.0, "ts": now},
            {"driver_id": self.Y["id"], "lat": 27.0, "lon": 107.0, "ts": now + 7200},
            {"driver_id": self.Y["id"], "lat": TOKYO[0], "lon": TOKYO[1], "ts": now},
        ]
        r = self.s.post("/v1/positions", {"positions": batch}, token=self.G["token"])
        out = self.assertStatus(r, 200)
        self.assertEqual(out["accepted"], 2)
        rej = {x["index"]: x["error"] for x in out["rejected"]}
        self.assertEqual(sorted(rej), [1, 2, 4, 5, 6, 7], out)
        self.assertEqual((rej[1]["code"], rej[1]["field"]), ("invalid_field", "positions[1].lat"))
        self.assertEqual((rej[2]["code"], rej[2]["field"]), ("not_found", "positions[2].driver_id"))
        self.assertEqual((rej[4]["code"], rej[4]["field"]), ("invalid_field", "positions[4]"))
        self.assertEqual((rej[5]["code"], rej[5]["field"]), ("missing_field", "positions[5].driver_id"))
        self.assertEqual((rej[6]["code"], rej[6]["field"]), ("invalid_field", "positions[6].ts"))
        self.assertEqual((rej[7]["code"], rej[7]["field"]), ("outside_service_area", "positions[7].lat"))
        for e in rej.values():
            self.assertTrue(e["message"])
        x = self.admin_get("/v1/drivers/%d" % self.X["id"])["position"]
        y = self.admin_get("/v1/drivers/%d" % self.Y["id"])["position"]
        self.assertEqual((x["lat"], x["lon"], x["speed_kmh"]), (27.1, 107.1, 50))
        self.assertEqual((y["lat"], y["lon"]), (27.2, 107.2))

    def test_all_bad_and_empty(self):
        r = self.s.post("/v1/positions", {"positions": [{"driver_id": 999, "lat": 27, "lon": 107,
                                                         "ts": int(time.time())}]}, token=self.G["token"])
        out = self.assertStatus(r, 200)
        self.assertEqual(out["accepted"], 0)
        self.assertEqual(out["rejected"][0]["index"], 0)
        out = self.assertStatus(self.s.post("/v1/positions", {"positions": []}, token=self.G["token"]), 200)
        self.assertEqual(out, {"accepted": 0, "rejected": []})

    def test_not_an_array(self):
        for bad in ({}, "x", 5):
            self.assertStatus(self.s.post("/v1/positions", {"positions": bad}, token=self.G["token"]), 400,
                              "invalid_field", "positions")
        self.assertStatus(self.s.post("/v1/positions", {}, token=self.G["token"]), 400, "missing_field",
                          "positions")

    def test_limit_of_10000(self):
        now = int(time.time())
        item = {"driver_id": self.X["id"], "lat": 27.0, "lon": 107.0, "ts": now}
        r = self.s.post("/v1/positions", {"positions": [item] * 10001}, token=self.G["token"])
        self.assertStatus(r, 400, "invalid_field", "positions")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["position"]["lat"], GUIYANG[0])
        # Exactly 10,000 pass, for a driver with no position yet (so none is stale).
        z = self.s.create_driver(name="赵师傅", plate="贵A77777")
        items = [dict(item, driver_id=z["id"], ts=now - 10000 + i, lat=27.0 + i * 1e-5) for i in range(10000)]
        out = self.assertStatus(self.s.post("/v1/positions", {"positions": items}, token=self.G["token"]), 200)
        self.assertEqual(out["accepted"], 10000)
        self.assertEqual(out["rejected"], [])
        p = self.admin_get("/v1/drivers/%d" % z["id"])["position"]
        self.assertAlmostEqual(p["lat"], 27.0 + 9999 * 1e-5, places=9)
        self.assertEqual(p["ts"], now - 1)


class BatchParserTests(World):
    """POST /v1/positions has a fast parser for a strict subset of JSON and
    falls back to the general one for anything else; both must give the same
    answers.  An unknown top-level key (ignored by the API) sends a batch down
    the general path, so each batch is sent both ways and the answers compared."""

    def send(self, items_text, general):
        body = '{"positions": [' + ",".join(items_text) + "]" + (', "via": "general"' if general else "") + "}"
        return self.s.request("POST", "/v1/positions", raw_body=body.encode(), token=self.G["token"], headers=JSON)

    def both(self, items_text):
        fast, slow = self.send(items_text, False), self.send(items_text, True)
        self.assertEqual((fast.status, fast.body), (slow.status, slow.body),
                         "fast and general parsers disagree on %s" % items_text)
        return fast

    def test_same_answers_both_ways(self):
        d, t = self.X["id"], int(time.time()) - 5
        items = [
            '{"driver_id": %d, "lat": 26.647, "lon": 106.63, "ts": %d}' % (d, t),
            '{"driver_id":%d,"lat":26.647,"lon":106.63,"ts":%d,"speed_kmh":0,"heading_deg":359.9}' % (d, t),
            ' {\n"driver_id" : %d ,\t"lat" : 2.6647e1 , "lon" : 1066.3E-1 , "ts" : %d } ' % (d, t),
            '{"driver_id": %d, "lat": 26.123456789012345678, "lon": 106.1, "ts": %d}' % (d, t),
            '{"driver_id": %d.0, "lat": 26, "lon": 106, "ts": %d}' % (d, t),
            '{"driver_id": 1e0, "lat": 26, "lon": 106, "ts": %d}' % t,
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": %d.5}' % (d, t),
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": 1.7e9}' % d,
            '{"driver_id": %d, "lat": null, "lon": 106, "ts": %d}' % (d, t),
            '{"driver_id": %d, "lat": -0, "lon": -0.0, "ts": %d}' % (d, t),
            '{"driver_id": %d, "lat": 90.0000000000001, "lon": 106, "ts": %d}' % (d, t),
            '{"driver_id": 0, "lat": 26, "lon": 106, "ts": %d}' % t,
            '{"driver_id": -%d, "lat": 26, "lon": 106, "ts": %d}' % (d, t),
            '{"driver_id": 999999999999999999, "lat": 26, "lon": 106, "ts": %d}' % t,
            '{"driver_id": 12345678901234567, "lat": 26, "lon": 106, "ts": %d}' % t,
            '{"driver_id": 9000000000000000, "lat": 26, "lon": 106, "ts": %d}' % t,
            '{}',
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": 946684799}' % d,
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": %d}' % (d, t + 100000),
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": %d, "speed_kmh": 250.0000001}' % (d, t),
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": %d, "heading_deg": 360}' % (d, t),
            '{"driver_id": %d, "lat": 26, "lon": 106, "ts": %d, "heading_deg": null, "speed_kmh": null}' % (d, t),
            '{"driver_id": %d, "lat": 1e-400, "lon": 106, "ts": %d}' % (d, t),
            '{"driver_id": %d, "lon": 106, "lat": 26, "ts": %d}' % (self.Y["id"], t),
        ]
        r = self.both(items)
        self.assertStatus(r, 200)
        self.assertEqual(r.body["accepted"], 7, r)
        self.assertEqual([x["index"] for x in r.body["rejected"]], sorted(x["index"] for x in r.body["rejected"]))
        # Each item on its own, too.
        for it in items:
            self.both([it])

    def test_overflowing_numbers(self):
        d, t = self.X["id"], int(time.time())
        for it in ('{"driver_id": %d, "lat": 1e400, "lon": 106.6, "ts": %d}' % (d, t),
                   '{"driver_id": %d, "lat": 26.5, "lon": 106.6, "ts": %d, "speed_kmh": -1e400}' % (d, t),
                   '{"driver_id": %d, "lat": 26.5, "lon": 106.6, "ts": %d, "heading_deg": 1E999}' % (d, t)):
            ok = '{"driver_id": %d, "lat": 26.5, "lon": 106.6, "ts": %d}' % (d, t)
            r = self.both([ok, it])
            self.assertIn(r.status, (200, 400), r)

    def test_numbers_read_back_the_same(self):
        import random
        rng = random.Random(11)
        drivers = [self.s.create_driver(name="数%d" % i, plate="贵N%05d" % i) for i in range(40)]
        t = int(time.time()) - 5
        texts, want = [], {}
        for i, dr in enumerate(drivers):
            nd = rng.randint(0, 16)
            lat = "%d.%s" % (rng.randint(19, 52), "".join(rng.choice("0123456789") for _ in range(nd))) if nd else \
                str(rng.randint(19, 52))
            lon = "%.*f" % (rng.randint(1, 14), rng.uniform(74, 134))
            if i % 5 == 0:
                lon = "%.6e" % float(lon)
            texts.append('{"driver_id": %d, "lat": %s, "lon": %s, "ts": %d}' % (dr["id"], lat, lon, t))
            want[dr["id"]] = (float(lat), float(lon))
        r = self.send(texts, general=False)
        self.assertEqual(self.assertStatus(r, 200)["accepted"], len(drivers), r)
        for did, (lat, lon) in want.items():
            p = self.admin_get("/v1/drivers/%d" % did)["position"]
            # The server prints 15 significant digits.
            self.assertEqual((p["lat"], p["lon"]), (float("%.15g" % lat), float("%.15g" % lon)), did)


class LoadTests(World):
    def test_create_full_body(self):
        now = int(time.time())
        body = load_body(price_cny=12345678.99, volume_m3=45.5, min_length_m=9.6, expires_at=now + 7200)
        r = self.s.post("/v1/loads", body, token=self.A["token"])
        l = self.assertStatus(r, 201)
        self.assertEqual(l["id"], 1)
        self.assertEqual(l["status"], "open")
        self.assertEqual(l["company_id"], self.A["id"])
        self.assertEqual(l["company_name"], "贵阳黔运物流有限公司")
        self.assertEqual(l["origin"], {"lat": GUIYANG[0], "lon": GUIYANG[1], "city": "贵阳", "province": "Guizhou"})
        self.assertEqual(l["destination"], {"lat": KUNMING[0], "lon": KUNMING[1], "city": "昆明",
                                            "province": "Yunnan"})
        self.assertEqual(l["cargo"], {"kind": "百货", "weight_t": 12.5, "volume_m3": 45.5})
        self.assertEqual(l["truck"], {"types": ["high_rail", "van"], "min_length_m": 9.6})
        self.assertEqual(l["pickup"], body["pickup"])
        self.assertEqual(l["price_cny"], 12345678.99)
        self.assertEqual(l["expires_at"], now + 7200)
        self.assertEqual(l["notes"], "需要篷布")
        self.assertEqual(l["contact"], {"name": "李经理", "phone": "13900001111"})
        self.assertIsNone(l["booking_id"])
        # loaded_km is the great-circle distance times the default circuity 1.3.
        self.assertAlmostEqual(l["loaded_km"], haversine_km(GUIYANG, KUNMING) * 1.3, delta=0.06)
        self.assertEqual(self.admin_get("/v1/loads/1"), l)

    def test_price_is_exact(self):
        for price in (0.01, 0.29, 1.1, 4200.55, 99999999.99):
            l = self.s.create_load(self.A, price_cny=price)
            self.assertEqual(l["price_cny"], price)
            self.assertEqual(self.admin_get("/v1/loads/%d" % l["id"])["price_cny"], price)

    def test_validation_errors(self):
        now = int(time.time())

        def pickup(e, l):
            return {"earliest_at": e, "latest_at": l}

        def tweak(**kw):
            b = load_body()
            for k, v in kw.items():
                parts = k.split("__")
                o = b
                for p in parts[:-1]:
                    o = o[p]
                if v is None:
                    o.pop(parts[-1], None)
                else:
                    o[parts[-1]] = v
            return b

        cases = [
            (tweak(origin=None), 400, "missing_field", "origin"),
            (tweak(origin="贵阳"), 400, "invalid_field", "origin"),
            (tweak(origin__lat=91), 400, "invalid_field", "origin.lat"),
            (tweak(origin__lat=None), 400, "missing_field", "origin.lat"),
            (tweak(origin__lat=TOKYO[0], origin__lon=TOKYO[1]), 422, "outside_service_area", "origin.lat"),
            (tweak(origin__province="Atlantis"), 400, "invalid_field", "origin.province"),
            (tweak(destination__lon=None), 400, "missing_field", "destination.lon"),
            (tweak(destination__lon=-181), 400, "invalid_field", "destination.lon"),
            (tweak(destination__city="x" * 65), 400, "invalid_field", "destination.city"),
            (tweak(cargo=None), 400, "missing_field", "cargo"),
            (tweak(cargo__kind=None), 400, "missing_field", "cargo.kind"),
            (tweak(cargo__weight_t=0), 400, "invalid_field", "cargo.weight_t"),
            (tweak(cargo__weight_t=101), 400, "invalid_field", "cargo.weight_t"),
            (tweak(cargo__weight_t="10"), 400, "invalid_field", "cargo.weight_t"),
            (tweak(cargo__volume_m3=-1), 400, "invalid_field", "cargo.volume_m3"),
            (tweak(truck=None), 400, "missing_field", "truck"),
            (tweak(truck__types=None), 400, "missing_field", "truck.types"),
            (tweak(truck__types=[]), 400, "invalid_field", "truck.types"),
            (tweak(truck__types="van"), 400, "invalid_field", "truck.types"),
            (tweak(truck__types=["rocket"]), 400, "invalid_field", "truck.types[0]"),
            (tweak(truck__types=["van", 7]), 400, "invalid_field", "truck.types[1]"),
            (tweak(truck__min_length_m=10), 400, "invalid_field", "truck.min_length_m"),
            (tweak(pickup=None), 400, "missing_field", "pickup"),
            (tweak(pickup__earliest_at=None), 400, "missing_field", "pickup.earliest_at"),
            (tweak(pickup__earliest_at="soon"), 400, "invalid_field", "pickup.earliest_at"),
            (tweak(pickup__latest_at=now + 1.5), 400, "invalid_field", "pickup.latest_at"),
            (tweak(pickup=pickup(now + 7200, now + 3600)), 400, "invalid_field", "pickup.latest_at"),
            (tweak(pickup=pickup(now - 7200, now - 3600)), 422, "unprocessable", "pickup.latest_at"),
            (tweak(pickup=pickup(now + 100 * 86400, now + 101 * 86400)), 400, "invalid_field", "pickup.earliest_at"),
            (tweak(price_cny=None), 400, "missing_field", "price_cny"),
            (tweak(price_cny=10.001), 400, "invalid_field", "price_cny"),
            (tweak(price_cny=0), 400, "invalid_field", "price_cny"),
            (tweak(price_cny=-5), 400, "invalid_field", "price_cny"),
            (tweak(price_cny="100"), 400, "invalid_field", "price_cny"),
            (tweak(expires_at=now - 10), 400, "invalid_field", "expires_at"),
            (tweak(expires_at=now + 200000), 400, "invalid_field", "expires_at"),
            (tweak(notes="x" * 501), 400, "invalid_field", "notes"),
            (tweak(contact="李经理"), 400, "invalid_field", "contact"),
            (tweak(contact__phone="12"), 400, "invalid_field", "contact.phone"),
        ]
        for body, status, code, field in cases:
            r = self.s.post("/v1/loads", body, token=self.A["token"])
            self.assertStatus(r, status, code, field, msg=field)
        # Nothing was created.
        self.assertStatus(self.s.get("/v1/loads/1", token="admin"), 404, "not_found")
        self.assertEqual(self.admin_get("/v1/companies/%d" % self.A["id"])["counts"]["loads_posted"], 0)

    def test_owner_sees_contact_others_do_not(self):
        l = self.s.create_load(self.A)
        path = "/v1/loads/%d" % l["id"]
        own = self.assertStatus(self.s.get(path, token=self.A["token"]), 200)
        self.assertEqual(own["contact"], {"name": "李经理", "phone": "13900001111"})
        for who in (self.B, self.X, self.G):
            pub = self.assertStatus(self.s.get(path, token=who["token"]), 200)
            self.assertNotIn("contact", pub)
            self.assertNotIn("13900001111", json.dumps(pub, ensure_ascii=False))
            self.assertEqual(pub["id"], l["id"])
            self.assertEqual(pub["origin"], own["origin"])
            self.assertEqual(pub["price_cny"], own["price_cny"])
        # The booked driver sees the contact; the other driver still does not.
        self.s.book(self.X, l)
        self.assertEqual(self.assertStatus(self.s.get(path, token=self.X["token"]), 200)["contact"]["phone"],
                         "13900001111")
        self.assertNotIn("contact", self.assertStatus(self.s.get(path, token=self.Y["token"]), 200))

    def test_get_unknown(self):
        self.assertStatus(self.s.get("/v1/loads/77", token=self.A["token"]), 404, "not_found")

    def test_cancel_by_owner(self):
        l = self.s.create_load(self.A)
        r = self.s.delete("/v1/loads/%d" % l["id"], token=self.A["token"])
        self.assertEqual(self.assertStatus(r, 200)["status"], "cancelled")
        self.assertEqual(self.admin_get("/v1/loads/%d" % l["id"])["status"], "cancelled")
        self.assertEqual(self.admin_get("/v1/companies/%d" % self.A["id"])["counts"]["loads_cancelled"], 1)
        # Twice: it is no longer open.
        self.assertStatus(self.s.delete("/v1/loads/%d" % l["id"], token=self.A["token"]), 409, "load_not_open")
        # A cancelled load cannot be booked.
        self.assertStatus(self.s.post("/v1/loads/%d/book" % l["id"], token=self.X["token"]), 409, "load_not_open")

    def test_cancel_by_other_company(self):
        l = self.s.create_load(self.A)
        self.assertStatus(self.s.delete("/v1/loads/%d" % l["id"], token=self.B["token"]), 403, "forbidden")
        self.assertEqual(self.admin_get("/v1/loads/%d" % l["id"])["status"], "open")

    def test_cancel_after_booking(self):
        l = self.s.create_load(self.A)
        self.s.book(self.X, l)
        self.assertStatus(self.s.delete("/v1/loads/%d" % l["id"], token=self.A["token"]), 409, "already_booked")
        self.assertEqual(self.admin_get("/v1/loads/%d" % l["id"])["status"], "booked")

    def test_cancel_unknown(self):
        self.assertStatus(self.s.delete("/v1/loads/55", token=self.A["token"]), 404, "not_found")

    def test_expiry(self):
        now = int(time.time())
        l = self.s.create_load(self.A, expires_at=now + 2)
        self.assertEqual(l["status"], "open")
        while time.time() < now + 2.05:
            time.sleep(0.05)
        self.assertEqual(self.admin_get("/v1/loads/%d" % l["id"])["status"], "expired")
        self.assertStatus(self.s.post("/v1/loads/%d/book" % l["id"], token=self.X["token"]), 409, "load_not_open")
        self.assertStatus(self.s.delete("/v1/loads/%d" % l["id"], token=self.A["token"]), 409, "load_not_open")
        near = self.assertStatus(self.s.get("/v1/loads?near=%f,%f" % GUIYANG, token=self.X["token"]), 200)
        self.assertEqual(near["loads"], [])


class LoadsNearTests(World):
    def setUp(self):
        super().setUp()
        s = self.s
        self.P = (27.5, 106.9)
        # Loads at 0, 8, 20 and 45 km from P, one at 120 km; created out of order.
        self.l20 = s.create_load(self.A, origin=offset(self.P, 20, 0))
        self.l0 = s.create_load(self.A, origin=self.P)
        self.l120 = s.create_load(self.B, origin=offset(self.P, 0, 120))
        self.l45 = s.create_load(self.B, origin=offset(self.P, -30, 33.5))
        self.l8 = s.create_load(self.B, origin=offset(self.P, 0, -8))

    def near(self, query, token=None):
        r = self.s.get("/v1/loads?near=%s" % query, token=token or self.X["token"])
        return self.assertStatus(r, 200)["loads"]

    def test_nearest_first_within_radius(self):
        got = self.near("%f,%f" % self.P)
        self.assertEqual([l["id"] for l in got], [self.l0["id"], self.l8["id"], self.l20["id"], self.l45["id"]])
        dists = [l["distance_km"] for l in got]
        self.assertEqual(dists, sorted(dists))
        self.assertAlmostEqual(dists[1], 8.0, delta=0.05)
        self.assertAlmostEqual(dists[2], 20.0, delta=0.05)
        for l in got:
            self.assertLessEqual(l["distance_km"], 50)
            self.assertEqual(l["status"], "open")

    def test_percent_encoded_query(self):
        got = self.near("%f%%2C%f&radius_km=10" % self.P)
        self.assertEqual([l["id"] for l in got], [self.l0["id"], self.l8["id"]])

    def test_radius_and_limit(self):
        self.assertEqual([l["id"] for l in self.near("%f,%f&radius_km=10" % self.P)],
                         [self.l0["id"], self.l8["id"]])
        self.assertEqual([l["id"] for l in self.near("%f,%f&radius_km=150" % self.P)],
                         [self.l0["id"], self.l8["id"], self.l20["id"], self.l45["id"], self.l120["id"]])
        self.assertEqual([l["id"] for l in self.near("%f,%f&radius_km=150&limit=2" % self.P)],
                         [self.l0["id"], self.l8["id"]])
        self.assertEqual([l["id"] for l in self.near("%f,%f&radius_km=1&status=open" % self.P)], [self.l0["id"]])

    def test_only_open_loads(self):
        self.assertStatus(self.s.delete("/v1/loads/%d" % self.l0["id"], token=self.A["token"]), 200)
        self.s.book(self.X, self.l8)
        self.assertEqual([l["id"] for l in self.near("%f,%f" % self.P)], [self.l20["id"], self.l45["id"]])

    def test_contact_only_for_owner(self):
        for l in self.near("%f,%f" % self.P, token=self.A["token"]):
            self.assertEqual("contact" in l, l["company_id"] == self.A["id"], l)
        for l in self.near("%f,%f" % self.P, token=self.G["token"]):
            self.assertNotIn("contact", l)

    def test_bad_query(self):
        tok = self.X["token"]
        for q in ("abc", "27.5", "27.5;106.9", "91,106", "27.5,181", "27.5,106.9,3", "", ",", ",106.9", "27.5,"):
            r = self.s.get("/v1/loads?near=" + q, token=tok)
            self.assertStatus(r, 400, "missing_field" if q == "" else "invalid_field", "near", msg="near=" + q)
        self.assertStatus(self.s.get("/v1/loads", token=tok), 400, "missing_field", "near")
        base = "/v1/loads?near=27.5,106.9"
        self.assertStatus(self.s.get(base + "&radius_km=0", token=tok), 400, "invalid_field", "radius_km")
        self.assertStatus(self.s.get(base + "&radius_km=abc", token=tok), 400, "invalid_field", "radius_km")
        self.assertStatus(self.s.get(base + "&radius_km=5000", token=tok), 400, "invalid_field", "radius_km")
        self.assertStatus(self.s.get(base + "&limit=0", token=tok), 400, "invalid_field", "limit")
        self.assertStatus(self.s.get(base + "&limit=201", token=tok), 400, "invalid_field", "limit")
        self.assertStatus(self.s.get(base + "&limit=-1", token=tok), 400, "invalid_field", "limit")
        self.assertStatus(self.s.get(base + "&status=booked", token=tok), 400, "invalid_field", "status")


class TrucksNearTests(World):
    def setUp(self):
        super().setUp()
        s = self.s
        self.P = (30.57, 104.07)
        # Exact positions deliberately off any grid line.
        self.t1 = s.create_driver(name="车1", plate="川A00001", truck_type="van", length_m=9.6, capacity_t=18,
                                  position=(30.5733217, 104.0712345))
        self.t2 = s.create_driver(name="车2", plate="川A00002", truck_type="flatbed", length_m=13, capacity_t=32,
                                  position=offset(self.P, 6.1237, 2.3417))
        self.t3 = s.create_driver(name="车3", plate="川A00003", truck_type="van", length_m=4.2, capacity_t=2,
                                  position=offset(self.P, -15.377, 0.4313))
        self.far = s.create_driver(name="远", plate="川A00004", truck_type="van", position=offset(self.P, 0, 90))

    def trucks(self, query, token=None):
        r = self.s.get("/v1/trucks?near=" + query, token=token or self.A["token"])
        return self.assertStatus(r, 200)["trucks"]

    def exact(self, d):
        p = self.admin_get("/v1/drivers/%d" % d["id"])["position"]
        return (p["lat"], p["lon"])

    def test_company_sees_snapped_positions(self):
        q1 = "%f,%f" % self.P
        got = self.trucks(q1)
        self.assertEqual([t["driver_id"] for t in got], [self.t1["id"], self.t2["id"], self.t3["id"]])
        seen = {}
        for t in got:
            ex = [d for d in (self.t1, self.t2, self.t3) if d["id"] == t["driver_id"]][0]
            exact = self.exact(ex)
            pos = (t["position"]["lat"], t["position"]["lon"])
            self.assertNotEqual(pos, exact, "a company must not see the exact position")
            self.assertLess(haversine_km(pos, exact), 2.0)
            self.assertFalse(t["position_exact"])
            # The distance is computed from the snapped point, not the exact one.
            self.assertAlmostEqual(t["distance_km"], haversine_km(self.P, pos), delta=0.002)
            seen[t["driver_id"]] = pos
            self.assertIn("truck", t)
            self.assertEqual(t["truck"]["plate"], ex["truck"]["plate"])
        # Queries from other (spoofed) points see the very same snapped positions.
        for q in (offset(self.P, 0.5, 0.5), offset(self.P, -1.1, 0.37), offset(self.P, 3.3, -2.9),
                  offset(self.P, 0.011, -0.013)):
            for t in self.trucks("%f,%f" % q):
                self.assertEqual((t["position"]["lat"], t["position"]["lon"]), seen[t["driver_id"]])

    def test_moves_inside_a_cell_are_invisible(self):
        """A company cannot follow a truck more closely than a cell (0.02 deg,
        docs/api.md): moves that stay inside the cell change nothing it sees."""
        cell = 0.02
        base = (30.5733217, 104.0712345)  # t1's exact position, inside cell (1528, 5203)
        lo_lat, lo_lon = math.floor(base[0] / cell) * cell, math.floor(base[1] / cell) * cell
        seen = set()
        ts = int(time.time())
        for i, (fy, fx) in enumerate(((0.13, 0.21), (0.87, 0.11), (0.52, 0.93), (0.31, 0.66), (0.95, 0.95))):
            p = (lo_lat + fy * cell, lo_lon + fx * cell)
            self.s.set_position(self.t1, p, ts=ts + 1 + i)
            ex = self.exact(self.t1)
            self.assertAlmostEqual(ex[0], p[0], places=9)
            self.assertAlmostEqual(ex[1], p[1], places=9)
            t = [t for t in self.trucks("%f,%f" % self.P) if t["driver_id"] == self.t1["id"]][0]
            pos = (t["position"]["lat"], t["position"]["lon"])
            self.assertNotEqual(pos[0], p[0])
            self.assertNotEqual(pos[1], p[1])
            seen.add((pos, t["distance_km"]))
        self.assertEqual(len(seen), 1, "moves inside one cell were visible to a company: %s" % seen)

    def test_admin_gets_exact_positions(self):
        got = self.trucks("%f,%f" % self.P, token="admin")
        self.assertEqual([t["driver_id"] for t in got], [self.t1["id"], self.t2["id"], self.t3["id"]])
        for t in got:
            d = [d for d in (self.t1, self.t2, self.t3) if d["id"] == t["driver_id"]][0]
            self.assertEqual((t["position"]["lat"], t["position"]["lon"]), self.exact(d))
            self.assertTrue(t["position_exact"])
            self.assertAlmostEqual(t["distance_km"], haversine_km(self.P, self.exact(d)), delta=0.002)

    def test_filters(self):
        ids = lambda q: [t["driver_id"] for t in self.trucks(("%f,%f" % self.P) + q)]
        self.assertEqual(ids("&type=van"), [self.t1["id"], self.t3["id"]])
        self.assertEqual(ids("&type=flatbed"), [self.t2["id"]])
        self.assertEqual(ids("&type=flatbed,van"), [self.t1["id"], self.t2["id"], self.t3["id"]])
        self.assertEqual(ids("&type=tanker"), [])
        self.assertEqual(ids("&min_length_m=9.6"), [self.t1["id"], self.t2["id"]])
        self.assertEqual(ids("&min_length_m=10"), [self.t2["id"]])
        self.assertEqual(ids("&min_capacity_t=18"), [self.t1["id"], self.t2["id"]])
        self.assertEqual(ids("&min_capacity_t=20"), [self.t2["id"]])
        self.assertEqual(ids("&type=van&min_capacity_t=5"), [self.t1["id"]])
        self.assertEqual(ids("&radius_km=10"), [self.t1["id"], self.t2["id"]])
        self.assertEqual(ids("&radius_km=200"), [self.t1["id"], self.t2["id"], self.t3["id"], self.far["id"]])
        self.assertEqual(ids("&limit=1"), [self.t1["id"]])
        self.assertEqual(ids("&type=van%2Cflatbed"), [self.t1["id"], self.t2["id"], self.t3["id"]])
        v = self.s.create_driver(name="厢车", plate="川A00005", truck_type="van", volume_m3=60,
                                 position=offset(self.P, 1.234, 1.789))
        self.assertEqual(ids("&min_volume_m3=50"), [v["id"]])
        tok = self.A["token"]
        self.assertStatus(self.s.get("/v1/trucks?near=%f,%f&type=rocket" % self.P, token=tok), 400,
                          "invalid_field", "type")
        self.assertStatus(self.s.get("/v1/trucks?near=x", token=tok), 400, "invalid_field", "near")
        self.assertStatus(self.s.get("/v1/trucks", token=tok), 400, "missing_field", "near")

    def test_drivers_may_not_search_trucks(self):
        self.assertStatus(self.s.get("/v1/trucks?near=%f,%f" % self.P, token=self.t1["token"]), 403, "forbidden")
        self.assertStatus(self.s.get("/v1/trucks?near=%f,%f" % self.P, token=self.G["token"]), 403, "forbidden")

    def test_on_trip_and_offline_trucks_excluded(self):
        load = self.s.create_load(self.A, origin=self.P, types=["van", "flatbed"], weight_t=1)
        b = self.s.book(self.t1, load)
        self.assertStatus(self.s.put("/v1/drivers/%d/status" % self.t2["id"], {"status": "offline"},
                                     token=self.t2["token"]), 200)
        self.assertEqual([t["driver_id"] for t in self.trucks("%f,%f" % self.P)], [self.t3["id"]])
        self.assertEqual([t["driver_id"] for t in self.trucks("%f,%f" % self.P, token="admin")], [self.t3["id"]])
        # Back: the booking is cancelled and t2 comes online.
        self.assertStatus(self.s.post("/v1/bookings/%d/cancel" % b["id"], token=self.t1["token"]), 200)
        self.assertStatus(self.s.put("/v1/drivers/%d/status" % self.t2["id"], {"status": "available"},
                                     token=self.t2["token"]), 200)
        self.assertEqual([t["driver_id"] for t in self.trucks("%f,%f" % self.P)],
                         [self.t1["id"], self.t2["id"], self.t3["id"]])

    def test_unpositioned_trucks_are_not_listed(self):
        d = self.s.create_driver(name="无位置", plate="川A00009", home=self.P)
        self.assertNotIn(d["id"], [t["driver_id"] for t in self.trucks("%f,%f" % self.P, token="admin")])


class BookingTests(World):
    def setUp(self):
        super().setUp()
        self.L = self.s.create_load(self.A)

    def post(self, path, who, body=None):
        return self.s.post(path, body, token=who["token"])

    def test_book(self):
        r = self.post("/v1/loads/%d/book" % self.L["id"], self.X)
        b = self.assertStatus(r, 201)
        self.assertEqual(b["id"], 1)
        self.assertEqual(b["load_id"], self.L["id"])
        self.assertEqual(b["driver_id"], self.X["id"])
        self.assertEqual(b["company_id"], self.A["id"])
        self.assertEqual(b["status"], "booked")
        self.assertIsNone(b["picked_up_at"])
        self.assertAlmostEqual(b["loaded_km"], self.L["loaded_km"], delta=0.11)
        self.assertEqual(b["deadhead_km"], 0.0)  # X stands at the pickup point
        d = self.admin_get("/v1/drivers/%d" % self.X["id"])
        self.assertEqual((d["status"], d["booking_id"]), ("on_trip", b["id"]))
        l = self.admin_get("/v1/loads/%d" % self.L["id"])
        self.assertEqual((l["status"], l["booking_id"]), ("booked", b["id"]))
        self.assertEqual(self.assertStatus(self.s.get("/v1/bookings/1", token=self.A["token"]), 200), b)
        self.assertEqual(self.assertStatus(self.s.get("/v1/bookings/1", token=self.X["token"]), 200), b)
        self.assertEqual(self.admin_get("/v1/bookings/1"), b)
        self.assertEqual(self.admin_get("/v1/companies/%d" % self.A["id"])["counts"]["loads_booked"], 1)

    def test_deadhead_from_current_position(self):
        far = self.s.create_driver(name="远", plate="贵A99999", position=KUNMING)
        b = self.s.book(far, self.L)
        self.assertAlmostEqual(b["deadhead_km"], haversine_km(KUNMING, GUIYANG) * 1.3, delta=0.11)

    def test_second_driver_gets_409(self):
        self.s.book(self.X, self.L)
        self.assertStatus(self.post("/v1/loads/%d/book" % self.L["id"], self.Y), 409, "already_booked")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.Y["id"])["status"], "available")
        # The same driver again: still one booking.
        self.assertStatus(self.post("/v1/loads/%d/book" % self.L["id"], self.X), 409, "already_booked")
        self.assertStatus(self.s.get("/v1/bookings/2", token="admin"), 404, "not_found")

    def test_driver_on_trip_cannot_book_another(self):
        other = self.s.create_load(self.B)
        self.s.book(self.X, self.L)
        self.assertStatus(self.post("/v1/loads/%d/book" % other["id"], self.X), 409, "driver_on_trip")
        self.assertEqual(self.admin_get("/v1/loads/%d" % other["id"])["status"], "open")

    def test_unsuitable_truck(self):
        s = self.s
        flat = s.create_driver(name="平板", plate="贵A10001", truck_type="flatbed", position=GUIYANG)
        self.assertStatus(self.post("/v1/loads/%d/book" % self.L["id"], flat), 422, "truck_unsuitable", "truck.type")
        heavy = s.create_load(self.A, weight_t=25)
        self.assertStatus(self.post("/v1/loads/%d/book" % heavy["id"], self.X), 422, "truck_unsuitable",
                          "truck.capacity_t")
        longl = s.create_load(self.A, min_length_m=13)
        self.assertStatus(self.post("/v1/loads/%d/book" % longl["id"], self.X), 422, "truck_unsuitable",
                          "truck.length_m")
        small = s.create_driver(name="小厢", plate="贵A10002", truck_type="van", volume_m3=20, position=GUIYANG)
        bulky = s.create_load(self.A, volume_m3=40)
        self.assertStatus(self.post("/v1/loads/%d/book" % bulky["id"], small), 422, "truck_unsuitable",
                          "truck.volume_m3")
        for l in (self.L, heavy, longl, bulky):
            self.assertEqual(self.admin_get("/v1/loads/%d" % l["id"])["status"], "open")
        for d in (flat, self.X, small):
            self.assertEqual(self.admin_get("/v1/drivers/%d" % d["id"])["status"], "available")

    def test_book_unknown_load(self):
        self.assertStatus(self.post("/v1/loads/999/book", self.X), 404, "not_found")

    def test_trip_lifecycle(self):
        b = self.s.book(self.X, self.L)
        bp = "/v1/bookings/%d" % b["id"]
        self.assertStatus(self.post(bp + "/deliver", self.X), 409, "invalid_transition")
        t0 = int(time.time())
        p = self.assertStatus(self.post(bp + "/pickup", self.X), 200)
        self.assertEqual(p["status"], "picked_up")
        self.assertGreaterEqual(p["picked_up_at"], t0 - 1)
        self.assertEqual(self.admin_get("/v1/loads/%d" % self.L["id"])["status"], "in_transit")
        self.assertStatus(self.post(bp + "/pickup", self.X), 409, "invalid_transition")
        self.assertStatus(self.s.delete("/v1/loads/%d" % self.L["id"], token=self.A["token"]), 409, "already_booked")
        d = self.assertStatus(self.post(bp + "/deliver", self.X), 200)
        self.assertEqual(d["status"], "delivered")
        self.assertIsNotNone(d["delivered_at"])
        self.assertEqual(self.admin_get("/v1/loads/%d" % self.L["id"])["status"], "delivered")
        drv = self.admin_get("/v1/drivers/%d" % self.X["id"])
        self.assertEqual(drv["status"], "available")
        self.assertIsNone(drv["booking_id"])
        self.assertEqual(drv["trips_delivered"], 1)
        # The truck now stands at the destination.
        self.assertEqual((drv["position"]["lat"], drv["position"]["lon"]), KUNMING)
        self.assertStatus(self.post(bp + "/deliver", self.X), 409, "invalid_transition")
        self.assertStatus(self.post(bp + "/cancel", self.X), 409, "invalid_transition")
        # Free again: the driver can book another load.
        self.s.book(self.X, self.s.create_load(self.B, origin=KUNMING, destination=GUIYANG))

    def test_cancel_by_driver_before_pickup(self):
        b = self.s.book(self.X, self.L)
        c = self.assertStatus(self.post("/v1/bookings/%d/cancel" % b["id"], self.X), 200)
        self.assertEqual((c["status"], c["cancelled_by"]), ("cancelled", "driver"))
        self.assertIsNotNone(c["cancelled_at"])
        self.assertEqual(self.admin_get("/v1/loads/%d" % self.L["id"])["status"], "cancelled")
        drv = self.admin_get("/v1/drivers/%d" % self.X["id"])
        self.assertEqual((drv["status"], drv["booking_id"]), ("available", None))
        self.assertStatus(self.post("/v1/bookings/%d/cancel" % b["id"], self.X), 409, "invalid_transition")
        self.assertStatus(self.post("/v1/bookings/%d/pickup" % b["id"], self.X), 409, "invalid_transition")
        # A load is booked at most once: it stays cancelled and cannot be booked again.
        self.assertStatus(self.post("/v1/loads/%d/book" % self.L["id"], self.Y), 409, "load_not_open")

    def test_cancel_by_owner_before_pickup(self):
        b = self.s.book(self.X, self.L)
        c = self.assertStatus(self.post("/v1/bookings/%d/cancel" % b["id"], self.A), 200)
        self.assertEqual((c["status"], c["cancelled_by"]), ("cancelled", "company"))
        self.assertEqual(self.admin_get("/v1/loads/%d" % self.L["id"])["status"], "cancelled")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["status"], "available")

    def test_cancel_after_pickup(self):
        b = self.s.book(self.X, self.L)
        self.assertStatus(self.post("/v1/bookings/%d/pickup" % b["id"], self.X), 200)
        self.assertStatus(self.post("/v1/bookings/%d/cancel" % b["id"], self.X), 409, "invalid_transition")
        self.assertStatus(self.post("/v1/bookings/%d/cancel" % b["id"], self.A), 409, "invalid_transition")
        self.assertEqual(self.admin_get("/v1/bookings/%d" % b["id"])["status"], "picked_up")
        self.assertEqual(self.admin_get("/v1/drivers/%d" % self.X["id"])["status"], "on_trip")

    def test_ratings(self):
        b = self.s.book(self.X, self.L)
        rp = "/v1/bookings/%d/rating" % b["id"]
        self.assertStatus(self.post(rp, self.A, {"stars": 5}), 409, "invalid_transition")
        self.assertStatus(self.post("/v1/bookings/%d/pickup" % b["id"], self.X), 200)
        self.assertStatus(self.post(rp, self.X, {"stars": 5}), 409, "invalid_transition")
        self.assertStatus(self.post("/v1/bookings/%d/deliver" % b["id"], self.X), 200)
        for bad, code, field in (({"stars": 6}, "invalid_field", "stars"), ({"stars": 0}, "invalid_field", "stars"),
                                 ({"stars": 4.5}, "invalid_field", "stars"), ({}, "missing_field", "stars"),
                                 ({"stars": 3, "comment": "x" * 501}, "invalid_field", "comment")):
            self.assertStatus(self.post(rp, self.A, bad), 400, code, field, msg=json.dumps(bad))
        r = self.assertStatus(self.post(rp, self.A, {"stars": 4, "comment": "准时，态度好"}), 201)
        self.assertEqual(r["rating_by_company"], {"stars": 4, "comment": "准时，态度好"})
        self.assertIsNone(r["rating_by_driver"])
        self.assertStatus(self.post(rp, self.A, {"stars": 1}), 409, "already_rated")
        r = self.assertStatus(self.post(rp, self.X, {"stars": 2}), 201)
        self.assertEqual(r["rating_by_driver"]["stars"], 2)
        self.assertEqual(r["rating_by_company"]["stars"], 4)
        self.assertStatus(self.post(rp, self.X, {"stars": 5}), 409, "already_rated")
        drv = self.admin_get("/v1/drivers/%d" % self.X["id"])
        self.assertEqual((drv["rating"], drv["rating_count"]), (4.0, 1))
        co = self.admin_get("/v1/companies/%d" % self.A["id"])
        self.assertEqual((co["rating"], co["rating_count"]), (2.0, 1))

    def test_exact_driver_position_while_the_trip_is_active(self):
        s = self.s
        exact = offset(GUIYANG, 0.7317, -0.4129)
        s.set_position(self.X, exact)
        b = s.book(self.X, self.L)
        bp = "/v1/bookings/%d" % b["id"]
        for who in (self.A["token"], self.X["token"], "admin"):
            got = self.assertStatus(s.get(bp, token=who), 200)
            self.assertIn("driver_position", got)
            self.assertAlmostEqual(got["driver_position"]["lat"], exact[0], places=9)
            self.assertAlmostEqual(got["driver_position"]["lon"], exact[1], places=9)
        # It follows the truck during the trip.
        self.assertStatus(self.post(bp + "/pickup", self.X), 200)
        s.set_position(self.X, CHENGDU, ts=int(time.time()) + 1)
        got = self.assertStatus(s.get(bp, token=self.A["token"]), 200)
        self.assertEqual((got["driver_position"]["lat"], got["driver_position"]["lon"]), CHENGDU)
        # Not after the trip.
        self.assertStatus(self.post(bp + "/deliver", self.X), 200)
        for who in (self.A["token"], self.X["token"], "admin"):
            self.assertNotIn("driver_position", self.assertStatus(s.get(bp, token=who), 200))

    def test_no_driver_position_after_cancel(self):
        b = self.s.book(self.X, self.L)
        self.assertIn("driver_position", self.assertStatus(self.s.get("/v1/bookings/%d" % b["id"],
                                                                      token=self.A["token"]), 200))
        self.assertStatus(self.post("/v1/bookings/%d/cancel" % b["id"], self.A), 200)
        self.assertNotIn("driver_position", self.assertStatus(self.s.get("/v1/bookings/%d" % b["id"],
                                                                         token=self.A["token"]), 200))

    def test_booking_hidden_from_unrelated(self):
        b = self.s.book(self.X, self.L)
        for who in (self.B, self.Y):
            self.assertStatus(self.s.get("/v1/bookings/%d" % b["id"], token=who["token"]), 404, "not_found")
        self.assertStatus(self.s.get("/v1/bookings/999", token=self.A["token"]), 404, "not_found")
        self.assertStatus(self.s.get("/v1/bookings/999", token="admin"), 404, "not_found")


class HttpTests(World):
    def test_healthz_and_dashboard(self):
        r = self.s.get("/healthz")
        self.assertEqual(self.assertStatus(r, 200)["status"], "ok")
        r = self.s.get("/")
        self.assertEqual(r.status, 200)
        self.assertIn("text/html", r.header("Content-Type"))

    def test_metrics(self):
        s = self.s
        for _ in range(3):
            s.get("/v1/companies/%d" % self.A["id"], token=self.A["token"])
        s.get("/no/such/thing")
        r = s.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r.header("Content-Type"))
        text = r.body
        for name in ("freightd_http_requests_total", "freightd_log_bytes_total", "freightd_log_fsyncs_total",
                     "freightd_http_request_duration_seconds_bucket", "freightd_http_request_duration_seconds_sum",
                     "freightd_http_request_duration_seconds_count"):
            self.assertIn(name, text)
        self.assertIn("# TYPE freightd_http_requests_total counter", text)
        self.assertIn("# TYPE freightd_http_request_duration_seconds histogram", text)

        def value(pattern):
            m = re.search("^" + re.escape(pattern) + r" (\S+)$", text, re.M)
            self.assertIsNotNone(m, "no metric line %r in:\n%s" % (pattern, text[:3000]))
            return float(m.group(1))

        self.assertEqual(value('freightd_http_requests_total{route="companies_get",status="200"}'), 3)
        self.assertEqual(value('freightd_http_requests_total{route="companies_create",status="201"}'), 2)
        self.assertEqual(value('freightd_http_requests_total{route="unmatched",status="404"}'), 1)
        self.assertGreater(value("freightd_log_bytes_total"), 0)
        self.assertGreaterEqual(value("freightd_log_fsyncs_total"), 1)
        self.assertEqual(value('freightd_objects{kind="company"}'), 2)
        self.assertEqual(value('freightd_http_request_duration_seconds_bucket{route="companies_get",le="+Inf"}'), 3)
        self.assertEqual(value('freightd_http_request_duration_seconds_count{route="companies_get"}'), 3)
        # Buckets are cumulative.
        buckets = [float(v) for v in re.findall(
            r'^freightd_http_request_duration_seconds_bucket\{route="companies_get",le="[^"]+"\} (\S+)$', text, re.M)]
        self.assertEqual(buckets, sorted(buckets))
        # Writes move the log counters.
        before = value("freightd_log_bytes_total"), value("freightd_log_fsyncs_total")
        s.create_company()
        text = s.get("/metrics").body
        self.assertGreater(value("freightd_log_bytes_total"), before[0])
        self.assertGreater(value("freightd_log_fsyncs_total"), before[1])

    def test_unknown_path(self):
        for path in ("/v2/loads", "/v1/loads/1/nothing", "/v1/loads/abc", "/v1/loads/0", "/v1/loads/-1",
                     "/v1/loads/99999999999999999999"):
            self.assertStatus(self.s.get(path, token="admin"), 404, "not_found", msg=path)
        self.assertStatus(self.s.get("/nope"), 404, "not_found")

    def test_wrong_method(self):
        r = self.s.request("PATCH", "/v1/loads/1", token="admin")
        self.assertStatus(r, 405, "method_not_allowed")
        allow = {m.strip() for m in (r.header("Allow") or "").split(",")}
        self.assertEqual(allow, {"GET", "DELETE"})
        r = self.s.get("/v1/companies", token="admin")
        self.assertStatus(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "POST")
        r = self.s.request("DELETE", "/healthz")
        self.assertStatus(r, 405, "method_not_allowed")
        self.assertIn("GET", r.header("Allow"))
        # Nothing was cancelled by the refused DELETE.
        self.assertEqual(self.s.request("PUT", "/v1/positions", {"positions": []}, token=self.G["token"]).status, 405)

    def test_unauthorized(self):
        for hdrs in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer fnt_" + "A" * 43},
                     {"Authorization": "Basic YWRtaW46YWRtaW4="}, {"Authorization": "Bearer "},
                     {"Authorization": self.A["token"]}):
            r = self.s.get("/v1/companies/%d" % self.A["id"], headers=hdrs)
            self.assertStatus(r, 401, "unauthorized", msg=repr(hdrs))
            self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"), r.headers)
        # A write without a token changes nothing.
        r = self.s.post("/v1/companies", {"name": "x", "kind": "shipper"})
        self.assertStatus(r, 401, "unauthorized")
        self.assertStatus(self.s.get("/v1/companies/3", token="admin"), 404)

    def test_bearer_is_case_insensitive(self):
        r = self.s.get("/v1/companies/%d" % self.A["id"], headers={"Authorization": "bearer " + self.A["token"]})
        self.assertStatus(r, 200)

    def test_wrong_content_type(self):
        body = json.dumps({"name": "x", "kind": "shipper"}).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonp", None):
            r = self.s.request("POST", "/v1/companies", raw_body=body, token="admin", headers={"Content-Type": ct})
            self.assertStatus(r, 415, "unsupported_media_type", msg=str(ct))
        r = self.s.request("POST", "/v1/companies", raw_body=body, token="admin",
                           headers={"Content-Type": "application/json;charset=utf-8"})
        self.assertStatus(r, 201)

    def test_bad_json(self):
        for raw in (b'{"name": "x", "kind": "shipper"', b"", b"nonsense", b'{"name": "x",}', b"[1, 2]", b"null",
                    b'{"name": "a", "name": "b", "kind": "shipper"}', b'{"name": "x"} trailing'):
            r = self.s.request("POST", "/v1/companies", raw_body=raw, token="admin", headers=JSON)
            self.assertStatus(r, 400, "bad_json", msg=repr(raw))
        self.assertStatus(self.s.get("/v1/companies/3", token="admin"), 404)

    def test_json_too_deep(self):
        deep = b'{"name": "x", "kind": "shipper", "extra": ' + b"[" * 16 + b"]" * 16 + b"}"
        r = self.s.request("POST", "/v1/companies", raw_body=deep, token="admin", headers=JSON)
        self.assertStatus(r, 400, "json_too_deep")
        ok = b'{"name": "x", "kind": "shipper", "extra": ' + b"[" * 15 + b"]" * 15 + b"}"
        r = self.s.request("POST", "/v1/companies", raw_body=ok, token="admin", headers=JSON)
        self.assertStatus(r, 201)
        # Brackets inside strings do not count.
        s = b'{"name": "' + b"[" * 40 + b'", "kind": "shipper"}'
        self.assertStatus(self.s.request("POST", "/v1/companies", raw_body=s, token="admin", headers=JSON), 201)
        # Very deep nesting is refused without harm.
        huge = b"[" * 100000 + b"]" * 100000
        r = self.s.request("POST", "/v1/companies", raw_body=huge, token="admin", headers=JSON)
        self.assertStatus(r, 400, "json_too_deep")
        self.assertStatus(self.s.get("/healthz"), 200)

    def test_invalid_utf8(self):
        for raw in (b'{"name": "\xff\xfe", "kind": "shipper"}', b'{"name": "\xe8\xb4", "kind": "shipper"}',
                    b'{"name": "\xc0\xaf", "kind": "shipper"}', b'{"name": "\xed\xa0\x80", "kind": "shipper"}'):
            r = self.s.request("POST", "/v1/companies", raw_body=raw, token="admin", headers=JSON)
            self.assertStatus(r, 400, "bad_json", msg=repr(raw))
        # Escaped NUL and escaped control characters are refused too.
        for raw in (b'{"name": "a\\u0000b", "kind": "shipper"}', b'{"name": "a\\u001fb", "kind": "shipper"}'):
            r = self.s.request("POST", "/v1/companies", raw_body=raw, token="admin", headers=JSON)
            self.assertEqual(r.status, 400, r)
            self.assertIn(r.error().get("code"), ("bad_json", "invalid_field"), r)
        self.assertStatus(self.s.get("/v1/companies/3", token="admin"), 404)

    def test_utf8_round_trip(self):
        name = "新疆维吾尔自治区乌鲁木齐市 🚚 物流"
        c = self.s.create_company(name=name)
        self.assertEqual(self.admin_get("/v1/companies/%d" % c["id"])["name"], name)

    def test_head(self):
        r = self.s.request("HEAD", "/v1/companies/%d" % self.A["id"], token=self.A["token"])
        self.assertEqual(r.status, 200)
        self.assertFalse(r.raw)


class LimitsTests(E2ETestCase):
    def test_body_too_large(self):
        s = self.start_server("--max-body-bytes", "2048")
        small = {"name": "x" * 50, "kind": "shipper", "pad": "p" * 1500}
        self.assertStatus(s.post("/v1/companies", small, token="admin"), 201)
        big = {"name": "x", "kind": "shipper", "pad": "p" * 3000}
        self.assertStatus(s.post("/v1/companies", big, token="admin"), 413, "payload_too_large")
        # The same without a Content-Length (chunked): refused as well.
        c = s.connection()
        try:
            def chunks():
                for _ in range(8):
                    yield b" " * 1000
                yield json.dumps({"name": "y", "kind": "shipper"}).encode()
            c.request("POST", "/v1/companies", body=chunks(), encode_chunked=True,
                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + s.admin_token})
            resp = c.getresponse()
            raw = resp.read()
            self.assertEqual(resp.status, 413, raw)
            self.assertEqual(json.loads(raw)["error"]["code"], "payload_too_large")
        finally:
            c.close()
        self.assertStatus(s.get("/v1/companies/2", token="admin"), 404)
        self.assertStatus(s.get("/healthz"), 200)

    def test_rate_limit(self):
        s = self.start_server("--rate-limit", "2", "--rate-burst", "2")
        c = s.create_company()
        # The burst (2) passes, then 429; six quick requests leave no time to refill 4 tokens.
        got = [s.get("/v1/companies/1", token=c["token"]) for _ in range(6)]
        self.assertEqual([r.status for r in got[:2]], [200, 200], got)
        limited = [r for r in got[2:] if r.status != 200]
        self.assertTrue(limited, "no 429 in %s" % [r.status for r in got])
        self.assertStatus(limited[0], 429, "rate_limited")
        ra = limited[0].header("Retry-After")
        self.assertIsNotNone(ra, limited[0].headers)
        self.assertTrue(ra.isdigit() and int(ra) >= 1, ra)
        # Another token has its own bucket; public routes are not limited.
        self.assertStatus(s.get("/v1/companies/1", token="admin"), 200)
        for _ in range(5):
            self.assertStatus(s.get("/healthz"), 200)
        time.sleep(float(ra))
        self.assertStatus(s.get("/v1/companies/1", token=c["token"]), 200)


class ConnectionTests(E2ETestCase):
    """Keep-alive connections and the whole-request deadline (--request-deadline-s):
    a request that does not arrive in time is cut; a connection that keeps
    sending whole requests, or idles between them, is not."""

    def deadline_kills(self, s):
        m = re.search(r"(?m)^freightd_http_deadline_kills_total (\d+)$", s.get("/metrics").body)
        return int(m.group(1)) if m else None

    def test_busy_keepalive_connection_outlives_the_deadline(self):
        s = self.start_server("--request-deadline-s", "1")
        c = s.connection(timeout=5)
        try:
            c.connect()
            sock = c.sock
            t_end = time.time() + 3.0
            n = 0
            while time.time() < t_end:
                c.request("GET", "/healthz")
                r = c.getresponse()
                self.assertEqual(r.status, 200, r.read())
                r.read()
                self.assertIs(c.sock, sock, "the connection was reopened after %d requests" % n)
                n += 1
                time.sleep(0.1)
        except (ConnectionError, http.client.HTTPException) as e:
            self.fail("a keep-alive connection sending whole requests was cut after %d requests (%.1f s): %r" %
                      (n, 3.0 - (t_end - time.time()), e))
        finally:
            c.close()
        self.assertEqual(self.deadline_kills(s), 0)

    def test_idle_keepalive_connection_outlives_the_deadline(self):
        s = self.start_server("--request-deadline-s", "1")
        c = s.connection(timeout=5)
        try:
            c.request("GET", "/healthz")
            c.getresponse().read()
            sock = c.sock
            time.sleep(2.0)  # idle: longer than the request deadline, shorter than the idle timeout
            c.request("GET", "/healthz")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
            self.assertIs(c.sock, sock)
        except (ConnectionError, http.client.HTTPException) as e:
            self.fail("an idle keep-alive connection was cut by the request deadline: %r" % e)
        finally:
            c.close()

    def test_slow_request_is_cut_at_the_deadline(self):
        import socket
        s = self.start_server("--request-deadline-s", "1")
        sk = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        try:
            sk.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            t0 = time.time()
            try:
                data = sk.recv(4096)
            except ConnectionResetError:
                data = b""
            waited = time.time() - t0
            self.assertLess(waited, 4.0, "the slow request was not cut")
            self.assertGreaterEqual(waited, 0.8, "cut before the deadline")
            self.assertNotIn(b"200", data)
        finally:
            sk.close()
        self.assertGreaterEqual(self.deadline_kills(s), 1)
        self.assertStatus(s.get("/healthz"), 200)

    def test_trickled_second_request_on_keepalive_is_cut(self):
        """After one whole request, trickling the next request line byte by
        byte (each byte restarts the idle timeout) is cut after the idle
        timeout plus the deadline."""
        import socket
        s = self.start_server("--request-deadline-s", "1", "--idle-timeout-s", "2")
        sk = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        try:
            sk.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sk.recv(4096)
            self.assertIn(b"200", first)
            t0 = time.time()
            closed = False
            for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                try:
                    sk.sendall(bytes([ch]))
                    sk.settimeout(0.5)
                    if sk.recv(4096) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
                if time.time() - t0 > 8:
                    break
            waited = time.time() - t0
            self.assertTrue(closed, "the trickled second request was never cut")
            self.assertLess(waited, 6.0)
            self.assertGreaterEqual(waited, 1.5, "cut before idle timeout + deadline")
        finally:
            sk.close()
        self.assertStatus(s.get("/healthz"), 200)


class NonUtf8PathTests(E2ETestCase):
    def test_error_body_for_a_path_that_is_not_utf8(self):
        s = self.start_server()
        r = s.get("/v1/%ff%fe")
        self.assertStatus(r, 404, "not_found")


class StartupTests(E2ETestCase):
    def test_admin_token_file(self):
        s = self.start_server()
        path = os.path.join(s.data_dir, "admin.token")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, oct(mode))
        tok = s.admin_token
        self.assertGreaterEqual(len(tok), 16)
        self.assertNotIn(tok, s.output_since_start())
        self.assertStatus(s.get("/v1/companies/1", token="admin"), 404)
        # The same token after a restart.
        s.restart()
        self.assertEqual(s.admin_token, tok)
        self.assertStatus(s.get("/v1/companies/1", token="admin"), 404)
        self.assertNotIn(tok, s.output_since_start())

    def test_admin_token_from_env(self):
        tok = "e2e-admin-token-0123456789"
        s = self.start_server(admin_token=tok)
        self.assertFalse(os.path.exists(os.path.join(s.data_dir, "admin.token")))
        self.assertStatus(s.post("/v1/companies", {"name": "x", "kind": "shipper"}, token=tok), 201)
        self.assertNotIn(tok, s.output_since_start())
        # Too short: refuses to start.
        bad = Server(admin_token="short", start=False)
        self.servers.append(bad)
        self.addCleanup(bad.cleanup)
        bad.launch()
        self.assertNotEqual(bad.wait_exit(), 0)
        self.assertIn("FREIGHTD_ADMIN_TOKEN", bad.output_since_start())

    def test_tokens_are_stored_only_as_hashes(self):
        s = self.start_server()
        c = s.create_company()
        d = s.create_driver()
        g = s.create_gateway()
        s.snapshot()
        s.stop()
        blob = b""
        for root, _, files in os.walk(s.data_dir):
            for f in files:
                if f != "admin.token":
                    with open(os.path.join(root, f), "rb") as fh:
                        blob += fh.read()
        for tok in (c["token"], d["token"], g["token"]):
            self.assertNotIn(tok.encode(), blob)
            self.assertNotIn(tok[4:].encode(), blob)

    def test_help_and_bad_flags(self):
        out = subprocess.run([freightd_bin(), "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        for flag in ("--listen", "--data-dir", "FREIGHTD_LISTEN", "FREIGHTD_DATA_DIR", "--rate-limit",
                     "--max-body-bytes"):
            self.assertIn(flag, out.stdout)
        out = subprocess.run([freightd_bin(), "--no-such-flag", "1"], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("no-such-flag", out.stderr)

    def test_port_taken(self):
        s = self.start_server()
        other = Server(start=False)
        self.servers.append(other)
        self.addCleanup(other.cleanup)
        other.args = []
        cmd_port = s.port
        # Replace --listen: launch() passes port 0 first, a later flag wins.
        other.launch(["--listen", "127.0.0.1:%d" % cmd_port])
        rc = other.wait_exit()
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot", other.output_since_start().lower())
        self.assertStatus(s.get("/healthz"), 200)

    def test_data_dir_in_use(self):
        s = self.start_server()
        other = Server(start=False)
        self.servers.append(other)
        self.addCleanup(other.cleanup)
        other.data_dir = s.data_dir
        other.launch()
        self.assertNotEqual(other.wait_exit(), 0)
        self.assertIn("in use", other.output_since_start())
        self.assertStatus(s.get("/healthz"), 200)

    def test_env_vars(self):
        s = Server(start=False, env={"FREIGHTD_RATE_LIMIT": "1", "FREIGHTD_RATE_BURST": "1"})
        self.servers.append(s)
        self.addCleanup(s.cleanup)
        s.start()
        c = s.create_company()
        self.assertStatus(s.get("/v1/companies/1", token=c["token"]), 200)
        self.assertStatus(s.get("/v1/companies/1", token=c["token"]), 429, "rate_limited")

    def test_sigterm_and_sigint_stop_cleanly(self):
        import signal as sig
        s = self.start_server()
        s.create_company()
        self.assertEqual(s.stop(), 0)
        s.start()
        self.assertStatus(s.get("/v1/companies/1", token="admin"), 200)
        s.proc.send_signal(sig.SIGINT)
        self.assertEqual(s.wait_exit(), 0)
        s.start()
        self.assertStatus(s.get("/v1/companies/1", token="admin"), 200)
