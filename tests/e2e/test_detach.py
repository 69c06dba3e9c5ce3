"""Clean detach: after SIGINT in -p mode no BPF program of memtrace's stays
loaded, and the target keeps running (and allocating) unharmed."""

import glob
import json
import signal
import subprocess
import time

import mtlib
from mtlib import Checks, one_stack


def mt_programs(bpftool):
    """{id: name} of the loaded BPF programs whose name starts with mt_."""
    r = subprocess.run([bpftool, "-j", "prog", "show"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError("bpftool prog show failed: %s" % r.stderr.strip()[-300:])
    progs = json.loads(r.stdout or "[]")
    return {p["id"]: p.get("name", "") for p in progs
            if str(p.get("name", "")).startswith("mt_")}


def prog_ids_held_by(pid):
    """IDs of the BPF programs process `pid` holds a descriptor of (its
    program and link fds say "prog_id:" in /proc/PID/fdinfo)."""
    ids = set()
    for path in glob.glob("/proc/%d/fdinfo/*" % pid):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except (OSError, ValueError):
            pass
    return ids


def proc_state(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("State:"):
                return line.split()[1]
    return None


def test_clean_detach():
    bpftool = mtlib.require("bpftool", "bpftool")
    before = mt_programs(bpftool)
    c = Checks()
    ours = set()

    def while_attached(run, mt, wl):
        loaded = mt_programs(bpftool)
        held = prog_ids_held_by(mt.pid)
        # The programs memtrace holds; failing that (fds closed after
        # attaching), the mt_ programs that appeared since the start.
        ours.update(held or (set(loaded) - set(before)))
        c.true(ours, "no mt_ BPF program found while memtrace was attached "
               "(the after-detach check would prove nothing)")
        for prog_id in sorted(ours):
            c.true(prog_id in loaded,
                   "memtrace holds BPF program %d whose name does not start with mt_" % prog_id)

    def after_detach(run, mt, wl):
        # The kernel may free a program a moment after its last reference
        # goes: give it a few seconds.
        end = time.monotonic() + 5
        while True:
            loaded = mt_programs(bpftool)
            left = sorted(ours & set(loaded))
            if not left or time.monotonic() > end:
                break
            time.sleep(0.2)
        c.true(not left, "BPF programs still loaded after memtrace exited: %s"
               % ["%d %s" % (i, loaded[i]) for i in left])
        others = sorted(set(loaded) - set(before) - ours)
        if others:
            mtlib.note("other mt_ programs appeared meanwhile (another memtrace?): %s"
                       % ["%d %s" % (i, loaded[i]) for i in others])
        state = proc_state(wl.pid)
        c.true(state not in ("T", "t", "Z", "X", None),
               "target state %s after detach, expected running or sleeping" % state)
        # The target answers with one malloc/free and "pong": it still runs,
        # and allocating trips over no leftover probe.
        n = len(wl.lines["stdout"])
        wl.signal(signal.SIGUSR1)
        c.run(wl.wait_line, "stdout", lambda l: l == "pong", 10, '"pong" after detach', n)

    # run_attached also requires exit status 0 from both memtrace (SIGINT)
    # and the target (SIGTERM at the end).
    run = mtlib.run_attached("family_pie", while_attached=while_attached,
                             after_detach=after_detach)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    s = c.run(one_stack, proc, "leak_malloc")
    if s:
        c.eq(s.get("live_bytes"), 10000, "leak_malloc live_bytes")
    c.finish()
