"""test_simulate.py — `freight simulate` as a user runs it: a small national
day under every policy prints the table, writes results.json with every
documented figure consistent with itself (rates from km, the bound below each
plan and proven exact, loads served out of those posted) and four well-formed
SVG charts; the same options give the same numbers; bad options are refused
with a message and exit status 2.
"""
import json
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from harness import E2ETestCase, REPO_ROOT, freight_bin

CITIES = os.path.join(REPO_ROOT, "data", "cn_cities.csv")
POLICIES = ["board", "match", "dispatch", "backhaul"]
CHARTS = ["empty_rate.svg", "empty_by_hour.svg", "time_to_match.svg", "revenue.svg"]


def simulate(*args, check=True):
    r = subprocess.run([freight_bin(), "simulate", "--cities", CITIES] + list(args), capture_output=True, text=True,
                       timeout=300)
    if check and r.returncode != 0:
        raise AssertionError("freight simulate %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


class SimulateTest(E2ETestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fn-sim-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_a_small_day_under_every_policy(self):
        out = os.path.join(self.dir, "a")
        r = simulate("--trucks", "3000", "--loads-per-day", "1500", "--days", "2", "--seed", "3", "--out", out)
        for p in POLICIES:
            self.assertRegex(r.stdout, r"\n\| %s \| " % p)
        with open(os.path.join(out, "results.json")) as f:
            res = json.load(f)
        self.assertEqual(res["trucks"], 3000)
        self.assertEqual(res["loads"], 3000)
        self.assertEqual([p["policy"] for p in res["policies"]], POLICIES)
        rates = {}
        for p in res["policies"]:
            with self.subTest(policy=p["policy"]):
                self.assertGreater(p["loads_booked"], 1500)
                self.assertLessEqual(p["loads_booked"], res["loads"])
                self.assertEqual(p["loads_delivered"], p["loads_booked"])
                self.assertEqual(p["loads_booked"] + p["loads_expired"], res["loads"])
                self.assertAlmostEqual(p["empty_km"], p["deadhead_km"] + p["return_km"], delta=1e-6 * p["empty_km"])
                self.assertAlmostEqual(p["empty_rate"], p["empty_km"] / (p["empty_km"] + p["loaded_km"]), places=9)
                hours = p["hours"]
                self.assertAlmostEqual(sum(h["empty_km"] for h in hours), p["empty_km"], delta=1e-3)
                self.assertAlmostEqual(sum(h["loaded_km"] for h in hours), p["loaded_km"], delta=1e-3)
                self.assertEqual(sum(h["booked"] for h in hours), p["loads_booked"])
                self.assertLessEqual(p["match_p50_min"], p["match_p90_min"])
                b = p["bound"]
                self.assertTrue(b["exact"])
                self.assertFalse(b["closed"])
                self.assertEqual(b["loads_served"], p["loads_booked"])
                self.assertEqual(b["homes_matched"], 0)
                self.assertAlmostEqual(b["loaded_km"], p["loaded_km"], delta=1e-6 * p["loaded_km"])
                plan = p["empty_km"]  # the open bound: chains end anywhere, no trips home at the end
                self.assertAlmostEqual(p["plan_empty_km"], plan, delta=1e-6 * plan)
                self.assertLessEqual(b["empty_km"], plan + 1e-3)
                self.assertGreater(b["empty_km"], 0)
                self.assertAlmostEqual(p["x_bound"], plan / b["empty_km"], delta=1e-8 * p["x_bound"])  # 10 digits
                rates[p["policy"]] = p["empty_rate"]
        # Dispatch runs every 10 minutes over the two days.
        self.assertEqual(res["policies"][2]["dispatch_runs"], 2 * 144 - 1)
        for name in CHARTS:
            with self.subTest(chart=name):
                root = ET.parse(os.path.join(out, name)).getroot()
                self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
                text = "".join(root.itertext())
                for p in POLICIES:
                    self.assertIn(p, text)

    def test_closed_bound(self):
        out = os.path.join(self.dir, "c")
        simulate("--trucks", "300", "--loads-per-day", "200", "--days", "1", "--seed", "5", "--policies",
                 "board,backhaul", "--out", out, "--bound", "closed")
        opened = os.path.join(self.dir, "o")
        simulate("--trucks", "300", "--loads-per-day", "200", "--days", "1", "--seed", "5", "--policies",
                 "board,backhaul", "--out", opened)
        res = json.load(open(os.path.join(out, "results.json")))
        res_open = json.load(open(os.path.join(opened, "results.json")))
        for p, q in zip(res["policies"], res_open["policies"]):
            with self.subTest(policy=p["policy"]):
                b = p["bound"]
                self.assertTrue(b["exact"] and b["closed"])
                self.assertEqual(b["homes_matched"], 300)
                plan = p["empty_km"] + p["final_return_km"]
                self.assertAlmostEqual(p["plan_empty_km"], plan, delta=1e-6 * plan)
                self.assertLessEqual(b["empty_km"], plan + 1e-3)
                self.assertLessEqual(b["home_km"], b["empty_km"] + 1e-6)
                # Every truck must get home: the closed bound is the higher one.
                self.assertGreaterEqual(b["empty_km"], q["bound"]["empty_km"] - 1e-3)
                self.assertEqual(p["loads_booked"], q["loads_booked"])

    def test_same_options_same_numbers(self):
        a, b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        args = ["--trucks", "800", "--loads-per-day", "500", "--days", "1", "--policies", "board,backhaul", "--no-bound"]
        simulate(*(args + ["--out", a]))
        simulate(*(args + ["--out", b]))
        ra, rb = (json.load(open(os.path.join(d, "results.json"))) for d in (a, b))
        for pa, pb in zip(ra["policies"], rb["policies"]):
            pa.pop("wall_s")
            pb.pop("wall_s")
            self.assertEqual(pa, pb)
        for name in CHARTS:
            with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
                self.assertEqual(fa.read(), fb.read(), name)
        c = os.path.join(self.dir, "c")
        simulate(*(args + ["--seed", "2", "--out", c]))
        rc = json.load(open(os.path.join(c, "results.json")))
        self.assertNotEqual(rc["policies"][0]["loaded_km"], ra["policies"][0]["loaded_km"])

    def test_bad_options(self):
        for args, msg in ((["--policies", "board,teleport"], "--policies"), (["--days", "0"], "--days"),
                          (["--scale", "-1"], "--scale"), (["--speed", "abc"], "--speed"), (["--bogus", "1"], "unknown"),
                          (["--days"], "needs a value")):
            with self.subTest(args=args):
                r = simulate(*args, check=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(msg, r.stderr)
