"""test_concurrency.py — exactly one booking wins a load, however many
drivers race for it, and the outcome survives a restart (clean or kill -9);
other conflicting writes released together (cancel against book, pickup
against cancel, one driver booking many loads, double ratings, concurrent
creates) also have exactly one winner and a state that matches the answers.

Every racing thread has its own connection, opened before the start line
(a threading.Barrier), so the requests reach the server together.
"""
import json
import random
import threading
import time

from harness import GUIYANG, E2ETestCase, dump_state, load_body, offset_point

N_DRIVERS = 100


def race(server, calls, body=None):
    """Runs calls [(method, path, token)] from one thread each, released
    together; returns [(status, parsed body)] in the same order.  body, when
    given, is sent as JSON (bytes are sent as they are) on every call."""
    if body is None:
        data, ctype = b"", {}
    else:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        ctype = {"Content-Type": "application/json"}
    results = [None] * len(calls)
    conns = [server.connection(timeout=60) for _ in calls]
    for c in conns:
        c.connect()
    barrier = threading.Barrier(len(calls))

    def run(i):
        method, path, token = calls[i]
        c = conns[i]
        try:
            barrier.wait(timeout=30)
            headers = {"Authorization": "Bearer " + token, "Content-Length": str(len(data))}
            headers.update(ctype)
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            results[i] = (r.status, json.loads(raw) if raw else None)
        except Exception as e:  # reported by the caller
            results[i] = ("exception", repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class BookingRace(E2ETestCase):
    e2e_weight = 5.0

    def setUp(self):
        super().setUp()
        s = self.s = self.start_server("--rate-limit", "0")
        self.A = s.create_company(name="抢单测试公司", kind="shipper")
        rng = random.Random(7)
        self.drivers = []
        now = int(time.time())
        for i in range(N_DRIVERS):
            d = s.create_driver(name="司机%03d" % i, plate="贵A%05d" % i, truck_type="van", capacity_t=20)
            self.drivers.append(d)
        # Positioned (one gateway batch), all near the pickup point.
        g = s.create_gateway()
        batch = []
        for d in self.drivers:
            p = offset_point(GUIYANG, rng.uniform(-20, 20), rng.uniform(-20, 20))
            batch.append({"driver_id": d["id"], "lat": p[0], "lon": p[1], "ts": now})
        r = s.post("/v1/positions", {"positions": batch}, token=g["token"])
        self.assertEqual(self.assertStatus(r, 200)["accepted"], N_DRIVERS)

    def check_single_winner(self, load_id, results, racers):
        statuses = [r[0] for r in results]
        wins = [i for i, r in enumerate(results) if r[0] == 201]
        self.assertEqual(len(wins), 1, "want exactly one 201, got statuses %s" % sorted(statuses, key=str))
        losers = [r for r in results if r[0] != 201]
        self.assertEqual(len(losers), len(racers) - 1)
        for st, body in losers:
            self.assertEqual(st, 409, (st, body))
            self.assertEqual(body["error"]["code"], "already_booked", body)
        winner = racers[wins[0]]
        booking = results[wins[0]][1]
        self.assertEqual(booking["driver_id"], winner["id"])
        self.assertEqual(booking["load_id"], load_id)
        return winner, booking

    def check_state(self, load_id, winner, booking, racers):
        s = self.s
        l = s.get("/v1/loads/%d" % load_id, token="admin").body
        self.assertEqual((l["status"], l["booking_id"]), ("booked", booking["id"]))
        b = s.get("/v1/bookings/%d" % booking["id"], token="admin").body
        self.assertEqual(b["driver_id"], winner["id"])
        self.assertEqual(b["load_id"], load_id)
        self.assertEqual(s.get("/v1/bookings/%d" % (booking["id"] + 1), token="admin").status, 404,
                         "a second booking exists")
        on_trip = [d["id"] for d in racers
                   if s.get("/v1/drivers/%d" % d["id"], token="admin").body["status"] == "on_trip"]
        self.assertEqual(on_trip, [winner["id"]])

    def test_100_drivers_one_load(self):
        s = self.s
        load = s.create_load(self.A, weight_t=10)
        results = race(s, [("POST", "/v1/loads/%d/book" % load["id"], d["token"]) for d in self.drivers])
        winner, booking = self.check_single_winner(load["id"], results, self.drivers)
        self.check_state(load["id"], winner, booking, self.drivers)
        before = dump_state(s)
        s.restart()
        self.check_state(load["id"], winner, booking, self.drivers)
        self.assertEqual(dump_state(s), before)
        s.restart(kill=True)
        self.check_state(load["id"], winner, booking, self.drivers)
        self.assertEqual(dump_state(s), before)
        # The winner may not book again; the others still can book other loads.
        other = s.create_load(self.A, weight_t=10)
        self.assertStatus(s.post("/v1/loads/%d/book" % other["id"], token=winner["token"]), 409, "driver_on_trip")
        loser = [d for d in self.drivers if d["id"] != winner["id"]][0]
        self.assertStatus(s.post("/v1/loads/%d/book" % other["id"], token=loser["token"]), 201)

    def test_100_drivers_ten_loads(self):
        """Every driver tries the loads in its own order until one succeeds:
        each load is booked once, no driver holds two bookings."""
        s = self.s
        loads = [s.create_load(self.A, weight_t=5) for _ in range(10)]
        conns = [s.connection(timeout=60) for _ in self.drivers]
        for c in conns:
            c.connect()
        barrier = threading.Barrier(len(self.drivers))
        outcomes = [None] * len(self.drivers)

        def run(i):
            d, c = self.drivers[i], conns[i]
            order = [l["id"] for l in loads]
            random.Random(i).shuffle(order)
            got = []
            try:
                barrier.wait(timeout=30)
                for lid in order:
                    c.request("POST", "/v1/loads/%d/book" % lid, body=b"",
                              headers={"Authorization": "Bearer " + d["token"], "Content-Length": "0"})
                    r = c.getresponse()
                    body = json.loads(r.read())
                    got.append((lid, r.status, body))
                    if r.status == 201:
                        break
                outcomes[i] = got
            except Exception as e:
                outcomes[i] = repr(e)
            finally:
                c.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(self.drivers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        winners = {}
        for i, got in enumerate(outcomes):
            self.assertIsInstance(got, list, got)
            wins = [(lid, body) for lid, st, body in got if st == 201]
            self.assertLessEqual(len(wins), 1)
            for lid, st, body in got:
                if st != 201:
                    self.assertEqual((st, body["error"]["code"]), (409, "already_booked"), body)
            for lid, body in wins:
                self.assertNotIn(lid, winners, "load %d booked twice" % lid)
                self.assertEqual(body["driver_id"], self.drivers[i]["id"])
                winners[lid] = (self.drivers[i]["id"], body["id"])
        self.assertEqual(sorted(winners), sorted(l["id"] for l in loads))
        booking_ids = sorted(b for _, b in winners.values())
        self.assertEqual(booking_ids, list(range(1, 11)))

        def verify():
            for lid, (did, bid) in winners.items():
                l = s.get("/v1/loads/%d" % lid, token="admin").body
                self.assertEqual((l["status"], l["booking_id"]), ("booked", bid))
                self.assertEqual(s.get("/v1/bookings/%d" % bid, token="admin").body["driver_id"], did)
            self.assertEqual(s.get("/v1/bookings/11", token="admin").status, 404)
            on_trip = sorted(d["id"] for d in self.drivers
                             if s.get("/v1/drivers/%d" % d["id"], token="admin").body["status"] == "on_trip")
            self.assertEqual(on_trip, sorted(did for did, _ in winners.values()))

        verify()
        s.restart(kill=True)
        verify()


class StateRaces(E2ETestCase):
    """Two or more conflicting writes released together: exactly one wins,
    and the state is what the winner's answer says."""
    e2e_weight = 3.0

    def setUp(self):
        super().setUp()
        s = self.s = self.start_server("--rate-limit", "0")
        self.A = s.create_company(name="竞态公司", kind="shipper")
        self.drivers = [s.create_driver(name="司机%d" % i, plate="贵R%05d" % i, position=GUIYANG)
                        for i in range(10)]

    def test_cancel_load_versus_book(self):
        s = self.s
        outcomes = {"cancelled": 0, "booked": 0}
        for rnd in range(15):
            load = s.create_load(self.A)
            calls = [("DELETE", "/v1/loads/%d" % load["id"], self.A["token"])]
            calls += [("POST", "/v1/loads/%d/book" % load["id"], d["token"]) for d in self.drivers[:6]]
            res = race(s, calls)
            cancel, books = res[0], res[1:]
            won = [i for i, r in enumerate(books) if r[0] == 201]
            l = s.get("/v1/loads/%d" % load["id"], token="admin").body
            if cancel[0] == 200:
                self.assertEqual(won, [], res)
                self.assertEqual(l["status"], "cancelled")
                for st, body in books:
                    self.assertEqual((st, body["error"]["code"]), (409, "load_not_open"), res)
                outcomes["cancelled"] += 1
            else:
                self.assertEqual((cancel[0], cancel[1]["error"]["code"]), (409, "already_booked"), res)
                self.assertEqual(len(won), 1, res)
                self.assertEqual(l["status"], "booked")
                self.assertEqual(l["booking_id"], books[won[0]][1]["id"])
                outcomes["booked"] += 1
                # Free the winner for the next round.
                b = books[won[0]][1]
                self.assertStatus(s.post("/v1/bookings/%d/cancel" % b["id"], token=self.A["token"]), 200)
        print("cancel-versus-book outcomes: %s" % outcomes)

    def test_pickup_versus_cancel(self):
        s = self.s
        d = self.drivers[0]
        for rnd in range(15):
            load = s.create_load(self.A)
            b = s.book(d, load)
            res = race(s, [("POST", "/v1/bookings/%d/pickup" % b["id"], d["token"]),
                           ("POST", "/v1/bookings/%d/cancel" % b["id"], self.A["token"]),
                           ("POST", "/v1/bookings/%d/cancel" % b["id"], d["token"])])
            ok = [i for i, r in enumerate(res) if r[0] == 200]
            self.assertEqual(len(ok), 1, res)
            for i, (st, body) in enumerate(res):
                if i not in ok:
                    self.assertEqual((st, body["error"]["code"]), (409, "invalid_transition"), res)
            got = s.get("/v1/bookings/%d" % b["id"], token="admin").body
            self.assertEqual(got["status"], res[ok[0]][1]["status"])
            if got["status"] == "picked_up":
                self.assertStatus(s.post("/v1/bookings/%d/deliver" % b["id"], token=d["token"]), 200)
            self.assertEqual(s.get("/v1/drivers/%d" % d["id"], token="admin").body["status"], "available")

    def test_one_driver_books_many_loads_at_once(self):
        s = self.s
        d = self.drivers[1]
        loads = [s.create_load(self.A) for _ in range(12)]
        res = race(s, [("POST", "/v1/loads/%d/book" % l["id"], d["token"]) for l in loads])
        won = [i for i, r in enumerate(res) if r[0] == 201]
        self.assertEqual(len(won), 1, res)
        for i, (st, body) in enumerate(res):
            if i != won[0]:
                self.assertEqual((st, body["error"]["code"]), (409, "driver_on_trip"), res)
                self.assertEqual(s.get("/v1/loads/%d" % loads[i]["id"], token="admin").body["status"], "open")
        drv = s.get("/v1/drivers/%d" % d["id"], token="admin").body
        self.assertEqual((drv["status"], drv["booking_id"]), ("on_trip", res[won[0]][1]["id"]))

    def test_double_rating(self):
        s = self.s
        d = self.drivers[2]
        b = s.book(d, s.create_load(self.A))
        for step in ("pickup", "deliver"):
            self.assertStatus(s.post("/v1/bookings/%d/%s" % (b["id"], step), token=d["token"]), 200)
        calls = []
        for tok in (self.A["token"], d["token"]):
            calls += [("POST", "/v1/bookings/%d/rating" % b["id"], tok)] * 5
        res = race(s, calls, {"stars": 4})
        for side in (res[:5], res[5:]):
            self.assertEqual(sorted(r[0] for r in side), [201, 409, 409, 409, 409], res)
        got = s.get("/v1/bookings/%d" % b["id"], token="admin").body
        self.assertEqual(got["rating_by_company"]["stars"], 4)
        self.assertEqual(got["rating_by_driver"]["stars"], 4)
        self.assertEqual(s.get("/v1/drivers/%d" % d["id"], token="admin").body["rating_count"], 1)
        self.assertEqual(s.get("/v1/companies/%d" % self.A["id"], token="admin").body["rating_count"], 1)

    def test_concurrent_creates_get_distinct_contiguous_ids(self):
        s = self.s
        companies = [s.create_company(name="并发%d" % i) for i in range(5)]
        body = json.dumps(load_body()).encode()
        calls = [("POST", "/v1/loads", companies[i % 5]["token"]) for i in range(60)]
        res = race(s, calls, body)
        self.assertTrue(all(r[0] == 201 for r in res), res)
        ids = sorted(r[1]["id"] for r in res)
        self.assertEqual(ids, list(range(1, 61)))
        for (m, p, tok), (st, l) in zip(calls, res):
            owner = [c for c in companies if c["token"] == tok][0]
            self.assertEqual(l["company_id"], owner["id"])
            self.assertEqual(s.get("/v1/loads/%d" % l["id"], token="admin").body["company_id"], owner["id"])
        before = dump_state(s)
        s.restart(kill=True)
        self.assertEqual(dump_state(s), before)
