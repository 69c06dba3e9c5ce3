"""Rust services built as `cargo build --release` builds them.

The workloads (tests/workloads/rust, built with cargo from crates.io) are
one program linked three ways: Rust's system allocator (glibc), the
tikv-jemallocator crate (jemalloc inside the executable, its functions
named _rjem_*), and the mimalloc crate (mi_malloc_aligned & co inside the
executable); rust_leak_v0 is the first with v0 symbol names. The crate's
code keeps no frame pointers while Rust's std does: stacks are whole only
if each frame is unwound by its own rule. What they allocate (lib.rs):

    make_session <- handle_request <- serve   300 x 4096 bytes, kept
    serve                                     Vec::with_capacity(300) of 24-byte
                                              Vec headers: 7200 bytes, kept
    grow_index <- serve                       1 allocation + 8 reallocations,
                                              8192 bytes kept
    drop_scratch <- serve                     1000 x 100 bytes, all dropped
"""

import os

import mtlib
from mtlib import Checks

SESSION_CHAIN = ["rust_leak::make_session", "rust_leak::handle_request", "rust_leak::serve"]

# workload -> (allocator as reported, the prefix of the allocator's own functions)
VARIANTS = {
    "rust_leak": ("glibc", None),
    "rust_leak_v0": ("glibc", None),
    "rust_leak_jemalloc": ("jemalloc", "_rjem_"),
    "rust_leak_mimalloc": ("mimalloc", "mi_"),
}


def names(stack):
    return [f.get("function") for f in stack.get("frames") or [] if not f.get("inlined")]


def check_rust(name, mode):
    allocator, prefix = VARIANTS[name]
    if mode == "pid":
        run = mtlib.run_attached(name)
        proc = mtlib.find_process(run.report, pid=run.wl_pid)
    else:
        run = mtlib.run_command(name)
        proc = mtlib.find_process(run.report, exe_name=name)
    c = Checks()
    c.eq(proc.get("allocator"), allocator, "allocator")
    if prefix:
        c.eq(os.path.basename(proc.get("allocator_path") or ""), name,
             "allocator_path: the executable itself")
        # Every function of the allocator's own probed at a site the kernel emulates.
        own = [p for p in run.report.get("probes") or []
               if (p.get("function") or "").startswith(prefix)]
        c.true(len(own) >= 4, "at least 4 of the allocator's %s* functions probed: %s"
               % (prefix, [p.get("function") for p in own]))
        c.eq([p["function"] for p in own if p.get("single_stepped")], [],
             "the allocator's functions single-stepped")
    counters = run.report.get("counters") or {}
    c.eq(counters.get("stack_cut"), 0, "counters.stack_cut")
    c.eq(counters.get("stack_read_failed"), 0, "counters.stack_read_failed")
    if mode == "cmd":
        c.eq(counters.get("unknown_frees"), 0, "counters.unknown_frees")

    s = c.run(mtlib.one_stack, proc, "rust_leak::make_session")
    if s is not None:
        c.eq(names(s)[:3], SESSION_CHAIN, "make_session's stack, first 3 functions")
        c.eq((s.get("live_bytes"), s.get("live_allocs"), s.get("allocs_total")),
             (300 * 4096, 300, 300), "make_session: live bytes, live blocks, allocations")
        c.eq(s.get("truncated"), False, "make_session's stack truncated")
        if mode == "cmd":
            c.eq(names(s)[-1:], ["_start"], "make_session's stack ends at _start")
    s = c.run(mtlib.one_stack, proc, "rust_leak::serve")
    if s is not None:
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (7200, 1),
             "serve's Vec::with_capacity(300): live bytes, blocks")
    grow = mtlib.stacks_containing(proc, "rust_leak::grow_index")
    g = mtlib.sum_stacks(grow)
    c.eq((g["live_bytes"], g["live_allocs"], g["allocs_total"], g["frees_total"]),
         (8192, 1, 9, 8), "grow_index: live bytes, live blocks, allocations, frees "
         "(reallocations free the old block)")
    # alloc::raw_vec::RawVec<T,A>::grow_one (legacy names), <alloc::raw_vec::RawVec<u64>>::grow_one (v0)
    c.true(grow and all(any((n or "").lstrip("<").startswith("alloc::raw_vec::") for n in names(st))
                        for st in grow),
           "grow_index's stacks go through std's alloc::raw_vec: %s"
           % [names(st)[:3] for st in grow])
    d = mtlib.sum_stacks(mtlib.stacks_containing(proc, "rust_leak::drop_scratch"))
    c.eq((d["live_bytes"], d["allocs_total"], d["frees_total"]), (0, 1000, 1000),
         "drop_scratch: live bytes, allocations, frees")
    c.finish(mtlib.describe_stacks(proc))


def _make(name, mode):
    def test():
        check_rust(name, mode)
    test.__name__ = "test_%s_%s" % (name, mode)
    test.__doc__ = "%s under memtrace %s: whole stacks, Rust names, exact figures." % (
        name, "-p" if mode == "pid" else "--")
    return test


for _name in VARIANTS:
    for _mode in ("cmd", "pid"):
        if _name == "rust_leak_v0" and _mode == "pid":
            continue
        globals()["test_%s_%s" % (_name, _mode)] = _make(_name, _mode)
