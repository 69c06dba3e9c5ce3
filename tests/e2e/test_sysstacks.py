"""Stacks whole from a process's first allocation, for code memtrace learns
about late: programs started after a system-wide memtrace, and a library
loaded with dlopen after memtrace attached (-p) or after the command
started (--).

The programs allocate as soon as they start (MT_LINGER=1: they do their
work at once, then wait for SIGTERM so that their figures can be read):
before memtrace has published their modules, the BPF side hands the rest
of each walk to userspace, which finishes it once the tables are there; a
call site is one stack whether it allocated before or after.
"""

import os
import signal
import shutil
import tempfile
import time

import mtlib
from mtlib import Checks

# workload -> {innermost function: (the first functions of its stack, live bytes, live blocks)}
EXPECT = {
    "nofp": {
        "make_buffer": (["make_buffer", "parse_body", "handle_request", "main"], 10000, 10),
        "strdup": (["strdup", "dup_name", "main"], 80, 5),
    },
    "drip": {
        "drip_a": (["drip_a", "main"], 50 * 4096, 50),
        "strdup": (["strdup", "keep_name", "main"], 48, 3),
    },
    "mixedfp": {
        "make_record": (["make_record", "parse_body", "run_requests", "main"], 20 * 640, 20),
        "cache_alloc": (["cache_alloc", "cache_fill", "run_requests", "main"], 8 * 2048, 8),
    },
    "dlopener": {
        "dl_make": (["dl_make", "dl_fill", "main"], 12 * 768, 12),
    },
    "rust_leak": {
        "rust_leak::make_session": (["rust_leak::make_session", "rust_leak::handle_request",
                                     "rust_leak::serve"], 300 * 4096, 300),
        "rust_leak::serve": (["rust_leak::serve"], 7200, 1),
    },
}


def outer_names(stack):
    return [f.get("function") for f in stack.get("frames") or [] if not f.get("inlined")]


def check_process(c, proc, name):
    """Each expected call site: one stack, whole to _start, exact figures."""
    for fn, (chain, live_bytes, live_allocs) in EXPECT[name].items():
        s = c.run(mtlib.one_stack, proc, fn)
        if s is None:
            continue
        names = outer_names(s)
        c.eq(names[:len(chain)], chain, "%s: %s's stack, first functions" % (name, fn))
        c.eq(names[-1:], ["_start"], "%s: %s's stack ends at _start" % (name, fn))
        c.eq(s.get("truncated"), False, "%s: %s's stack truncated" % (name, fn))
        c.eq((s.get("live_bytes"), s.get("live_allocs")), (live_bytes, live_allocs),
             "%s: %s live bytes/blocks" % (name, fn))


class SystemWide:
    """memtrace with no target, its JSON report written when it is stopped."""

    def __init__(self, extra=(), roomy=True):
        self.tmp = tempfile.mkdtemp(prefix="mt-e2e-")
        self.json_path = os.path.join(self.tmp, "report.json")
        # roomy: room for every process on the machine's stacks (only these
        # programs' are checked), and exact figures however many blocks the
        # machine's other processes keep; otherwise the default sizes and choice.
        room = ["--max-stacks", "262144", "--exact"] if roomy else []
        self.argv = [mtlib.memtrace_path(), "--batch", "-i", "60"] + room + \
            ["--json", self.json_path] + list(extra)
        self.run = mtlib.Run(self.argv, self.tmp)
        self.mt = mtlib.Proc(self.argv, name="memtrace")
        self.mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 60,
                          '"memtrace: attached" line')

    def stop(self):
        self.mt.signal(signal.SIGINT)
        self.run.mt_status = self.mt.wait(60, "after SIGINT")
        self.run.mt_stdout, self.run.mt_stderr = self.mt.text("stdout"), self.mt.text("stderr")
        if self.run.mt_status != 0:
            raise AssertionError("memtrace exited %s after SIGINT" % self.run.mt_status)
        mtlib._load_outputs(self.run, folded=False)
        return self.run.report

    def close(self):
        self.mt.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_lingering(name):
    """name, started now: it allocates at once, prints "done", then waits for SIGTERM."""
    return mtlib.Proc([mtlib.workload(name)], env=dict(os.environ, MT_LINGER="1"), name=name)


@mtlib.timeout(120)
def test_system_wide_started_after():
    """System-wide, programs started after memtrace that allocate at once:
    built without frame pointers (nofp), with them through libc (drip, whose
    one call site allocates before and after memtrace learns of it), code
    mixed both ways (mixedfp), a library loaded with dlopen (dlopener), a
    Rust release build (rust_leak): every call site one stack, whole, with
    exact figures."""
    sw = SystemWide()
    wls = []
    try:
        for name in EXPECT:
            wls.append((name, start_lingering(name)))
        for name, wl in wls:
            wl.wait_line("stdout", lambda l: l == "done", 30, '"done" from %s' % name)
        # The last walks handed over are finished at the latest when memtrace stops.
        rep = sw.stop()
        c = Checks()
        for name, wl in wls:
            proc = c.run(lambda: mtlib.find_process(rep, pid=wl.pid))
            if proc is not None:
                check_process(c, proc, name)
        # (Counters are the whole machine's: other processes' walks may have lost copies.)
        c.true((rep.get("counters") or {}).get("stack_deferred", 0) > 0,
               "no walk was handed over: the test no longer tests what it says")
        c.finish("\n".join(mtlib.describe_stacks(mtlib.find_process(rep, pid=wl.pid))
                           for _, wl in wls
                           if any(p.get("pid") == wl.pid for p in rep.get("processes") or [])))
    finally:
        for _, wl in wls:
            wl.kill()
        sw.close()


@mtlib.timeout(120)
def test_system_wide_processes_come_and_go():
    """System-wide for a while, drip started again and again (each one's
    call site allocating before and after memtrace learns of it) while
    others end: every run's drip_a is one stack of 50 blocks, none split."""
    sw = SystemWide()
    alive, ended = [], []
    try:
        for i in range(8):
            wl = start_lingering("drip")
            wl.wait_line("stdout", lambda l: l == "done", 30, '"done" from drip')
            alive.append(wl)
            # Every other one ends while the next ones start.
            if i % 2:
                old = alive.pop(0)
                old.signal(signal.SIGTERM)
                old.wait(10, "drip after SIGTERM")
                ended.append(old)
        rep = sw.stop()
        c = Checks()
        for wl in alive:
            proc = c.run(lambda: mtlib.find_process(rep, pid=wl.pid))
            if proc is None:
                continue
            stacks = mtlib.stacks_with_innermost(proc, "drip_a")
            c.eq([(s.get("live_allocs"), s.get("truncated")) for s in stacks], [(50, False)],
                 "pid %d: drip_a's stacks (blocks, truncated)" % wl.pid)
        # The machine's other processes share the maps: what was lost, if anything.
        c.finish("counters not 0: %r" % {k: v for k, v in (rep.get("counters") or {}).items()
                                         if v and k not in ("stacks_stored", "stack_deferred")})
    finally:
        for wl in alive + ended:
            wl.kill()
        sw.close()


def check_dlopen(run, proc):
    c = Checks()
    check_process(c, proc, "dlopener")
    c.eq((run.report.get("counters") or {}).get("stack_cut"), 0, "counters.stack_cut")
    c.finish(mtlib.describe_stacks(proc))


def test_dlopen_attached():
    """-p: a library loaded with dlopen after memtrace attached, allocating
    at once, without frame pointers: its stacks whole."""
    run = mtlib.run_attached("dlopener")
    check_dlopen(run, mtlib.find_process(run.report, pid=run.wl_pid))


def test_dlopen_command():
    """--: the same, the library loaded after the command started."""
    run = mtlib.run_command("dlopener")
    check_dlopen(run, mtlib.find_process(run.report, exe_name="dlopener"))
