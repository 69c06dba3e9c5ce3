"""Go live bytes per call stack, compared with what the program's own
runtime.MemProfile says, in -- and -p modes: from the runtime's heap profile
(runtime.mbuckets) for a program with MemProfileRate > 0, and from
memtrace's own sample of allocations (--go-live memtrace, and the default
for a program whose MemProfileRate is 0)."""

import os
import re
import shutil
import tempfile

import mtlib
from mtlib import Checks

TOLERANCE = 0.15


def parse_inuse(lines):
    for line in lines:
        if line.startswith("inuse "):
            return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    raise AssertionError("the workload printed no inuse line: %r" % (lines,))


def site_live(proc, fn):
    return sum(s["live_bytes"] or 0 for s in mtlib.stacks_containing(proc, fn))


def check_dropped_and_top(c, proc, own, mode):
    """The dropped site near 0 live on both sides; main.allocBig ranked first."""
    garbage = site_live(proc, "main.allocGarbage")
    c.true(garbage < 1 << 20 and own["garbage"] < 1 << 20,
           "%s: the dropped site is near 0 live (%d; program %d)"
           % (mode, garbage, own["garbage"]))
    top = proc["stacks"][0]
    c.eq(mtlib.frame_name(top["frames"][0]), "main.allocBig",
         "%s: stacks ranked by live bytes" % mode)


def check_inuse(proc, own, mode, rate=1):
    c = Checks()
    c.eq(proc["runtime"], "go", "runtime")
    c.eq(proc.get("sampled"), True, "sampled")
    c.eq(proc.get("sample_rate"), rate, "sample_rate is the program's MemProfileRate")
    c.eq((proc.get("go") or {}).get("profile_note"), None, "no profile note")
    live = proc["heap"]["live_bytes"]
    c.true(live is not None and live >= (64 + 16) << 20,
           "heap.live_bytes %s (the runtime's) covers the 80 MiB both sites keep" % live)
    for fn, key, want in (("main.allocBig", "big", 64 << 20),
                          ("main.allocSmall", "small", 16 << 20)):
        got = site_live(proc, fn)
        c.true(abs(got - own[key]) <= TOLERANCE * own[key],
               "%s: %s live %d vs the program's inuse %d" % (mode, fn, got, own[key]))
        # Sampled at 512 KiB, 256 objects of 64 KiB make ~30 samples: only
        # the exact profile is held to the allocated figure.
        c.true(rate > 1 or abs(own[key] - want) <= TOLERANCE * want,
               "%s: the program's own %s inuse %d near %d" % (mode, key, own[key], want))
    check_dropped_and_top(c, proc, own, mode)
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(90)
@mtlib.per_go
def test_go_profile_command(go):
    """-- mode: the runtime's records and memtrace's stacks are the same stacks."""
    run = mtlib.run_command(go.w("goinuse"), timeout=60)
    proc = mtlib.find_process(run.report, exe_name="goinuse")
    check_inuse(proc, parse_inuse(run.mt_stdout.splitlines()), "--")
    c = Checks()
    big = mtlib.stacks_containing(proc, "main.allocBig")
    c.true(any(s["allocs_total"] == 64 for s in big),
           "memtrace's own count of the 64 allocations sits on the same stack")
    c.finish()


@mtlib.timeout(90)
@mtlib.per_go
def test_go_profile_attached(go):
    """-p mode, attached after the data was allocated: no probe saw it, the
    runtime's records still do; the program runs on and exits 0."""
    alive = []

    def while_attached(run, mt, wl):
        alive.append(wl.alive())

    run = mtlib.run_attached(go.w("goinuse"), while_attached=while_attached)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    check_inuse(proc, parse_inuse(run.wl_stdout), "-p")
    c = Checks()
    c.eq(alive, [True], "the program kept running while memtrace read it")
    c.finish()


@mtlib.timeout(90)
@mtlib.per_go
def test_go_profile_off(go):
    """MemProfileRate 0 (no heap profile in the runtime): memtrace samples
    by itself at the runtime's default rate; --go-live runtime keeps live
    null, with a note saying why."""
    run = mtlib.run_command(go.w("goinuse"), timeout=60, env={"INUSE_RATE": "0"})
    proc = mtlib.find_process(run.report, exe_name="goinuse")
    c = Checks()
    c.eq(proc.get("sampled"), True, "sampled")
    c.eq(proc.get("sample_rate"), 256 << 10, "memtrace samples at its default rate, 256 KiB")
    c.eq((proc.get("go") or {}).get("live_source"), "memtrace", "go.live_source")
    # 64 objects of 1 MiB, each sampled with probability p = 1 - e^-4: the
    # estimate is k * 1.019 MiB for k ~ Binomial(64, p), sd 1.7%, never
    # above +1.9%; 12% below is 9 objects missed of the 1.2 expected
    # (Poisson tail ~4e-6 a run).
    big = site_live(proc, "main.allocBig")
    c.true(abs(big - (64 << 20)) <= 0.12 * (64 << 20),
           "main.allocBig live %d vs the 64 MiB it keeps" % big)
    garbage = site_live(proc, "main.allocGarbage")
    c.eq(garbage, 0, "the 32 MiB the program dropped are not live")
    c.true("estimated from memtrace's sample" in run.mt_stdout, "text says it is an estimate")
    c.finish(mtlib.describe_stacks(proc))

    run = mtlib.run_command(go.w("goinuse"), timeout=60, env={"INUSE_RATE": "0"},
                            mt_args=["--go-live", "runtime"])
    proc = mtlib.find_process(run.report, exe_name="goinuse")
    c = Checks()
    c.eq(proc.get("sampled"), False, "--go-live runtime: not sampled")
    c.true(all(s["live_bytes"] is None for s in proc["stacks"]),
           "--go-live runtime: no live bytes per stack")
    live = proc["heap"]["live_bytes"]
    c.true(live is not None and live >= 80 << 20,
           "--go-live runtime: heap.live_bytes %s, the runtime's own, covers the 80 MiB kept"
           % live)
    note = (proc.get("go") or {}).get("profile_note") or ""
    c.true("MemProfileRate is 0" in note, "note says why: %r" % note)
    c.finish()


@mtlib.timeout(90)
@mtlib.per_go
def test_go_live_heap_exact(go):
    """-p mode, default settings, attached after the program allocated:
    heap.live_bytes is the runtime's own live heap (heapMarked: what
    runtime/metrics calls /gc/heap/live:bytes, Go 1.21+), exactly, though
    memtrace's sample saw none of it allocated; within 64 KiB of
    ReadMemStats' HeapAlloc after the GC (what Go 1.19 has to compare)."""
    run = mtlib.run_attached(go.w("goinuse"), env={"INUSE_RATE": "0"})
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    own = parse_inuse(run.wl_stdout)
    gor = proc.get("go") or {}
    live = proc["heap"]["live_bytes"]
    c = Checks()
    c.eq(gor.get("note"), None, "no note: the runtime's figures were read")
    c.eq(gor.get("heap_live_bytes"), live, "go.heap_live_bytes is heap.live_bytes")
    if own["live"] >= 0:
        c.eq(live, own["live"], "heap.live_bytes vs the program's /gc/heap/live:bytes")
    else:
        c.eq(go.minor, 19, "only go1.19 has no /gc/heap/live:bytes")
    c.true(live is not None and abs(live - own["heapalloc"]) <= 64 << 10,
           "heap.live_bytes %s vs HeapAlloc %d after the GC" % (live, own["heapalloc"]))
    c.true(re.search(r"live [\d.]+ MiB \(the Go runtime's, as of the last GC\)",
                     run.mt_stdout), "the text gives the runtime's figure")
    c.finish(mtlib.describe_stacks(proc))


def unknown_release(path, tmpdir):
    """A copy of the Go program at path whose .go.buildinfo names go1.9N.P
    for go1.MN.P: a release memtrace's tables do not know (the runtime,
    which keeps its own copy of its version, runs the same)."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = data.find(b"\xff Go buildinf:")
    ver = re.match(rb"go1\.(\d+)\.", bytes(data[at + 33:at + 48])) if at >= 0 else None
    if not ver:
        raise AssertionError("no .go.buildinfo version in %s" % path)
    minor = ver.group(1)
    data[at + 37:at + 37 + len(minor)] = b"9" + minor[1:]
    out = os.path.join(tmpdir, os.path.basename(path))
    with open(out, "wb") as f:
        f.write(data)
    os.chmod(out, 0o755)
    return out, "go1.9" + minor[1:].decode()


@mtlib.per_go
def test_go_unknown_layout(go):
    """A stripped binary of a release the tables do not know (its
    .go.buildinfo edited to say go1.9N): no heap figure, no live bytes, a
    note saying why; allocations counted at the allocator's entries,
    exactly; the program unharmed."""
    tmpdir = tempfile.mkdtemp(prefix="mt-e2e-")
    try:
        path, version = unknown_release(mtlib.workload(go.w("goinuse_stripped")), tmpdir)
        run = mtlib.run_command(path, timeout=60)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    proc = mtlib.find_process(run.report, exe_name="goinuse_stripped")
    gor = proc.get("go") or {}
    c = Checks()
    note = gor.get("note") or ""
    c.true(note.startswith(version) and "no DWARF, and memtrace's tables do not describe" in note,
           "go.note names %s and says why: %r" % (version, note))
    for k in ("heap_inuse_bytes", "heap_free_bytes", "heap_live_bytes"):
        c.eq(gor.get(k), None, "go." + k)
    c.eq(proc["heap"]["live_bytes"], None, "heap.live_bytes")
    c.eq(proc.get("sampled"), False, "not sampled")
    c.true("counted, not sampled" in run.mt_stderr, "stderr says allocations are not sampled")
    big = mtlib.one_stack(proc, "main.allocBig")
    c.eq((big["allocs_total"], big["alloc_bytes_total"]), (64, 64 << 20),
         "main.allocBig counted at its requested size")
    c.true(parse_inuse(run.mt_stdout.splitlines())["big"] > 0, "the program ran to its end")
    c.finish(mtlib.describe_stacks(proc))


def check_sampled(proc, own, mode, rate):
    """memtrace's own sample against the program's exact profile (rate 1)."""
    c = Checks()
    c.eq(proc.get("sampled"), True, "sampled")
    c.eq(proc.get("sample_rate"), rate, "sample_rate is memtrace's")
    c.eq((proc.get("go") or {}).get("live_source"), "memtrace", "go.live_source")
    for fn, key in (("main.allocBig", "big"), ("main.allocSmall", "small")):
        got = site_live(proc, fn)
        c.true(own[key] > 0 and abs(got - own[key]) <= TOLERANCE * own[key],
               "%s: %s live %d vs the program's inuse %d" % (mode, fn, got, own[key]))
    check_dropped_and_top(c, proc, own, mode)
    c.finish(mtlib.describe_stacks(proc))


SAMPLED = ["--go-live", "memtrace", "--go-sample-rate", "16k"]


@mtlib.timeout(120)
@mtlib.per_go
def test_go_sampled_command(go):
    """-- mode, memtrace's own sample (1 per 16 KiB) of a program that also
    keeps an exact profile: per-site live bytes within 15% of it, the
    dropped site near 0; stripped and not."""
    for name in ("goinuse", "goinuse_stripped"):
        run = mtlib.run_command(go.w(name), timeout=60, mt_args=SAMPLED)
        proc = mtlib.find_process(run.report, exe_name=name)
        check_sampled(proc, parse_inuse(run.mt_stdout.splitlines()), "-- " + name, 16 << 10)


@mtlib.timeout(120)
@mtlib.per_go
def test_go_sampled_attached(go):
    """-p mode: the program allocates once memtrace is attached; memtrace's
    sample against its exact profile; the program runs on unharmed."""
    for name in ("goinuse", "goinuse_stripped"):
        alive = []

        def while_attached(run, mt, wl):
            alive.append(wl.alive())

        run = mtlib.run_attached(go.w(name), mt_args=SAMPLED, while_attached=while_attached,
                                 env={"INUSE_ALLOC_AFTER": "1"})
        proc = mtlib.find_process(run.report, pid=run.wl_pid)
        check_sampled(proc, parse_inuse(run.wl_stdout), "-p " + name, 16 << 10)
        c = Checks()
        c.eq(alive, [True], "the program kept running while memtrace read it")
        c.finish()


@mtlib.timeout(90)
@mtlib.per_go
def test_go_sampled_pie_stripped(go):
    """-- mode on a stripped PIE (-buildmode=pie -ldflags='-s -w'), whose
    function table is in .data.rel.ro.gopclntab (up to Go 1.25; .gopclntab
    from 1.26, its text start in .go.module): a Go program, its frames
    named, the same per-site figures as the others."""
    name = "goinuse_pie_stripped"
    run = mtlib.run_command(go.w(name), timeout=60, mt_args=SAMPLED)
    proc = mtlib.find_process(run.report, exe_name=name)
    c = Checks()
    c.eq(proc["runtime"], "go", "runtime")
    for fn in ("main.allocBig", "main.allocSmall"):
        stacks = mtlib.stacks_with_innermost(proc, fn)
        c.true(any([mtlib.frame_name(f) for f in s["frames"][:3]] ==
                   [fn, "main.allocate", "main.main"] for s in stacks),
               "a stack %s <- main.allocate <- main.main" % fn)
    c.finish(mtlib.describe_stacks(proc))
    check_sampled(proc, parse_inuse(run.mt_stdout.splitlines()), "-- " + name, 16 << 10)


@mtlib.timeout(90)
@mtlib.per_go
def test_go_profile_default_rate(go):
    """MemProfileRate at Go's default 512 KiB: memtrace scales the samples as
    runtime/pprof does, so its figures are the program's own pprof figures."""
    run = mtlib.run_command(go.w("goinuse"), timeout=60, env={"INUSE_RATE": "524288"})
    proc = mtlib.find_process(run.report, exe_name="goinuse")
    check_inuse(proc, parse_inuse(run.mt_stdout.splitlines()), "-- 512 KiB", rate=524288)


@mtlib.timeout(90)
@mtlib.per_go
def test_go_sampled_churn(go):
    """A call site churning objects through many GCs, in the size class of
    the kept ones: freed slots are taken again by newer objects, and the
    churned site must not read as live (nor grow like a leak), while the kept
    site stays near its 8 MiB (within 20%)."""
    run = mtlib.run_command(go.w("gochurn"), timeout=60, mt_args=SAMPLED)
    proc = mtlib.find_process(run.report, exe_name="gochurn")
    own = {k: int(v) for k, v in (kv.split("=") for kv in
                                  next(l for l in run.mt_stdout.splitlines()
                                       if l.startswith("kept=")).split())}
    c = Checks()
    # 8192 objects of 1 KiB, each sampled with probability 1 - e^(-1/16):
    # ~500 samples, sd ~4.4%; 20% is 4.5 sd.
    kept = site_live(proc, "main.allocKept")
    c.true(abs(kept - own["kept"]) <= 0.20 * own["kept"],
           "main.allocKept live %d vs the %d it keeps" % (kept, own["kept"]))
    churn = mtlib.stacks_containing(proc, "main.allocChurn")
    made = sum(s["alloc_bytes_total"] for s in churn)
    c.true(made >= 64 << 20, "the churned site allocated %d (the GC ran many times)" % made)
    live = site_live(proc, "main.allocChurn")
    c.true(live < 1 << 20, "main.allocChurn live %d: near its 64 KiB, not its garbage" % live)
    c.finish(mtlib.describe_stacks(proc))


mtlib.for_each_go(globals())
