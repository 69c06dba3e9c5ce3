"""Which sampled Go objects are still allocated, read from the runtime's span
metadata (src/memory/go_span.c) in a running program: the gospan workload
keeps half of its objects of every kind (tiny, small with and without
pointers, large), drops half, runs the GC and prints their addresses;
go_span_check (a test tool linking go_span) must call every kept one live
and every dropped one free, and leave the program running. With DWARF and
the symbol table (gospan), and without either (gospan_stripped: the table
and a code search)."""

import signal

import mtlib
from mtlib import Checks


def parse_objs(line, label):
    words = line.split()
    if not words or words[0] != label:
        raise AssertionError("expected a %r line, got %r" % (label, line[:200]))
    return [(int(a, 16), int(s)) for a, s in (w.split(":") for w in words[1:])]


def expected(kept, dropped):
    """A dropped object reads live only where a kept one now has its slot
    (the same address and size) or shares its 16-byte tiny block."""
    kept_slots = set(kept)
    kept_blocks = {a & ~15 for a, s in kept if s == 16}
    exp = ["live"] * len(kept)
    for a, s in dropped:
        exp.append("live" if (a, s) in kept_slots or (s == 16 and a & ~15 in kept_blocks)
                   else "free")
    return exp


def check_workload(name, want_source):
    wl = mtlib.start_workload(name)
    try:
        out = wl.lines["stdout"]
        kept = parse_objs(out[0], "kept")
        dropped = parse_objs(out[1], "dropped")
        objs = kept + dropped
        tool = mtlib.Proc([mtlib.workload("go_span_check"), wl.pid, mtlib.workload(name)]
                          + ["%x:%d" % o for o in objs])
        try:
            status = tool.wait(30, "checking %d objects" % len(objs))
            lines = tool.text("stdout").splitlines()
            err = tool.text("stderr")
        finally:
            tool.kill()
        c = Checks()
        c.eq(status, 0, "go_span_check's exit status (stderr: %r)" % err[-300:])
        c.eq(err, "", "go_span_check's stderr")
        c.true(lines and lines[0].split()[2:] == want_source,
               "layout source %r, expected %r" % (lines[:1], want_source))
        got = [l.split()[1] for l in lines[1:]]
        c.eq(len(got), len(objs), "one state per object")
        want = expected(kept, dropped)
        wrong = ["%s %x:%d %s (expected %s)"
                 % ("kept" if i < len(kept) else "dropped", objs[i][0], objs[i][1], g, w)
                 for i, (g, w) in enumerate(zip(got, want)) if g != w]
        c.true(not wrong, "%d of %d objects misjudged: %s"
               % (len(wrong), len(objs), "; ".join(wrong[:10])))
        sizes = {s for _, s in objs}
        c.true({16, 48, 112, 40960} <= sizes and (640 in sizes or 704 in sizes),
               "every kind of object present: sizes %s" % sorted(sizes))
        c.true(want.count("free") >= len(dropped) // 2,
               "most dropped objects are free slots: %d of %d"
               % (want.count("free"), len(dropped)))
        c.true(wl.alive(), "the program still runs after being read")
        wl.signal(signal.SIGTERM)
        c.eq(wl.wait(10, "after SIGTERM"), 0, "the program's exit status")
        c.finish()
    finally:
        wl.kill()


@mtlib.not_asan("memtrace is not run: go_span_check is built with the sanitizers already")
@mtlib.per_go
def test_gospan_states(go):
    """DWARF offsets, mheap_ from the symbol table."""
    check_workload(go.w("gospan"), ["dwarf", "symtab"])


@mtlib.not_asan("memtrace is not run: go_span_check is built with the sanitizers already")
@mtlib.per_go
def test_gospan_states_stripped(go):
    """-s -w: the per-version table, mheap_ from runtime.(*sweepLocked).sweep's code."""
    check_workload(go.w("gospan_stripped"), ["table", "code"])


mtlib.for_each_go(globals())
