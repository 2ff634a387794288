"""test_durability.py — a write answered 2xx survives kill -9 (and SIGTERM);
recovery cuts a torn log tail and refuses damage in the middle; snapshot +
log rebuild exactly the state that was observable before the crash; a crash
while a snapshot is written does not block the restart; after an fsync
failure (injected with --fault-injection 1) writes get 503 and reads go on.

Layout the tests rely on (src/store/wal.c, src/store/snapfile.c):
  DIR/wal/wal-<16 hex>.log   32-byte segment header, then records
                             (24-byte header: len, crc, seq, type, flags, ...)
  DIR/snap/snap-<16 hex>.fsnap
"""
import glob
import hashlib
import http.client
import json
import os
import random
import re
import subprocess
import threading
import time

from harness import (BEIJING, CHENGDU, GUANGZHOU, GUIYANG, KUNMING, SHANGHAI, E2ETestCase, REPO_ROOT, ServerError,
                     dump_state, freight_bin, load_body, offset_point)

WAL_HDR = 32
REC_HDR = 24

# Fields of a load that no later event changes.
LOAD_STATIC = ("id", "company_id", "company_name", "origin", "destination", "cargo", "truck", "pickup",
               "price_cny", "expires_at", "created_at", "notes", "contact", "loaded_km", "price_per_km")
AFTER_STEP = {"pickup": "picked_up", "deliver": "delivered", "cancel": "cancelled"}


def wal_segments(data_dir):
    return sorted(glob.glob(os.path.join(data_dir, "wal", "wal-*.log")))


def snapshot_files(data_dir):
    return sorted(glob.glob(os.path.join(data_dir, "snap", "snap-*.fsnap")))


def files_digest(data_dir):
    """name -> sha256 of every file under data_dir (LOCK's content included)."""
    out = {}
    for root, _, files in os.walk(data_dir):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, data_dir)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def records(path):
    """[(offset, len, seq, type)] of the whole records of a segment."""
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], WAL_HDR
    while off + REC_HDR <= len(data):
        n = int.from_bytes(data[off:off + 4], "little")
        if off + REC_HDR + n > len(data):
            break
        out.append((off, n, int.from_bytes(data[off + 8:off + 16], "little"), data[off + 16]))
        off += REC_HDR + n
    return out


class Workload:
    """Writer threads that record every acknowledged write.

    - loaders create loads with distinct content (ack: the load body);
    - movers put positions with increasing ts, one driver each at a time,
      alone and in gateway batches (ack: the position);
    - a trucker books fresh loads and walks the trips (ack: booking status).
    Each thread stops at its first connection error (the server was killed).
    """

    def __init__(self, server, companies, movers, truckers, gateway, snapshots=False):
        self.s = server
        self.companies = companies
        self.movers = movers
        self.truckers = truckers
        self.gateway = gateway
        self.snapshots = snapshots
        self.lock = threading.Lock()
        self.loads = {}        # id -> acked body
        self.positions = {}    # driver id -> (ts, lat, lon), the newest acked
        self.bookings = {}     # id -> (load id, driver id, newest acked status)
        self.errors = []       # unexpected (non-connection) failures
        self.acks = 0
        self.stop = threading.Event()
        self.threads = []

    def _conn(self):
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        c.connect()
        return c

    def _req(self, c, method, path, token, body=None):
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        hdrs = {"Authorization": "Bearer " + token, "Content-Length": str(len(data))}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)

    def _run(self, fn, *args):
        try:
            c = self._conn()
        except OSError:
            return
        try:
            fn(c, *args)
        except (OSError, http.client.HTTPException):
            pass  # the kill
        except Exception as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            c.close()

    def _unexpected(self, what, status, body):
        with self.lock:
            self.errors.append("%s: %s %s" % (what, status, body))

    def loader(self, c, k):
        company = self.companies[k % len(self.companies)]
        n = 0
        while not self.stop.is_set():
            n += 1
            rng = random.Random(k * 100000 + n)
            body = load_body(origin=offset_point(GUIYANG, rng.uniform(-50, 50), rng.uniform(-50, 50)),
                             destination=random.choice((KUNMING, CHENGDU, SHANGHAI, BEIJING, GUANGZHOU)),
                             price_cny=round(1000 + k * 1000 + n * 0.01, 2), weight_t=round(rng.uniform(1, 30), 3),
                             notes="loader %d load %d" % (k, n))
            st, out = self._req(c, "POST", "/v1/loads", company["token"], body)
            if st != 201:
                return self._unexpected("create load", st, out)
            with self.lock:
                self.loads[out["id"]] = out
                self.acks += 1

    def mover(self, c, k):
        drivers = self.movers[k::2]
        # Increasing per driver (each mover owns its drivers), never in the future;
        # the drivers start without a position, so no report is stale.
        ts = int(time.time()) - 100000
        n = 0
        while not self.stop.is_set():
            n += 1
            ts += 1
            if n % 5 == 0:
                batch = []
                for d in drivers:
                    p = offset_point(GUIYANG, random.uniform(-80, 80), random.uniform(-80, 80))
                    batch.append({"driver_id": d["id"], "lat": round(p[0], 6), "lon": round(p[1], 6), "ts": ts})
                st, out = self._req(c, "POST", "/v1/positions", self.gateway["token"], {"positions": batch})
                if st != 200 or out["accepted"] != len(batch):
                    return self._unexpected("batch", st, out)
                with self.lock:
                    for item in batch:
                        self.positions[item["driver_id"]] = (ts, item["lat"], item["lon"])
                    self.acks += 1
            else:
                d = drivers[n % len(drivers)]
                p = offset_point(GUIYANG, random.uniform(-80, 80), random.uniform(-80, 80))
                body = {"lat": round(p[0], 6), "lon": round(p[1], 6), "ts": ts, "speed_kmh": 60}
                st, out = self._req(c, "PUT", "/v1/drivers/%d/position" % d["id"], d["token"], body)
                if st != 204:
                    return self._unexpected("position", st, out)
                with self.lock:
                    self.positions[d["id"]] = (ts, body["lat"], body["lon"])
                    self.acks += 1

    def trucker(self, c):
        company = self.companies[0]
        n = 0
        while not self.stop.is_set():
            d = self.truckers[n % len(self.truckers)]
            n += 1
            st, load = self._req(c, "POST", "/v1/loads", company["token"], load_body(origin=GUIYANG, weight_t=5,
                                                                                    notes="trip %d" % n))
            if st != 201:
                return self._unexpected("trip load", st, load)
            with self.lock:
                self.loads[load["id"]] = load
            st, b = self._req(c, "POST", "/v1/loads/%d/book" % load["id"], d["token"])
            if st != 201:
                return self._unexpected("book", st, b)
            steps = ("pickup", "deliver") if n % 3 else ("cancel",)
            with self.lock:
                self.bookings[b["id"]] = (load["id"], d["id"], "booked", steps)
            for step in steps:
                st, out = self._req(c, "POST", "/v1/bookings/%d/%s" % (b["id"], step), d["token"])
                if st != 200:
                    return self._unexpected(step, st, out)
                with self.lock:
                    self.bookings[b["id"]] = (load["id"], d["id"], out["status"], steps)
                    self.acks += 1

    def snapshotter(self, c):
        while not self.stop.is_set():
            st, out = self._req(c, "POST", "/v1/admin/snapshot", self.s.admin_token)
            if st != 200:
                return self._unexpected("snapshot", st, out)
            time.sleep(0.05)

    def start(self):
        targets = [(self.loader, 0), (self.loader, 1), (self.mover, 0), (self.mover, 1), (self.trucker,)]
        if self.snapshots:
            targets.append((self.snapshotter,))
        for t in targets:
            th = threading.Thread(target=self._run, args=t, daemon=True)
            th.start()
            self.threads.append(th)

    def join(self):
        self.stop.set()
        for th in self.threads:
            th.join(30)


class KillDuringWrites(E2ETestCase):
    e2e_weight = 4.0

    def run_workload(self, snapshots):
        s = self.start_server("--rate-limit", "0")
        companies = [s.create_company(name="公司%d" % i, kind="shipper") for i in range(3)]
        movers = [s.create_driver(name="动%d" % i, plate="贵B%05d" % i) for i in range(20)]
        truckers = [s.create_driver(name="跑%d" % i, plate="贵C%05d" % i, truck_type="van", position=GUIYANG)
                    for i in range(4)]
        gateway = s.create_gateway()
        w = Workload(s, companies, movers, truckers, gateway, snapshots=snapshots)
        w.start()
        time.sleep(1.5)
        s.kill9()
        w.join()
        self.assertEqual(w.errors, [], "the workload saw unexpected answers before the kill")
        print("acknowledged before the kill: %d loads, %d drivers' positions, %d bookings, %d writes in all" %
              (len(w.loads), len(w.positions), len(w.bookings), w.acks))
        self.assertGreater(len(w.loads), 20, "too few acknowledged loads to mean anything")
        self.assertGreater(len(w.positions), 5)
        self.assertGreater(len(w.bookings), 3)
        s.start()
        self.verify(s, w, companies, movers + truckers)
        # Again, after a clean restart of the recovered server.
        s.restart()
        self.verify(s, w, companies, movers + truckers)

    def verify(self, s, w, companies, drivers):
        for c in companies:
            self.assertStatus(s.get("/v1/companies/%d" % c["id"], token=c["token"]), 200)
        for d in drivers:
            self.assertStatus(s.get("/v1/drivers/%d" % d["id"], token=d["token"]), 200)
        # Every acknowledged load, unchanged; no id below the highest acknowledged one is missing.
        max_id = max(w.loads)
        for lid in range(1, max_id + 1):
            r = s.get("/v1/loads/%d" % lid, token="admin")
            self.assertStatus(r, 200, msg="load %d (highest acknowledged %d)" % (lid, max_id))
            if lid in w.loads:
                got = {k: r.body.get(k) for k in LOAD_STATIC}
                want = {k: w.loads[lid].get(k) for k in LOAD_STATIC}
                self.assertEqual(got, want, "load %d changed" % lid)
        # Positions: at least as new as the newest acknowledged one.
        for did, (ts, lat, lon) in w.positions.items():
            p = s.get("/v1/drivers/%d" % did, token="admin").body["position"]
            self.assertIsNotNone(p, "driver %d lost its position" % did)
            self.assertGreaterEqual(p["ts"], ts, "driver %d: acknowledged position ts %d lost" % (did, ts))
            if p["ts"] == ts:
                self.assertEqual((p["lat"], p["lon"]), (lat, lon), "driver %d" % did)
        # Bookings: present, same parties, at least as far along as acknowledged.
        max_b = max(w.bookings)
        for bid in range(1, max_b + 1):
            r = s.get("/v1/bookings/%d" % bid, token="admin")
            self.assertStatus(r, 200, msg="booking %d (highest acknowledged %d)" % (bid, max_b))
            if bid in w.bookings:
                lid, did, status, steps = w.bookings[bid]
                self.assertEqual((r.body["load_id"], r.body["driver_id"]), (lid, did))
                # The acknowledged status, or the next step of the plan if its
                # request was in flight at the kill (durable, answer lost).
                plan = ["booked"] + [AFTER_STEP[st] for st in steps]
                allowed = plan[plan.index(status):plan.index(status) + 2]
                self.assertIn(r.body["status"], allowed, "booking %d: acknowledged %s (plan %s), now %s" %
                              (bid, status, plan, r.body["status"]))
        # The server takes new writes, with the next ids.
        l = s.create_load(companies[0])
        self.assertGreater(l["id"], max_id)
        self.assertStatus(s.get("/v1/loads/%d" % (l["id"] - 1), token="admin"), 200)

    def test_kill9_during_writes(self):
        self.run_workload(snapshots=False)

    def test_sigterm_during_writes(self):
        """SIGTERM with writes in flight: they finish, the exit is clean, and
        nothing acknowledged is lost."""
        s = self.start_server("--rate-limit", "0")
        companies = [s.create_company(name="公司%d" % i, kind="shipper") for i in range(3)]
        movers = [s.create_driver(name="动%d" % i, plate="贵B%05d" % i) for i in range(20)]
        truckers = [s.create_driver(name="跑%d" % i, plate="贵C%05d" % i, truck_type="van", position=GUIYANG)
                    for i in range(4)]
        w = Workload(s, companies, movers, truckers, s.create_gateway())
        w.start()
        time.sleep(1.0)
        self.assertEqual(s.stop(), 0)
        w.join()
        self.assertEqual(w.errors, [], "the workload saw unexpected answers before the stop")
        self.assertGreater(len(w.loads), 20)
        self.assertNotRegex(s.stderr_since_start(), r"(?i)torn")
        s.start()
        self.assertNotRegex(s.output_since_start(), r"(?i)torn")
        self.verify(s, w, companies, movers + truckers)

    def test_kill9_during_writes_and_snapshots(self):
        self.run_workload(snapshots=True)


class AckThenKill(E2ETestCase):
    """The very last acknowledged write of each kind survives a kill -9 that
    follows its answer at once (nothing else runs that could flush it)."""

    def test_last_write_of_each_kind_survives(self):
        s = self.start_server("--rate-limit", "0")
        now = int(time.time())

        def crash():
            s.kill9()
            s.start()

        A = s.create_company(name="最后一笔")
        crash()
        self.assertEqual(s.get("/v1/companies/%d" % A["id"], token=A["token"]).body["name"], "最后一笔")
        X = s.create_driver(name="最后司机")
        crash()
        self.assertEqual(s.get("/v1/drivers/%d" % X["id"], token=X["token"]).body["name"], "最后司机")
        G = s.create_gateway()
        crash()
        self.assertStatus(s.post("/v1/positions", {"positions": []}, token=G["token"]), 200)
        s.set_position(X, KUNMING, ts=now)
        crash()
        p = s.get("/v1/drivers/%d" % X["id"], token="admin").body["position"]
        self.assertEqual((p["lat"], p["lon"], p["ts"]), (KUNMING[0], KUNMING[1], now))
        r = s.post("/v1/positions", {"positions": [{"driver_id": X["id"], "lat": GUIYANG[0], "lon": GUIYANG[1],
                                                    "ts": now + 1}]}, token=G["token"])
        self.assertEqual(self.assertStatus(r, 200)["accepted"], 1)
        crash()
        p = s.get("/v1/drivers/%d" % X["id"], token="admin").body["position"]
        self.assertEqual((p["lat"], p["lon"], p["ts"]), (GUIYANG[0], GUIYANG[1], now + 1))
        self.assertStatus(s.put("/v1/drivers/%d/status" % X["id"], {"status": "offline"}, token=X["token"]), 200)
        crash()
        self.assertEqual(s.get("/v1/drivers/%d" % X["id"], token="admin").body["status"], "offline")
        self.assertStatus(s.put("/v1/drivers/%d/status" % X["id"], {"status": "available"}, token=X["token"]), 200)
        L1 = s.create_load(A, notes="最后的货")
        crash()
        self.assertEqual(s.get("/v1/loads/%d" % L1["id"], token="admin").body["notes"], "最后的货")
        self.assertStatus(s.delete("/v1/loads/%d" % L1["id"], token=A["token"]), 200)
        crash()
        self.assertEqual(s.get("/v1/loads/%d" % L1["id"], token="admin").body["status"], "cancelled")
        L2 = s.create_load(A)
        b = s.book(X, L2)
        crash()
        self.assertEqual(s.get("/v1/bookings/%d" % b["id"], token="admin").body["status"], "booked")
        for step, want in (("pickup", "picked_up"), ("deliver", "delivered")):
            self.assertStatus(s.post("/v1/bookings/%d/%s" % (b["id"], step), token=X["token"]), 200)
            crash()
            self.assertEqual(s.get("/v1/bookings/%d" % b["id"], token="admin").body["status"], want)
        self.assertStatus(s.post("/v1/bookings/%d/rating" % b["id"], {"stars": 4}, token=A["token"]), 201)
        crash()
        self.assertEqual(s.get("/v1/bookings/%d" % b["id"], token="admin").body["rating_by_company"]["stars"], 4)
        L3 = s.create_load(A)
        b3 = s.book(X, L3)
        self.assertStatus(s.post("/v1/bookings/%d/cancel" % b3["id"], token=X["token"]), 200)
        crash()
        self.assertEqual(s.get("/v1/bookings/%d" % b3["id"], token="admin").body["status"], "cancelled")
        self.assertEqual(s.get("/v1/drivers/%d" % X["id"], token="admin").body["status"], "available")


class TornTail(E2ETestCase):
    def make(self, n=20):
        s = self.start_server("--rate-limit", "0")
        c = s.create_company()
        loads = [s.create_load(c, notes="第%d单" % i, price_cny=1000 + i) for i in range(n)]
        s.stop()
        segs = wal_segments(s.data_dir)
        self.assertTrue(segs, "no log segment in %s" % s.data_dir)
        return s, c, loads, segs[-1]

    def check_loads(self, s, loads):
        for l in loads:
            r = s.get("/v1/loads/%d" % l["id"], token="admin")
            self.assertStatus(r, 200, msg="load %d" % l["id"])
            self.assertEqual({k: r.body[k] for k in LOAD_STATIC}, {k: l[k] for k in LOAD_STATIC})

    def test_truncated_last_record(self):
        s, c, loads, seg = self.make()
        recs = records(seg)
        size = os.path.getsize(seg)
        self.assertEqual(recs[-1][0] + REC_HDR + recs[-1][1], size, "the log does not end on a whole record")
        with open(seg, "r+b") as f:
            f.truncate(size - 5)
        s.start()
        out = s.output_since_start()
        self.assertRegex(out, r"(?i)torn", "recovery did not say it cut a torn tail:\n" + out)
        # Every record but the damaged last one is there; the last one is gone.
        self.check_loads(s, loads[:-1])
        self.assertStatus(s.get("/v1/loads/%d" % loads[-1]["id"], token="admin"), 404)
        self.assertStatus(s.get("/v1/companies/%d" % c["id"], token=c["token"]), 200)
        # The cut is made on disk: the file ends at the last whole record.
        self.assertEqual(os.path.getsize(seg), recs[-1][0])
        # New writes continue the sequence and survive a restart.
        again = s.create_load(c, notes="补")
        self.assertEqual(again["id"], loads[-1]["id"])
        s.restart()
        self.assertNotRegex(s.output_since_start(), r"(?i)torn")
        self.check_loads(s, loads[:-1] + [again])

    def test_partial_record_header(self):
        s, c, loads, seg = self.make()
        recs = records(seg)
        with open(seg, "r+b") as f:
            f.truncate(recs[-1][0] + 10)  # ten bytes of the last record's header survive
        s.start()
        self.assertRegex(s.output_since_start(), r"(?i)torn")
        self.check_loads(s, loads[:-1])
        self.assertStatus(s.get("/v1/loads/%d" % loads[-1]["id"], token="admin"), 404)

    def test_garbage_after_last_record(self):
        s, c, loads, seg = self.make()
        size = os.path.getsize(seg)
        with open(seg, "ab") as f:
            f.write(bytes(random.Random(5).getrandbits(8) for _ in range(200)))
        s.start()
        self.assertRegex(s.output_since_start(), r"(?i)torn")
        self.check_loads(s, loads)
        self.assertEqual(os.path.getsize(seg), size)
        self.check_loads(s, [s.create_load(c)])

    def test_zeroed_tail(self):
        # A crash can also leave zeroes (file size extended, data never written).
        s, c, loads, seg = self.make()
        with open(seg, "ab") as f:
            f.write(b"\0" * 4096)
        s.start()
        self.check_loads(s, loads)


class MiddleCorruption(E2ETestCase):
    def make(self):
        s = self.start_server("--rate-limit", "0")
        c = s.create_company(name="首条记录公司")
        loads = [s.create_load(c, notes="load %d" % i) for i in range(8)]
        s.stop()
        seg = wal_segments(s.data_dir)[-1]
        return s, c, loads, seg

    def refuse(self, s, what):
        before = files_digest(s.data_dir)
        s.launch()
        rc = s.wait_exit()
        out = s.output_since_start()
        self.assertNotEqual(rc, 0, "the server started on a log with %s:\n%s" % (what, out))
        self.assertIn("corrupt", out.lower(), "the refusal does not say the log is corrupt:\n" + out)
        self.assertNotIn("freightd ready", out)
        self.assertEqual(files_digest(s.data_dir), before, "a refused start changed the data files")
        # Refusing again is just as stable.
        s.launch()
        self.assertNotEqual(s.wait_exit(), 0)
        self.assertEqual(files_digest(s.data_dir), before)

    def flip(self, path, off):
        with open(path, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x5A]))

    def test_flipped_byte_in_first_record(self):
        s, c, loads, seg = self.make()
        recs = records(seg)
        self.assertGreaterEqual(len(recs), 9)
        first_off, first_len = recs[0][0], recs[0][1]
        self.assertEqual(first_off, WAL_HDR)
        target = first_off + REC_HDR + first_len // 2  # inside the first record's payload
        self.flip(seg, target)
        self.refuse(s, "a flipped byte in its first record")
        # Put the byte back: the server starts with everything.
        self.flip(seg, target)
        s.start()
        self.assertStatus(s.get("/v1/companies/%d" % c["id"], token=c["token"]), 200)
        for l in loads:
            self.assertStatus(s.get("/v1/loads/%d" % l["id"], token="admin"), 200)

    def test_flipped_byte_in_a_middle_record_header(self):
        s, c, loads, seg = self.make()
        recs = records(seg)
        mid = recs[len(recs) // 2]
        self.flip(seg, mid[0] + 9)  # the seq
        self.refuse(s, "a damaged record header in the middle")

    def test_damaged_segment_header(self):
        s, c, loads, seg = self.make()
        self.flip(seg, 3)  # inside the magic
        self.refuse(s, "a damaged segment header")


class SnapshotAndLog(E2ETestCase):
    e2e_weight = 2.0

    def build(self, s):
        """A varied state, with a snapshot in the middle; returns the tokens."""
        now = int(time.time())
        A = s.create_company(name="甲物流", kind="logistics", city="贵阳", province="贵州")
        B = s.create_company(name="乙货运", kind="carrier")
        g = s.create_gateway(name="车联网")
        drivers = [s.create_driver(name="司机%d" % i, plate="贵D%05d" % i,
                                   truck_type=("van", "high_rail", "flatbed")[i % 3],
                                   position=offset_point(GUIYANG, i * 3, -i * 2)) for i in range(12)]
        loads = [s.create_load((A, B)[i % 2], origin=offset_point(GUIYANG, i, i), types=["van", "high_rail",
                                                                                       "flatbed"],
                               price_cny=3000 + i * 10.5) for i in range(14)]
        bk = [s.book(drivers[i], loads[i]) for i in range(4)]
        self.assertStatus(s.post("/v1/bookings/%d/pickup" % bk[0]["id"], token=drivers[0]["token"]), 200)
        snap = s.snapshot()
        self.assertGreater(snap["snapshot_seq"], 1)
        self.assertTrue(snapshot_files(s.data_dir), "POST /v1/admin/snapshot left no snapshot file")
        # After the snapshot: every kind of write.
        self.assertStatus(s.post("/v1/bookings/%d/deliver" % bk[0]["id"], token=drivers[0]["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/rating" % bk[0]["id"], {"stars": 5, "comment": "好"},
                                 token=drivers[0]["token"]), 201)
        self.assertStatus(s.post("/v1/bookings/%d/rating" % bk[0]["id"], {"stars": 3},
                                 token=A["token"]), 201)
        self.assertStatus(s.post("/v1/bookings/%d/cancel" % bk[1]["id"], token=drivers[1]["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/cancel" % bk[2]["id"], token=A["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/pickup" % bk[3]["id"], token=drivers[3]["token"]), 200)
        self.assertStatus(s.delete("/v1/loads/%d" % loads[5]["id"], token=B["token"]), 200)
        s.book(drivers[6], loads[6])
        self.assertStatus(s.put("/v1/drivers/%d/status" % drivers[7]["id"], {"status": "offline"},
                                token=drivers[7]["token"]), 200)
        s.set_position(drivers[8], KUNMING, ts=now + 1)
        batch = [{"driver_id": d["id"], "lat": CHENGDU[0] + i * 0.01, "lon": CHENGDU[1], "ts": now + 2,
                  "speed_kmh": 42.5, "heading_deg": 90} for i, d in enumerate(drivers[9:])]
        self.assertEqual(self.assertStatus(s.post("/v1/positions", {"positions": batch}, token=g["token"]),
                                           200)["accepted"], len(batch))
        C = s.create_company(name="丙公司", kind="broker")
        s.create_load(C, origin=SHANGHAI, destination=BEIJING)
        late = s.create_driver(name="新司机", plate="沪A00001", position=SHANGHAI)
        return [A, B, C, late] + drivers, g

    def check_tokens(self, s, members, gateway):
        for m in members:
            kind = "companies" if "kind" in m else "drivers"
            self.assertStatus(s.get("/v1/%s/%d" % (kind, m["id"]), token=m["token"]), 200)
        r = s.post("/v1/positions", {"positions": []}, token=gateway["token"])
        self.assertStatus(r, 200)

    def test_snapshot_then_log_survives_kill9_and_sigterm(self):
        s = self.start_server("--rate-limit", "0")
        members, g = self.build(s)
        before = dump_state(s)
        self.assertGreaterEqual(len(before["bookings"]), 5)
        s.kill9()
        s.start()
        self.assertIn("snapshot", s.output_since_start())
        self.assertEqual(dump_state(s), before, "state differs after kill -9 and recovery")
        self.check_tokens(s, members, g)
        s.restart()
        self.assertEqual(dump_state(s), before, "state differs after a clean restart")
        # A second snapshot of the recovered state, then recovery from it.
        s.snapshot()
        s.restart(kill=True)
        self.assertEqual(dump_state(s), before, "state differs after recovering from the second snapshot")
        self.check_tokens(s, members, g)
        self.assertEqual(len(snapshot_files(s.data_dir)), 1, "older snapshots were not removed")

    def test_snapshot_with_nothing_after_it(self):
        s = self.start_server("--rate-limit", "0")
        self.build(s)
        s.snapshot()
        before = dump_state(s)
        s.restart(kill=True)
        self.assertEqual(dump_state(s), before)
        s.restart()
        self.assertEqual(dump_state(s), before)

    def test_snapshot_of_empty_state(self):
        s = self.start_server()
        s.snapshot()
        s.restart(kill=True)
        c = s.create_company()
        self.assertEqual(c["id"], 1)
        s.restart(kill=True)
        self.assertStatus(s.get("/v1/companies/1", token=c["token"]), 200)

    def test_automatic_snapshots(self):
        s = self.start_server("--rate-limit", "0", "--snapshot-every-mb", "0.02")
        members, g = self.build(s)
        now = int(time.time())
        drivers = [m for m in members if "truck" in m]
        for k in range(12):
            batch = [{"driver_id": d["id"], "lat": 30 + (k * 7 + i) * 0.001, "lon": 104, "ts": now + 10 + k}
                     for i, d in enumerate(drivers) for _ in range(5)]
            self.assertStatus(s.post("/v1/positions", {"positions": batch}, token=g["token"]), 200)
        deadline = time.time() + 10
        while time.time() < deadline:
            m = re.search(r"^freightd_snapshots_total (\d+)", s.get("/metrics").body, re.M)
            if m and int(m.group(1)) >= 1:
                break
            time.sleep(0.1)
        else:
            self.fail("no automatic snapshot after %d log bytes" % 0)
        s.create_load(members[0])
        before = dump_state(s)
        s.restart(kill=True)
        self.assertEqual(dump_state(s), before)

    def test_damaged_snapshot_never_loses_data_silently(self):
        s = self.start_server("--rate-limit", "0")
        self.build(s)
        before = dump_state(s)
        s.stop()
        snap = snapshot_files(s.data_dir)[-1]
        size = os.path.getsize(snap)
        with open(snap, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0xFF]))
        try:
            s.start()
        except ServerError:
            # Refusing to start is right: the log before the snapshot is gone.
            self.assertNotEqual(s.proc.returncode, 0)
            self.assertRegex(s.output_since_start().lower(), r"snapshot.*(corrupt|unusable|damaged)")
            self.assertIn("refusing to start", s.output_since_start())
            return
        self.assertEqual(dump_state(s), before, "started on a damaged snapshot and lost data")


class SnapshotWriter(E2ETestCase):
    """Snapshots are written by a forked child.  A crash of the server (kill -9)
    while one is being written must not keep the data dir from being reopened
    at once, and no fork may outlive the server."""

    def big_server(self, scale):
        s = self.start_server("--rate-limit", "0", start=False)
        os.makedirs(s.data_dir)
        r = subprocess.run([freight_bin(), "bulkload", "--data-dir", s.data_dir, "--scale", str(scale), "--seed", "7",
                            "--cities", os.path.join(REPO_ROOT, "data", "cn_cities.csv")],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            self.fail("freight bulkload failed: %s %s" % (r.stdout[-2000:], r.stderr[-2000:]))
        with open(os.path.join(s.data_dir, "bench-tokens.json")) as f:
            tokens = json.load(f)
        s.start()
        return s, tokens

    def test_restart_right_after_kill9_during_a_snapshot(self):
        s, tokens = self.big_server(0.25)
        c1 = tokens["companies"][0]
        self.assertStatus(s.get("/v1/companies/%d" % c1["id"], token=c1["token"]), 200)
        L = s.create_load({"token": c1["token"]}, notes="快照前")
        before = s.get("/v1/loads/%d" % L["id"], token="admin").body
        # Ask for a snapshot and kill the server while the child writes it.
        t = threading.Thread(target=lambda: self._try(s.request, "POST", "/v1/admin/snapshot", token="admin",
                                                      retry=False, timeout=60), daemon=True)
        t.start()
        deadline = time.time() + 20
        while time.time() < deadline and not glob.glob(os.path.join(s.data_dir, "snap", "*.tmp")):
            time.sleep(0.002)
        self.assertTrue(glob.glob(os.path.join(s.data_dir, "snap", "*.tmp")), "no snapshot was being written")
        s.kill9()
        # At once: the crashed server's data dir must open again (the writer
        # of a state this size needs a few hundred ms more).
        s.start()
        t.join(10)
        self.assertEqual(s.get("/v1/loads/%d" % L["id"], token="admin").body, before)
        self.assertStatus(s.get("/v1/companies/%d" % c1["id"], token=c1["token"]), 200)
        self.assertEqual(s.leftover_processes(), [], "the snapshot writer outlived the killed server")

    def test_snapshot_of_a_big_state_then_restart(self):
        s, tokens = self.big_server(0.05)
        g = tokens["gateways"][0]
        now = int(time.time())
        batch = [{"driver_id": i, "lat": 30.0 + i * 1e-4, "lon": 104.0, "ts": now} for i in range(1, 2001)]
        self.assertEqual(self.assertStatus(s.post("/v1/positions", {"positions": batch}, token=g["token"]),
                                           200)["accepted"], 2000)
        s.snapshot()
        probe = [s.get("/v1/drivers/%d" % i, token="admin").body for i in (1, 777, 2000)]
        s.restart(kill=True)
        self.assertEqual([s.get("/v1/drivers/%d" % i, token="admin").body for i in (1, 777, 2000)], probe)

    @staticmethod
    def _try(fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except (OSError, http.client.HTTPException):
            return None


class FsyncFailure(E2ETestCase):
    """The failure policy, through the fault-injection route (docs/api.md):
    once an fsync fails, that write and every later one get 503 (never a
    retry that pretends it worked), reads keep working, and a restart on
    healthy storage has every acknowledged write."""

    def test_fsync_failure_stops_writes_reads_go_on(self):
        s = self.start_server("--rate-limit", "0", "--fault-injection", "1")
        A = s.create_company()
        X = s.create_driver(position=GUIYANG)
        loads = [s.create_load(A, notes="before %d" % i) for i in range(5)]
        b = s.book(X, loads[0])
        self.assertStatus(s.post("/v1/admin/faults", {"fsync": "maybe"}, token="admin"), 400, "invalid_field", "fsync")
        self.assertStatus(s.post("/v1/admin/faults", {"fsync": "fail"}, token=A["token"]), 403, "forbidden")
        self.assertStatus(s.post("/v1/admin/faults", {"fsync": "fail"}, token="admin"), 200)
        # The write whose fsync fails is not acknowledged...
        self.assertStatus(s.post("/v1/loads", load_body(notes="during"), token=A["token"]), 503,
                          "storage_unavailable")
        # ...and neither is any later one, of any kind.
        writes = [
            ("POST", "/v1/loads", load_body(notes="after"), A["token"]),
            ("POST", "/v1/companies", {"name": "x", "kind": "shipper"}, "admin"),
            ("POST", "/v1/bookings/%d/pickup" % b["id"], None, X["token"]),
            ("PUT", "/v1/drivers/%d/position" % X["id"], {"lat": 26.0, "lon": 106.0, "ts": int(time.time())},
             X["token"]),
            ("DELETE", "/v1/loads/%d" % loads[1]["id"], None, A["token"]),
        ]
        for _ in range(2):
            for method, path, body, tok in writes:
                r = s.request(method, path, body=body, token=tok)
                self.assertStatus(r, 503, "storage_unavailable", msg="%s %s" % (method, path))
        # Reads go on; health and metrics say the log is not writable.
        for l in loads:
            self.assertStatus(s.get("/v1/loads/%d" % l["id"], token=A["token"]), 200)
        self.assertEqual(s.get("/v1/bookings/%d" % b["id"], token=X["token"]).body["status"], "booked")
        self.assertStatus(s.get("/v1/loads?near=%f,%f" % GUIYANG, token=X["token"]), 200)
        h = self.assertStatus(s.get("/healthz"), 200)
        self.assertIs(h["writable"], False)
        self.assertRegex(s.get("/metrics").body, r"(?m)^freightd_log_writable 0$")
        # Still refusing a little later: no retry that pretends it worked.
        time.sleep(0.3)
        self.assertStatus(s.post("/v1/companies", {"name": "y", "kind": "shipper"}, token="admin"), 503,
                          "storage_unavailable")
        # Restart on healthy storage: everything acknowledged is there, writes work again.
        s.restart(kill=True)
        for l in loads:
            got = self.assertStatus(s.get("/v1/loads/%d" % l["id"], token="admin"), 200)
            self.assertEqual(got["notes"], l["notes"])
        self.assertEqual(s.get("/v1/bookings/%d" % b["id"], token="admin").body["status"], "booked")
        self.assertIs(self.assertStatus(s.get("/healthz"), 200)["writable"], True)
        self.assertStatus(s.post("/v1/bookings/%d/pickup" % b["id"], token=X["token"]), 200)
        s.restart()
        self.assertEqual(s.get("/v1/bookings/%d" % b["id"], token="admin").body["status"], "picked_up")

    def test_clean_stop_with_a_broken_log(self):
        s = self.start_server("--fault-injection", "1")
        A = s.create_company()
        self.assertStatus(s.post("/v1/admin/faults", {"fsync": "fail"}, token="admin"), 200)
        self.assertEqual(s.post("/v1/loads", load_body(), token=A["token"]).status, 503)
        self.assertEqual(s.stop(check=False), 0, s.log_tail())
        s.start()
        self.assertStatus(s.get("/v1/companies/%d" % A["id"], token=A["token"]), 200)
        self.assertStatus(s.post("/v1/loads", load_body(), token=A["token"]), 201)

    def test_route_absent_without_the_flag(self):
        s = self.start_server()
        self.assertStatus(s.post("/v1/admin/faults", {"fsync": "fail"}, token="admin"), 404, "not_found")
        s.create_company()
        self.assertIs(s.get("/healthz").body["writable"], True)
