"""Report options (--top, --min-size, --max-size, --min-age) and the ways a
-p run ends (-d, SIGTERM)."""

import signal

import mtlib
from mtlib import Checks, one_stack, stacks_with_innermost
from test_family import FAMILY


def live_of(proc, fn):
    """(live_bytes, live_allocs) summed over the stacks ending in fn; (0, 0)
    when there is none."""
    stacks = stacks_with_innermost(proc, fn)
    return (sum(s.get("live_bytes", 0) for s in stacks),
            sum(s.get("live_allocs", 0) for s in stacks))


def check_kept_and_dropped(proc, kept, dropped, c):
    for fn, (live_bytes, live_allocs) in kept.items():
        c.eq(live_of(proc, fn), (live_bytes, live_allocs), fn + " live bytes/allocs (kept)")
    for fn in dropped:
        c.eq(live_of(proc, fn), (0, 0), fn + " live bytes/allocs (filtered out)")


def test_top_2():
    """--top 2 lists only the two stacks with the most live bytes."""
    run = mtlib.run_attached("family_pie", mt_args=["--top", "2"])
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    stacks = proc.get("stacks") or []
    c = Checks()
    c.eq(len(stacks), 2, "number of stacks listed")
    c.eq([(mtlib.innermost(s), s.get("live_bytes")) for s in stacks],
         [("leak_malloc", 10000), ("leak_valloc", 6666)], "the two biggest stacks")
    # --top limits the list, not what was traced.
    c.true((proc.get("stacks_total") or 0) >= len(FAMILY),
           "stacks_total = %r, expected >= %d" % (proc.get("stacks_total"), len(FAMILY)))
    c.eq((proc.get("heap") or {}).get("live_bytes"),
         sum(e["live_bytes"] for e in FAMILY.values()), "heap.live_bytes")
    c.finish(mtlib.describe_stacks(proc))


def test_min_size():
    """--min-size 1001 drops allocations of <= 1000 bytes, keeps bigger ones."""
    run = mtlib.run_attached("family_pie", mt_args=["--min-size", "1001"])
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    check_kept_and_dropped(proc, {
        "leak_realloc_grow": (4000, 1),     # the 4000-byte end of the realloc chain
        "leak_posix_memalign": (6000, 2),   # 3000 each
        "leak_valloc": (6666, 2),           # 3333 each
        "leak_pvalloc": (3702, 3),          # 1234 each
    }, ["leak_malloc", "leak_calloc", "leak_realloc_null", "leak_reallocarray",
        "leak_aligned_alloc", "leak_memalign"], c)
    c.finish(mtlib.describe_stacks(proc))


def test_max_size():
    """--max-size 999 drops allocations of >= 1000 bytes, keeps smaller ones."""
    run = mtlib.run_attached("family_pie", mt_args=["--max-size", "999"])
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    check_kept_and_dropped(proc, {
        "leak_calloc": (2331, 7),           # 333 each
        "leak_realloc_null": (555, 1),
        "leak_reallocarray": (1820, 2),     # 910 each
        "leak_aligned_alloc": (1536, 3),    # 512 each
        "leak_memalign": (2800, 4),         # 700 each
    }, ["leak_malloc", "leak_posix_memalign", "leak_valloc", "leak_pvalloc",
        "leak_realloc_grow"], c)
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(60)
def test_min_age():
    """--min-age 3: a leak 4 s old is listed, one made just now is not."""
    run = mtlib.run_attached("agedleak", ["4"], mt_args=["--min-age", "3"])
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    early = c.run(one_stack, proc, "leak_early")
    if early:
        c.eq((early.get("live_bytes"), early.get("live_allocs")), (5500, 5),
             "leak_early live bytes/allocs")
        age = early.get("oldest_age_s")
        c.true(isinstance(age, (int, float)) and age >= 3.9,
               "leak_early oldest_age_s = %r, expected >= 4 (it slept 4 s)" % (age,))
    late = stacks_with_innermost(proc, "leak_late")
    c.true(all(s.get("live_bytes") == 0 for s in late),
           "leak_late listed with live bytes despite --min-age 3: %s"
           % [mtlib.stack_line(s) for s in late])
    c.finish(mtlib.describe_stacks(proc))


def test_duration_stops():
    """-d 2: memtrace stops by itself, writes its report and exits 0."""
    run = mtlib.run_attached("family_pie", mt_args=["-d", "2"], stop_signal=None,
                             timeout=20)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    d = run.report.get("duration_s")
    c.true(isinstance(d, (int, float)) and 1.5 <= d <= 15,
           "duration_s = %r, expected about 2" % (d,))
    s = c.run(one_stack, proc, "leak_malloc")
    if s:
        c.eq(s.get("live_bytes"), 10000, "leak_malloc live_bytes")
    c.finish(mtlib.describe_stacks(proc))


def test_sigterm_stops():
    """SIGTERM, like SIGINT: final report, exit 0."""
    run = mtlib.run_attached("family_pie", stop_signal=signal.SIGTERM)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    s = c.run(one_stack, proc, "leak_malloc")
    if s:
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (10000, 10), "leak_malloc live")
    c.finish(mtlib.describe_stacks(proc))
