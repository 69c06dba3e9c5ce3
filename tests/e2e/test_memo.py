"""A thread's last walk taken again (the walk memo): only for a stack that
is the same, word for word, not for one that merely starts the same.

samesp (tests/workloads/samesp.c, with frame pointers, and samesp_nofp
without) calls malloc from one site with the same return address and stack
pointer through two callers, one call after the other, and through one of
them from a frame further up:

    site <- left <- run <- main             1000 x 48 bytes, kept
    site <- right <- run <- main            1000 x 80 bytes, kept
    site <- right <- deeper <- run <- main   500 x 80 bytes, kept
    site <- mid <- far_left <- run <- main   1000 x 112 bytes, kept
    site <- mid <- far_right <- run <- main  1000 x 144 bytes, kept

The last two differ only above mid's 4 KiB frame, in a window of stack the
walk reads after the first KiB (the memo checks the words there too). A
walk reused on its start alone would file left's bytes under right's
stack (or the other way round): each stack's figures must be exact, tracked
exactly and sampled (calls and bytes allocated are counted per call either
way).
"""

import mtlib
from mtlib import Checks

EXPECTED = {
    ("site", "left", "run", "main"): (48000, 1000),
    ("site", "right", "run", "main"): (80000, 1000),
    ("site", "right", "deeper", "run", "main"): (40000, 500),
    ("site", "mid", "far_left", "run", "main"): (112000, 1000),
    ("site", "mid", "far_right", "run", "main"): (144000, 1000),
}


def chains(proc):
    """site's stacks by their functions down to main: (bytes, calls) allocated, (bytes, blocks) live."""
    out = {}
    for s in mtlib.stacks_with_innermost(proc, "site"):
        names = [f.get("function") for f in s.get("frames") or [] if not f.get("inlined")]
        key = tuple(names[:names.index("main") + 1]) if "main" in names else tuple(names)
        got = out.setdefault(key, [0, 0, 0, 0])
        got[0] += s.get("alloc_bytes_total") or 0
        got[1] += s.get("allocs_total") or 0
        got[2] += s.get("live_bytes") or 0
        got[3] += s.get("live_allocs") or 0
    return out


def check_samesp(workload, mt_args=(), sampled=False):
    run = mtlib.run_command(workload, mt_args=list(mt_args))
    proc = mtlib.find_process(run.report, exe_name=workload)
    got = chains(proc)
    c = Checks()
    c.eq(sorted(got), sorted(EXPECTED), "site's stacks (functions down to main)")
    for chain, (nbytes, calls) in EXPECTED.items():
        g = got.get(chain)
        if g is None:
            continue
        c.eq((g[0], g[1]), (nbytes, calls), "%s: bytes and calls allocated" % " <- ".join(chain))
        if not sampled:
            c.eq((g[2], g[3]), (nbytes, calls), "%s: live bytes and blocks" % " <- ".join(chain))
    c.finish(mtlib.describe_stacks(proc))


def test_samesp_exact():
    """Frame pointers, tracked exactly: each of the three stacks its own figures."""
    check_samesp("samesp")


def test_samesp_nofp_exact():
    """Without frame pointers (walked by the unwind tables), tracked exactly."""
    check_samesp("samesp_nofp")


def test_samesp_sampled():
    """--sample-rate 64k: calls and bytes allocated per stack still exact."""
    check_samesp("samesp", mt_args=["--sample-rate", "64k"], sampled=True)


def test_samesp_nofp_sampled():
    """Without frame pointers, sampled: calls and bytes allocated per stack exact."""
    check_samesp("samesp_nofp", mt_args=["--sample-rate", "64k"], sampled=True)
