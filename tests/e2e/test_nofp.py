"""Stacks of code built without frame pointers, unwound from .eh_frame.

The nofp and nofp_cxx workloads are built with -fomit-frame-pointer: their
call chains come out whole only through the .eh_frame unwinder (--fp-only
loses them), with source lines from DWARF, and in the same order as
heaptrack reports them.
"""

import glob
import os
import re
import shutil
import tempfile

import mtlib
from mtlib import Checks

WORKLOAD_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workloads")

CHAIN = ["make_buffer", "parse_body", "handle_request", "main"]


def marker_line(name, marker):
    """The line of tests/workloads/<name> holding the comment /* marker */."""
    with open(os.path.join(WORKLOAD_SRC, name)) as f:
        for i, line in enumerate(f, 1):
            if "/* %s */" % marker in line:
                return i
    raise AssertionError("no /* %s */ in %s" % (marker, name))


def outer_names(stack):
    """Function names of the frames, inlined ones left out."""
    return [f.get("function") for f in stack.get("frames") or [] if not f.get("inlined")]


def frames_text(stack, limit=12):
    return "\n".join("    %s %s:%s%s [%s]" % (f.get("function"), f.get("file"), f.get("line"),
                                              " (inlined)" if f.get("inlined") else "",
                                              os.path.basename(f.get("module") or "?"))
                     for f in (stack.get("frames") or [])[:limit])


def in_order(names, wanted):
    """Whether `wanted` appear in `names` in that order (others may be between)."""
    i = 0
    for n in names:
        if i < len(wanted) and n == wanted[i]:
            i += 1
    return i == len(wanted)


def nofp_process(mode, mt_args=()):
    if mode == "pid":
        run = mtlib.run_attached("nofp", mt_args=mt_args)
        return run, mtlib.find_process(run.report, pid=run.wl_pid)
    run = mtlib.run_command("nofp", mt_args=mt_args)
    return run, mtlib.find_process(run.report, exe_name="nofp")


def check_nofp(mode):
    run, proc = nofp_process(mode)
    c = Checks()
    s = c.run(mtlib.one_stack, proc, "make_buffer")
    if s is not None:
        names = outer_names(s)
        c.eq(names[:4], CHAIN, "make_buffer stack, first 4 functions")
        c.true("__libc_start_main" in names[4:],
               "no __libc_start_main after main in make_buffer's stack: %s" % names)
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (10000, 10),
             "make_buffer live bytes/allocs")
    d = c.run(mtlib.one_stack, proc, "strdup")
    if d is not None:
        frames = d.get("frames") or []
        c.true(os.path.basename(frames[0].get("module") or "").startswith("libc.so"),
               "strdup frame module %r is not libc" % frames[0].get("module"))
        c.eq(outer_names(d)[:3], ["strdup", "dup_name", "main"], "strdup stack, first 3 functions")
        c.eq(d.get("live_allocs"), 5, "strdup live_allocs")
    c.finish(mtlib.describe_stacks(proc) +
             ("\n  make_buffer frames:\n" + frames_text(s) if s else ""))


def test_nofp_command():
    """-- mode: make_buffer <- parse_body <- handle_request <- main <- libc start."""
    check_nofp("command")


def test_nofp_attached():
    """-p mode: the same stacks when attaching to the running process."""
    check_nofp("pid")


def test_nofp_line():
    """make_buffer's frame is at the malloc line of nofp.c."""
    run, proc = nofp_process("command")
    s = mtlib.one_stack(proc, "make_buffer")
    f0 = (s.get("frames") or [{}])[0]
    c = Checks()
    c.true((f0.get("file") or "").endswith("nofp.c"), "make_buffer file %r" % f0.get("file"))
    c.eq(f0.get("line"), marker_line("nofp.c", "ALLOC_LINE"), "make_buffer line")
    c.eq(f0.get("inlined"), False, "make_buffer inlined")
    c.finish("  frames:\n" + frames_text(s))


def test_nofp_fp_only_loses_frames():
    """--fp-only: the frame-pointer walk cannot get past make_buffer."""
    run, proc = nofp_process("command", mt_args=["--fp-only"])
    found = mtlib.stacks_with_innermost(proc, "make_buffer")
    c = Checks()
    if c.true(found, "no stack with innermost frame make_buffer"):
        c.eq(mtlib.sum_stacks(found)["live_bytes"], 10000, "make_buffer live_bytes")
        for s in found:
            c.true("parse_body" not in outer_names(s),
                   "--fp-only still found parse_body: %s" % outer_names(s))
    c.finish(mtlib.describe_stacks(proc))


def test_nofp_cxx():
    """C++ without frame pointers: operator new callers, through std:: frames."""
    run = mtlib.run_command("nofp_cxx")
    proc = mtlib.find_process(run.report, exe_name="nofp_cxx")
    c = Checks()
    # The 4 strings' 101-byte buffers (the std::string objects are another
    # stack, of 32-byte blocks).
    strs = [s for s in mtlib.stacks_containing(proc, "ns::build_name(int)")
            if s.get("live_bytes") == 404]
    if c.true(len(strs) == 1, "%d stacks of ns::build_name(int) with 404 live bytes, "
              "expected 1" % len(strs)):
        s = strs[0]
        c.eq(s.get("live_allocs"), 4, "string buffers live_allocs")
        c.true(in_order(outer_names(s), ["ns::build_name(int)", "ns::Server::handle(int)",
                                          "main", "__libc_start_main"]),
               "string buffer stack lacks ns::build_name(int) <- ns::Server::handle(int) "
               "<- main <- __libc_start_main:\n" + frames_text(s))
    vec = mtlib.stacks_containing(proc, "ns::fill(int)")
    if c.true(vec, "no stack contains ns::fill(int)"):
        c.eq(mtlib.sum_stacks(vec)["live_bytes"], 4096, "ns::fill(int) live_bytes")
        for s in vec:
            c.true(in_order(outer_names(s), ["ns::fill(int)", "main"]),
                   "vector stack lacks ns::fill(int) <- main:\n" + frames_text(s))
    c.finish(mtlib.describe_stacks(proc))


def heaptrack_leak_stack(text, innermost):
    """From heaptrack_print's MEMORY LEAKS section, the functions of the first
    trace of the leak whose allocation site is `innermost`, innermost first:

        10.00K leaked over 10 calls from
        make_buffer
          at tests/workloads/nofp.c:24
          in /path/nofp
        10.00K leaked over 10 calls from:
            parse_body
              at ...
    """
    lines = text.splitlines()
    try:
        start = lines.index("MEMORY LEAKS")
    except ValueError:
        raise AssertionError("no MEMORY LEAKS section in heaptrack_print's output")
    lines = lines[start + 1:]
    for i, l in enumerate(lines):
        if l == innermost and i > 0 and re.search(r" leaked over \d+ calls from$", lines[i - 1]):
            names = [innermost]
            j = i + 1
            while j < len(lines) and not lines[j].endswith("calls from:"):
                j += 1
            for l2 in lines[j + 1:]:
                if not l2.strip():
                    break
                if l2.endswith("calls from:"):
                    break          # the next trace of the same site
                m = re.match(r"^    (\S.*)$", l2)
                if m:
                    names.append(m.group(1))
            return names
    raise AssertionError("no leak from %s in heaptrack_print's output" % innermost)


@mtlib.timeout(90)
def test_nofp_vs_heaptrack():
    """memtrace's make_buffer stack has heaptrack's function order."""
    heaptrack = mtlib.require("heaptrack", "heaptrack")
    ht_print = mtlib.require("heaptrack_print", "heaptrack")
    tmpdir = tempfile.mkdtemp(prefix="mt-e2e-ht-")
    try:
        p = mtlib.Proc([heaptrack, "-o", os.path.join(tmpdir, "ht"), mtlib.workload("nofp")],
                       name="heaptrack")
        try:
            rc = p.wait(30, "heaptrack run")
        finally:
            p.kill()
        files = glob.glob(os.path.join(tmpdir, "ht*"))
        if rc != 0 or not files:
            raise AssertionError("heaptrack exited %s, wrote %s; stderr:\n%s"
                                 % (rc, files, p.text("stderr")[-1000:]))
        p = mtlib.Proc([ht_print, "-f", files[0], "--print-leaks", "1"], name="heaptrack_print")
        try:
            rc = p.wait(30, "heaptrack_print")
        finally:
            p.kill()
        out = p.text("stdout")
        if rc != 0:
            raise AssertionError("heaptrack_print exited %s; stderr:\n%s"
                                 % (rc, p.text("stderr")[-1000:]))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    ht_names = heaptrack_leak_stack(out, "make_buffer")

    run, proc = nofp_process("command")
    s = mtlib.one_stack(proc, "make_buffer")
    mt_names = outer_names(s)
    c = Checks()
    c.eq([n for n in ht_names if n in CHAIN], CHAIN, "heaptrack's order of %s" % CHAIN)
    c.eq([n for n in mt_names if n in CHAIN], CHAIN, "memtrace's order of %s" % CHAIN)
    both = [n for n in ht_names if n in mt_names]
    c.eq([n for n in mt_names if n in both], both, "memtrace's order of the frames "
         "heaptrack shows too")
    c.finish("  heaptrack: %s\n  memtrace:  %s" % (ht_names, mt_names))


# ------------------------------------------------------------ mixed code

MIXED = {
    "make_record": (["make_record", "parse_body", "run_requests", "main"], 20 * 640, 20),
    "cache_alloc": (["cache_alloc", "cache_fill", "run_requests", "main"], 8 * 2048, 8),
}


def check_mixedfp(mode):
    """mixedfp links code with and without frame pointers in one executable
    (most of it, by bytes, with): every frame is unwound by its own rule, so
    no frame of the chain is skipped, and the stacks are whole."""
    if mode == "pid":
        run = mtlib.run_attached("mixedfp")
        proc = mtlib.find_process(run.report, pid=run.wl_pid)
    else:
        run = mtlib.run_command("mixedfp", mt_args=["-v"])
        proc = mtlib.find_process(run.report, exe_name="mixedfp")
    c = Checks()
    if mode != "pid":
        # Few calls off frame-pointer rows (its objects built without them): those
        # frames by their rows, the rest by rbp without a lookup; the stacks below
        # go through both.
        c.true(re.search(r"unwind table for \S*/mixedfp: .*walked by rbp", run.mt_stderr),
               "-v says mixedfp's frame-pointer code is walked by rbp: %r"
               % [l for l in run.mt_stderr.splitlines() if "mixedfp" in l])
    for fn, (chain, live_bytes, live_allocs) in MIXED.items():
        s = c.run(mtlib.one_stack, proc, fn)
        if s is None:
            continue
        names = outer_names(s)
        c.eq(names[:4], chain, "%s's stack, first 4 functions" % fn)
        c.eq(names[-1:], ["_start"], "%s's stack ends at _start" % fn)
        c.eq(s.get("truncated"), False, "%s's stack truncated" % fn)
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (live_bytes, live_allocs),
             "%s live bytes/allocs" % fn)
    c.eq((run.report.get("counters") or {}).get("stack_cut"), 0, "counters.stack_cut")
    c.finish(mtlib.describe_stacks(proc))


def test_mixedfp_command():
    check_mixedfp("cmd")


def test_mixedfp_attached():
    check_mixedfp("pid")


def test_signal_frame_cut():
    """Allocations in a signal handler: the walk reaches the kernel's signal
    frame (libc's __restore_rt, whose CFI rule is an expression) and stops
    there; the stack keeps the handler's frame and the signal frame's,
    nothing made up past it, and says it was cut (JSON truncated,
    counters.stack_cut)."""
    run = mtlib.run_command("sigalloc")
    proc = mtlib.find_process(run.report, exe_name="sigalloc")
    c = Checks()
    s = c.run(mtlib.one_stack, proc, "alloc_in_handler")
    if s is not None:
        frames = s.get("frames") or []
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (999, 3), "live bytes/allocs")
        c.eq(s.get("truncated"), True, "the stack is marked truncated")
        c.eq(len(frames), 2, "frames: the handler and the signal frame")
        if len(frames) == 2:
            c.true(os.path.basename(frames[1].get("module") or "").startswith("libc.so"),
                   "the signal frame is in libc: %r" % frames[1])
    c.eq((run.report.get("counters") or {}).get("stack_cut"), 1, "counters.stack_cut")
    c.finish(mtlib.describe_stacks(proc))
