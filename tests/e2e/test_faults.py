"""test_faults.py — nothing acknowledged is ever lost (issue 7, part 1).

KillLoop: kill -9 at random moments of a mixed write load, many times in a
row over one data dir, checking after every restart the client-side history
of what the server answered: nothing acknowledged lost, nothing refused
present, a refusal as durable as an acknowledgement, at most one booking per
load, and the restart within 2 s.  FREIGHTD_FAULT_ROUNDS sets the number of
kills (30 by default; `make faults` runs 300), FREIGHTD_FAULT_SEED the seed.

The other fault classes (crash points, injected I/O errors, disk full, clock
jumps) follow below; docs/reliability.md lists what each one promises.
"""
import http.client
import json
import os
import random
import re
import subprocess
import threading
import time

from harness import BEIJING, CHENGDU, GUIYANG, KUNMING, SHANGHAI, E2ETestCase, dump_state, load_body, offset_point

# Fields of a load that no later event changes.
LOAD_STATIC = ("id", "company_id", "origin", "destination", "cargo", "truck", "pickup", "price_cny",
               "expires_at", "created_at", "notes", "contact")
# The statuses a booking passes through, in order; "cancelled" ends the other branch.
TRIP = ("booked", "picked_up", "delivered")

ACK, REFUSED, UNKNOWN = "ack", "refused", "unknown"


def asan_runtime():
    """The path of the shared ASan runtime freightd is linked with, or None."""
    from harness import freightd_bin
    r = subprocess.run(["ldd", freightd_bin()], capture_output=True, text=True)
    m = re.search(r"^\s*libasan\.so\S*\s+=>\s+(\S+)", r.stdout, re.M)
    return m.group(1) if m else None


def fault_rounds(default):
    return int(os.environ.get("FREIGHTD_FAULT_ROUNDS", str(default)))


class Killed(Exception):
    """The connection broke: the server was killed with this request in flight."""


class History:
    """What the clients were told, kept on the client side.

    loads:     id -> {"body": acked body, "cancel": ACK|REFUSED|UNKNOWN|None}
    bookings:  id -> {"load", "driver", "acked": the furthest acked status,
                      "next": the status of a step in flight at the kill}
    refused:   [(load id, driver id, code)] booking attempts answered 409
    positions: driver id -> {"acked": newest acked ts, "sent": {ts: (lat, lon)}}
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.loads = {}
        self.bookings = {}
        self.refused = []
        self.positions = {}
        self.cancel_refused = []  # load ids whose DELETE was refused (409: booked)
        self.errors = []
        self.acks = 0
        self.unknown = 0

    def note_error(self, what, status, body):
        with self.lock:
            self.errors.append("%s: %s %s" % (what, status, json.dumps(body, ensure_ascii=False)[:300]))


class Client:
    """One connection; every failure to get an answer raises Killed."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)

    def req(self, method, path, token, body=None):
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        hdrs = {"Authorization": "Bearer " + token, "Content-Length": str(len(data))}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        try:
            self.c.request(method, path, body=data, headers=hdrs)
            r = self.c.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException):
            raise Killed()
        return r.status, (json.loads(raw) if raw else None)

    def close(self):
        self.c.close()


class KillLoop(E2ETestCase):
    e2e_weight = 6.0

    def setUp(self):
        super().setUp()
        self.seed = int(os.environ.get("FREIGHTD_FAULT_SEED", str(random.randrange(1 << 30))))
        self.rng = random.Random(self.seed)
        print("KillLoop seed %d (FREIGHTD_FAULT_SEED reproduces the kill moments roughly)" % self.seed)

    # ---- the workers: each runs until stop is set or its request dies ----

    def loader(self, s, h, stop, company, tag):
        c = Client(s.port)
        rng = random.Random(tag)
        mine = []
        try:
            n = 0
            while not stop.is_set():
                n += 1
                if mine and rng.random() < 0.15:
                    lid = mine.pop(rng.randrange(len(mine)))
                    with h.lock:
                        h.loads[lid]["cancel"] = UNKNOWN
                    st, out = c.req("DELETE", "/v1/loads/%d" % lid, company["token"])
                    if st != 200:
                        return h.note_error("cancel load", st, out)
                    with h.lock:
                        h.loads[lid]["cancel"] = ACK
                        h.acks += 1
                    continue
                body = load_body(origin=offset_point(GUIYANG, rng.uniform(-60, 60), rng.uniform(-60, 60)),
                                 destination=rng.choice((KUNMING, CHENGDU, SHANGHAI, BEIJING)),
                                 price_cny=round(rng.uniform(500, 9000), 2), weight_t=round(rng.uniform(1, 30), 3),
                                 notes="%s-%d" % (tag, n))
                st, out = c.req("POST", "/v1/loads", company["token"], body)
                if st != 201:
                    return h.note_error("create load", st, out)
                with h.lock:
                    h.loads[out["id"]] = {"body": out, "cancel": None}
                    h.acks += 1
                mine.append(out["id"])
        except Killed:
            with h.lock:
                h.unknown += 1
        finally:
            c.close()

    def mover(self, s, h, stop, drivers, gateway, clock):
        c = Client(s.port)
        rng = random.Random(clock[0])
        try:
            while not stop.is_set():
                clock[0] += 1
                ts = clock[0]
                if rng.random() < 0.3:
                    batch = []
                    for d in drivers:
                        p = offset_point(GUIYANG, rng.uniform(-80, 80), rng.uniform(-80, 80))
                        batch.append({"driver_id": d["id"], "lat": round(p[0], 6), "lon": round(p[1], 6), "ts": ts})
                    with h.lock:
                        for it in batch:
                            h.positions[it["driver_id"]]["sent"][ts] = (it["lat"], it["lon"])
                    st, out = c.req("POST", "/v1/positions", gateway["token"], {"positions": batch})
                    if st != 200 or out["accepted"] != len(batch):
                        return h.note_error("positions", st, out)
                    with h.lock:
                        for it in batch:
                            h.positions[it["driver_id"]]["acked"] = ts
                        h.acks += 1
                else:
                    d = rng.choice(drivers)
                    p = offset_point(GUIYANG, rng.uniform(-80, 80), rng.uniform(-80, 80))
                    body = {"lat": round(p[0], 6), "lon": round(p[1], 6), "ts": ts}
                    with h.lock:
                        h.positions[d["id"]]["sent"][ts] = (body["lat"], body["lon"])
                    st, out = c.req("PUT", "/v1/drivers/%d/position" % d["id"], d["token"], body)
                    if st != 204:
                        return h.note_error("position", st, out)
                    with h.lock:
                        h.positions[d["id"]]["acked"] = ts
                        h.acks += 1
        except Killed:
            with h.lock:
                h.unknown += 1
        finally:
            c.close()

    def racer(self, s, h, stop, company, pair, tag):
        """Posts a load, has two drivers race to book it (one wins, one gets
        409), has the company try to cancel it (409: booked), then walks the
        winner's trip to delivery or cancels it."""
        conns = [Client(s.port) for _ in range(3)]
        rng = random.Random(tag)
        try:
            n = 0
            while not stop.is_set():
                n += 1
                st, load = conns[0].req("POST", "/v1/loads", company["token"],
                                        load_body(origin=GUIYANG, weight_t=5, notes="%s-race-%d" % (tag, n)))
                if st != 201:
                    return h.note_error("race load", st, load)
                with h.lock:
                    h.loads[load["id"]] = {"body": load, "cancel": None}
                    h.acks += 1
                answers = [None, None]
                broken = [False, False]

                def book(i):
                    try:
                        answers[i] = conns[1 + i].req("POST", "/v1/loads/%d/book" % load["id"], pair[i]["token"])
                    except Killed:
                        broken[i] = True

                ts = [threading.Thread(target=book, args=(i,)) for i in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                winner = None
                with h.lock:
                    for i in range(2):
                        if broken[i]:
                            h.unknown += 1
                            continue
                        st, out = answers[i]
                        if st == 201:
                            winner = i
                            h.bookings[out["id"]] = {"load": load["id"], "driver": pair[i]["id"], "acked": "booked",
                                                     "next": None}
                            h.acks += 1
                        elif st == 409 and out["error"]["code"] == "already_booked":
                            h.refused.append((load["id"], pair[i]["id"], "already_booked"))
                        else:
                            h.errors.append("book: %s %s" % (st, out))
                if any(broken) or winner is None:
                    return
                bid = answers[winner][1]["id"]
                driver = pair[winner]
                st, out = conns[0].req("DELETE", "/v1/loads/%d" % load["id"], company["token"])
                if st == 409:
                    with h.lock:
                        h.cancel_refused.append(load["id"])
                else:
                    return h.note_error("cancel booked load", st, out)
                steps = [("cancel", "cancelled")] if rng.random() < 0.25 else [("pickup", "picked_up"),
                                                                               ("deliver", "delivered")]
                for step, status in steps:
                    with h.lock:
                        h.bookings[bid]["next"] = status
                    st, out = conns[0].req("POST", "/v1/bookings/%d/%s" % (bid, step), driver["token"])
                    if st != 200 or out["status"] != status:
                        return h.note_error(step, st, out)
                    with h.lock:
                        h.bookings[bid]["acked"] = status
                        h.bookings[bid]["next"] = None
                        h.acks += 1
        except Killed:
            with h.lock:
                h.unknown += 1
        finally:
            for c in conns:
                c.close()

    def snapshotter(self, s, h, stop):
        c = Client(s.port)
        try:
            while not stop.is_set():
                st, out = c.req("POST", "/v1/admin/snapshot", s.admin_token)
                if st != 200:
                    return h.note_error("snapshot", st, out)
                time.sleep(0.02)
        except Killed:
            pass
        finally:
            c.close()

    # ---- checks ----

    def check_loads(self, s, h, ids):
        for lid in ids:
            want = h.loads[lid]
            r = s.get("/v1/loads/%d" % lid, token="admin")
            self.assertStatus(r, 200, msg="acknowledged load %d lost" % lid)
            got = {k: r.body.get(k) for k in LOAD_STATIC}
            self.assertEqual(got, {k: want["body"].get(k) for k in LOAD_STATIC}, "load %d changed" % lid)
            if want["cancel"] == ACK:
                self.assertEqual(r.body["status"], "cancelled", "load %d: acknowledged cancel lost" % lid)
            elif want["cancel"] is None and lid not in self.booked_loads:
                self.assertEqual(r.body["status"], "open", "load %d: nobody cancelled or booked it" % lid)

    def check_bookings(self, s, h):
        """Every booking on the server (ids 1.. until 404): at most one per load,
        acknowledged ones present and as far along as acknowledged, refused
        ones absent, and every refusal backed by a booking that exists."""
        per_load = {}
        by_pair = set()
        bid = 0
        while True:
            bid += 1
            r = s.get("/v1/bookings/%d" % bid, token="admin")
            if r.status == 404:
                break
            self.assertStatus(r, 200)
            b = r.body
            per_load.setdefault(b["load_id"], []).append(b["id"])
            by_pair.add((b["load_id"], b["driver_id"]))
            want = h.bookings.get(b["id"])
            if want is None:
                continue  # in flight at a kill: its answer was lost
            self.assertEqual((b["load_id"], b["driver_id"]), (want["load"], want["driver"]), "booking %d" % bid)
            allowed = {want["acked"]} | ({want["next"]} if want["next"] else set())
            self.assertIn(b["status"], allowed, "booking %d: acknowledged %s, in flight %s, now %s" %
                          (bid, want["acked"], want["next"], b["status"]))
        for lid, bids in per_load.items():
            self.assertEqual(len(bids), 1, "load %d has bookings %s" % (lid, bids))
        missing = [b for b in h.bookings if b >= bid]
        self.assertEqual(missing, [], "acknowledged bookings lost (the server has %d)" % (bid - 1))
        for lid, did, code in h.refused:
            self.assertNotIn((lid, did), by_pair, "refused booking of load %d by driver %d is present" % (lid, did))
            # The refusal said the load was booked: that booking must have been durable.
            self.assertIn(lid, per_load, "driver %d was refused load %d as %s, but no booking of it survived" %
                          (did, lid, code))
        for lid in h.cancel_refused:
            self.assertIn(lid, per_load, "cancelling load %d was refused as booked, but no booking survived" % lid)
        self.booked_loads = set(per_load)

    def check_positions(self, s, h, drivers):
        for d in drivers:
            want = h.positions[d["id"]]
            p = s.get("/v1/drivers/%d" % d["id"], token="admin").body["position"]
            if want["acked"] is None:
                if p is not None:
                    self.assertIn(p["ts"], want["sent"], "driver %d has a position nobody sent" % d["id"])
                continue
            self.assertIsNotNone(p, "driver %d lost its acknowledged position" % d["id"])
            self.assertGreaterEqual(p["ts"], want["acked"], "driver %d: acknowledged ts %d lost" % (d["id"],
                                                                                                 want["acked"]))
            self.assertIn(p["ts"], want["sent"], "driver %d has a position nobody sent" % d["id"])
            self.assertEqual((p["lat"], p["lon"]), want["sent"][p["ts"]], "driver %d at ts %d" % (d["id"], p["ts"]))

    # ---- the loop ----

    def test_kill9_loop(self):
        rounds = fault_rounds(30)
        s = self.start_server("--rate-limit", "0", "--snapshot-every-mb", "0.1")
        h = History()
        companies = [s.create_company(name="公司%d" % i, kind="shipper") for i in range(3)]
        movers = [s.create_driver(name="动%d" % i, plate="贵B%05d" % i) for i in range(8)]
        for d in movers:
            h.positions[d["id"]] = {"acked": None, "sent": {}}
        gateway = s.create_gateway()
        clock = [int(time.time()) - 2000000]
        self.booked_loads = set()
        restart_s = []
        checked_loads = 0
        for rnd in range(rounds):
            # Fresh racing drivers each round: last round's may be mid-trip.
            pairs = [[s.create_driver(name="跑%d-%d" % (rnd, i * 2 + j), plate="贵C%03d%02d" % (rnd % 1000, i * 2 + j),
                                      truck_type="van", position=GUIYANG) for j in range(2)] for i in range(2)]
            stop = threading.Event()
            threads = [threading.Thread(target=self.loader, args=(s, h, stop, companies[1 + k % 2], "r%dl%d" % (rnd, k)))
                       for k in range(2)]
            threads.append(threading.Thread(target=self.mover, args=(s, h, stop, movers, gateway, clock)))
            threads += [threading.Thread(target=self.racer, args=(s, h, stop, companies[0], pairs[i], "r%dp%d" % (rnd, i)))
                        for i in range(2)]
            if rnd % 3 == 0:
                threads.append(threading.Thread(target=self.snapshotter, args=(s, h, stop)))
            for t in threads:
                t.start()
            # The kill lands anywhere from the very start of the writes on.
            time.sleep(self.rng.choice((0.0, 0.01)) + self.rng.random() * 0.5)
            s.kill9()
            stop.set()
            for t in threads:
                t.join(30)
            self.assertEqual(h.errors, [], "unexpected answers in round %d" % rnd)
            t0 = time.monotonic()
            s.start()
            restart_s.append(time.monotonic() - t0)
            self.assertLess(restart_s[-1], 2.0, "restart %d took %.2f s" % (rnd, restart_s[-1]))
            self.check_bookings(s, h)
            # This round's loads, and a sample of the older ones; everything at the end.
            ids = sorted(h.loads)
            new = ids[checked_loads:]
            self.check_loads(s, h, new + self.rng.sample(ids[:checked_loads], min(40, checked_loads)))
            checked_loads = len(ids)
            if ids:
                top = max(ids)
                for lid in range(max(1, top - 50), top + 1):
                    self.assertStatus(s.get("/v1/loads/%d" % lid, token="admin"), 200,
                                      msg="load %d below the highest acknowledged one (%d) is missing" % (lid, top))
            self.check_positions(s, h, movers)
        self.check_loads(s, h, sorted(h.loads))
        s.restart()
        self.check_bookings(s, h)
        self.check_loads(s, h, sorted(h.loads))
        self.check_positions(s, h, movers)
        print("KillLoop: %d kills, %d acknowledged writes (%d loads, %d bookings, %d refusals), %d answers lost "
              "in flight, nothing acknowledged lost; restart max %.2f s, mean %.2f s" %
              (rounds, h.acks, len(h.loads), len(h.bookings), len(h.refused) + len(h.cancel_refused), h.unknown,
               max(restart_s), sum(restart_s) / len(restart_s)))
        self.assertGreater(h.acks, rounds * 10, "too few acknowledged writes to mean anything")
        self.assertGreater(len(h.refused), rounds // 3, "too few booking races")


class CrashPoints(E2ETestCase):
    """FREIGHTD_CRASH_AT=<point>[:<pass>] (src/common/crash.h) kills the server
    with SIGKILL at a named point of the write path or of a snapshot; after a
    restart every operation is whole or absent, every acknowledged one
    present, and the server goes on (writes, snapshots, restarts)."""

    e2e_weight = 3.0

    def crashing_server(self, point, passes):
        s = self.start_server("--rate-limit", "0", env={"FREIGHTD_CRASH_AT": "%s:%d" % (point, passes)})
        return s

    def assert_crashed_at(self, s, point):
        rc = s.proc.wait(timeout=20)
        self.assertIn(rc, (-9, 137), "the server did not die at the crash point (exit %s)" % rc)
        self.assertIn("crash point %s reached" % point, s.stderr_since_start())
        s.env_extra.pop("FREIGHTD_CRASH_AT")

    def write_until_crash(self, s, company, writers=4):
        """Writers create loads until the server dies; returns (acked, in flight) bodies by note."""
        acked, inflight, lock = {}, {}, threading.Lock()

        def run(k):
            c = Client(s.port)
            try:
                for n in range(100000):
                    body = load_body(notes="w%d-%d" % (k, n), price_cny=1000 + k * 100 + n)
                    with lock:
                        inflight[body["notes"]] = body
                    st, out = c.req("POST", "/v1/loads", company["token"], body)
                    if st != 201:
                        return
                    with lock:
                        del inflight[body["notes"]]
                        acked[out["id"]] = out
            except Killed:
                pass
            finally:
                c.close()

        ts = [threading.Thread(target=run, args=(k,)) for k in range(writers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        return acked, inflight

    def check_whole_or_absent(self, s, acked, inflight):
        """Acked loads unchanged; ids 1..max dense; every other load one whole in-flight body."""
        top = 0
        while s.get("/v1/loads/%d" % (top + 1), token="admin").status == 200:
            top += 1
        self.assertGreaterEqual(top, max(acked), "acknowledged loads lost")
        present = set()
        for lid in range(1, top + 1):
            got = s.get("/v1/loads/%d" % lid, token="admin").body
            if lid in acked:
                self.assertEqual({k: got[k] for k in LOAD_STATIC}, {k: acked[lid][k] for k in LOAD_STATIC})
                continue
            self.assertIn(got["notes"], inflight, "load %d is neither acknowledged nor in flight" % lid)
            want = inflight[got["notes"]]
            self.assertEqual((got["price_cny"], got["cargo"]["weight_t"]), (want["price_cny"],
                                                                           want["cargo"]["weight_t"]))
            present.add(got["notes"])
        self.assertTrue(s.get("/v1/loads/%d" % (top + 1), token="admin").status == 404)
        return present

    def go_on(self, s, company):
        """The recovered server takes writes and snapshots and survives restarts."""
        before = s.create_load(company, notes="after the crash")
        s.snapshot()
        s.create_load(company, notes="after the snapshot")
        state = dump_state(s)
        s.restart(kill=True)
        self.assertEqual(dump_state(s), state)
        self.assertNotIn("torn", s.stderr_since_start())
        return before

    def wal_point(self, point, passes, in_flight_rule, writers=4):
        s = self.crashing_server(point, passes)
        company = s.create_company()
        acked, inflight = self.write_until_crash(s, company, writers)
        self.assert_crashed_at(s, point)
        self.assertTrue(acked, "nothing was acknowledged before the crash point")
        self.assertTrue(inflight, "nothing was in flight at the crash point")
        s.start()
        present = self.check_whole_or_absent(s, acked, inflight)
        if in_flight_rule == "absent":
            self.assertEqual(present, set(), "a group killed before its write is on disk")
        elif in_flight_rule == "some":
            self.assertTrue(present, "the group whose fsync completed was lost")
        self.go_on(s, company)

    def test_wal_before_write(self):
        # One writer: with several, a durable group's answer may still be on its
        # way when the next group's leader dies, and that load is rightly present.
        self.wal_point("wal-before-write", 12, "absent", writers=1)

    def test_wal_after_write_before_fsync(self):
        # Killed (not a power cut): the bytes written are in the page cache and
        # survive; whether they do or not, each record is whole or absent.
        self.wal_point("wal-after-write", 12, "either")

    def test_wal_after_fsync_before_reply(self):
        self.wal_point("wal-after-fsync", 12, "some")

    def snapshot_point(self, point, passes, snapshots_before=0):
        s = self.crashing_server(point, passes)
        company = s.create_company()
        driver = s.create_driver(position=GUIYANG)
        loads = [s.create_load(company, notes="before %d" % i) for i in range(30)]
        for i in range(snapshots_before):
            s.snapshot()
            s.create_load(company, notes="between %d" % i)
        s.book(driver, loads[0])
        state = dump_state(s)
        try:
            r = s.request("POST", "/v1/admin/snapshot", token="admin", retry=False, timeout=20)
            self.fail("the snapshot was answered (%r) instead of crashing at %s" % (r, point))
        except (OSError, http.client.HTTPException):
            pass
        self.assert_crashed_at(s, point)
        s.start()
        self.assertEqual(dump_state(s), state, "the state changed across a crash at %s" % point)
        self.assertEqual([f for f in os.listdir(os.path.join(s.data_dir, "snap")) if f.endswith(".tmp")], [],
                         "a half-written snapshot was left behind")
        self.go_on(s, company)
        self.assertEqual(len([f for f in os.listdir(os.path.join(s.data_dir, "snap"))]), 1)

    def test_snapshot_body_written_no_trailer(self):
        self.snapshot_point("snap-write", 1)

    def test_snapshot_before_rename(self):
        self.snapshot_point("snap-before-rename", 1)

    def test_snapshot_before_directory_fsync(self):
        self.snapshot_point("snap-before-dirsync", 1)

    def test_snapshot_deleting_the_older_one(self):
        self.snapshot_point("snap-delete-old", 1, snapshots_before=1)

    def test_snapshot_written_before_log_trim(self):
        self.snapshot_point("snapshot-before-trim", 1)

    def test_during_log_trimming(self):
        self.snapshot_point("wal-trim", 1)

    def test_new_segment_before_rename(self):
        # Pass 1 is the first segment, at the first start; pass 2 the rotation.
        self.snapshot_point("wal-segment-before-rename", 2)

    def test_new_segment_before_directory_fsync(self):
        self.snapshot_point("wal-segment-before-dirsync", 2)


class DiskFull(E2ETestCase):
    """The data dir on a small tmpfs that fills up: writes get 503 and change
    nothing, reads keep working, writes resume by themselves once space is
    freed, and a restart finds exactly what was acknowledged (wal.c, DISK
    SPACE: log space is reserved ahead with fallocate).  Needs root (mount)."""

    e2e_weight = 2.0

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a small tmpfs (mount -t tmpfs)")
        import subprocess
        import tempfile
        self.mnt = tempfile.mkdtemp(prefix="freightd-full-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", self.mnt], capture_output=True,
                           text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.strip())
        self.addCleanup(self._unmount)

    def _unmount(self):
        import subprocess
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        os.rmdir(self.mnt)

    def fill(self):
        """Fills the file system to the last byte; returns the filler's path."""
        path = os.path.join(self.mnt, "filler")
        chunk = b"\xa5" * 65536
        with open(path, "wb", buffering=0) as f:
            for size in (65536, 4096, 1):
                while True:
                    try:
                        f.write(chunk[:size])
                    except OSError:
                        break
        return path

    def batch(self, drivers, ts, n=3000):
        return {"positions": [{"driver_id": drivers[i % len(drivers)]["id"], "lat": 26.0 + (i % 1000) * 1e-4,
                               "lon": 106.0 + (ts % 1000) * 1e-4, "ts": ts} for i in range(n)]}

    def test_disk_full_refuses_then_resumes(self):
        s = self.start_server("--rate-limit", "0", "--snapshot-every-mb", "0", "--max-body-bytes", "8388608")
        s.data_dir = os.path.join(self.mnt, "data")  # before the first start: on the small file system
        s.start()
        A = s.create_company()
        gw = s.create_gateway()
        drivers = [s.create_driver(plate="贵F%05d" % i) for i in range(5)]
        acked = [s.create_load(A, notes="before %d" % i) for i in range(5)]
        spare = [s.create_load(A, notes="spare %d" % i) for i in range(30)]
        filler = self.fill()
        # Writes run into the full disk once the space reserved ahead is used
        # up: big ones first, then smaller and smaller, to the smallest record
        # there is (a load cancel), so that no write of any size fits any more.
        ts, refused = int(time.time()) - 5000, None
        for n in (3000, 300, 30, 3, 1):
            for _ in range(300):
                ts += 1
                r = s.post("/v1/positions", self.batch(drivers, ts, n), token=gw["token"])
                if r.status == 503:
                    refused = refused or r
                    break
                self.assertStatus(r, 200)
        self.assertIsNotNone(refused, "the full disk never refused a write")
        self.assertEqual(refused.error()["code"], "storage_unavailable")
        self.assertIn("full", refused.error()["message"])
        while spare:
            r = s.delete("/v1/loads/%d" % spare.pop()["id"], token=A["token"])
            if r.status == 503:
                break
            self.assertStatus(r, 200)
        self.assertTrue(spare, "cancels never ran into the full disk")
        # Every kind of write is refused, and none changes the state.
        state = dump_state(s)
        self.assertStatus(s.post("/v1/loads", load_body(notes="refused"), token=A["token"]), 503, "storage_unavailable")
        self.assertStatus(s.post("/v1/companies", {"name": "满", "kind": "shipper"}, token="admin"), 503)
        self.assertStatus(s.put("/v1/drivers/%d/position" % drivers[0]["id"], {"lat": 30, "lon": 104, "ts": ts + 5},
                                token=drivers[0]["token"]), 503)
        self.assertStatus(s.delete("/v1/loads/%d" % acked[0]["id"], token=A["token"]), 503)
        # Reads keep working and say the log is not writable.
        self.assertEqual(dump_state(s), state, "a refused write changed the state")
        self.assertIs(s.get("/healthz").body["writable"], False)
        # A snapshot cannot be written either, and fails cleanly.
        self.assertNotEqual(s.post("/v1/admin/snapshot", token="admin").status, 200)
        self.assertEqual([f for f in os.listdir(os.path.join(s.data_dir, "snap")) if f.endswith(".tmp")], [])
        # Space returns: writes resume without a restart.
        os.unlink(filler)
        later = s.create_load(A, notes="after the space returned")
        self.assertEqual(later["id"], acked[-1]["id"] + 31, "a refused load took an id")
        self.assertIs(s.get("/healthz").body["writable"], True)
        ts += 10
        self.assertStatus(s.post("/v1/positions", self.batch(drivers, ts), token=gw["token"]), 200)
        s.snapshot()
        state = dump_state(s)
        # Nothing corrupted: a crash and a restart find exactly that.
        s.restart(kill=True)
        out = s.output_since_start()
        self.assertNotIn("torn", out)
        self.assertNotIn("corrupt", out)
        self.assertEqual(dump_state(s), state)
        self.assertEqual(s.get("/v1/loads/%d" % (later["id"] + 1), token="admin").status, 404)
        self.assertIn("refusing writes until space is freed", s._read(s.stderr_path))


class InjectedIOErrors(E2ETestCase):
    """I/O errors and short writes injected into the real system calls with
    libfiu (Debian fiu-utils: fiu-run preloads it, fiu-ctrl arms a failure
    point in the running server): once an fdatasync or a log write fails, no
    write is acknowledged again until a restart, even after the fault is
    gone; short writes are finished, never mistaken for whole ones."""

    e2e_weight = 2.0

    def setUp(self):
        super().setUp()
        import shutil
        if not shutil.which("fiu-run") or not shutil.which("fiu-ctrl"):
            self.skipTest("fiu-utils is not installed (scripts/deps.sh installs it)")

    def fiu_server(self, *args):
        s = self.start_server("--rate-limit", "0", *args, start=False)
        self.fifo = os.path.join(s.base_dir, "fiu")
        s.wrapper = ["fiu-run", "-x", "-f", self.fifo]
        asan = asan_runtime()
        if asan:
            # An ASan build must have its runtime first among the preloaded
            # libraries, or libfiu's wrappers run before ASan is set up and
            # the server dies at start-up: preload what fiu-run would, after it.
            r = subprocess.run(["fiu-run", "-n", "-x", "-f", self.fifo, "true"], capture_output=True, text=True,
                               check=True)
            env = dict(re.findall(r'^(\w+)="([^"]*)"', r.stdout, re.M))
            s.wrapper = []
            s.env_extra.update(env)
            s.env_extra["LD_PRELOAD"] = " ".join([asan] + env["LD_PRELOAD"].split())
        s.env_extra["ASAN_OPTIONS"] = "abort_on_error=0:detect_leaks=1:verify_asan_link_order=0"
        s.start()
        return s

    def fiu(self, s, *commands):
        import subprocess
        cmd = ["fiu-ctrl", "-f", self.fifo]
        for c in commands:
            cmd += ["-c", c]
        r = subprocess.run(cmd + [str(s.proc.pid)], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, "fiu-ctrl %s: %s %s" % (commands, r.stdout, r.stderr))

    def writers_until_refused(self, s, company, n=3):
        """Writers that create loads until they get a 503; returns (acked, refused count, other answers)."""
        acked, other, lock = {}, [], threading.Lock()
        refused = [0]

        def run(k):
            c = Client(s.port)
            try:
                for i in range(100000):
                    st, out = c.req("POST", "/v1/loads", company["token"], load_body(notes="io %d-%d" % (k, i)))
                    with lock:
                        if st == 201:
                            acked[out["id"]] = out
                        elif st == 503 and out["error"]["code"] == "storage_unavailable":
                            refused[0] += 1
                            return
                        else:
                            other.append((st, out))
                            return
            finally:
                c.close()

        ts = [threading.Thread(target=run, args=(k,)) for k in range(n)]
        for t in ts:
            t.start()
        return ts, acked, refused, other

    def broken_forever(self, point):
        s = self.fiu_server()
        A = s.create_company()
        before = [s.create_load(A, notes="before %d" % i) for i in range(5)]
        ts, acked, refused, other = self.writers_until_refused(s, A)
        time.sleep(0.2)
        self.fiu(s, "enable name=%s,failinfo=5" % point)  # EIO
        for t in ts:
            t.join(20)
        self.assertEqual(other, [])
        self.assertEqual(refused[0], 3, "a writer never got its 503")
        self.assertIn("the log is broken", s.stderr_since_start())
        # The fault goes away; the log stays broken: no retry that pretends.
        self.fiu(s, "disable name=%s" % point)
        for i in range(3):
            self.assertStatus(s.post("/v1/loads", load_body(notes="after"), token=A["token"]), 503,
                              "storage_unavailable")
        self.assertStatus(s.post("/v1/companies", {"name": "后", "kind": "shipper"}, token="admin"), 503)
        self.assertIs(s.get("/healthz").body["writable"], False)
        for l in before:
            self.assertStatus(s.get("/v1/loads/%d" % l["id"], token=A["token"]), 200)
        # On healthy storage again: every acknowledged write is there.
        s.wrapper = []
        s.restart(kill=True)
        for lid, body in list(acked.items()) + [(l["id"], l) for l in before]:
            got = self.assertStatus(s.get("/v1/loads/%d" % lid, token="admin"), 200)
            self.assertEqual(got["notes"], body["notes"])
        self.assertStatus(s.post("/v1/loads", load_body(), token=A["token"]), 201)
        return len(acked)

    def test_fdatasync_fails(self):
        self.broken_forever("posix/io/sync/fdatasync")

    def test_log_write_fails(self):
        self.broken_forever("posix/io/rw/pwrite")

    def test_short_writes(self):
        """Every write and pwrite may transfer less than asked (libfiu's
        .../reduce points): the log and the snapshots come out whole."""
        s = self.fiu_server()
        self.fiu(s, "enable_random name=posix/io/rw/pwrite/reduce,probability=0.5",
                 "enable_random name=posix/io/rw/write/reduce,probability=0.5")
        A = s.create_company()
        g = s.create_gateway()
        drivers = [s.create_driver(plate="贵G%05d" % i, position=GUIYANG) for i in range(10)]
        ts, acked, refused, other = self.writers_until_refused(s, A)
        now = int(time.time())
        for k in range(20):
            batch = [{"driver_id": d["id"], "lat": 26 + k * 0.01, "lon": 106 + i * 0.01, "ts": now + 1 + k}
                     for i, d in enumerate(drivers)]
            self.assertStatus(s.post("/v1/positions", {"positions": batch}, token=g["token"]), 200)
            if k % 5 == 0:
                s.snapshot()
        time.sleep(0.5)
        s.kill9()
        for t in ts:
            t.join(20)
        self.assertEqual(other, [])
        self.assertEqual(refused[0], 0, "a short write was taken for a failure")
        self.assertGreater(len(acked), 20)
        s.wrapper = []
        s.start()
        self.assertNotIn("corrupt", s.output_since_start())
        for lid, body in acked.items():
            self.assertEqual(self.assertStatus(s.get("/v1/loads/%d" % lid, token="admin"), 200)["notes"],
                             body["notes"])
        for d in drivers:
            self.assertEqual(s.get("/v1/drivers/%d" % d["id"], token="admin").body["position"]["ts"], now + 20)

    def test_snapshot_fsync_fails(self):
        """fsync (snapshots and new segments; the log itself uses fdatasync)
        fails: the snapshot fails cleanly, the log is not broken, writes go
        on, and the next snapshot after the fault works."""
        s = self.fiu_server()
        A = s.create_company()
        loads = [s.create_load(A, notes="s %d" % i) for i in range(10)]
        self.fiu(s, "enable name=posix/io/sync/fsync,failinfo=5")
        r = s.post("/v1/admin/snapshot", token="admin")
        self.assertNotEqual(r.status, 200, "a snapshot whose fsync failed was reported written")
        self.assertIs(s.get("/healthz").body["writable"], True)
        loads.append(s.create_load(A, notes="after the failed snapshot"))
        self.fiu(s, "disable name=posix/io/sync/fsync")
        s.snapshot()
        loads.append(s.create_load(A, notes="after the snapshot"))
        state = dump_state(s)
        s.wrapper = []
        s.restart(kill=True)
        self.assertEqual(dump_state(s), state)


class ClockJumps(E2ETestCase):
    """The wall clock jumps a day back and two days forward while the server
    runs (libfaketime, Debian faketime, with a timestamp file re-read on every
    call; the monotonic clock is left alone, as a real clock step leaves it):
    ids and log order follow the requests, trips and ratings go on, the
    newest position report (by its own ts) wins, the snapshot timer keeps
    running, and a crash and restart give back exactly the same state."""

    e2e_weight = 1.5

    def setUp(self):
        super().setUp()
        import glob
        libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
        if not libs:
            self.skipTest("faketime is not installed (scripts/deps.sh installs it)")
        self.lib = libs[0]

    def jump(self, spec):
        with open(self.clock_file, "w") as f:
            f.write(spec + "\n")
        self.offset = {"+0": 0, "-1d": -86400, "+1d": 86400}[spec]

    def load(self, s, company, **kw):
        """A load whose pickup window is in the server's (shifted) future."""
        return s.create_load(company, earliest_in=self.offset + 3600, latest_in=self.offset + 86400, **kw)

    def server_now(self, s, company):
        """The server's clock, read from the created_at of a new load."""
        return self.load(s, company, notes="clock probe")

    def test_clock_jumps(self):
        s = self.start_server("--rate-limit", "50", "--rate-burst", "1000", "--snapshot-every-mb", "0.02", start=False)
        self.clock_file = os.path.join(s.base_dir, "faketime")
        self.jump("+0")
        s.env_extra.update({"LD_PRELOAD": self.lib, "FAKETIME_TIMESTAMP_FILE": self.clock_file,
                            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                            "ASAN_OPTIONS": "abort_on_error=0:detect_leaks=1:verify_asan_link_order=0"})
        s.start()
        A = s.create_company()
        g = s.create_gateway()
        drivers = [s.create_driver(plate="贵H%05d" % i, truck_type="van") for i in range(6)]
        real = int(time.time())
        for d in drivers:
            s.set_position(d, GUIYANG, ts=real)
        loads = [self.load(s, A, notes="before")]
        b0 = s.book(drivers[0], self.load(s, A, types=["van"]))

        self.jump("-1d")
        probe = self.server_now(s, A)
        self.assertLess(abs(probe["created_at"] - (time.time() - 86400)), 60, "the server's clock did not jump back")
        loads.append(probe)
        # The trip goes on; a report older than the last one does not move the truck.
        self.assertStatus(s.post("/v1/bookings/%d/pickup" % b0["id"], token=drivers[0]["token"]), 200)
        s.set_position(drivers[1], KUNMING, ts=probe["created_at"])
        p = s.get("/v1/drivers/%d" % drivers[1]["id"], token="admin").body["position"]
        self.assertEqual((p["ts"], p["lat"]), (real, GUIYANG[0]), "an older report moved the truck")
        b1 = s.book(drivers[2], self.load(s, A, types=["van"]))
        # The snapshot timer still runs: enough log for an automatic snapshot.
        snaps = self.snapshots(s)
        for k in range(8):
            batch = [{"driver_id": d["id"], "lat": 26 + k * 0.01, "lon": 106, "ts": probe["created_at"] - 100 + k}
                     for d in drivers[3:] for _ in range(40)]
            self.assertStatus(s.post("/v1/positions", {"positions": batch}, token=g["token"]), 200)
        deadline = time.monotonic() + 6
        while self.snapshots(s) <= snaps and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreater(self.snapshots(s), snaps, "no automatic snapshot after the clock went back")

        self.jump("+1d")
        probe2 = self.server_now(s, A)
        self.assertLess(abs(probe2["created_at"] - (time.time() + 86400)), 60, "the server's clock did not jump ahead")
        loads.append(probe2)
        self.assertStatus(s.post("/v1/bookings/%d/deliver" % b0["id"], token=drivers[0]["token"]), 200)
        self.assertStatus(s.post("/v1/bookings/%d/rating" % b0["id"], {"stars": 5}, token=A["token"]), 201)
        self.assertStatus(s.post("/v1/bookings/%d/cancel" % b1["id"], token=A["token"]), 200)
        s.set_position(drivers[1], SHANGHAI, ts=probe2["created_at"])
        p = s.get("/v1/drivers/%d" % drivers[1]["id"], token="admin").body["position"]
        self.assertEqual(p["ts"], probe2["created_at"])

        self.jump("-1d")
        loads.append(self.server_now(s, A))
        ids = [l["id"] for l in loads]
        self.assertEqual(ids, sorted(ids), "ids do not follow the order of the requests")
        self.assertEqual(s.get("/v1/bookings/%d" % b0["id"], token="admin").body["status"], "delivered")
        state = dump_state(s)
        s.restart(kill=True)
        self.assertEqual(dump_state(s), state, "the state changed across a restart after clock jumps")
        s.restart()
        self.assertEqual(dump_state(s), state)

    def snapshots(self, s):
        import re
        m = re.search(r"(?m)^freightd_snapshots_total (\d+)", s.get("/metrics").body)
        return int(m.group(1))
