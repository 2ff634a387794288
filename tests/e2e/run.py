#!/usr/bin/env python3
"""run.py — the end-to-end test runner (`make e2e`).

    python3 tests/e2e/run.py [-k SUBSTRING]... [-j JOBS] [-v] [--list]

Discovers tests/e2e/test_*.py, runs every unittest TestCase class in its own
worker process (JOBS at a time, default 2; the slowest classes first), and
ends with exactly one line "N passed, N failed" (", N skipped" when some
were skipped).  Exits 1 when any test failed.  -k keeps the tests whose id
("module.Class.test_name") contains SUBSTRING (any of them, when repeated).

Each worker has a time budget (FREIGHTD_E2E_UNIT_TIMEOUT, default 240 s);
a worker that runs over is killed with its process group (the servers it
started) and its unfinished tests count as failed.  The server binary comes
from FREIGHTD_BIN (default: bin/freightd at the repository root).
"""
import argparse
import glob
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
if E2E_DIR not in sys.path:
    sys.path.insert(0, E2E_DIR)


def discover(patterns):
    """Returns [(unit, weight, [test ids])] for every class with selected tests."""
    loader = unittest.TestLoader()
    units = []
    for path in sorted(glob.glob(os.path.join(E2E_DIR, "test_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        mod = importlib.import_module(modname)
        for name in sorted(dir(mod)):
            cls = getattr(mod, name)
            if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)) or cls.__module__ != modname:
                continue
            ids = ["%s.%s.%s" % (modname, name, m) for m in loader.getTestCaseNames(cls)]
            if patterns:
                ids = [i for i in ids if any(p in i for p in patterns)]
            if ids:
                units.append(("%s.%s" % (modname, name), getattr(cls, "e2e_weight", 1.0), ids))
    return units


class RecordingResult(unittest.TestResult):
    """Records one entry per test: id, outcome, seconds, details."""

    def __init__(self):
        super().__init__()
        self.records = []
        self._t0 = {}

    def startTest(self, test):
        super().startTest(test)
        self._t0[test.id()] = time.monotonic()
        print("[start] %s" % test.id(), flush=True)

    def _rec(self, test, outcome, details=""):
        t0 = self._t0.get(test.id(), time.monotonic())
        self.records.append({"id": test.id(), "outcome": outcome, "seconds": round(time.monotonic() - t0, 3),
                             "details": details})

    def _details(self, test, err):
        text = self._exc_info_to_string(err, test)
        logs = ""
        if hasattr(test, "server_logs"):
            try:
                logs = test.server_logs()
            except Exception:  # the logs are a courtesy
                logs = "(could not read the server logs: %s)" % traceback.format_exc(limit=1)
        return text + ("\n" + logs if logs else "")

    def addSuccess(self, test):
        super().addSuccess(test)
        self._rec(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._rec(test, "failed", self._details(test, err))

    def addError(self, test, err):
        super().addError(test, err)
        # setUpClass errors arrive with a _ErrorHolder, not a test.
        self._rec(test, "failed", self._details(test, err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._rec(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._rec(test, "passed", "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._rec(test, "failed", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._rec(subtest, "failed", "in %s\n%s" % (subtest, self._details(subtest, err)))


def worker(ids, out_path, budget):
    import faulthandler
    faulthandler.dump_traceback_later(max(5, budget - 10), exit=False)  # where a hung test hangs
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for tid in ids:
        suite.addTest(loader.loadTestsFromName(tid))
    result = RecordingResult()
    try:
        suite.run(result)
    finally:
        # A test with failing subtests also reports success at its end: keep
        # one record per id, failed if any part failed.
        merged = {}
        for r in result.records:
            key = r["id"].split(" ", 1)[0]
            m = merged.setdefault(key, {"id": key, "outcome": r["outcome"], "seconds": 0.0, "details": ""})
            if r["outcome"] == "failed":
                m["outcome"] = "failed"
                m["details"] += r["details"] + "\n"
            elif m["outcome"] != "failed":
                m["outcome"] = r["outcome"]
                m["details"] = r["details"]
            m["seconds"] = max(m["seconds"], r["seconds"])
        with open(out_path, "w") as f:
            json.dump(list(merged.values()), f)


def main():
    ap = argparse.ArgumentParser(description="freightd end-to-end tests")
    ap.add_argument("-k", action="append", default=[], help="run the tests whose id contains this")
    ap.add_argument("-j", type=int, default=int(os.environ.get("FREIGHTD_E2E_JOBS", "2")), help="parallel workers")
    ap.add_argument("-v", action="store_true", help="print every worker's output")
    ap.add_argument("--list", action="store_true", help="list the selected tests and exit")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    budget = float(os.environ.get("FREIGHTD_E2E_UNIT_TIMEOUT", "240"))

    if args.worker:
        worker(args.worker, args.out, budget)
        return 0

    try:
        units = discover(args.k)
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    if args.list:
        for _, _, ids in units:
            for i in ids:
                print(i)
        n = sum(len(ids) for _, _, ids in units)
        print("%d tests selected" % n)
        return 0

    from harness import freightd_bin
    if not os.access(freightd_bin(), os.X_OK):
        print("freightd binary not found at %s (run make, or set FREIGHTD_BIN)" % freightd_bin())
        print("0 passed, 1 failed")
        return 1

    units.sort(key=lambda u: -u[1])
    tmp = tempfile.mkdtemp(prefix="freightd-e2e-run-")
    pending = list(units)
    running = []  # (unit, ids, proc, out_path, log_path, t0)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures = []
    t_start = time.monotonic()

    def finish(unit, ids, proc, out_path, log_path, t0, timed_out):
        records = []
        if os.path.exists(out_path):
            try:
                with open(out_path) as f:
                    records = json.load(f)
            except ValueError:
                records = []
        with open(log_path, errors="replace") as f:
            log = f.read()
        seen = {r["id"] for r in records}
        for tid in ids:
            if tid not in seen:
                why = "timed out after %.0f s" % budget if timed_out else "worker exited with %s" % proc.returncode
                records.append({"id": tid, "outcome": "failed", "seconds": 0.0,
                                "details": "%s before this test finished\n---- worker output (tail) ----\n%s" %
                                           (why, "\n".join(log.splitlines()[-80:]))})
        unit_failed = False
        for r in records:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
            mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}[r["outcome"]]
            extra = (" — " + r["details"]) if r["outcome"] == "skipped" else ""
            print("%s %s (%.2fs)%s" % (mark, r["id"], r["seconds"], extra), flush=True)
            if r["outcome"] == "failed":
                unit_failed = True
                failures.append(r)
        if args.v or (unit_failed and not timed_out):
            noisy = [ln for ln in log.splitlines() if not ln.startswith("[start] ")]
            if noisy:
                print("---- output of %s ----\n%s" % (unit, "\n".join(noisy[-200:])), flush=True)

    try:
        while pending or running:
            while pending and len(running) < max(1, args.j):
                unit, _, ids = pending.pop(0)
                out_path = os.path.join(tmp, unit + ".json")
                log_path = os.path.join(tmp, unit + ".log")
                log = open(log_path, "wb")
                proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"] + ids +
                                        ["--out", out_path], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True, cwd=E2E_DIR)
                log.close()
                running.append((unit, ids, proc, out_path, log_path, time.monotonic()))
            time.sleep(0.05)
            still = []
            for entry in running:
                unit, ids, proc, out_path, log_path, t0 = entry
                timed_out = False
                if proc.poll() is None:
                    if time.monotonic() - t0 < budget:
                        still.append(entry)
                        continue
                    timed_out = True
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)  # the worker and the servers it started
                    except ProcessLookupError:
                        pass
                    proc.wait()
                finish(unit, ids, proc, out_path, log_path, t0, timed_out)
            running = still
    except KeyboardInterrupt:
        for unit, ids, proc, *_ in running:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker we started and its servers
            except ProcessLookupError:
                pass
            proc.wait()
            counts["failed"] += len(ids)
        print("\ninterrupted")
        print("%d passed, %d failed" % (counts["passed"], counts["failed"] + sum(len(u[2]) for u in pending)), flush=True)
        return 130

    if failures:
        print("\n==================== failures ====================")
        for r in failures:
            print("\n---- %s ----\n%s" % (r["id"], r["details"].rstrip()))
        print()
    print("e2e: %d test classes, %.1f s, binary %s" % (len(units), time.monotonic() - t_start, freightd_bin()))
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    line = "%d passed, %d failed" % (counts["passed"], counts["failed"])
    if counts["skipped"]:
        line += ", %d skipped" % counts["skipped"]
    print(line, flush=True)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
