"""Threads, high-rate churn, C++, and a process that exits right after leaking."""

import os

import mtlib
from mtlib import Checks, one_stack, stacks_with_innermost, stacks_containing, sum_stacks
from test_family import fig


def test_threads():
    """4 threads x 250 leaks of 128 B from leak_in_thread, and 4 x 10000
    malloc/free pairs from free_in_thread."""
    run = mtlib.run_attached("threads")
    rep = run.report
    proc = mtlib.find_process(rep, pid=run.wl_pid)
    c = Checks()
    c.eq(rep.get("lost_events"), 0, "lost_events")
    for fn, exp in (("leak_in_thread", fig(128000, 1000, 128000, 1000, 0)),
                    ("free_in_thread", fig(0, 0, 8000000, 40000, 40000))):
        # Past glibc's start_thread (no frame pointer) the walk may differ
        # between threads: one stack per thread is fine, so sum them.
        stacks = stacks_with_innermost(proc, fn)
        if not c.true(stacks, "no stack with innermost frame " + fn):
            continue
        c.figures(sum_stacks(stacks), exp, fn + " (all its stacks)")
        for s in stacks:
            c.eq(mtlib.frame_name((s.get("frames") or [{}, {}])[1]), "thread_main",
                 fn + " frames[1]")
        if len(stacks) > 1:
            mtlib.note("%s: %d stacks (they differ past thread_main)" % (fn, len(stacks)))
    c.finish(mtlib.describe_stacks(proc))


CHURN_PAIRS = 2000000


@mtlib.timeout(300)
def test_churn():
    """2 threads, 2,000,000 malloc/free pairs, 100 x 4096 B leaks mixed in."""
    run = mtlib.run_attached("churn", [str(CHURN_PAIRS)], timeout=240)
    rep = run.report
    proc = mtlib.find_process(rep, pid=run.wl_pid)
    heap = proc.get("heap") or {}
    lost = rep.get("lost_events") or 0
    c = Checks()

    elapsed = [l for l in run.wl_stdout if l.startswith("elapsed")]
    if elapsed:
        mtlib.note("churn under memtrace: " + elapsed[0])

    leaks = sum_stacks(stacks_with_innermost(proc, "leak_sprinkled"))
    churn = stacks_with_innermost(proc, "churn_l3")
    if lost == 0:
        c.eq((leaks["live_bytes"], leaks["live_allocs"]), (409600, 100),
             "leak_sprinkled live bytes/allocs")
        c.eq(leaks["frees_total"], 0, "leak_sprinkled frees_total")
        c.true((heap.get("allocs_total") or 0) >= CHURN_PAIRS + 100,
               "heap.allocs_total = %r, expected >= %d"
               % (heap.get("allocs_total"), CHURN_PAIRS + 100))
        got = sum_stacks(churn)
        c.eq((got["allocs_total"], got["frees_total"], got["live_allocs"], got["live_bytes"]),
             (CHURN_PAIRS, CHURN_PAIRS, 0, 0),
             "churn_l3 allocs_total, frees_total, live_allocs, live_bytes")
    else:
        # Events were lost: the figures can only be bounded.
        mtlib.note("churn: %d events lost; leak_sprinkled live_allocs %d"
                   % (lost, leaks["live_allocs"]))
        c.true(leaks["live_allocs"] <= 100 and leaks["live_allocs"] + lost >= 100,
               "leak_sprinkled live_allocs %d with %d lost events, expected <= 100 "
               "and live + lost >= 100" % (leaks["live_allocs"], lost))
        c.eq(leaks["live_bytes"], 4096 * leaks["live_allocs"], "leak_sprinkled live_bytes")
        c.true((heap.get("allocs_total") or 0) + lost >= CHURN_PAIRS,
               "heap.allocs_total %r + lost %d < %d"
               % (heap.get("allocs_total"), lost, CHURN_PAIRS))
    for s in churn[:1]:
        c.eq([f.get("function") for f in (s.get("frames") or [])[:5]],
             ["churn_l3", "churn_l2", "churn_l1", "churn_loop", "thread_main"],
             "churn_l3 innermost 5 frames")
    c.finish(mtlib.describe_stacks(proc))


GROW = "ns::Leaker::grow(unsigned long)"
ALLOCATOR_ENTRIES = {"malloc", "calloc", "realloc", "free", "operator new(unsigned long)",
                     "operator new[](unsigned long)"}


def test_cxx():
    """Demangled C++ names; operator new attributed to its caller."""
    run = mtlib.run_attached("cxx")
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()

    grow = sorted(stacks_with_innermost(proc, GROW), key=lambda s: -s.get("live_bytes", 0))
    if c.true(len(grow) == 2, "%d stacks with innermost %s, expected 2 (new char[], new Widget)"
              % (len(grow), GROW)):
        c.figures(grow[0], fig(9000, 3, 9000, 3, 0), "new char[3000] in grow")
        c.figures(grow[1], fig(216, 3, 216, 3, 0), "new Widget (72 B) in grow")
        for s in grow:
            c.eq(mtlib.frame_name(s["frames"][1]), "run_all()", "grow stack frames[1]")
            c.eq(os.path.basename(s["frames"][0].get("module") or ""), "cxx",
                 "grow stack frames[0].module")

    vec = stacks_containing(proc, "ns::fill_vector(int)")
    if c.true(vec, "no stack containing ns::fill_vector(int)"):
        # capacities 1, 2, 4 ... 1024 ints: 11 allocations, the last one live
        c.figures(sum_stacks(vec), fig(4096, 1, 8188, 11, 10), "vector growth in fill_vector")

    heap = proc.get("heap") or {}
    c.eq((heap.get("live_bytes"), heap.get("live_allocs")), (9000 + 216 + 4096, 7),
         "heap live bytes/allocs")

    for s in proc.get("stacks") or []:
        frames = s.get("frames") or []
        if frames and frames[0].get("function") in ALLOCATOR_ENTRIES:
            c.true(False, "allocator entry point as innermost frame: " + mtlib.stack_line(s))
        for f in frames:
            if os.path.basename(f.get("module") or "") == "cxx" and \
                    (f.get("function") or "").startswith("_Z"):
                c.true(False, "mangled name in the report: " + f["function"])
    c.finish(mtlib.describe_stacks(proc))


def check_exitleak(run, proc):
    c = Checks()
    c.eq(proc.get("exited"), True, "exited")
    s = c.run(one_stack, proc, "leak_then_exit")
    if s:
        c.figures(s, fig(6144, 3, 6144, 3, 0), "leak_then_exit")
        frames = s.get("frames") or []
        c.eq([f.get("function") for f in frames[:2]], ["leak_then_exit", "main"],
             "innermost 2 frames (symbolized after exit)")
        c.eq(os.path.basename(frames[0].get("module") or ""), "exitleak", "frames[0].module")
    c.finish(mtlib.describe_stacks(proc))


def test_exitleak_pid():
    """-p: the target exits right after leaking; its leaks are still reported."""
    run = mtlib.run_attached("exitleak", target_exits=True)
    if run.wl_status != 0:
        raise AssertionError("exitleak exited %s, expected 0" % run.wl_status)
    check_exitleak(run, mtlib.find_process(run.report, pid=run.wl_pid))


def test_exitleak_cmd():
    """--: same, memtrace exiting with the command's status 0."""
    run = mtlib.run_command("exitleak", expect_status=0)
    check_exitleak(run, mtlib.find_process(run.report, exe_name="exitleak"))
