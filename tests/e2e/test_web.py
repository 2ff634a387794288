"""test_web.py — the dashboard's side of freightd: its files served from the
web dir (content types, ETag and 304, cache headers, and no way out of the
directory: "..", encoded "..", hidden files, symbolic links, directories are
404 JSON), the placeholder page when there is no dashboard, and the public
aggregate GET /v1/public/dashboard on an imported dataset: equal to the
member routes' numbers where a cell holds at least k, suppressed (null, or
the city left out) below k, the lanes exactly the closed-day lanes of at
least k loads, and nothing that names a member.  The page itself in a
browser: tests/web/dashboard.test.mjs (make web-test)."""
import http.client
import os
import shutil
import subprocess
import time

from harness import E2ETestCase, freight_bin, freightd_bin
from test_stats import haversine, province_of, quantile


class StaticFiles(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.s = self.start_server(start=False)
        base = self.s.base_dir
        self.web = os.path.join(base, "web")
        os.makedirs(os.path.join(self.web, "assets", "sub"))
        os.makedirs(os.path.join(self.web, "assets", "dir"))
        files = {
            "index.html": "<!doctype html><title>dash 看板</title>",
            "assets/app-1.js": "console.log('app')",
            "assets/sub/x.css": "body{}",
            "assets/.env": "SECRET=hidden",
            "assets/data.bin": "\x00\x01",
        }
        for rel, text in files.items():
            with open(os.path.join(self.web, rel), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(base, "secret.txt"), "w") as f:
            f.write("SECRET=outside")
        os.symlink(os.path.join(base, "secret.txt"), os.path.join(self.web, "assets", "link.js"))
        self.s.args += ["--web-dir", self.web]
        self.s.start()

    def raw(self, method, path, headers=None):
        """A request with the path sent byte for byte (no client-side normalising)."""
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        c.close()
        return r, body

    def test_files_types_and_caching(self):
        r, body = self.raw("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(body.decode(), "<!doctype html><title>dash 看板</title>")
        self.assertEqual(r.getheader("Content-Type"), "text/html; charset=utf-8")
        self.assertEqual(r.getheader("Cache-Control"), "no-cache")
        etag = r.getheader("ETag")
        self.assertRegex(etag, r'^"[0-9a-f-]+"$')
        r, body = self.raw("GET", "/", {"If-None-Match": etag})
        self.assertEqual((r.status, body), (304, b""))
        self.assertEqual(r.getheader("ETag"), etag)
        r, body = self.raw("GET", "/", {"If-None-Match": '"other"'})
        self.assertEqual(r.status, 200)
        r, body = self.raw("HEAD", "/")
        self.assertEqual((r.status, body), (200, b""))

        r, body = self.raw("GET", "/assets/app-1.js")
        self.assertEqual((r.status, body), (200, b"console.log('app')"))
        self.assertEqual(r.getheader("Content-Type"), "text/javascript; charset=utf-8")
        self.assertEqual(r.getheader("Cache-Control"), "public, max-age=31536000, immutable")
        self.assertEqual(r.getheader("X-Content-Type-Options"), "nosniff")
        r, body = self.raw("GET", "/assets/sub/x.css")
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, "text/css; charset=utf-8"))
        r, body = self.raw("GET", "/assets/data.bin")
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, "application/octet-stream"))
        # Editing a file changes its ETag.
        time.sleep(0.01)
        with open(os.path.join(self.web, "index.html"), "w") as f:
            f.write("<!doctype html><title>v2</title>")
        r, body = self.raw("GET", "/", {"If-None-Match": etag})
        self.assertEqual((r.status, body), (200, b"<!doctype html><title>v2</title>"))
        self.assertNotEqual(r.getheader("ETag"), etag)
        # API answers are still never cached.
        r, _ = self.raw("GET", "/healthz")
        self.assertEqual(r.getheader("Cache-Control"), "no-store")
        self.assertIsNone(r.getheader("ETag"))

    def test_nothing_outside_or_hidden_is_served(self):
        for path in ("/assets/../secret.txt", "/assets/%2e%2e/secret.txt", "/assets/..%2fsecret.txt",
                     "/assets/sub/../../secret.txt", "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt", "/assets/.env",
                     "/assets/%2eenv", "/assets/link.js", "/assets/dir", "/assets/dir/", "/assets//etc/passwd",
                     "/assets/sub//x.css", "/assets/missing.js", "/assets/a%00.js",
                     "/assets/" + "a" * 300 + ".js", "/assets/\\..\\secret.txt"):
            r, body = self.raw("GET", path)
            self.assertIn(r.status, (400, 404), path)
            self.assertNotIn(b"SECRET", body, path)
            if r.status == 404:
                self.assertEqual(r.getheader("Content-Type"), "application/json; charset=utf-8", path)
                self.assertIn(b'"not_found"', body, path)
        # A decoded NUL ends the name (libmicrohttpd decodes the path): the
        # file served is the one named before it, typed by that name.
        r, body = self.raw("GET", "/assets/app-1.js%00.png")
        self.assertEqual((r.status, r.getheader("Content-Type")), (200, "text/javascript; charset=utf-8"))
        # Only GET (and HEAD) on the files.
        r, body = self.raw("POST", "/assets/app-1.js", {"Content-Length": "0"})
        self.assertEqual(r.status, 405)

    def test_placeholder_without_a_dashboard(self):
        s = self.start_server("--web-dir", os.path.join(self.s.base_dir, "no-such-dir"))
        r = s.get("/")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/html"))
        self.assertIn("make web", r.body)
        self.assertStatus(s.get("/assets/app-1.js"), 404, "not_found")


class DefaultWebDir(E2ETestCase):
    def test_web_dist_beside_the_binary_is_served_without_web_dir(self):
        """Without --web-dir, <exe dir>/../web/dist (what `make web` builds for bin/freightd)."""
        base = self.start_server(start=False).base_dir
        exe = os.path.join(base, "tree", "bin", "freightd")
        os.makedirs(os.path.dirname(exe))
        shutil.copy(freightd_bin(), exe)
        saved = os.environ.get("FREIGHTD_BIN")
        os.environ["FREIGHTD_BIN"] = exe
        try:
            s = self.start_server()  # no index.html yet: the placeholder
            self.assertIn("make web", s.get("/").body)
            s.stop()
            os.makedirs(os.path.join(base, "tree", "web", "dist", "assets"))
            with open(os.path.join(base, "tree", "web", "dist", "index.html"), "w") as f:
                f.write("<!doctype html><title>built dashboard</title>")
            with open(os.path.join(base, "tree", "web", "dist", "assets", "a.css"), "w") as f:
                f.write("p{}")
            s.start()
            self.assertEqual(s.get("/").body, "<!doctype html><title>built dashboard</title>")
            self.assertEqual(s.get("/assets/a.css").body, "p{}")
        finally:
            if saved is None:
                del os.environ["FREIGHTD_BIN"]
            else:
                os.environ["FREIGHTD_BIN"] = saved


class PublicDashboard(E2ETestCase):
    K = 3

    def test_aggregates_match_and_small_cells_are_suppressed(self):
        k = self.K
        s = self.start_server("--opendata-min-k", str(k), "--rate-limit", "0", start=False)
        ds = os.path.join(s.base_dir, "dataset")
        r = subprocess.run([freight_bin(), "gen", "--scale", "0.002", "--seed", "5", "--out", ds],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([freight_bin(), "import", "--data-dir", s.data_dir, ds], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        s.start()

        d = s.get("/v1/public/dashboard")  # no token
        self.assertStatus(d, 200)
        d = d.body
        self.assertEqual(d["k"], k)
        # Nothing that names or numbers a member: only these keys, anywhere.
        allowed = {"as_of", "k", "trucks", "total", "available", "on_trip", "offline", "loads", "open", "booked",
                   "in_transit", "delivered", "empty_running_rate", "time_to_match_median_s", "trips_delivered",
                   "daily", "day", "posted", "time_to_match_p90_s", "provinces", "name", "name_zh", "lat", "lon",
                   "supply", "demand", "ratio", "cities", "province", "province_zh", "lanes_days", "lanes", "origin",
                   "origin_zh", "destination", "destination_zh", "count", "price_per_km", "p25", "median", "p75"}

        def keys(x):
            if isinstance(x, dict):
                for key, v in x.items():
                    yield key
                    yield from keys(v)
            elif isinstance(x, list):
                for v in x:
                    yield from keys(v)
        self.assertLessEqual(set(keys(d)), allowed)

        # Totals: as the member overview says.
        ov = s.get("/v1/stats/overview", token="admin").body
        self.assertEqual(d["trucks"], ov["trucks"])
        for key in ("open", "booked", "in_transit", "delivered"):
            self.assertEqual(d["loads"][key], ov["loads"][key])
        self.assertEqual([x["posted"] for x in d["daily"]], [x["posted"] for x in ov["daily"]])

        # Provinces and cities: the member numbers at k or more, else suppressed.
        def sup(n):
            return n if n >= k else None
        prov = {p["name"]: p for p in s.get("/v1/stats/regions?level=province", token="admin").body["regions"]}
        self.assertEqual({p["name"] for p in d["provinces"]}, set(prov))
        for p in d["provinces"]:
            m = prov[p["name"]]
            self.assertEqual((p["name_zh"], p["supply"], p["demand"]), (m["name_zh"], sup(m["supply"]), sup(m["demand"])))
        city = {(c["name"], c["province"]): c for c in s.get("/v1/stats/regions?level=city", token="admin").body["regions"]}
        got = {(c["name"], c["province"]): c for c in d["cities"]}
        want = {key: c for key, c in city.items() if max(c["supply"], c["demand"]) >= k}
        self.assertEqual(set(got), set(want))
        self.assertTrue(len(want) < len(city), "some cities must be below k")
        for key, c in got.items():
            self.assertEqual((c["supply"], c["demand"]), (sup(want[key]["supply"]), sup(want[key]["demand"])), key)
            self.assertEqual((c["lat"], c["lon"]), (want[key]["lat"], want[key]["lon"]))
        self.assertTrue(any(c["supply"] is None or c["demand"] is None for c in got.values()))

        # Lanes: every type combined over the 7 closed days ending yesterday,
        # the 10 with most loads among those with at least k.
        day = 86400
        today = int(time.time()) // day
        first = today - 7
        lanes = {}
        n = 1
        while True:
            l = s.get("/v1/loads/%d" % n, token="admin")
            if l.status == 404:
                break
            l = l.body
            n += 1
            dd = l["created_at"] // day
            if not first <= dd < today:
                continue
            o, de = (l["origin"]["lat"], l["origin"]["lon"]), (l["destination"]["lat"], l["destination"]["lon"])
            km = haversine(o, de) * 1.3
            if km > 0:
                lanes.setdefault((province_of(o), province_of(de)), {}).setdefault(dd, []).append(l["price_cny"] / km)
        ranked = sorted(((sum(len(v) for v in days.values()), key) for key, days in lanes.items()),
                        key=lambda x: -x[0])
        ranked = [x for x in ranked if x[0] >= k][:10]
        self.assertTrue(ranked, "the dataset should have lanes of k loads on closed days")
        self.assertEqual(d["lanes_days"], 7)
        self.assertEqual([x["count"] for x in d["lanes"]], [c for c, _ in ranked])
        for x in d["lanes"]:
            days = lanes[(x["origin"], x["destination"])]
            prices = [p for v in days.values() for p in v]
            self.assertEqual(x["count"], len(prices))  # (ties at the cut may pick either lane)
            exact = quantile(prices, 0.5)
            self.assertLessEqual(abs(x["price_per_km"]["median"] - exact), 0.01 * exact + 0.0011)
            self.assertEqual(len(x["daily"]), 7)
            for i, e in enumerate(x["daily"]):
                got_day = days.get(first + i, [])
                self.assertEqual(e["day"], time.strftime("%Y-%m-%d", time.gmtime((first + i) * day)))
                if len(got_day) >= k:
                    self.assertEqual(e["count"], len(got_day))
                    self.assertLessEqual(abs(e["median"] - quantile(got_day, 0.5)), 0.01 * quantile(got_day, 0.5) + 0.0011)
                else:
                    self.assertEqual((e["count"], e["median"]), (None, None))
        self.assertNotIn("truck_type", d["lanes"][0])
