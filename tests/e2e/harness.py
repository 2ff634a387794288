"""harness.py — start the real freightd and talk HTTP/JSON to it.

Every test starts its own server on 127.0.0.1 with port 0 (the server picks
a free port and prints it in its ready line) and a fresh temporary data dir,
so tests never share state and can run in parallel.  The server's stdout and
stderr go to files next to (not inside) the data dir, so that a failing test
can print their tail.

Only the Python 3 standard library is used.
"""
import errno
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(E2E_DIR))
DEFAULT_BIN = os.path.join(REPO_ROOT, "bin", "freightd")

READY_RE = re.compile(r"freightd ready: .*\(port (\d+)\)")

# Points inside the default service area (mainland China).
GUIYANG = (26.647, 106.630)
KUNMING = (25.040, 102.710)
CHENGDU = (30.660, 104.060)
SHANGHAI = (31.230, 121.470)
BEIJING = (39.900, 116.400)
GUANGZHOU = (23.130, 113.260)
TOKYO = (35.680, 139.690)  # outside the service area


def freightd_bin():
    return os.environ.get("FREIGHTD_BIN") or DEFAULT_BIN


def freight_bin():
    """The command-line tool (bulkload builds big states fast)."""
    return os.environ.get("FREIGHT_BIN") or os.path.join(os.path.dirname(freightd_bin()), "freight")


class ServerError(Exception):
    pass


class Response:
    """One answer: unpacks as (status, headers, body).  body is parsed JSON
    when the server said JSON, else text (None when empty); raw is the
    bytes; headers is case-insensitive (http.client.HTTPMessage)."""

    __slots__ = ("status", "headers", "body", "raw")

    def __init__(self, status, headers, body, raw):
        self.status, self.headers, self.body, self.raw = status, headers, body, raw

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __getitem__(self, i):
        return (self.status, self.headers, self.body)[i]

    def header(self, name):
        return self.headers.get(name) if self.headers is not None else None

    def error(self):
        """The error object of an error response, or {}."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]
        return {}

    def __repr__(self):
        body = self.raw[:800] if self.raw else b""
        return "<HTTP %s %s>" % (self.status, body.decode("utf-8", "replace"))


class Server:
    """One freightd process over one data dir.

    start() launches it and waits for the ready line (10 s); kill9(),
    stop() (SIGTERM, expect exit 0) and restart() (same data dir) manage its
    life; cleanup() stops it and removes the temporary directory.
    """

    def __init__(self, *args, env=None, admin_token=None, start=True, ready_timeout=10.0, wrapper=None):
        self.args = list(args)
        self.wrapper = list(wrapper or [])  # a command to run the server under (fiu-run ...), [] for none
        self.env_extra = dict(env or {})
        self.ready_timeout = ready_timeout
        self.base_dir = tempfile.mkdtemp(prefix="freightd-e2e-")
        self.data_dir = os.path.join(self.base_dir, "data")
        self.stdout_path = os.path.join(self.base_dir, "stdout.log")
        self.stderr_path = os.path.join(self.base_dir, "stderr.log")
        self.fixed_admin_token = admin_token
        self.proc = None
        self.port = None
        self.starts = 0
        self._local = threading.local()
        self._saved_logs = None
        self._admin_token = None
        if start:
            self.start()

    # ---- process life ----

    def _env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("FREIGHTD_") and k != "FREIGHTD_BIN":
                del env[k]  # the test decides every setting
        if self.fixed_admin_token:
            env["FREIGHTD_ADMIN_TOKEN"] = self.fixed_admin_token
        env.update(self.env_extra)
        # Sanitizer builds: fail loudly, keep going fast.
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        return env

    def launch(self, extra_args=()):
        """Starts the process without waiting; returns the Popen."""
        cmd = self.wrapper + [freightd_bin(), "--listen", "127.0.0.1:0", "--data-dir", self.data_dir] + self.args + list(extra_args)
        self._out_off = os.path.getsize(self.stdout_path) if os.path.exists(self.stdout_path) else 0
        self._err_off = os.path.getsize(self.stderr_path) if os.path.exists(self.stderr_path) else 0
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            # A binary being relinked (make in another shell) is briefly not
            # executable: wait for it rather than fail the test.
            for attempt in range(50):
                try:
                    self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                                 env=self._env())
                    break
                except OSError as e:
                    if e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT) or attempt == 49:
                        raise
                    time.sleep(0.1)
        finally:
            out.close()
            err.close()
        self.starts += 1
        return self.proc

    def start(self, extra_args=()):
        self.launch(extra_args)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            text = self.stdout_since_start()
            m = READY_RE.search(text)
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise ServerError("freightd exited with %s before it was ready\n%s" % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise ServerError("freightd was not ready within %.0f s\n%s" % (self.ready_timeout, self.log_tail()))
            time.sleep(0.01)
        self._admin_token = None
        self._drop_connections()
        return self

    def wait_exit(self, timeout=15.0):
        """Waits for a process launched with launch() to exit; returns its code."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError("freightd did not exit within %.0f s\n%s" % (timeout, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        self._drop_connections()

    def stop(self, timeout=15.0, check=True):
        """SIGTERM and wait; asserts a clean exit (code 0) unless check=False."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self._drop_connections()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError("freightd did not stop within %.0f s of SIGTERM\n%s" % (timeout, self.log_tail()))
        if check and rc != 0:
            raise ServerError("freightd exited with %s after SIGTERM (want 0)\n%s" % (rc, self.log_tail()))
        return rc

    def restart(self, kill=False):
        """Stops (SIGTERM, or SIGKILL with kill=True) and starts again on the same data dir."""
        if kill:
            self.kill9()
        else:
            self.stop()
        return self.start()

    def leftover_processes(self):
        """Processes other than the current server whose command line names this
        data dir: forks of a server (snapshot writers) that outlived it."""
        out = []
        mine = self.proc.pid if self.running() else None
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == mine:
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if "--data-dir " + self.data_dir + " " not in cmd + " ":
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid != os.getpid():  # servers this process started are not leftovers
                out.append((int(pid), cmd.strip()))
        return out

    def cleanup(self):
        """Stops the server (SIGKILL), removes the temporary directory, and
        raises ServerError if a fork of the server (a snapshot writer) was
        still alive: such a process is killed by its pid first."""
        left = []
        try:
            if self.running():
                self.proc.kill()
                self.proc.wait()
            if self.proc is not None:
                deadline = time.monotonic() + 2.0
                left = self.leftover_processes()
                while left and time.monotonic() < deadline:  # a snapshot writer may be finishing
                    time.sleep(0.05)
                    left = self.leftover_processes()
                for pid, _ in left:
                    try:
                        os.kill(pid, signal.SIGKILL)  # a fork of the server this harness started
                    except ProcessLookupError:
                        pass
        finally:
            self._drop_connections()
            self._saved_logs = self.log_tail()
            shutil.rmtree(self.base_dir, ignore_errors=True)
        if left:
            raise ServerError("processes forked by freightd outlived it (killed now): %s" % left)

    # ---- logs ----

    def _read(self, path, off=0):
        try:
            with open(path, "rb") as f:
                f.seek(off)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout_since_start(self):
        return self._read(self.stdout_path, self._out_off)

    def stderr_since_start(self):
        return self._read(self.stderr_path, self._err_off)

    def output_since_start(self):
        return self.stdout_since_start() + self.stderr_since_start()

    def log_tail(self, lines=40):
        if self._saved_logs is not None and not os.path.exists(self.base_dir):
            return self._saved_logs
        out = self._read(self.stdout_path).splitlines()[-lines:]
        err_all = self._read(self.stderr_path).splitlines()
        err = err_all[-lines:]
        # A sanitizer report is worth reading whole (its start says what went wrong).
        for i, line in enumerate(err_all):
            if "ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line or "runtime error:" in line:
                if i < len(err_all) - lines:
                    err = err_all[i:i + 120] + ["..."] + err_all[-lines:]
                break
        return "---- freightd stdout (tail) ----\n%s\n---- freightd stderr (tail) ----\n%s\n" % (
            "\n".join(out), "\n".join(err))

    # ---- HTTP ----

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def admin_token(self):
        if self.fixed_admin_token:
            return self.fixed_admin_token
        if self._admin_token is None:
            with open(os.path.join(self.data_dir, "admin.token")) as f:
                self._admin_token = f.read().strip()
        return self._admin_token

    def _conns(self):
        d = getattr(self._local, "conns", None)
        if d is None:
            d = self._local.conns = {}
        return d

    def _drop_connections(self):
        # Only this thread's; other threads' connections fail and reconnect.
        d = self._conns()
        for c in d.values():
            c.close()
        d.clear()

    def connection(self, timeout=30.0):
        """A fresh, unshared connection (the caller closes it)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=None, headers=None, raw_body=None, retry=True, conn=None,
                timeout=30.0):
        """Sends one request and returns a Response (status, headers, body).

        body is sent as JSON (Content-Type: application/json); raw_body as
        bytes with whatever Content-Type headers gives.  token adds the
        Bearer header; token="admin" means the admin token.  One keep-alive
        connection per thread is reused; a request that fails on a reused
        connection before any answer is retried once on a new one (the
        server may have closed an idle connection), unless retry=False.
        """
        hdrs = {}
        if token == "admin":
            token = self.admin_token
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        payload = None
        if raw_body is not None:
            payload = raw_body if isinstance(raw_body, (bytes, bytearray)) else raw_body.encode("utf-8")
        elif body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        if headers:
            for k, v in headers.items():
                if v is None:
                    hdrs.pop(k, None)
                else:
                    hdrs[k] = v
        if payload is None and method in ("POST", "PUT"):
            payload = b""
        own = conn is not None
        key = (self.port, timeout)
        for attempt in (0, 1):
            c = conn
            reused = True
            if c is None:
                c = self._conns().get(key)
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                    self._conns()[key] = c
                    reused = False
            try:
                c.request(method, path, body=payload, headers=hdrs)
                resp = c.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                c.close()
                if not own:
                    self._conns().pop(key, None)
                if own or not reused or not retry or attempt == 1:
                    raise
                continue
            except Exception:
                c.close()
                if not own:
                    self._conns().pop(key, None)
                raise
            if resp.will_close and not own:
                c.close()
                self._conns().pop(key, None)
            return make_response(resp, raw)
        raise AssertionError("unreachable")

    # Shorthands.
    def get(self, path, token=None, **kw):
        return self.request("GET", path, token=token, **kw)

    def post(self, path, body=None, token=None, **kw):
        return self.request("POST", path, body=body, token=token, **kw)

    def put(self, path, body=None, token=None, **kw):
        return self.request("PUT", path, body=body, token=token, **kw)

    def delete(self, path, token=None, **kw):
        return self.request("DELETE", path, token=token, **kw)

    # ---- object helpers (each asserts success) ----

    def _expect(self, r, status, what):
        if r.status != status:
            raise AssertionError("%s: want %d, got %r" % (what, status, r))
        return r.body

    def create_company(self, name="贵阳黔运物流有限公司", kind="logistics", **extra):
        body = {"name": name, "kind": kind}
        body.update(extra)
        return self._expect(self.post("/v1/companies", body, token="admin"), 201, "create company")

    def create_driver(self, name="张师傅", phone="+86 138-0000-0000", home=GUIYANG, truck_type="high_rail",
                      length_m=9.6, capacity_t=20, volume_m3=None, plate="贵A12345", position=None, **extra):
        truck = {"plate": plate, "type": truck_type, "length_m": length_m, "capacity_t": capacity_t}
        if volume_m3 is not None:
            truck["volume_m3"] = volume_m3
        body = {"name": name, "phone": phone, "home": {"lat": home[0], "lon": home[1]}, "truck": truck}
        body.update(extra)
        d = self._expect(self.post("/v1/drivers", body, token="admin"), 201, "create driver")
        if position is not None:
            self.set_position(d, position)
        return d

    def create_gateway(self, name="G7 telematics"):
        return self._expect(self.post("/v1/gateways", {"name": name}, token="admin"), 201, "create gateway")

    def set_position(self, driver, pos, ts=None, token=None, **extra):
        body = {"lat": pos[0], "lon": pos[1], "ts": int(ts if ts is not None else time.time())}
        body.update(extra)
        r = self.put("/v1/drivers/%d/position" % driver["id"], body, token=token or driver["token"])
        return self._expect(r, 204, "put position")

    def create_load(self, company, **overrides):
        return self._expect(self.post("/v1/loads", load_body(**overrides), token=company["token"]), 201,
                            "create load")

    def book(self, driver, load):
        return self._expect(self.post("/v1/loads/%d/book" % load["id"], token=driver["token"]), 201, "book")

    def snapshot(self):
        return self._expect(self.post("/v1/admin/snapshot", token="admin"), 200, "snapshot")


def make_response(resp, raw):
    ctype = resp.getheader("Content-Type", "") or ""
    body = None
    if raw:
        if "json" in ctype:
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = raw.decode("utf-8", "replace")
        else:
            body = raw.decode("utf-8", "replace")
    return Response(resp.status, resp.msg, body, raw)


def load_body(origin=GUIYANG, destination=KUNMING, types=("high_rail", "van"), min_length_m=None, weight_t=12.5,
              volume_m3=None, earliest_in=3600, latest_in=86400, price_cny=4200.5, drop=(), **extra):
    """A valid POST /v1/loads body; keyword arguments override parts of it."""
    now = int(time.time())
    body = {
        "origin": {"lat": origin[0], "lon": origin[1], "city": "贵阳", "province": "贵州"},
        "destination": {"lat": destination[0], "lon": destination[1], "city": "昆明", "province": "Yunnan"},
        "cargo": {"kind": "百货", "weight_t": weight_t},
        "truck": {"types": list(types)},
        "pickup": {"earliest_at": now + earliest_in, "latest_at": now + latest_in},
        "price_cny": price_cny,
        "contact": {"name": "李经理", "phone": "13900001111"},
        "notes": "需要篷布",
    }
    if volume_m3 is not None:
        body["cargo"]["volume_m3"] = volume_m3
    if min_length_m is not None:
        body["truck"]["min_length_m"] = min_length_m
    for k in drop:
        body.pop(k, None)
    body.update(extra)
    return body


def offset_point(p, north_km=0.0, east_km=0.0):
    """The point north_km north and east_km east of p (flat-earth, fine for tens of km)."""
    import math
    return (p[0] + north_km / 111.19508, p[1] + east_km / (111.19508 * math.cos(math.radians(p[0]))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class E2ETestCase(unittest.TestCase):
    """Base class: start_server() registers the server for cleanup and for
    the log tail the runner prints when the test fails."""

    maxDiff = 4000

    def setUp(self):
        self.servers = []

    def start_server(self, *args, **kw):
        s = Server(*args, **kw)
        self.servers.append(s)
        self.addCleanup(s.cleanup)
        return s

    def server_logs(self):
        return "\n".join(s.log_tail() for s in getattr(self, "servers", []))

    def assertStatus(self, r, status, code=None, field=None, msg=""):
        """Asserts the status, and for errors the error code and field."""
        where = (" (%s)" % msg) if msg else ""
        if r.status != status:
            self.fail("want HTTP %d%s, got %r" % (status, where, r))
        if code is not None:
            err = r.error()
            if err.get("code") != code:
                self.fail("want error code %r%s, got %r" % (code, where, r))
            if not isinstance(err.get("message"), str) or not err["message"]:
                self.fail("error without a message%s: %r" % (where, r))
        if field is not None:
            got = r.error().get("field")
            if got != field:
                self.fail("want error field %r%s, got %r in %r" % (field, where, got, r))
        return r.body


def dump_state(server, probes=(GUIYANG, KUNMING, CHENGDU, SHANGHAI, BEIJING, GUANGZHOU)):
    """Everything an admin can observe: every company, driver, load and
    booking (ids 1.. until the first 404), and the trucks and open loads near
    a few points.  Two dumps of the same state compare equal."""
    out = {}
    for kind in ("companies", "drivers", "loads", "bookings"):
        objs = []
        i = 1
        while True:
            r = server.get("/v1/%s/%d" % (kind, i), token="admin")
            if r.status == 404:
                break
            if r.status != 200:
                raise AssertionError("GET /v1/%s/%d as admin: %r" % (kind, i, r))
            objs.append(r.body)
            i += 1
        out[kind] = objs
    for p in probes:
        q = "near=%f,%f&radius_km=1000&limit=200" % p
        for what in ("trucks", "loads"):
            r = server.get("/v1/%s?%s" % (what, q), token="admin")
            if r.status != 200:
                raise AssertionError("GET /v1/%s?%s as admin: %r" % (what, q, r))
            out["%s near %s" % (what, p)] = r.body
    return out
