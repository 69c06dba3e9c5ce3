"""Source lines and inlined frames, from the workloads' DWARF.

The lines workload allocates inside an always_inline helper: the one return
address in build_buffers must come out as two frames, the helper (inlined,
at the allocating line) then build_buffers (at the helper's call site).
"""

import os

import mtlib
from mtlib import Checks

WORKLOAD_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workloads")


def marker_line(name, marker):
    """The line of tests/workloads/<name> holding the comment /* marker */."""
    with open(os.path.join(WORKLOAD_SRC, name)) as f:
        for i, line in enumerate(f, 1):
            if "/* %s */" % marker in line:
                return i
    raise AssertionError("no /* %s */ in %s" % (marker, name))


def check_frame(c, frame, what, function, file_suffix, line, inlined):
    c.eq(frame.get("function"), function, what + " function")
    c.true((frame.get("file") or "").endswith(file_suffix),
           "%s file %r does not end in %s" % (what, frame.get("file"), file_suffix))
    c.eq(frame.get("line"), line, what + " line")
    c.eq(frame.get("inlined"), inlined, what + " inlined")


def frames_text(stack):
    return "\n".join("    %s %s:%s%s" % (f.get("function"), f.get("file"), f.get("line"),
                                         " (inlined)" if f.get("inlined") else "")
                     for f in (stack.get("frames") or [])[:6])


def test_inlined_frames():
    """alloc_helper (inlined) <- build_buffers <- main, each at its own line."""
    run = mtlib.run_command("lines")
    proc = mtlib.find_process(run.report, exe_name="lines")
    alloc_line = marker_line("lines.c", "ALLOC_LINE")
    call_line = marker_line("lines.c", "CALL_LINE")
    main_line = marker_line("lines.c", "MAIN_LINE")
    c = Checks()
    s = mtlib.one_stack(proc, "alloc_helper")
    frames = s.get("frames") or []
    c.eq((s.get("live_bytes"), s.get("live_allocs")), (12000, 4), "live bytes/allocs")
    if c.true(len(frames) >= 3, "only %d frames" % len(frames)):
        check_frame(c, frames[0], "frames[0]", "alloc_helper", "lines.c", alloc_line, True)
        check_frame(c, frames[1], "frames[1]", "build_buffers", "lines.c", call_line, False)
        check_frame(c, frames[2], "frames[2]", "main", "lines.c", main_line, False)
        # The inlined frame is the same pc as the one holding it.
        c.eq((frames[0].get("module"), frames[0].get("offset")),
             (frames[1].get("module"), frames[1].get("offset")),
             "frames[0] and frames[1] module/offset")
        c.true((frames[0].get("module") or "").endswith("/lines"),
               "frames[0] module %r" % frames[0].get("module"))
    c.true("lines.c:%d" % alloc_line in run.mt_stdout and "(inlined)" in run.mt_stdout,
           "the text report shows lines.c:%d and (inlined)" % alloc_line)
    c.finish("  frames:\n" + frames_text(s) + "\n" + mtlib.describe_stacks(proc))


def test_plain_frames_have_lines():
    """Without inlining, one frame per return address, with its line."""
    run = mtlib.run_command("exitleak")
    proc = mtlib.find_process(run.report, exe_name="exitleak")
    s = mtlib.one_stack(proc, "leak_then_exit")
    frames = s.get("frames") or []
    c = Checks()
    if c.true(len(frames) >= 2, "only %d frames" % len(frames)):
        f0, f1 = frames[0], frames[1]
        c.eq(f0.get("inlined"), False, "frames[0] inlined")
        c.true((f0.get("file") or "").endswith("exitleak.c"),
               "frames[0] file %r" % f0.get("file"))
        c.true(isinstance(f0.get("line"), int) and f0["line"] > 0,
               "frames[0] line %r" % f0.get("line"))
        c.eq(f1.get("function"), "main", "frames[1] function")
        c.true((f1.get("file") or "").endswith("exitleak.c"),
               "frames[1] file %r" % f1.get("file"))
    c.finish("  frames:\n" + frames_text(s))
