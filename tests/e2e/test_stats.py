"""test_stats.py — the analytics routes against a running server: the test
posts loads, books, picks up, delivers and cancels, then compares
/v1/stats/overview, /lanes and /regions with the values it computes in
Python from what it did (nearest city and province from data/cn_cities.csv,
exact quantiles, within the sketch's 1% bound); restarts the server (log
replay after SIGTERM and after kill -9, then from a snapshot) and checks
every answer is unchanged; and checks the public open-data CSV on an
imported dataset: exactly the closed-day cells of at least k loads, no
rollups, k below the server's minimum refused."""
import csv
import io
import math
import os
import subprocess
import time
from urllib.parse import quote

from harness import (BEIJING, CHENGDU, GUANGZHOU, GUIYANG, KUNMING, REPO_ROOT, SHANGHAI, E2ETestCase, freight_bin,
                     load_body)

R_KM = 6371.0088
TYPES = ["flatbed", "low_rail", "high_rail", "van", "refrigerated", "insulated", "container", "dump", "tanker",
         "hazmat", "wing_van", "lowbed"]


def haversine(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * R_KM * math.asin(min(1.0, math.sqrt(h)))


def read_cities():
    with open(os.path.join(REPO_ROOT, "data", "cn_cities.csv"), encoding="utf-8") as f:
        return [(r["name"], r["province"], float(r["lat"]), float(r["lon"])) for r in csv.DictReader(f)]


CITIES = read_cities()


def nearest_city(p):
    """Exact nearest city: the 12 nearest by a flat approximation, then haversine among them."""
    coslat = math.cos(math.radians(p[0]))
    approx = sorted(range(len(CITIES)),
                    key=lambda i: (CITIES[i][2] - p[0]) ** 2 + ((CITIES[i][3] - p[1]) * coslat) ** 2)[:12]
    return min(approx, key=lambda i: (haversine(p, (CITIES[i][2], CITIES[i][3])), i))


def province_of(p):
    return CITIES[nearest_city(p)][1]


def quantile(values, q):
    v = sorted(values)
    return v[max(1, math.ceil(q * len(v) - 1e-9)) - 1]


def strip_as_of(x):
    if isinstance(x, dict):
        return {k: strip_as_of(v) for k, v in x.items() if k != "as_of"}
    if isinstance(x, list):
        return [strip_as_of(v) for v in x]
    return x


class LiveStats(E2ETestCase):
    def setUp(self):
        super().setUp()
        s = self.s = self.start_server()
        self.company = s.create_company()
        places = [GUIYANG, KUNMING, CHENGDU, SHANGHAI, BEIJING, GUANGZHOU]
        # Trucks stand at city centres, so their region is that city.
        self.drivers = [s.create_driver(plate="贵A%05d" % i, truck_type="van", position=places[i % 6])
                        for i in range(12)]
        self.loads = []
        lanes = [(GUIYANG, KUNMING), (GUIYANG, KUNMING), (GUIYANG, CHENGDU), (SHANGHAI, BEIJING),
                 (GUANGZHOU, GUIYANG), (GUIYANG, KUNMING), (CHENGDU, KUNMING), (BEIJING, SHANGHAI),
                 (GUIYANG, KUNMING), (SHANGHAI, GUANGZHOU)]
        for i, (o, d) in enumerate(lanes):
            self.loads.append(s.create_load(self.company, origin=o, destination=d, types=("van", "high_rail"),
                                            price_cny=1000 + 137 * i))
        # Trips: book 6; of them deliver 3, pick up 1 more, cancel 1; the shipper cancels one open load.
        self.bookings = []
        for i in range(6):
            self.bookings.append(s.book(self.drivers[i], self.loads[i]))
        for i in range(4):
            b = self.bookings[i]
            self.assertStatus(s.post("/v1/bookings/%d/pickup" % b["id"], token=self.drivers[i]["token"]), 200)
            if i < 3:
                self.assertStatus(s.post("/v1/bookings/%d/deliver" % b["id"], token=self.drivers[i]["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/cancel" % self.bookings[5]["id"], token=self.drivers[5]["token"]),
                          200)
        self.assertStatus(s.delete("/v1/loads/%d" % self.loads[9]["id"], token=self.company["token"]), 200)
        self.assertStatus(s.put("/v1/drivers/%d/status" % self.drivers[11]["id"], {"status": "offline"},
                                token=self.drivers[11]["token"]), 200)

    def truth(self):
        """Everything the stats should say, from the objects themselves."""
        s = self.s
        loads = [s.get("/v1/loads/%d" % l["id"], token="admin").body for l in self.loads]
        bookings = [s.get("/v1/bookings/%d" % b["id"], token="admin").body for b in self.bookings]
        drivers = [s.get("/v1/drivers/%d" % d["id"], token="admin").body for d in self.drivers]
        return loads, bookings, drivers

    def test_overview_matches_what_happened(self):
        loads, bookings, drivers = self.truth()
        r = self.s.get("/v1/stats/overview?days=3", token=self.company["token"])
        self.assertStatus(r, 200)
        o = r.body
        self.assertEqual(o["trucks"], {"total": 12, "available": sum(d["status"] == "available" for d in drivers),
                                       "on_trip": sum(d["status"] == "on_trip" for d in drivers),
                                       "offline": sum(d["status"] == "offline" for d in drivers)})
        by = {}
        for l in loads:
            by[l["status"]] = by.get(l["status"], 0) + 1
        self.assertEqual(o["loads"], {k: by.get(k, 0) for k in
                                      ("open", "booked", "in_transit", "delivered", "cancelled", "expired")})
        done = [b for b in bookings if b["status"] == "delivered"]
        empty = sum(b["deadhead_km"] for b in done)
        loaded = sum(b["loaded_km"] for b in done)
        self.assertEqual(o["trips_delivered"], 3)
        # The booking view rounds km to 0.1.
        self.assertAlmostEqual(o["empty_km"], empty, delta=0.06 * len(done))
        self.assertAlmostEqual(o["loaded_km"], loaded, delta=0.06 * len(done))
        self.assertAlmostEqual(o["empty_running_rate"], empty / (empty + loaded), delta=1e-3)
        ttm = [b["booked_at"] - l["created_at"] for b in bookings for l in loads if l["id"] == b["load_id"]]
        self.assertEqual(o["time_to_match_s"]["count"], len(ttm))
        for key, q in (("median", 0.5), ("p90", 0.9)):
            want = quantile(ttm, q)
            self.assertLessEqual(abs(o["time_to_match_s"][key] - want), 0.01 * (want + 1) + 1, o)
        self.assertEqual(len(o["daily"]), 3)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertEqual(o["daily"][-1]["day"], today)
        days = {d["day"]: d for d in o["daily"]}
        for key, ts in (("posted", [l["created_at"] for l in loads]), ("booked", [b["booked_at"] for b in bookings]),
                        ("delivered", [b["delivered_at"] for b in done])):
            for day, d in days.items():
                self.assertEqual(d[key], sum(time.strftime("%Y-%m-%d", time.gmtime(t)) == day for t in ts), key)
        self.assertStatus(self.s.get("/v1/stats/overview?days=0", token="admin"), 400, "invalid_field", "days")
        self.assertStatus(self.s.get("/v1/stats/overview"), 401)

    def test_lanes_match_exact_quantiles(self):
        loads, _, _ = self.truth()
        r = self.s.get("/v1/stats/lanes?days=2", token=self.drivers[0]["token"])
        self.assertStatus(r, 200)
        self.assertEqual(r.body["relative_error"], 0.01)
        lanes = {(l["origin"], l["destination"]): l for l in r.body["lanes"]}
        want = {}
        for l in loads:
            key = (province_of((l["origin"]["lat"], l["origin"]["lon"])),
                   province_of((l["destination"]["lat"], l["destination"]["lon"])))
            want.setdefault(key, []).append(l["price_cny"] / l["loaded_km"])
        self.assertEqual(set(lanes), set(want))
        counts = [l["count"] for l in r.body["lanes"]]
        self.assertEqual(counts, sorted(counts, reverse=True))
        for key, prices in want.items():
            lane = lanes[key]
            self.assertIsNone(lane["truck_type"])
            self.assertEqual(lane["count"], len(prices))
            for name, q in (("p25", 0.25), ("median", 0.5), ("p75", 0.75)):
                exact = quantile(prices, q)
                # 1% from the sketch, plus the load view's rounding of loaded_km.
                self.assertLessEqual(abs(lane["price_per_km"][name] - exact), 0.011 * exact + 0.002, (key, lane))
            self.assertEqual(sum(d["count"] for d in lane["daily"]), len(prices))
        # Filters: one lane, by English or Chinese name; a load counts under the first of its types in the
        # taxonomy's order (high_rail before van).
        r = self.s.get("/v1/stats/lanes?origin=%s&destination=Yunnan&truck_type=high_rail" % quote("贵州"), token="admin")
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body["lanes"]), 1)
        self.assertEqual(r.body["lanes"][0]["count"], len(want[("Guizhou", "Yunnan")]))
        self.assertEqual(r.body["lanes"][0]["origin_zh"], "贵州")
        r = self.s.get("/v1/stats/lanes?origin=Guizhou&truck_type=van", token="admin")
        self.assertEqual(r.body["lanes"], [])
        self.assertStatus(self.s.get("/v1/stats/lanes?origin=Narnia", token="admin"), 400, "invalid_field", "origin")
        self.assertStatus(self.s.get("/v1/stats/lanes?truck_type=boat", token="admin"), 400, "invalid_field",
                          "truck_type")

    def test_regions_match_positions_and_open_loads(self):
        loads, _, drivers = self.truth()
        for level in ("province", "city"):
            r = self.s.get("/v1/stats/regions?level=" + level, token="admin")
            self.assertStatus(r, 200)
            self.assertEqual(r.body["level"], level)
            regions = {g["name"]: g for g in r.body["regions"]}
            sup, dem = {}, {}
            for d in drivers:
                if d["status"] == "available":
                    c = nearest_city((d["position"]["lat"], d["position"]["lon"]))
                    k = CITIES[c][0] if level == "city" else CITIES[c][1]
                    sup[k] = sup.get(k, 0) + 1
            for l in loads:
                if l["status"] == "open":
                    c = nearest_city((l["origin"]["lat"], l["origin"]["lon"]))
                    k = CITIES[c][0] if level == "city" else CITIES[c][1]
                    dem[k] = dem.get(k, 0) + 1
            for name, g in regions.items():
                self.assertEqual(g["supply"], sup.get(name, 0), (level, name))
                self.assertEqual(g["demand"], dem.get(name, 0), (level, name))
                self.assertEqual(g["ratio"], None if not g["supply"] else round(g["demand"] / g["supply"], 4))
                self.assertGreaterEqual(len(g["hourly"]), 1)  # the sample logged before the hour's first write
            self.assertTrue(set(sup) | set(dem) <= set(regions))
            if level == "city":
                self.assertTrue(all(g["supply"] or g["demand"] for g in regions.values()))
            else:
                self.assertEqual(regions["Guizhou"]["name_zh"], "贵州")
        self.assertStatus(self.s.get("/v1/stats/regions?level=street", token="admin"), 400, "invalid_field", "level")

    def all_stats(self):
        out = {}
        for path in ("/v1/stats/overview?days=5", "/v1/stats/lanes?days=5&limit=100",
                     "/v1/stats/lanes?days=5&truck_type=high_rail", "/v1/stats/regions",
                     "/v1/stats/regions?level=city"):
            r = self.s.get(path, token="admin")
            self.assertStatus(r, 200)
            out[path] = strip_as_of(r.body)
        return out

    def test_restart_keeps_every_answer(self):
        before = self.all_stats()
        hour = int(time.time()) // 3600
        self.s.restart()                 # SIGTERM: log replay
        self.assertEqual(self.all_stats(), before)
        self.s.restart(kill=True)        # kill -9: log replay
        self.assertEqual(self.all_stats(), before)
        self.s.snapshot()
        self.s.restart()                 # from the snapshot (and the sample logged after it)
        after = self.all_stats()
        if int(time.time()) // 3600 != hour:
            self.skipTest("an hour boundary passed; the hourly samples rightly differ")
        self.assertEqual(after, before)


class OpenData(E2ETestCase):
    def test_csv_publishes_only_cells_of_k_or_more(self):
        s = self.start_server("--opendata-min-k", "2", "--rate-limit", "0", start=False)
        ds = os.path.join(s.base_dir, "dataset")
        r = subprocess.run([freight_bin(), "gen", "--scale", "0.002", "--seed", "11", "--out", ds],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([freight_bin(), "import", "--data-dir", s.data_dir, ds], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        s.start()
        # The truth: every load's cell, from the loads as the server holds them.
        cells = {}
        today = time.strftime("%Y-%m-%d", time.gmtime())
        n = 1
        while True:
            l = s.get("/v1/loads/%d" % n, token="admin")
            if l.status == 404:
                break
            l = l.body
            n += 1
            day = time.strftime("%Y-%m-%d", time.gmtime(l["created_at"]))
            if day >= today:
                continue
            o, d = (l["origin"]["lat"], l["origin"]["lon"]), (l["destination"]["lat"], l["destination"]["lon"])
            t = min(TYPES.index(x) for x in l["truck"]["types"])
            km = haversine(o, d) * 1.3
            if km > 0:
                cells.setdefault((day, province_of(o), province_of(d), TYPES[t]), []).append(l["price_cny"] / km)
        self.assertGreater(n, 1000)
        self.assertTrue(cells, "the dataset should have loads posted before today")
        for k in (2, 5, 10):
            r = s.get("/v1/opendata/lanes.csv?k=%d" % k)  # public: no token
            self.assertStatus(r, 200)
            self.assertTrue(r.header("Content-Type").startswith("text/csv"))
            rows = list(csv.DictReader(io.StringIO(r.body)))
            self.assertEqual(list(rows[0].keys()) if rows else [],
                             ["day", "origin", "destination", "truck_type", "count", "price_per_km_p25",
                              "price_per_km_median", "price_per_km_p75"] if rows else [])
            got = {(x["day"], x["origin"], x["destination"], x["truck_type"]): x for x in rows}
            want = {key: v for key, v in cells.items() if len(v) >= k}
            self.assertEqual(set(got), set(want), "k=%d" % k)
            self.assertEqual(len(got), len(rows))  # one row per cell: no duplicates
            for key, row in got.items():
                prices = want[key]
                self.assertEqual(int(row["count"]), len(prices))
                self.assertGreaterEqual(int(row["count"]), k)   # suppression
                self.assertIn(row["truck_type"], TYPES)          # never an all-types rollup
                for col, q in (("price_per_km_p25", 0.25), ("price_per_km_median", 0.5),
                               ("price_per_km_p75", 0.75)):
                    exact = quantile(prices, q)
                    self.assertLessEqual(abs(float(row[col]) - exact), 0.01 * exact + 0.0011, (key, col))
            if k == 2:
                self.assertTrue(rows, "some cells must be published")
                self.assertTrue(any(len(v) < 2 for v in cells.values()), "some cells must be suppressed")
        self.assertStatus(s.get("/v1/opendata/lanes.csv?k=1"), 400, "invalid_field", "k")
        self.assertStatus(s.get("/v1/opendata/lanes.csv?k=x"), 400, "invalid_field", "k")
        # The default k is the server's minimum.
        r = s.get("/v1/opendata/lanes.csv")
        self.assertEqual(len(r.body.splitlines()) - 1, sum(len(v) >= 2 for v in cells.values()))
