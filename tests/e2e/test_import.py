"""test_import.py — `freight import`: a dataset (docs/dataset.md) loaded into
a new data dir, every record held to the API's own rules, bad records
reported by file, line and field and skipped without losing the rest, times
moved so the dataset's start is now, and the server serving the result."""
import json
import os
import re
import subprocess
import time

from harness import CHENGDU, GUIYANG, E2ETestCase, freight_bin

START = 1798761600  # the dataset's "now": 2027-01-01T00:00:00Z


def company(i, **kw):
    c = {"id": i, "name": "公司 %d" % i, "kind": "shipper", "city": "Guiyang", "province": "Guizhou"}
    c.update(kw)
    return c


def driver(i, **kw):
    d = {"id": i, "name": "司机 %d" % i, "phone": "+86138%08d" % i, "home": {"lat": GUIYANG[0], "lon": GUIYANG[1]},
         "truck": {"plate": "贵A%05d" % i, "type": "high_rail", "length_m": 9.6, "capacity_t": 18},
         "preferred_provinces": ["Guizhou"], "status": "available",
         "position": {"lat": GUIYANG[0] + 0.01 * i, "lon": GUIYANG[1], "ts": START - 60, "speed_kmh": 40,
                      "heading_deg": 90}}
    d.update(kw)
    return d


def load(i, company_id, **kw):
    l = {"id": i, "company_id": company_id, "created_at": START - 3600,
         "origin": {"lat": GUIYANG[0], "lon": GUIYANG[1], "city": "Guiyang", "province": "Guizhou"},
         "destination": {"lat": CHENGDU[0], "lon": CHENGDU[1], "city": "Chengdu", "province": "Sichuan"},
         "cargo": {"kind": "general", "weight_t": 5}, "truck": {"types": ["high_rail"], "min_length_m": 6.8},
         "pickup": {"earliest_at": START + 3600, "latest_at": START + 86400}, "price_cny": 1800.5,
         "contact": {"name": "王经理", "phone": "+8685100000000"}}
    l.update(kw)
    return l


def write_dataset(path, companies, drivers, loads, start=START):
    os.makedirs(path)
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump({"format": "freightnet-dataset/1", "seed": 0, "scale": 0, "start": start,
                   "counts": {"companies": len(companies), "drivers": len(drivers), "loads": len(loads)}}, f)
    for name, rows in (("companies", companies), ("drivers", drivers), ("loads", loads)):
        with open(os.path.join(path, name + ".jsonl"), "w") as f:
            for r in rows:
                f.write(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
                f.write("\n")


class Import(E2ETestCase):
    def run_import(self, s, dataset, *args):
        return subprocess.run([freight_bin(), "import", "--data-dir", s.data_dir] + list(args) + [dataset],
                              capture_output=True, text=True, timeout=120)

    def test_good_and_bad_records(self):
        s = self.start_server(start=False)
        ds = os.path.join(s.base_dir, "dataset")
        bad_truck = driver(3)
        bad_truck["truck"] = dict(bad_truck["truck"], length_m=9.7)
        write_dataset(ds,
                      [company(1), company(2, kind="pirate"), company(3, province="四川", city="Chengdu")],
                      [driver(1), driver(2, status="offline"), bad_truck, "not json", driver(5, position=None),
                       driver(6, position={"lat": 35.68, "lon": 139.69, "ts": START})],
                      [load(1, 1), load(2, 2), load(3, 3, price_cny=0), load(4, 3),
                       load(5, 1, pickup={"earliest_at": START - 7200, "latest_at": START - 3600}), load(4, 1)])
        r = self.run_import(s, ds)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        errors = [l for l in r.stderr.splitlines() if l.startswith("freight import: ")]
        want = [("companies.jsonl:2: kind: ", "invalid_field"),
                ("drivers.jsonl:3: truck.length_m: ", "invalid_field"),
                ("drivers.jsonl:4: ", "invalid_json"),
                ("drivers.jsonl:6: position.lat: ", "outside_service_area"),
                ("loads.jsonl:2: company_id: company 2 was not imported", "invalid_field"),
                ("loads.jsonl:3: price_cny: ", "invalid_field"),
                ("loads.jsonl:5: pickup.latest_at: pickup.latest_at is in the past", "unprocessable"),
                ("loads.jsonl:6: id: ", "invalid_field")]
        self.assertEqual(len(errors), len(want), r.stderr)
        for line, (prefix, code) in zip(errors, want):
            self.assertTrue(line.startswith("freight import: " + prefix), "%r does not start with %r" % (line, prefix))
            self.assertTrue(line.endswith("(%s)" % code), "%r does not end with (%s)" % (line, code))
        self.assertIn("2 companies, 3 drivers, 2 loads", r.stdout)
        self.assertIn("8 refused", r.stdout)

        # The server serves what was imported; ids are dense in import order.
        s.start()
        with open(os.path.join(s.data_dir, "bench-tokens.json")) as f:
            tokens = json.load(f)
        self.assertEqual([c["id"] for c in tokens["companies"]], [1, 2])
        self.assertEqual([d["id"] for d in tokens["drivers"]], [1, 2, 3])
        co2 = s.get("/v1/companies/2", token="admin").body
        self.assertEqual((co2["name"], co2["province"]), ("公司 3", "Sichuan"))
        self.assertStatus(s.get("/v1/companies/3", token="admin"), 404)
        # A company token works, and sees its own load.
        c1 = tokens["companies"][0]["token"]
        self.assertStatus(s.get("/v1/companies/1", token=c1), 200)
        now = time.time()
        l1 = s.get("/v1/loads/1", token="admin").body
        self.assertEqual((l1["status"], l1["company_id"], l1["price_cny"]), ("open", 1, 1800.5))
        # Times moved so that the dataset's start is now.
        self.assertLess(abs(l1["pickup"]["earliest_at"] - (now + 3600)), 120)
        self.assertLess(abs(l1["created_at"] - (now - 3600)), 120)
        l2 = s.get("/v1/loads/2", token="admin").body
        self.assertEqual(l2["company_id"], 2)  # dataset load 4 of dataset company 3
        self.assertStatus(s.get("/v1/loads/3", token="admin"), 404)
        d1 = s.get("/v1/drivers/1", token="admin").body
        self.assertEqual(d1["status"], "available")
        self.assertLess(abs(d1["position"]["ts"] - (now - 60)), 120)
        self.assertEqual(s.get("/v1/drivers/2", token="admin").body["status"], "offline")
        self.assertIsNone(s.get("/v1/drivers/3", token="admin").body["position"])  # dataset driver 5
        # Matching sees the imported trucks: driver 1 is available near load 1's pickup.
        m = s.get("/v1/loads/1/matches", token="admin").body["matches"]
        self.assertEqual([x["driver_id"] for x in m], [1])
        # A refused import still makes a data dir that restarts to the same state.
        s.restart()
        self.assertEqual(s.get("/v1/loads/1", token="admin").body, l1)
        self.assertEqual(s.get("/v1/drivers/1", token="admin").body["position"], d1["position"])

    def test_any_positive_ids_and_extreme_times(self):
        """Dataset ids need only increase: huge and sparse ones map to dense
        state ids; a time too large to move is refused, not wrapped."""
        s = self.start_server(start=False)
        ds = os.path.join(s.base_dir, "dataset")
        big = 2305843009213693953  # 2^61 + 1
        write_dataset(ds, [company(7), company(big, name="大公司")],
                      [driver(9, position=dict(driver(9)["position"], ts=9223372036854775807))],
                      [load(1, big), load(2, 7), load(3, 8)])
        r = self.run_import(s, ds)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("2 companies, 0 drivers, 2 loads", r.stdout)
        self.assertIn("drivers.jsonl:1: position.ts: ", r.stderr)
        self.assertIn("loads.jsonl:3: company_id: company 8 was not imported", r.stderr)
        s.start()
        self.assertEqual(s.get("/v1/loads/1", token="admin").body["company_name"], "大公司")
        self.assertEqual(s.get("/v1/loads/2", token="admin").body["company_id"], 1)

    def test_the_api_and_the_importer_refuse_alike(self):
        """The same bodies posted to the API and imported fail on the same
        field with the same code: one set of rules."""
        bodies = [
            ("drivers", driver(1, phone="12"), "/v1/drivers"),
            ("drivers", driver(1, truck={"plate": "x", "type": "van", "length_m": 9.6, "capacity_t": 18}), "/v1/drivers"),
            ("drivers", driver(1, truck={"plate": "贵A1", "type": "spaceship", "length_m": 9.6, "capacity_t": 18}),
             "/v1/drivers"),
            ("drivers", driver(1, preferred_provinces=["Atlantis"]), "/v1/drivers"),
            ("companies", company(1, name=""), "/v1/companies"),
            ("companies", company(1, province="Texas"), "/v1/companies"),
            ("loads", load(1, 1, cargo={"kind": "general", "weight_t": 101}), "/v1/loads"),
            ("loads", load(1, 1, truck={"types": []}), "/v1/loads"),
            ("loads", load(1, 1, truck={"types": ["van"], "min_length_m": 10}), "/v1/loads"),
            ("loads", load(1, 1, origin={"lat": 35.68, "lon": 139.69}), "/v1/loads"),
            ("loads", load(1, 1, price_cny=12.345), "/v1/loads"),
        ]
        api = self.start_server()
        co = api.create_company()
        seen = []
        for kind, body, path in bodies:
            posted = {k: v for k, v in body.items() if k not in ("id", "company_id", "created_at", "status", "position")}
            if kind == "loads":
                # The API sees the times as the importer will after moving them.
                shift = int(time.time()) - START
                posted["pickup"] = {k: v + shift for k, v in posted["pickup"].items()}
            r = api.post(path, posted, token=co["token"] if kind == "loads" else "admin")
            self.assertIn(r.status, (400, 422), "%s %r was accepted by the API" % (path, posted))
            err = r.error()
            s = self.start_server(start=False)
            ds = os.path.join(s.base_dir, "dataset")
            write_dataset(ds, [company(1)] if kind != "companies" else [body],
                          [body] if kind == "drivers" else [], [body] if kind == "loads" else [])
            out = subprocess.run([freight_bin(), "import", "--data-dir", s.data_dir, ds], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 1, out.stderr)
            m = re.search(r"%s\.jsonl:1: ([^:]+): .*\((\w+)\)$" % kind, out.stderr, re.M)
            self.assertIsNotNone(m, out.stderr)
            self.assertEqual((m.group(1), m.group(2)), (err["field"], err["code"]), "%s %r" % (path, posted))
            seen.append(err["code"])
        self.assertIn("outside_service_area", seen)

    def test_refuses_a_used_data_dir_and_a_foreign_manifest(self):
        s = self.start_server()  # a data dir in use
        ds = os.path.join(s.base_dir, "dataset")
        write_dataset(ds, [company(1)], [], [])
        r = self.run_import(s, ds)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already holds a freightd data dir", r.stderr)
        s2 = self.start_server(start=False)
        ds2 = os.path.join(s2.base_dir, "dataset2")
        write_dataset(ds2, [company(1)], [], [])
        with open(os.path.join(ds2, "manifest.json"), "w") as f:
            json.dump({"format": "something-else", "start": START}, f)
        r = self.run_import(s2, ds2)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("format must be", r.stderr)
