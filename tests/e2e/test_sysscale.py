"""System-wide at scale: 200 processes allocating while memtrace watches
the whole machine. Every one is listed with its call sites whole, and the
maps stay within their stated bound. (What a refresh costs memtrace there
is make bench's.)"""

import time

import mtlib
from mtlib import Checks
from test_sysstacks import SystemWide

PROCS = 200


@mtlib.timeout(150)
def test_two_hundred_processes():
    """200 processes, each dripping 4 KiB every 100 ms from drip_a: all listed,
    drip_a's two call sites in main two whole stacks in each; kernel memory
    with the default sizes within 256 MiB."""
    # --exact: every drip_a call kept, however many blocks the rest of the machine keeps.
    sw = SystemWide(extra=["-i", "1", "--exact"], roomy=False)
    wls = []
    try:
        for _ in range(PROCS):
            wls.append(mtlib.Proc([mtlib.workload("drip"), "forever"], name="drip"))
        for wl in wls:
            wl.wait_line("stdout", lambda l: l == "done", 60, '"done" from drip')
        # Three refreshes, each drip_a from the second call site some thirty times.
        time.sleep(3)
        rep = sw.stop()
        c = Checks()
        listed = {p.get("pid"): p for p in rep.get("processes") or []}
        missing = [wl.pid for wl in wls if wl.pid not in listed]
        c.eq(missing, [], "drip processes not listed")
        bad = []
        for wl in wls:
            proc = listed.get(wl.pid)
            if not proc:
                continue
            stacks = mtlib.stacks_with_innermost(proc, "drip_a")
            names = [[f.get("function") for f in s.get("frames") or []] for s in stacks]
            whole = [n for n, s in zip(names, stacks)
                     if n[:2] == ["drip_a", "main"] and n[-1:] == ["_start"]
                     and not s.get("truncated")]
            if len(stacks) != 2 or len(whole) != 2:
                bad.append((wl.pid, names))
        c.eq(bad[:3], [], "drip processes whose drip_a is not two whole stacks (first 3 of %d)"
             % len(bad))
        kb = rep.get("kernel_bytes")
        c.true(isinstance(kb, int) and 0 < kb <= 256 << 20, "kernel_bytes %r within 256 MiB" % kb)
        c.finish()
    finally:
        for wl in wls:
            wl.kill()
        sw.close()
