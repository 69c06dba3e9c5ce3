"""The family workload: every allocator entry point, with exact figures.

One memtrace run per (binary variant, mode) serves all the checks of that
combination; the folded-output test reuses the pie / -p run.
"""

import os

import mtlib
from mtlib import Checks, one_stack, stacks_with_innermost, sum_stacks


def fig(live_bytes, live_allocs, alloc_bytes_total, allocs_total, frees_total):
    return dict(live_bytes=live_bytes, live_allocs=live_allocs,
                alloc_bytes_total=alloc_bytes_total, allocs_total=allocs_total,
                frees_total=frees_total)


# The table at the top of tests/workloads/family.c, per stack (innermost
# frame = the function; one allocating call site each).
FAMILY = {
    #                         live_bytes live_allocs alloc_bytes_total allocs_total frees_total
    "leak_malloc":         fig(10000,    10,         10000,            10,          0),
    "leak_calloc":         fig(2331,     7,          2331,             7,           0),
    "leak_realloc_grow":   fig(4000,     1,          4300,             3,           2),
    "leak_realloc_null":   fig(555,      1,          555,              1,           0),
    "free_realloc_zero":   fig(0,        0,          777,              1,           1),
    "leak_reallocarray":   fig(1820,     2,          1820,             2,           0),
    "leak_posix_memalign": fig(6000,     2,          6000,             2,           0),
    "leak_aligned_alloc":  fig(1536,     3,          1536,             3,           0),
    "leak_memalign":       fig(2800,     4,          2800,             4,           0),
    "leak_valloc":         fig(6666,     2,          6666,             2,           0),
    "leak_pvalloc":        fig(3702,     3,          3702,             3,           0),
    "balanced":            fig(0,        0,          64000,            1000,        1000),
}

# family_jemalloc is built without the pvalloc call (jemalloc has none).
VARIANTS = {
    # variant: (allocator, test on basename(allocator_path), functions)
    "pie": ("glibc", lambda b: b == "libc.so.6", FAMILY),
    "nopie": ("glibc", lambda b: b == "libc.so.6", FAMILY),
    # A static executable carries glibc: the allocator is glibc, its path the executable.
    "static": ("glibc", lambda b: b == "family_static", FAMILY),
    "jemalloc": ("jemalloc", lambda b: b.startswith("libjemalloc"),
                 {k: v for k, v in FAMILY.items() if k != "leak_pvalloc"}),
    "tcmalloc": ("tcmalloc", lambda b: b.startswith("libtcmalloc"), FAMILY),
}

# Where malloc's and free's probes sit (bytes from the function's start):
# on the first instruction the kernel emulates, past the ones it would
# single-step on every call (Debian 12's builds).
PROBE_SITES = {
    "glibc": {"malloc": 0, "free": 3},
    "jemalloc": {"malloc": 7, "free": 48},
    "tcmalloc": {"malloc": 10, "free": 10},
}

COUNTERS = ("allocs_map_full", "stacks_map_full", "stack_truncated", "stack_read_failed",
            "missed_returns", "unknown_frees", "addr_reused", "failed_allocs")

# Shared runs: (memtrace binary, variant, mode) -> (Run or exception, runs
# to show on failure)
_runs = {}


def family_run(variant, mode):
    key = (mtlib.config.memtrace, variant, mode)
    if key not in _runs:
        first = len(mtlib.runs_seen)
        try:
            if mode == "pid":
                result = mtlib.run_attached("family_" + variant, folded=True)
            else:
                result = mtlib.run_command("family_" + variant, folded=True)
        except Exception as e:
            result = e
        _runs[key] = (result, mtlib.runs_seen[first:])
    result, seen = _runs[key]
    for r in seen:
        if r not in mtlib.runs_seen:
            mtlib.runs_seen.append(r)
    if isinstance(result, Exception):
        raise result
    return result


def the_process(run, name, mode):
    if mode == "pid":
        return mtlib.find_process(run.report, pid=run.wl_pid)
    return mtlib.find_process(run.report, exe_name=name)


def check_family(variant, mode):
    name = "family_" + variant
    allocator, allocator_path_ok, expected = VARIANTS[variant]
    run = family_run(variant, mode)
    rep = run.report
    proc = the_process(run, name, mode)
    c = Checks()

    c.eq(rep.get("version"), 1, "version")
    c.eq(rep.get("lost_events"), 0, "lost_events")
    counters = rep.get("counters") or {}
    for k in COUNTERS:
        c.true(k in counters, "counters.%s missing" % k)
    c.eq(counters.get("allocs_map_full"), 0, "counters.allocs_map_full")
    c.eq(counters.get("stacks_map_full"), 0, "counters.stacks_map_full")
    c.true((counters.get("failed_allocs") or 0) >= 1,
           "counters.failed_allocs = %r, expected >= 1 (malloc(SIZE_MAX/2) returned NULL)"
           % counters.get("failed_allocs"))

    c.eq(proc.get("comm"), name[:15], "comm")
    c.eq(os.path.basename(proc.get("exe") or ""), name, "exe file name")
    c.eq(proc.get("runtime"), "native", "runtime")
    c.eq(proc.get("allocator"), allocator, "allocator")
    c.true(allocator_path_ok(os.path.basename(proc.get("allocator_path") or "")),
           "allocator_path %r is not the %s library" % (proc.get("allocator_path"), allocator))
    # -p: reported while the workload still runs; --: after it exited.
    c.eq(proc.get("exited"), mode == "cmd", "exited")
    if mode == "pid":
        rss = proc.get("rss_bytes")
        c.true(isinstance(rss, int) and rss > 0, "rss_bytes = %r, expected > 0" % rss)

    stacks = proc.get("stacks") or []
    c.eq(proc.get("stacks_total"), len(stacks), "stacks_total (no --top: all stacks listed)")
    lives = [s.get("live_bytes") for s in stacks]
    c.true(lives == sorted(lives, reverse=True), "stacks not sorted by live_bytes descending")
    heap = proc.get("heap") or {}
    total = sum_stacks(stacks)
    for k in ("live_bytes", "live_allocs", "alloc_bytes_total", "allocs_total"):
        c.eq(heap.get(k), total[k], "heap.%s vs the sum over stacks" % k)

    for fn, exp in expected.items():
        s = c.run(one_stack, proc, fn)
        if s is None:
            continue
        c.figures(s, exp, fn)
        frames = s.get("frames") or []
        # Complete stacks: the caller and its caller are there too.
        c.eq([f.get("function") for f in frames[:3]], [fn, "run_all", "main"],
             fn + " innermost 3 frames")
        c.eq(os.path.basename(frames[0].get("module") or ""), name, fn + " frames[0].module")
        c.eq(s.get("truncated"), False, fn + " truncated")

    # A failed allocation is never live (whether it has a stack at all is
    # memtrace's choice).
    for s in stacks_with_innermost(proc, "failed_alloc"):
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (0, 0),
             "failed_alloc live bytes/allocs")

    if mode == "pid":
        # Attached before the work and nothing else allocates: the process
        # figures are exactly the workload's.
        c.eq(heap.get("live_bytes"), sum(e["live_bytes"] for e in expected.values()),
             "heap.live_bytes")
        c.eq(heap.get("live_allocs"), sum(e["live_allocs"] for e in expected.values()),
             "heap.live_allocs")
        c.eq(heap.get("frees_total"), sum(e["frees_total"] for e in expected.values()),
             "heap.frees_total")
        extra = [mtlib.stack_line(s) for s in stacks
                 if s.get("live_bytes") and mtlib.innermost(s) not in expected]
        c.true(not extra, "unexpected live stacks: %s" % extra)

    probes = {p.get("function"): p for p in rep.get("probes") or []
              if allocator_path_ok(os.path.basename(p.get("path") or ""))}
    for fn, off in PROBE_SITES.get(allocator, {}).items():
        p = probes.get(fn) or {}
        c.eq((p.get("site_offset"), p.get("single_stepped")), (off, False),
             "%s's probe (site_offset, single_stepped)" % fn)
    c.eq(rep.get("probes_single_stepped"),
         sum(1 for p in rep.get("probes") or [] if p.get("single_stepped")),
         "probes_single_stepped")

    # Reports are written through a temporary file renamed into place.
    c.eq(run.files_after, ["report.folded", "report.json"],
         "files in the output directory (temporary file left over?)")
    c.finish(mtlib.describe_stacks(proc))


# One test per variant and mode: test_family_pie_pid, test_family_pie_cmd, ...
def _make(variant, mode):
    def test():
        check_family(variant, mode)
    test.__name__ = "test_family_%s_%s" % (variant, mode)
    test.__doc__ = "family_%s under memtrace %s" % (variant, "-p" if mode == "pid" else "--")
    return test


for _variant in VARIANTS:
    for _mode in ("pid", "cmd"):
        _t = _make(_variant, _mode)
        globals()[_t.__name__] = _t
del _variant, _mode, _t


def test_folded_output():
    """--folded: `comm;outermost;...;innermost LIVEBYTES` per live stack."""
    run = family_run("pie", "pid")
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    parsed = []
    for line in run.folded.splitlines():
        stack, _, value = line.rpartition(" ")
        if not stack or not value.isdigit():
            c.true(False, "malformed folded line %r" % line)
            continue
        parsed.append((line, stack.split(";"), int(value)))
    for line, frames, value in parsed:
        c.eq(frames[0], proc.get("comm"), "first field of %r" % line)
        c.true(value > 0, "folded line with no live bytes: %r" % line)

    mine = [p for p in parsed if p[1][-1] == "leak_malloc"]
    if c.true(len(mine) == 1, "%d folded lines end in leak_malloc, expected 1" % len(mine)):
        line, frames, value = mine[0]
        c.true(line.endswith(";leak_malloc 10000"), "leak_malloc line %r" % line)
        c.eq(frames[0], "family_pie", "leak_malloc line's first field")
        c.eq(frames[-3:], ["main", "run_all", "leak_malloc"],
             "leak_malloc line's innermost frames (outermost first)")

    live = [s for s in proc.get("stacks") or [] if s.get("live_bytes", 0) > 0]
    c.eq(len(parsed), len(live), "folded lines vs JSON stacks with live bytes")
    c.eq(sum(p[2] for p in parsed), sum(s["live_bytes"] for s in live),
         "folded live bytes vs JSON")
    c.finish("folded file:\n" + run.folded[:2000])
