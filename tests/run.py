#!/usr/bin/env python3
"""memtrace's test runner: unit-test binaries, then end-to-end tests.

    python3 tests/run.py --memtrace PATH --workloads DIR [--unit DIR]
                         [--asan-memtrace PATH] [-k PATTERN] [--only-unit]
                         [--timeout SEC]

Unit tests: every executable file named test_* in the --unit directory.
Each prints "ok - ..." / "not ok - ..." lines and exits non-zero on
failure; each binary counts as ONE test (it fails if it exits non-zero or
prints a "not ok" line), named unit/<file>.

End-to-end tests: every function named test_* in tests/e2e/test_*.py, in
file order, named <module>::<function>.  Each runs with a timeout (60 s,
or the function's own `timeout` attribute, see mtlib.timeout); a test
raising mtlib.Skip is skipped, one raising anything else fails.  They need
root (memtrace does); run as another user they are skipped.

With --asan-memtrace (memtrace built with AddressSanitizer/UBSan), every
end-to-end test runs once more against that binary, named
asan/<module>::<function> (except the few marked mtlib.not_asan, which say
why); they also fail if a sanitizer reported anything on memtrace's stderr.

-k PATTERN keeps the tests whose name contains PATTERN (or matches it as a
shell pattern if it has * ? or [).

One line per test as it goes: "PASS name (1.2s)", "FAIL name: reason"
(then details and memtrace's stderr tail), "SKIP name: reason"; at the
end exactly one line "N passed, N failed" (", N skipped" added if any).
Exit status 0 only if no test failed.
"""

import argparse
import fnmatch
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
E2E_DIR = os.path.join(HERE, "e2e")


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def report(self, name, outcome, seconds=None, reason="", details=""):
        if outcome == "pass":
            self.passed += 1
            print("PASS %s (%.1fs)" % (name, seconds), flush=True)
        elif outcome == "skip":
            self.skipped += 1
            print("SKIP %s: %s" % (name, reason), flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, reason), flush=True)
        if details:
            print(indent(details), flush=True)

    def summary(self):
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        return line


def indent(text, prefix="    "):
    return "\n".join(prefix + l for l in text.rstrip("\n").splitlines())


def selected(name, pattern):
    if not pattern:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatch(name, pattern)
    return pattern in name


# ---------------------------------------------------------------- unit tests

def run_unit_tests(unit_dir, pattern, timeout, tally):
    if not os.path.isdir(unit_dir):
        tally.report("unit", "fail", reason="no unit-test directory %s" % unit_dir)
        return
    for entry in sorted(os.listdir(unit_dir)):
        path = os.path.join(unit_dir, entry)
        name = "unit/" + entry
        if not entry.startswith("test_") or not os.path.isfile(path) \
                or not os.access(path, os.X_OK) or not selected(name, pattern):
            continue
        start = time.monotonic()
        proc = subprocess.Popen([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, cwd=unit_dir,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            status = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            status = None
        out = out.decode("utf-8", "replace")
        seconds = time.monotonic() - start
        not_ok = [l for l in out.splitlines() if l.startswith("not ok")]
        oks = [l for l in out.splitlines() if l.startswith("ok")]
        if status is None:
            tally.report(name, "fail", reason="timed out after %d s" % timeout,
                         details="\n".join(out.splitlines()[-15:]))
        elif status != 0 or not_ok:
            reason = "exit status %d, %d not ok" % (status, len(not_ok))
            details = "\n".join(not_ok[:20]) or "\n".join(out.splitlines()[-15:])
            tally.report(name, "fail", reason=reason, details=details)
        else:
            tally.report(name, "pass", seconds)
            if not oks:
                print(indent("note: printed no 'ok' line"), flush=True)


# ---------------------------------------------------------------- e2e tests

def collect_e2e(tally):
    """[(name, function)] in file order; import errors count as failures."""
    tests = []
    for entry in sorted(os.listdir(E2E_DIR)):
        if not (entry.startswith("test_") and entry.endswith(".py")):
            continue
        modname = entry[:-3]
        try:
            module = importlib.import_module(modname)
        except Exception:
            tally.report(modname, "fail", reason="cannot import",
                         details=traceback.format_exc(limit=5))
            continue
        # vars() keeps definition order; skip functions imported from elsewhere.
        for fname, fn in vars(module).items():
            if fname.startswith("test_") and callable(fn) \
                    and getattr(fn, "__module__", None) == modname:
                tests.append(("%s::%s" % (modname, fname), fn))
    return tests


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: AddressSanitizer")


def run_one_e2e(name, fn, default_timeout, tally, mtlib, skip_reason, sanitized=False):
    if skip_reason:
        tally.report(name, "skip", reason=skip_reason)
        return
    timeout = getattr(fn, "timeout", default_timeout)
    if sanitized:
        timeout *= 2      # the sanitizer build is slower
    mtlib.runs_seen.clear()
    del mtlib.notes[:]
    mtlib.test_deadline = time.monotonic() + timeout
    outcome = {}

    def body():
        try:
            fn()
            outcome["result"] = ("pass", "", "")
        except mtlib.Skip as e:
            outcome["result"] = ("skip", str(e), "")
        except AssertionError as e:
            msg = str(e) or "assertion failed"
            first, _, rest = msg.partition("\n")
            outcome["result"] = ("fail", first, rest)
        except Exception as e:
            outcome["result"] = ("fail", "%s: %s" % (type(e).__name__, e),
                                 traceback.format_exc(limit=6))

    start = time.monotonic()
    worker = threading.Thread(target=body, daemon=True)
    worker.start()
    # The test's own waits end at its deadline; the grace period is for
    # them to report, after which everything it started is killed.
    worker.join(timeout + 5)
    if worker.is_alive():
        mtlib.kill_all()
        worker.join(10)
        result = ("fail", "timed out after %d s" % timeout, "")
    else:
        result = outcome.get("result", ("fail", "test ended without a result", ""))
    mtlib.kill_all()      # nothing a test started outlives it
    seconds = time.monotonic() - start

    kind, reason, details = result
    if sanitized and kind != "skip":
        dirty = [run for run in mtlib.runs_seen
                 if any(m in (run.mt_stderr or "") for m in SANITIZER_MARKS)]
        if dirty:
            kind = "fail"
            reason = "sanitizer report on memtrace's stderr" + (" (and: %s)" % reason
                                                              if reason else "")
    if kind == "fail":
        extra = [details] if details else []
        for run in [r for r in mtlib.runs_seen if r.argv]:
            tail = run.stderr_tail() if run.mt_stderr else "(no stderr)"
            extra.append("memtrace stderr tail [%s]:\n%s"
                         % (" ".join(run.argv or []), indent(tail, "  ")))
        tally.report(name, "fail", reason=reason, details="\n".join(extra))
    else:
        tally.report(name, kind, seconds, reason=reason)
    for n in mtlib.notes:
        print(indent("note: " + n), flush=True)


def main():
    ap = argparse.ArgumentParser(description="Run memtrace's unit and end-to-end tests.")
    ap.add_argument("--memtrace", help="memtrace binary to test")
    ap.add_argument("--workloads", help="directory of the built test workloads")
    ap.add_argument("--asan-memtrace",
                    help="memtrace built with sanitizers: run the end-to-end tests again with it")
    ap.add_argument("--unit", help="directory of unit-test binaries (test_*)")
    ap.add_argument("-k", dest="pattern", help="only tests whose name contains PATTERN")
    ap.add_argument("--only-unit", action="store_true", help="run the unit tests only")
    ap.add_argument("--timeout", type=float, default=60,
                    help="default per-test timeout in seconds (60)")
    args = ap.parse_args()
    if not args.only_unit and (not args.memtrace or not args.workloads):
        ap.error("--memtrace and --workloads are needed unless --only-unit")

    tally = Tally()
    if args.unit:
        # Unit tests run from their own directory: the path must not depend on ours.
        run_unit_tests(os.path.abspath(args.unit), args.pattern, args.timeout, tally)

    if not args.only_unit:
        sys.path.insert(0, E2E_DIR)
        import mtlib
        mtlib.config.memtrace = os.path.abspath(args.memtrace)
        mtlib.config.workloads = os.path.abspath(args.workloads)
        skip_reason = None
        if os.geteuid() != 0:
            skip_reason = "needs root (memtrace loads BPF programs)"
        tests = collect_e2e(tally)
        for name, fn in tests:
            if selected(name, args.pattern):
                run_one_e2e(name, fn, args.timeout, tally, mtlib, skip_reason)
        if args.asan_memtrace:
            mtlib.config.memtrace = os.path.abspath(args.asan_memtrace)
            for name, fn in tests:
                name = "asan/" + name
                if not getattr(fn, "not_asan", None) and selected(name, args.pattern):
                    run_one_e2e(name, fn, args.timeout, tally, mtlib, skip_reason,
                                sanitized=True)

    print(tally.summary(), flush=True)
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
