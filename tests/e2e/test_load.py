"""test_load.py — `freight load` (docs/load.md): against a small bulkloaded
server it sends every kind of request, reports each with a non-zero count,
and the server's state shows the positions, loads and bookings it made; a
target that is not loopback is refused before anything is sent."""
import json
import os
import re
import subprocess

from harness import REPO_ROOT, E2ETestCase, freight_bin

METRIC_RE = re.compile(r'^(\S+) (\S+)$', re.M)


def metrics(s):
    text = s.get("/metrics").body
    return {m.group(1): float(m.group(2)) for m in METRIC_RE.finditer(text)}


def requests_ok(m, route):
    """2xx answers of one route, from freightd_http_requests_total."""
    return sum(v for k, v in m.items()
               if k.startswith('freightd_http_requests_total{route="%s",status="2' % route))


class Load(E2ETestCase):
    def small_server(self):
        s = self.start_server("--rate-limit", "0", start=False)
        os.makedirs(s.data_dir)
        r = subprocess.run([freight_bin(), "bulkload", "--data-dir", s.data_dir, "--scale", "0.001", "--seed", "7",
                            "--cities", os.path.join(REPO_ROOT, "data", "cn_cities.csv")],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.fail("freight bulkload failed: %s %s" % (r.stdout[-2000:], r.stderr[-2000:]))
        s.start()
        return s, os.path.join(s.data_dir, "bench-tokens.json")

    def run_load(self, *args):
        return subprocess.run([freight_bin(), "load"] + list(args), capture_output=True, text=True, timeout=60)

    def test_every_kind_reaches_the_server(self):
        s, tokens = self.small_server()
        before = metrics(s)
        ndrivers = int(before['freightd_objects{kind="driver"}'])
        # 2.3k trucks every second in batches of 500: about 5 requests/s of
        # positions beside 300 marketplace requests/s, for about 3 s.
        r = self.run_load("--target", "127.0.0.1:%d" % s.port, "--tokens", tokens, "--count", "900",
                          "--rate", "300", "--report-interval", "1", "--batch", "500", "--connections", "3")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn("command: freight load --target", out)
        self.assertIn("gateway: %d trucks every 1 s" % ndrivers, out)
        counts = {}
        for kind in ("positions", "post_load", "search_trucks", "load_matches", "driver_loads", "book"):
            line = [l for l in out.splitlines() if l.startswith("  %s " % kind) and " /v1/" in l]
            self.assertEqual(len(line), 1, "no line for %s in\n%s" % (kind, out))
            n, per_s, p50, p99, p999, top = line[0].split()[-6:]
            counts[kind] = int(n)
            self.assertGreater(counts[kind], 0, "%s: %s" % (kind, out))
            self.assertGreater(float(p50), 0, "%s p50: %s" % (kind, out))
            self.assertLessEqual(float(p50), float(p999))
        self.assertRegex(out, r"(?m)^  overall +\d+ +[\d.]+")
        self.assertRegex(out, r"errors: \d+ failed requests")
        got = re.search(r"positions accepted (\d+) .*loads created (\d+); bookings made (\d+)", out)
        accepted, created, booked = (int(x) for x in got.groups())
        self.assertEqual(accepted, counts["positions"] * 500, out)
        self.assertGreater(created, 0, out)
        self.assertGreater(booked, 0, out)

        # The server saw what the report says.
        after = metrics(s)
        applied = (after['freightd_positions_total{result="applied"}']
                   - before.get('freightd_positions_total{result="applied"}', 0))
        stale = (after.get('freightd_positions_total{result="stale"}', 0)
                 - before.get('freightd_positions_total{result="stale"}', 0))
        self.assertEqual(applied + stale, accepted)
        self.assertGreater(applied, 0)
        self.assertEqual(after['freightd_objects{kind="load"}'] - before['freightd_objects{kind="load"}'], created)
        self.assertEqual(requests_ok(after, "loads_book") - requests_ok(before, "loads_book"), booked)
        for route, kind in (("trucks_near", "search_trucks"), ("loads_matches", "load_matches"),
                            ("drivers_loads", "driver_loads")):
            self.assertGreater(requests_ok(after, route) - requests_ok(before, route), 0, route)
        # A truck the gateway reported now has a fresh position.
        d = s.get("/v1/drivers/1", token="admin").body
        self.assertIsNotNone(d["position"])

    def test_only_loopback_targets(self):
        tokens = os.path.join(self.start_server(start=False).base_dir, "none.json")
        with open(tokens, "w") as f:
            json.dump({"admin": "x", "gateways": [], "companies": [], "drivers": []}, f)
        for target in ("10.0.0.1:8080", "192.168.1.2:80", "example.com:80", "[2001:db8::1]:80", "0.0.0.0:80"):
            r = self.run_load("--target", target, "--tokens", tokens, "--count", "1")
            self.assertEqual(r.returncode, 2, target + r.stderr)
            self.assertIn("refusing --target %s" % target, r.stderr)
            self.assertIn("127.0.0.0/8, ::1 or localhost", r.stderr)
            self.assertEqual(r.stdout, "")
        r = self.run_load("--target", "127.0.0.1", "--tokens", tokens)
        self.assertEqual(r.returncode, 2)
        self.assertIn("HOST:PORT", r.stderr)
        r = self.run_load("--target", "127.0.0.1:1", "--tokens", tokens, "--count", "5", "--duration", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not both", r.stderr)
