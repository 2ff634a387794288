"""test_gen.py — `freight gen` writes the dataset of docs/dataset.md: the same
options give the same bytes (whatever the thread count), another seed other
bytes; every line of every file has the documented fields, ids in order and
values inside the API's ranges (checked line by line here, and a sample
posted through a real freightd); the command refuses a non-empty directory
without --force.

The datasets are small (scale 0.001 with more drivers and loads, so that
the files span several of the chunks that threads build in parallel).
"""
import csv
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import E2ETestCase, REPO_ROOT, freight_bin

CITIES = os.path.join(REPO_ROOT, "data", "cn_cities.csv")
DEFAULT_START = 1798761600  # 2027-01-01T00:00:00Z
FILES = ("companies.jsonl", "drivers.jsonl", "loads.jsonl")

TRUCK_TYPES = {"flatbed", "low_rail", "high_rail", "van", "refrigerated", "insulated", "container", "dump",
               "tanker", "hazmat", "wing_van", "lowbed"}
# Length (m) -> the payload (t) typical of it: a load asking for that length weighs no more.
LENGTH_CAP_T = {4.2: 1.8, 5.2: 3, 6.8: 8, 7.6: 10, 8.7: 15, 9.6: 18, 12.5: 25, 13.0: 32, 15.0: 32, 16.0: 32,
                17.5: 33}
PLATE_ABBR = {"Anhui": "皖", "Beijing": "京", "Chongqing": "渝", "Fujian": "闽", "Gansu": "甘", "Guangdong": "粤",
              "Guangxi": "桂", "Guizhou": "贵", "Hainan": "琼", "Hebei": "冀", "Heilongjiang": "黑", "Henan": "豫",
              "Hubei": "鄂", "Hunan": "湘", "Inner Mongolia": "蒙", "Jiangsu": "苏", "Jiangxi": "赣", "Jilin": "吉",
              "Liaoning": "辽", "Ningxia": "宁", "Qinghai": "青", "Shaanxi": "陕", "Shandong": "鲁", "Shanghai": "沪",
              "Shanxi": "晋", "Sichuan": "川", "Tianjin": "津", "Tibet": "藏", "Xinjiang": "新", "Yunnan": "云",
              "Zhejiang": "浙"}
PROVINCES = set(PLATE_ABBR)
PHONE_RE = re.compile(r"^\+861[3-9][0-9]{9}$")
PLATE_RE = re.compile(r"^.[A-HJ-NP-Z][0-9A-HJ-NP-Z]{5}$")
# Numbers as gen prints them: fixed notation, no exponent ("1e+06" is what %g would print).
FIXED_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def places():
    with open(CITIES, encoding="utf-8") as f:
        return {(r["name"], r["province"]) for r in csv.DictReader(f)}


def run_gen(*args, check=True):
    r = subprocess.run([freight_bin(), "gen", "--cities", CITIES] + list(args), capture_output=True, text=True,
                       timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("freight gen %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def decimals_at_most(x, n):
    return abs(x * 10 ** n - round(x * 10 ** n)) < 1e-6


class Checker:
    """Checks a dataset directory line by line; collects every problem."""

    def __init__(self, test, d, start):
        self.t, self.d, self.start = test, d, start
        self.places = places()
        self.errors = []

    def fail(self, where, msg):
        if len(self.errors) < 40:
            self.errors.append("%s: %s" % (where, msg))

    def expect(self, cond, where, msg):
        if not cond:
            self.fail(where, msg)
        return cond

    def string(self, v, where, lo, hi):
        return self.expect(isinstance(v, str) and lo <= len(v) <= hi and not any(ord(c) < 0x20 for c in v),
                           where, "want a string of %d..%d characters, got %r" % (lo, hi, v))

    def number(self, v, where, lo, hi, decimals):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi
        return self.expect(ok and decimals_at_most(v, decimals), where,
                           "want %s..%s with at most %d decimals, got %r" % (lo, hi, decimals, v))

    def integer(self, v, where, lo, hi):
        return self.expect(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi, where,
                           "want an integer in %d..%d, got %r" % (lo, hi, v))

    def latlon(self, o, where):
        if self.expect(isinstance(o, dict), where, "want an object"):
            self.number(o.get("lat"), where + ".lat", 18, 54, 6)
            self.number(o.get("lon"), where + ".lon", 73, 135, 6)

    def keys(self, o, where, required, optional=()):
        if not self.expect(isinstance(o, dict), where, "want an object, got %r" % (o,)):
            return False
        missing = [k for k in required if k not in o]
        extra = [k for k in o if k not in required and k not in optional]
        self.expect(not missing and not extra, where, "missing %s, unexpected %s" % (missing, extra))
        return not missing

    def lines(self, name, count):
        with open(os.path.join(self.d, name), "rb") as f:
            raw = f.read()
        self.expect(raw == b"" or raw.endswith(b"\n"), name, "does not end with a newline")
        lines = raw.split(b"\n")[:-1] if raw else []
        self.expect(len(lines) == count, name, "%d lines, manifest says %d" % (len(lines), count))
        for i, line in enumerate(lines, 1):
            where = "%s:%d" % (name, i)
            numbers = []
            o = json.loads(line.decode("utf-8"), parse_float=lambda t: numbers.append(t) or float(t),
                           parse_int=lambda t: numbers.append(t) or int(t))
            bad = [t for t in numbers if not FIXED_RE.match(t)]
            self.expect(not bad, where, "numbers not in fixed notation: %s" % bad)
            self.integer(o.get("id"), where + " id", i, i)
            yield where, o

    def companies(self, n):
        kinds = {}
        for where, c in self.lines("companies.jsonl", n):
            if not self.keys(c, where, ("id", "name", "kind", "city", "province")):
                continue
            self.string(c["name"], where + " name", 1, 100)
            self.expect(c["kind"] in ("shipper", "carrier", "broker", "logistics"), where, "kind %r" % c["kind"])
            self.string(c["city"], where + " city", 1, 64)
            self.expect((c["city"], c["province"]) in self.places, where,
                        "(%r, %r) is not a place of cn_cities.csv" % (c["city"], c["province"]))
            kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
        return kinds

    def drivers(self, n):
        phones, plates, lengths, status = set(), set(), {}, {}
        for where, d in self.lines("drivers.jsonl", n):
            if not self.keys(d, where, ("id", "name", "phone", "home", "truck", "preferred_provinces", "status"),
                             ("position",)):
                continue
            self.string(d["name"], where + " name", 1, 100)
            self.expect(isinstance(d["phone"], str) and PHONE_RE.match(d["phone"]), where, "phone %r" % d["phone"])
            phones.add(d["phone"])
            self.latlon(d["home"], where + " home")
            t = d["truck"]
            if self.keys(t, where + " truck", ("plate", "type", "length_m", "capacity_t"), ("volume_m3",)):
                self.string(t["plate"], where + " truck.plate", 2, 16)
                self.expect(PLATE_RE.match(t["plate"]), where, "plate %r" % t["plate"])
                plates.add(t["plate"])
                self.expect(t["type"] in TRUCK_TYPES, where, "truck.type %r" % t["type"])
                self.expect(t["length_m"] in LENGTH_CAP_T, where, "truck.length_m %r" % t["length_m"])
                self.number(t["capacity_t"], where + " truck.capacity_t", 0.1, 100, 3)
                if "volume_m3" in t:
                    self.number(t["volume_m3"], where + " truck.volume_m3", 0.1, 300, 3)
                lengths[t["length_m"]] = lengths.get(t["length_m"], 0) + 1
            pp = d["preferred_provinces"]
            if self.expect(isinstance(pp, list) and 1 <= len(pp) <= 31 and len(set(pp)) == len(pp)
                           and all(p in PROVINCES for p in pp), where, "preferred_provinces %r" % (pp,)):
                # The first is the home province, whose abbreviation starts the plate.
                self.expect(t["plate"].startswith(PLATE_ABBR[pp[0]]), where,
                            "plate %r is not of %s" % (t["plate"], pp[0]))
            self.expect(d["status"] in ("available", "offline"), where, "status %r" % d["status"])
            status[d["status"]] = status.get(d["status"], 0) + 1
            if "position" in d:
                p = d["position"]
                if self.keys(p, where + " position", ("lat", "lon", "ts", "speed_kmh", "heading_deg")):
                    self.latlon(p, where + " position")
                    self.integer(p["ts"], where + " position.ts", self.start - 600, self.start - 1)
                    self.number(p["speed_kmh"], where + " position.speed_kmh", 0, 250, 1)
                    self.number(p["heading_deg"], where + " position.heading_deg", 0, 360, 1)
        self.expect(len(phones) == n, "drivers.jsonl", "%d distinct phones for %d drivers" % (len(phones), n))
        self.expect(len(plates) == n, "drivers.jsonl", "%d distinct plates for %d drivers" % (len(plates), n))
        return lengths, status

    def place(self, o, where):
        if self.keys(o, where, ("lat", "lon", "city", "province")):
            self.latlon(o, where)
            self.expect((o["city"], o["province"]) in self.places, where,
                        "(%r, %r) is not a place of cn_cities.csv" % (o["city"], o["province"]))

    def loads(self, n, n_companies):
        T = self.start
        for where, ld in self.lines("loads.jsonl", n):
            if not self.keys(ld, where, ("id", "company_id", "created_at", "origin", "destination", "cargo", "truck",
                                         "pickup", "price_cny", "contact"), ("expires_at", "notes")):
                continue
            self.integer(ld["company_id"], where + " company_id", 1, n_companies)
            self.integer(ld["created_at"], where + " created_at", T - 86400, T - 1)
            self.place(ld["origin"], where + " origin")
            self.place(ld["destination"], where + " destination")
            cargo, truck, pickup = ld["cargo"], ld["truck"], ld["pickup"]
            if self.keys(cargo, where + " cargo", ("kind", "weight_t"), ("volume_m3",)):
                self.string(cargo["kind"], where + " cargo.kind", 1, 32)
                self.number(cargo["weight_t"], where + " cargo.weight_t", 0.001, 100, 3)
                if "volume_m3" in cargo:
                    self.number(cargo["volume_m3"], where + " cargo.volume_m3", 0.001, 300, 3)
            if self.keys(truck, where + " truck", ("types",), ("min_length_m",)):
                ty = truck["types"]
                self.expect(isinstance(ty, list) and ty and len(set(ty)) == len(ty) and set(ty) <= TRUCK_TYPES,
                            where, "truck.types %r" % (ty,))
                if "min_length_m" in truck:
                    L = truck["min_length_m"]
                    if self.expect(L in LENGTH_CAP_T, where, "truck.min_length_m %r" % L):
                        self.expect(cargo["weight_t"] <= LENGTH_CAP_T[L] + 1e-9, where,
                                    "%.3f t does not fit a %.1f m truck" % (cargo["weight_t"], L))
            if self.keys(pickup, where + " pickup", ("earliest_at", "latest_at")):
                e, l = pickup["earliest_at"], pickup["latest_at"]
                self.integer(e, where + " pickup.earliest_at", T + 1, T + 7 * 86400)
                self.integer(l, where + " pickup.latest_at", max(e, T + 1) if isinstance(e, int) else T + 1,
                             T + 90 * 86400)
                if "expires_at" in ld:
                    self.integer(ld["expires_at"], where + " expires_at", T + 1, l)
            self.number(ld["price_cny"], where + " price_cny", 0.01, 100000000, 2)
            if self.keys(ld["contact"], where + " contact", ("name", "phone")):
                self.string(ld["contact"]["name"], where + " contact.name", 1, 64)
                self.string(ld["contact"]["phone"], where + " contact.phone", 5, 24)
                self.expect(PHONE_RE.match(ld["contact"]["phone"]), where, "contact.phone")
            if "notes" in ld:
                self.string(ld["notes"], where + " notes", 1, 500)

    def done(self):
        if self.errors:
            self.t.fail("%s:\n  %s" % (self.d, "\n  ".join(self.errors)))


class Gen(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="freight-gen-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def out(self, name):
        return os.path.join(self.tmp, name)

    def read(self, d, name):
        with open(os.path.join(d, name), "rb") as f:
            return f.read()

    def manifest(self, d):
        with open(os.path.join(d, "manifest.json")) as f:
            return json.load(f)

    def test_same_options_same_bytes_any_threads_and_another_seed_differs(self):
        opts = ["--scale", "0.001", "--drivers", "30000", "--loads", "20000"]
        a, b, c = self.out("a"), self.out("b"), self.out("c")
        run_gen("--out", a, "--seed", "7", "--threads", "1", *opts)
        run_gen("--out", b, "--seed", "7", "--threads", "3", *opts)
        run_gen("--out", c, "--seed", "8", "--threads", "2", *opts)
        for name in FILES:
            self.assertTrue(self.read(a, name) == self.read(b, name), "%s differs between two runs" % name)
            self.assertNotEqual(self.read(a, name), self.read(c, name), "%s is the same for another seed" % name)
        ma, mb = self.manifest(a), self.manifest(b)
        self.assertNotEqual(ma.pop("command"), mb.pop("command"))
        self.assertEqual(ma, mb)
        self.assertEqual(ma, {"format": "freightnet-dataset/1", "seed": 7, "scale": 0.001, "start": DEFAULT_START,
                              "counts": {"companies": 300, "drivers": 30000, "loads": 20000}})
        self.assertEqual(sorted(os.listdir(a)), sorted(FILES + ("manifest.json",)))

    def test_every_line_is_valid(self):
        d = self.out("d")
        run_gen("--out", d, "--scale", "0.001", "--drivers", "30000", "--loads", "20000", "--seed", "3")
        m = self.manifest(d)
        self.assertEqual(list(m), ["format", "seed", "scale", "start", "counts", "command"])
        self.assertEqual(m["command"], "freight gen --cities %s --out %s --scale 0.001 --drivers 30000 --loads 20000 "
                                       "--seed 3" % (CITIES, d))
        self.assertIsInstance(m["scale"], float)
        ck = Checker(self, d, m["start"])
        kinds = ck.companies(m["counts"]["companies"])
        lengths, status = ck.drivers(m["counts"]["drivers"])
        ck.loads(m["counts"]["loads"], m["counts"]["companies"])
        ck.done()
        # The models, loosely: every kind; 4.2 m and 17.5 m the commonest lengths; ~85% available.
        self.assertEqual(set(kinds), {"shipper", "carrier", "broker", "logistics"})
        self.assertEqual({4.2, 17.5}, set(sorted(lengths, key=lengths.get)[-2:]))
        self.assertAlmostEqual(status["available"] / 30000.0, 0.85, delta=0.02)

    def test_without_the_csv_the_compiled_in_table_gives_the_same_bytes(self):
        a, b = self.out("csv"), self.out("builtin")
        run_gen("--out", a, "--scale", "0.001", "--seed", "5")
        env = {k: v for k, v in os.environ.items() if k != "FREIGHT_DATA"}
        # From a folder with no data/ (and a binary whose ../data may not exist either).
        r = subprocess.run([freight_bin(), "gen", "--out", b, "--scale", "0.001", "--seed", "5"], cwd=self.tmp,
                           env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in FILES:
            self.assertTrue(self.read(a, name) == self.read(b, name), "%s differs" % name)
        # A FREIGHT_DATA that points nowhere is an error, not a silent fallback.
        env["FREIGHT_DATA"] = self.out("nowhere")
        r = subprocess.run([freight_bin(), "gen", "--out", self.out("c"), "--scale", "0.001"], cwd=self.tmp, env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot open the city list", r.stderr)

    def test_start_moves_every_timestamp(self):
        d = self.out("s")
        T = 1900000000
        run_gen("--out", d, "--scale", "0.001", "--start", str(T))
        m = self.manifest(d)
        self.assertEqual(m["start"], T)
        ck = Checker(self, d, T)
        ck.companies(300)
        ck.drivers(2300)
        ck.loads(1000, 300)
        ck.done()

    def test_refuses_a_non_empty_dir_without_force(self):
        d = self.out("n")
        os.makedirs(d)
        with open(os.path.join(d, "keep.txt"), "w") as f:
            f.write("mine\n")
        r = run_gen("--out", d, "--scale", "0.001", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("not empty", r.stderr)
        self.assertEqual(os.listdir(d), ["keep.txt"])
        run_gen("--out", d, "--scale", "0.001", "--force")
        self.assertEqual(sorted(os.listdir(d)), sorted(FILES + ("keep.txt", "manifest.json")))
        # Explicit counts, zero included.
        run_gen("--out", d, "--companies", "5", "--drivers", "0", "--loads", "7", "--force")
        self.assertEqual(self.read(d, "drivers.jsonl"), b"")
        self.assertEqual(self.manifest(d)["counts"], {"companies": 5, "drivers": 0, "loads": 7})
        self.assertEqual(len(self.read(d, "loads.jsonl").splitlines()), 7)

    def test_bad_options(self):
        for args in ([], ["--out"], ["--out", self.out("x"), "--scale", "0"], ["--out", self.out("x"), "--seed", "-1"],
                     ["--out", self.out("x"), "--loads", "1x"], ["--out", self.out("x"), "--companies", "0"],
                     ["--out", self.out("x"), "--bogus", "1"]):
            r = run_gen(*args, check=False)
            self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stderr))
            self.assertFalse(os.path.exists(self.out("x")))

    def test_a_sample_posts_through_the_api(self):
        """The first records, their timestamps shifted by now - start as the
        importer shifts them, are accepted by a real freightd."""
        d = self.out("p")
        run_gen("--out", d, "--scale", "0.001", "--seed", "5")
        start = self.manifest(d)["start"]
        s = self.start_server("--rate-limit", "0")
        shift = int(time.time()) - start

        def lines(name, k):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                return [json.loads(next(f)) for _ in range(k)]

        tokens = {}
        for c in lines("companies.jsonl", 300):
            cid = c.pop("id")
            body = self.assertStatus(s.post("/v1/companies", c, token="admin"), 201, msg="company %d" % cid)
            self.assertEqual(body["id"], cid)
            tokens[cid] = body["token"]
        for dr in lines("drivers.jsonl", 200):
            did, status, pos = dr.pop("id"), dr.pop("status"), dr.pop("position", None)
            body = self.assertStatus(s.post("/v1/drivers", dr, token="admin"), 201, msg="driver %d" % did)
            if pos is not None:
                pos["ts"] += shift
                self.assertStatus(s.put("/v1/drivers/%d/position" % body["id"], pos, token=body["token"]), 204,
                                  msg="position of driver %d" % did)
            if status == "offline":
                self.assertStatus(s.put("/v1/drivers/%d/status" % body["id"], {"status": "offline"},
                                        token=body["token"]), 200, msg="status of driver %d" % did)
        for ld in lines("loads.jsonl", 200):
            lid, cid = ld.pop("id"), ld.pop("company_id")
            ld.pop("created_at")
            ld["pickup"]["earliest_at"] += shift
            ld["pickup"]["latest_at"] += shift
            if "expires_at" in ld:
                ld["expires_at"] += shift
            body = self.assertStatus(s.post("/v1/loads", ld, token=tokens[cid]), 201, msg="load %d" % lid)
            self.assertEqual(body["price_cny"], ld["price_cny"])
            self.assertEqual(body["cargo"]["weight_t"], ld["cargo"]["weight_t"])
