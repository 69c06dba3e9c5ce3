"""Retained-but-unreleased memory: memtrace's figures against the
allocator's own (glibc's mallinfo2, Go's runtime.MemStats)."""

import os
import re
import time

import mtlib
from mtlib import Checks

TOLERANCE = 0.15


def within(c, got, want, what):
    ok = want > 0 and abs(got - want) <= TOLERANCE * want
    c.true(ok, "%s: memtrace %s, allocator %s (%.1f%% off, allowed %d%%)"
           % (what, got, want, 100.0 * abs(got - want) / want if want else 0, TOLERANCE * 100))
    return ok


def parse_kv(lines, prefix):
    for l in lines:
        if l.startswith(prefix + " "):
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", l)}
    raise AssertionError("workload printed no %r line: %r" % (prefix, lines[-5:]))


def fragment(args=()):
    run = mtlib.run_command("fragment", list(args))
    mi = parse_kv(run.mt_stdout.splitlines(), "mallinfo")
    proc = mtlib.find_process(run.report, exe_name="fragment")
    return run, mi, proc


def test_glibc_fragmented_heap():
    """4,000 of 200,000 blocks of 1,000 B kept: glibc keeps ~197 MB free and
    resident; memtrace's retained must match mallinfo2().fordblks."""
    run, mi, proc = fragment()
    vm, heap = proc["vm"], proc["heap"]
    c = Checks()
    c.eq(proc["allocator"], "glibc", "allocator")
    c.eq(proc["runtime"], "native", "runtime")
    c.eq(run.report["lost_events"], 0, "lost_events")
    # fill_heap's 200,000 blocks, 4,000 of them still live.
    leak = mtlib.one_stack(proc, "fill_heap")
    c.figures(leak, {"live_bytes": 4000000, "live_allocs": 4000,
                     "alloc_bytes_total": 200000000, "allocs_total": 200000,
                     "frees_total": 196000}, "fill_heap")
    c.eq(vm["retained_upper_bound"], False, "retained is exact with -- COMMAND")
    # Nothing was trimmed: all of fordblks is resident.
    within(c, vm["retained_bytes"], mi["fordblks"], "retained vs fordblks")
    within(c, vm["mapped_bytes"], mi["arena"], "mapped vs arena")
    c.eq(vm["released_bytes"], 0, "released (nothing given back)")
    c.true(vm["rss_bytes"] >= vm["retained_bytes"] + heap["live_bytes"],
           "RSS %d covers retained + live" % vm["rss_bytes"])
    # The heap grew with brk inside malloc: that mapping is fill_heap's.
    top = (proc.get("vm_stacks") or [{}])[0]
    c.eq(mtlib.frame_name((top.get("frames") or [{}])[0]), "fill_heap",
         "the stack that mapped the most (vm_stacks[0])")
    within(c, top.get("mapped_bytes", 0), mi["arena"], "vm_stacks[0].mapped_bytes vs arena")
    c.true("retained by glibc malloc" in run.mt_stdout, "text report names glibc malloc")
    c.true("malloc_trim" in run.mt_stdout, "text report hints at malloc_trim")
    c.finish(mtlib.describe_stacks(proc))


def test_glibc_after_malloc_trim():
    """malloc_trim(0) gives the free pages back with madvise: fordblks stays,
    so retained is compared with [heap] Rss - uordblks, and released grows."""
    run, mi, proc = fragment(["--trim"])
    vm = proc["vm"]
    c = Checks()
    within(c, vm["retained_bytes"], mi["heap_rss"] - mi["uordblks"],
           "retained vs heap Rss - uordblks")
    c.true(vm["retained_bytes"] < mi["fordblks"] / 4,
           "retained dropped after the trim (%d, fordblks %d)"
           % (vm["retained_bytes"], mi["fordblks"]))
    within(c, vm["released_bytes"], mi["arena"] - mi["heap_rss"], "released vs arena - heap Rss")
    c.finish()


def test_glibc_big_blocks_leave_nothing():
    """40 blocks of 4 MiB (above the mmap threshold) freed: munmapped at once,
    retained stays what the small blocks leave."""
    run, mi, proc = fragment(["--big"])
    vm = proc["vm"]
    c = Checks()
    within(c, vm["retained_bytes"], mi["fordblks"], "retained vs fordblks")
    c.eq(mi["hblkhd"], 0, "glibc holds no mmapped block")
    c.finish()


def test_glibc_pid_mode_is_upper_bound():
    """-p mode: blocks from before attaching are unknown, so retained is
    flagged as an upper bound, and still at least what glibc holds free."""
    run = mtlib.run_attached("fragment")
    mi = parse_kv(run.wl_stdout, "mallinfo")
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    vm = proc["vm"]
    c = Checks()
    c.eq(vm["retained_upper_bound"], True, "retained_upper_bound in -p mode")
    within(c, vm["retained_bytes"], mi["fordblks"], "retained vs fordblks")
    c.finish()


GO_SERVICE_ENV = {"GOGC": "off", "GOMEMLIMIT": "8GiB"}


def go_retain(name):
    run = mtlib.run_command(name, env=GO_SERVICE_ENV, timeout=90)
    ms = parse_kv(run.mt_stdout.splitlines(), "memstats")
    proc = mtlib.find_process(run.report, exe_name=os.path.basename(name))
    return run, ms, proc


def check_go_retain(name):
    run, ms, proc = go_retain(name)
    vm, heap = proc["vm"], proc["heap"]
    c = Checks()
    c.eq(proc["runtime"], "go", "runtime")
    c.eq(proc["allocator"], "go", "allocator")
    c.eq(run.mt_status, 0, "the Go program ran to completion")
    c.eq(heap["frees_total"], None, "Go frees are not seen")
    c.eq((proc.get("go") or {}).get("live_source"), "memtrace", "live bytes from memtrace's sample")
    within(c, vm["retained_bytes"], ms["heap_idle"] - ms["heap_released"],
           "retained vs HeapIdle - HeapReleased")
    within(c, vm["mapped_bytes"] - vm["released_bytes"], ms["sys"] - ms["heap_released"],
           "mapped - released vs Sys - HeapReleased")
    # 300 x 1 MiB through main.(*Block).Append's make, 300 more through append.
    appends = mtlib.stacks_with_innermost(proc, "main.(*Block).Append")
    total = sum(s["alloc_bytes_total"] for s in appends)
    calls = sum(s["allocs_total"] for s in appends)
    c.eq((total, calls), (600 << 20, 600), "main.(*Block).Append bytes/calls")
    # 10 of the 300 blocks are kept (10 MiB of append's slices); sampled at
    # 256 KiB each 1 MiB object is seen with probability 1 - e^-4, so the
    # estimate is k * 1.019 MiB for k of 10 seen: below 4 MiB is 7 missed of
    # the 0.18 expected.
    live = sum(s["live_bytes"] or 0 for s in appends)
    c.true(4 << 20 <= live <= 12 << 20,
           "live at main.(*Block).Append %d: near the 10 MiB kept, not the 600 MiB made" % live)
    for s in appends:
        c.eq(mtlib.frame_name(s["frames"][1]), "main.main", "frames[1] of Append")
    grow = [v for v in proc.get("vm_stacks") or []
            if any(mtlib.frame_name(f) == "runtime.(*mheap).grow" for f in v["frames"])]
    c.true(sum(v["mapped_bytes"] for v in grow) >= 300 << 20,
           "heap growth (runtime.(*mheap).grow) mapped the 300 MiB kept at the peak")
    c.true("retained by the Go runtime" in run.mt_stdout, "text names the Go runtime")
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(120)
@mtlib.per_go
def test_go_retained(go):
    check_go_retain(go.w("goretain"))


@mtlib.timeout(120)
@mtlib.per_go
def test_go_stripped(go):
    """The same program built with -ldflags=-s: found and named through .gopclntab."""
    check_go_retain(go.w("goretain_stripped"))


GO_EXACT = 0.05


def check_go_exact(c, proc, ms, source, go):
    """memtrace's figures read from the runtime against ReadMemStats' own."""
    gor, vm = proc.get("go") or {}, proc["vm"]
    want = ms["heap_idle"] - ms["heap_released"]
    c.eq(gor.get("note"), None, "no note: the runtime's figures were read")
    c.eq((gor.get("version") or "")[:6], go.name, "go.version")
    c.eq(gor.get("source"), source, "go.source")
    c.eq(vm["retained_upper_bound"], False, "retained is exact")
    got = vm["retained_bytes"]
    c.true(got is not None and want > 0 and abs(got - want) <= GO_EXACT * want,
           "retained %s vs HeapIdle - HeapReleased %d (allowed %d%%)"
           % (got, want, GO_EXACT * 100))
    c.eq(gor.get("heap_free_bytes"), got, "go.heap_free_bytes is retained")
    inuse = gor.get("heap_inuse_bytes") or 0
    c.true(abs(inuse - ms["heap_inuse"]) <= GO_EXACT * ms["heap_inuse"] + (1 << 20),
           "go.heap_inuse_bytes %d vs HeapInuse %d" % (inuse, ms["heap_inuse"]))


def go_attached(name):
    run = mtlib.run_attached(name, env=GO_SERVICE_ENV)
    ms = parse_kv(run.wl_stdout, "memstats")
    return run, ms, mtlib.find_process(run.report, pid=run.wl_pid)


@mtlib.timeout(120)
@mtlib.per_go
def test_go_exact_command(go):
    """-- mode: retained is the runtime's own heapFree, within 5%."""
    for name, source in (("goretain", "dwarf"), ("goretain_stripped", "table")):
        run, ms, proc = go_retain(go.w(name))
        c = Checks()
        check_go_exact(c, proc, ms, source, go)
        c.finish(name)


@mtlib.timeout(120)
@mtlib.per_go
def test_go_exact_attached(go):
    """-p mode, attached after the heap grew: no probe saw the spans, the
    runtime's own words still give exact figures (null before)."""
    for name, source in (("goretain", "dwarf"), ("goretain_stripped", "table")):
        run, ms, proc = go_attached(go.w(name))
        c = Checks()
        check_go_exact(c, proc, ms, source, go)
        c.finish(name)


@mtlib.per_go
def test_go_hot_path_is_top(go):
    """Calls and bytes per call stack, exact: at the allocator's publication
    sites (the default, slot sizes) and at its entry points (no sampling,
    requested sizes); small objects made with new, which Go 1.27's code
    allocates without runtime.mallocgc, counted once each."""
    for mode, args, sizes in (("sampling", [], (16, 48)),
                              ("entry", ["--go-sample-rate", "0"], (16, 40))):
        run = mtlib.run_command(go.w("gohot"), timeout=60, mt_args=args)
        proc = mtlib.find_process(run.report, exe_name="gohot")
        c = Checks()
        # Ranked by live bytes when sampled: the top by bytes allocated.
        top = max(proc["stacks"], key=lambda s: s["alloc_bytes_total"])
        c.eq(mtlib.frame_name(top["frames"][0]), "main.hotPath",
             "%s: the stack that allocated most, its innermost frame" % mode)
        c.eq(top["allocs_total"], 20000, "%s: main.hotPath calls" % mode)
        cold = mtlib.one_stack(proc, "main.coldPath")
        c.eq(cold["allocs_total"], 2000, "%s: main.coldPath calls" % mode)
        c.true(top["alloc_bytes_total"] > 9 * cold["alloc_bytes_total"],
               "%s: hot path allocates 10x more" % mode)
        for fn, size in zip(("main.newPair", "main.newBlob"), sizes):
            s = c.run(mtlib.one_stack, proc, fn)
            if s:
                c.eq((s["allocs_total"], s["alloc_bytes_total"]), (3000, 3000 * size),
                     "%s: %s calls and bytes" % (mode, fn))
                c.eq([mtlib.frame_name(f) for f in s["frames"][:2]], [fn, "main.main"],
                     "%s: %s's stack starts at its caller, no allocator frame" % (mode, fn))
        c.finish(mtlib.describe_stacks(proc))


def anon_mapped(lines):
    for l in lines:
        if l.startswith("anon_mapped "):
            return int(l.split()[1])
    raise AssertionError("vmchurn printed no anon_mapped line: %s" % lines)


@mtlib.timeout(90)
def test_mapped_while_attaching():
    """-p on a process that maps and unmaps 1 MiB regions while memtrace
    starts: vm.mapped_bytes ends equal to what the kernel lists (every
    anonymous private mapping, those from before attaching included)."""
    def settled(run, mt, wl):
        time.sleep(2.5)      # a few refreshes of the maps after it settled
    run = mtlib.run_attached("vmchurn", while_attached=settled)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    want = anon_mapped(run.wl_stdout)
    c = Checks()
    c.eq((proc.get("vm") or {}).get("mapped_bytes"), want,
         "vm.mapped_bytes against the process's own /proc/self/maps sum")
    c.finish()


def test_mapped_command():
    """-- mode, the same definition: what the kernel mapped at exec (the
    executable's .bss, the first brk) counts too."""
    run = mtlib.run_command("vmchurn")
    proc = mtlib.find_process(run.report, exe_name="vmchurn")
    want = anon_mapped(run.mt_stdout.splitlines())
    c = Checks()
    vm = proc.get("vm") or {}
    c.eq(vm.get("mapped_bytes"), want,
         "vm.mapped_bytes against the process's own /proc/self/maps sum at its end")
    # The executable's .bss and the like are the kernel's doing at exec: no event.
    c.true((vm.get("reconciled_bytes") or 0) > 0,
           "vm.reconciled_bytes %r: what exec mapped came from the maps" % vm.get("reconciled_bytes"))
    c.finish()


def test_mapped_by_each_part():
    """The brk heap grown by two call stacks in turn (brkgrow): each is
    charged its own part in "mapped by", not the whole heap to the first:
    first_name's strdup set the heap up (glibc's first 132 KiB), grow_heap
    grew it by the rest of 4 MiB of blocks."""
    run = mtlib.run_command("brkgrow")
    proc = mtlib.find_process(run.report, exe_name="brkgrow")
    c = Checks()
    parts = {}
    for v in proc.get("vm_stacks") or []:
        names = [f.get("function") for f in v.get("frames") or []]
        for fn in ("first_name", "grow_heap"):
            if fn in names:
                parts[fn] = parts.get(fn, 0) + v.get("mapped_bytes", 0)
    c.eq(parts.get("first_name"), 135168, "first_name's part: glibc's first brk, 132 KiB")
    grown = parts.get("grow_heap") or 0
    c.true((4 << 20) - 135168 <= grown <= (4 << 20) + (264 << 10),
           "grow_heap's part %d: its 4 MiB of blocks, less what the first part held, "
           "give or take glibc's 132 KiB steps" % grown)
    c.finish("vm_stacks: %r" % [(v.get("mapped_bytes"),
                                 [f.get("function") for f in v.get("frames") or []][:3])
                                for v in proc.get("vm_stacks") or []])


mtlib.for_each_go(globals())
