"""Faults and lifecycle, with real processes: a target that exits, execs,
forks or is killed while traced; memtrace itself stopped by SIGINT, SIGTERM
or SIGKILL; two memtraces on one process; a report that cannot be written
(full disk, vanished directory); maps too small for what is traced."""

import errno
import os
import shutil
import signal
import subprocess
import tempfile
import time

import mtlib
from mtlib import Checks, one_stack, stacks_containing, stacks_with_innermost, sum_stacks
from test_detach import mt_programs, prog_ids_held_by, proc_state
from test_family import FAMILY, fig


# ---------------------------------------------------------------- helpers

class Session:
    """memtrace -p on workloads this test started. Every process is killed
    and the temporary directory removed by close(), whatever happened."""

    def __init__(self):
        self.tmpdir = tempfile.mkdtemp(prefix="mt-e2e-")
        self.workloads = []
        self.memtraces = []

    def workload(self, name, args=()):
        wl = mtlib.start_workload(name, args)
        self.workloads.append(wl)
        return wl

    def memtrace(self, pids, mt_args=(), json_path="default", wait=True):
        """Start memtrace -p PIDS and (unless not wait) wait until it
        attached to each. Returns (Run, Proc); the Run's json_path is where
        --json goes."""
        run = mtlib.Run(None, self.tmpdir)
        if json_path != "default":
            run.json_path = json_path
        argv = [mtlib.memtrace_path()]
        if run.json_path:
            argv += ["--json", run.json_path]
        argv += list(mt_args) + ["-p", ",".join(str(p) for p in pids)]
        run.argv = argv
        mt = mtlib.Proc(argv, name="memtrace")
        self.memtraces.append((run, mt))
        if wait:
            self.attached(mt, pids)
        return run, mt

    @staticmethod
    def attached(mt, pids):
        for pid in pids:
            mt.wait_line("stderr", lambda l, p=pid: l.startswith("memtrace: attached to pid %d:" % p),
                         60, '"memtrace: attached to pid %d" line' % pid)

    def stop(self, run, mt, sig=signal.SIGINT, timeout=60):
        """Stop memtrace with sig (None: wait for it to end by itself);
        return its exit status, its output kept in run."""
        if sig is not None:
            mt.signal(sig)
        try:
            run.mt_status = mt.wait(timeout, "after %s" % (signal.Signals(sig).name if sig
                                                          else "its targets ended"))
        finally:
            self.collect(run, mt)
        return run.mt_status

    @staticmethod
    def collect(run, mt):
        run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")

    def close(self):
        for run, mt in self.memtraces:
            self.collect(run, mt)
            mt.kill()
        for wl in self.workloads:
            wl.kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def work(wl, timeout=20):
    """SIGUSR1: the workload does its work; wait for its "done"."""
    n = len(wl.lines["stdout"])
    wl.signal(signal.SIGUSR1)
    wl.wait_line("stdout", lambda l: l == "done", timeout, '"done"', n)


def pong(wl, c, what):
    """The workload answers SIGUSR1 with one malloc/free and "pong"."""
    n = len(wl.lines["stdout"])
    wl.signal(signal.SIGUSR1)
    c.run(wl.wait_line, "stdout", lambda l: l == "pong", 10, '"pong" ' + what, n)


def load_report(run):
    mtlib._load_outputs(run, False)
    return run.report


def check_family_figures(proc, c, what):
    """The figures of tests/workloads/family.c. A function's stack seen
    split in two (a stack read differently once) is summed and noted:
    these tests are about the process's life, test_family about stacks."""
    for fn, expected in FAMILY.items():
        stacks = stacks_with_innermost(proc, fn)
        if not c.true(stacks, "%s no stack with innermost frame %s" % (what, fn)):
            continue
        if len(stacks) > 1:
            mtlib.note("%s %s split into %d stacks: %s" % (
                what, fn, len(stacks), "; ".join(mtlib.stack_line(s) for s in stacks)))
        c.figures(sum_stacks(stacks), expected, "%s %s" % (what, fn))


def error_lines(stderr):
    """memtrace's stderr without its "attached" lines."""
    return [l for l in stderr.splitlines()
            if l.strip() and not l.startswith("memtrace: attached to pid")]


def check_one_error(run, c, mention):
    lines = error_lines(run.mt_stderr)
    c.true(run.mt_status not in (0, None),
           "memtrace exited %s, expected a failure status" % run.mt_status)
    if c.true(len(lines) == 1, "expected exactly one error line on stderr, got %r" % lines):
        c.true(lines[0].startswith("memtrace: "), "error line %r does not start with "
               "'memtrace: '" % lines[0])
        for m in mention:
            c.true(m in lines[0], "error line %r does not mention %r" % (lines[0], m))


# ---------------------------------------------------------------- the target's life

@mtlib.timeout(120)
def test_target_exits():
    """-p: the only target exits mid-trace: memtrace ends by itself with
    status 0 and reports the process as exited, with its leaks."""
    s = Session()
    try:
        wl = s.workload("exitleak")
        run, mt = s.memtrace([wl.pid])
        work(wl)
        c = Checks()
        c.eq(wl.wait(10, "exitleak exits after done"), 0, "exitleak's exit status")
        c.eq(s.stop(run, mt, None), 0, "memtrace's exit status")
        proc = mtlib.find_process(load_report(run), pid=wl.pid)
        c.eq(proc.get("exited"), True, "exited")
        st = c.run(one_stack, proc, "leak_then_exit")
        if st:
            c.figures(st, fig(6144, 3, 6144, 3, 0), "leak_then_exit")
            c.eq([f.get("function") for f in (st.get("frames") or [])[:2]],
                 ["leak_then_exit", "main"], "frames, symbolized after the exit")
        c.true("[exited]" in run.mt_stdout, "the final text report does not say [exited]")
        c.finish(mtlib.describe_stacks(proc))
    finally:
        s.close()


@mtlib.timeout(120)
def test_target_execs():
    """The target execs another program (same pid, same libc): memtrace
    keeps tracing it, and the new program's figures are exact. What it
    shows of the old image is noted."""
    s = Session()
    try:
        wl = s.workload("execer", [mtlib.workload("family_pie")])
        run, mt = s.memtrace([wl.pid])
        # execer leaks, execs family_pie, which says "ready" again, same pid.
        wl.signal(signal.SIGUSR1)
        wl.wait_line("stdout", lambda l: l == "ready %d" % wl.pid, 10,
                     '"ready" of the program execer execs', 1)
        work(wl)
        c = Checks()
        c.eq(s.stop(run, mt), 0, "memtrace's exit status")
        proc = mtlib.find_process(load_report(run), pid=wl.pid)
        c.eq(proc.get("exited"), False, "exited")
        c.eq(proc.get("comm"), "family_pie", "comm after the exec")
        check_family_figures(proc, c, "after exec:")
        # The old image's blocks went with it, but no free was ever seen.
        before = stacks_containing(proc, "leak_before_exec")
        unnamed = [st for st in proc.get("stacks", [])
                   if st.get("live_bytes") == 6000 and st.get("live_allocs") == 4
                   and not any(f.get("function") for f in st.get("frames") or [])]
        mtlib.note("exec: exe reported %r; leak_before_exec %s; an unnamed stack with its "
                   "6000 B / 4 blocks still live: %s; heap.live_bytes %s (family alone: %d)"
                   % (os.path.basename(proc.get("exe") or ""),
                      "named" if before else "not named",
                      "yes" if unnamed else "no",
                      (proc.get("heap") or {}).get("live_bytes"),
                      sum(e["live_bytes"] for e in FAMILY.values())))
        c.finish(mtlib.describe_stacks(proc))
    finally:
        s.close()


@mtlib.timeout(120)
def test_fork_children_not_traced():
    """Children the target forks are not traced: the parent's figures hold
    only its own calls, although each child freed its copies of the
    parent's blocks and leaked blocks of its own."""
    s = Session()
    try:
        wl = s.workload("forker", ["3"])
        run, mt = s.memtrace([wl.pid])
        work(wl)
        c = Checks()
        c.eq(s.stop(run, mt), 0, "memtrace's exit status")
        rep = load_report(run)
        c.eq([p.get("pid") for p in rep.get("processes") or []], [wl.pid],
             "processes in the report (the parent only)")
        proc = mtlib.find_process(rep, pid=wl.pid)
        for fn, expected in (("leak_in_parent", fig(6000, 4, 6000, 4, 0)),
                             ("parent_after_fork", fig(5000, 2, 5000, 2, 0))):
            st = c.run(one_stack, proc, fn)
            if st:
                c.figures(st, expected, fn)
        for fn in ("leak_in_child", "free_inherited"):
            c.eq(len(stacks_containing(proc, fn)), 0, "stacks with %s (a child's)" % fn)
        c.figures(proc.get("heap") or {},
                  dict(live_bytes=11000, live_allocs=6, allocs_total=6, frees_total=0),
                  "heap")
        c.finish(mtlib.describe_stacks(proc))
    finally:
        s.close()


@mtlib.timeout(120)
def test_target_sigkilled():
    """One of two targets is killed with SIGKILL mid-trace: memtrace keeps
    tracing the other, reports the dead one as exited with its figures, and
    exits 0 on SIGINT."""
    s = Session()
    try:
        victim = s.workload("family_pie")
        other = s.workload("family_pie")
        run, mt = s.memtrace([victim.pid, other.pid])
        work(victim)
        work(other)
        c = Checks()
        victim.signal(signal.SIGKILL)
        c.eq(victim.wait(10, "after SIGKILL"), -signal.SIGKILL, "victim's status")
        # memtrace looks at its targets every second.
        time.sleep(2.5)
        if not c.true(mt.alive(), "memtrace ended when one of its two targets was killed"):
            s.collect(run, mt)
            c.finish()
        pong(other, c, "from the other target")
        c.eq(s.stop(run, mt), 0, "memtrace's exit status after SIGINT")
        rep = load_report(run)
        dead = mtlib.find_process(rep, pid=victim.pid)
        alive = mtlib.find_process(rep, pid=other.pid)
        c.eq(dead.get("exited"), True, "killed target: exited")
        c.eq(alive.get("exited"), False, "other target: exited")
        check_family_figures(dead, c, "killed target:")
        check_family_figures(alive, c, "other target:")
        c.eq([(st.get("allocs_total"), st.get("frees_total"), st.get("live_bytes"))
              for st in stacks_with_innermost(alive, "wl_pong")], [(1, 1, 0)],
             "other target: wl_pong's malloc/free after the kill (allocs, frees, live)")
        c.finish(mtlib.describe_stacks(dead) + "\n" + mtlib.describe_stacks(alive))
    finally:
        s.close()


# ---------------------------------------------------------------- memtrace's own end

@mtlib.timeout(120)
def test_memtrace_sigterm():
    """SIGTERM: the final report (text and JSON) is written, exit status 0.
    (SIGINT ends every other run of this file, checked the same way.)"""
    run = mtlib.run_attached("family_pie", stop_signal=signal.SIGTERM)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    check_family_figures(proc, c, "SIGTERM:")
    c.true("leak_malloc" in run.mt_stdout, "no final text report naming leak_malloc on stdout")
    c.finish()


@mtlib.timeout(120)
def test_memtrace_sigkill():
    """SIGKILL: nothing of memtrace's stays in the kernel (no mt_ program,
    no descriptor of one anywhere), and the target runs and allocates
    normally."""
    bpftool = mtlib.require("bpftool", "bpftool")
    s = Session()
    try:
        wl = s.workload("family_pie")
        run, mt = s.memtrace([wl.pid])
        work(wl)
        c = Checks()
        ours = prog_ids_held_by(mt.pid)
        loaded = mt_programs(bpftool)
        if not c.true(ours, "memtrace holds no BPF program while attached "
                      "(the check after SIGKILL would prove nothing)"):
            c.finish()
        c.true(ours <= set(loaded), "memtrace holds BPF programs not named mt_*: %s"
               % sorted(ours - set(loaded)))
        mt.signal(signal.SIGKILL)
        c.eq(mt.wait(10, "after SIGKILL"), -signal.SIGKILL, "memtrace's status")
        s.collect(run, mt)
        # The kernel frees a program a moment after its last reference.
        end = time.monotonic() + 5
        while True:
            left = sorted(ours & set(mt_programs(bpftool)))
            if not left or time.monotonic() > end:
                break
            time.sleep(0.2)
        c.true(not left, "BPF programs still loaded after memtrace was killed: %s" % left)
        holders = {}
        for fdinfo in os.listdir("/proc"):
            if fdinfo.isdigit():
                held = prog_ids_held_by(int(fdinfo)) & ours
                if held:
                    holders[int(fdinfo)] = sorted(held)
        c.eq(holders, {}, "processes holding memtrace's programs")
        c.eq(sorted(os.listdir(s.tmpdir)), [], "files left in the output directory")
        state = proc_state(wl.pid)
        c.true(state not in ("T", "t", "Z", "X", None),
               "target state %s after memtrace was killed" % state)
        pong(wl, c, "after memtrace was killed")
        wl.signal(signal.SIGTERM)
        c.eq(wl.wait(10, "after SIGTERM"), 0, "target's exit status")
        c.finish()
    finally:
        s.close()


@mtlib.timeout(120)
def test_two_instances():
    """Two memtraces on one process at once: both see every call, and
    report the same figures."""
    s = Session()
    try:
        wl = s.workload("family_pie")
        run1, mt1 = s.memtrace([wl.pid], json_path=os.path.join(s.tmpdir, "one.json"),
                               wait=False)
        run2, mt2 = s.memtrace([wl.pid], json_path=os.path.join(s.tmpdir, "two.json"),
                               wait=False)
        s.attached(mt1, [wl.pid])
        s.attached(mt2, [wl.pid])
        work(wl)
        c = Checks()
        c.eq(s.stop(run1, mt1), 0, "first memtrace's exit status")
        c.eq(s.stop(run2, mt2), 0, "second memtrace's exit status")
        p1 = mtlib.find_process(load_report(run1), pid=wl.pid)
        p2 = mtlib.find_process(load_report(run2), pid=wl.pid)
        check_family_figures(p1, c, "first:")
        check_family_figures(p2, c, "second:")
        c.eq(p1.get("heap"), p2.get("heap"), "heap figures, first vs second")
        c.finish(mtlib.describe_stacks(p1) + "\n" + mtlib.describe_stacks(p2))
    finally:
        s.close()


# ---------------------------------------------------------------- the report cannot be written

@mtlib.timeout(120)
def test_disk_full():
    """--json on a full file system: one error line naming the path and
    the cause, a failure status, and the previous report left as it was."""
    mtlib.need_root()
    mnt = tempfile.mkdtemp(prefix="mt-e2e-tmpfs-")
    mounted = False
    s = Session()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise mtlib.Skip("cannot mount a tmpfs: %s" % r.stderr.strip())
        mounted = True
        path = os.path.join(mnt, "report.json")
        previous = b'{"previous": "report"}\n'
        with open(path, "wb") as f:
            f.write(previous)
        fd = os.open(os.path.join(mnt, "fill"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        wl = s.workload("family_pie")
        run, mt = s.memtrace([wl.pid], json_path=path)
        work(wl)
        c = Checks()
        s.stop(run, mt)
        check_one_error(run, c, [path])
        # The cause, when stdio kept it: a failed buffered write may come
        # back as a bare I/O error.
        err = "\n".join(error_lines(run.mt_stderr))
        if os.strerror(errno.ENOSPC) not in err:
            c.true(os.strerror(errno.EIO) in err, "the error line gives no cause: %r" % err)
            mtlib.note("full disk reported as %r, not as ENOSPC" % err)
        with open(path, "rb") as f:
            c.eq(f.read(), previous, "the previous report")
        c.eq(sorted(os.listdir(mnt)), ["fill", "report.json"],
             "files on the full file system (no temporary file left)")
        c.finish()
    finally:
        try:
            s.close()
        finally:
            if mounted:
                r = subprocess.run(["umount", mnt], capture_output=True, timeout=30)
                if r.returncode != 0:
                    subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
            try:
                os.rmdir(mnt)
            except OSError:
                pass


@mtlib.timeout(120)
def test_output_dir_removed():
    """The --json directory disappears between start and end: one error
    line naming the path, a failure status."""
    s = Session()
    try:
        outdir = os.path.join(s.tmpdir, "out")
        os.mkdir(outdir)
        path = os.path.join(outdir, "report.json")
        wl = s.workload("family_pie")
        run, mt = s.memtrace([wl.pid], json_path=path)
        work(wl)
        shutil.rmtree(outdir)
        c = Checks()
        s.stop(run, mt)
        check_one_error(run, c, [path])
        c.true(not os.path.exists(outdir), "the output directory came back")
        c.finish()
    finally:
        s.close()


# ---------------------------------------------------------------- maps too small

def warning_lines(stdout, option):
    return [l for l in stdout.splitlines() if l.startswith("WARNING:") and option in l]


@mtlib.timeout(120)
def test_allocs_map_full():
    """--exact --max-allocs 64 and 1000 live blocks: the loss is counted
    and warned about, naming the option, and what was recorded stays
    consistent: every call counted, a block live only if it was recorded.
    (Without --exact memtrace samples once the map is 90% full, or once it
    is full if that came first: test_sampling's.)"""
    run = mtlib.run_attached("mapfill", ["blocks", "1000"],
                             mt_args=["--exact", "--max-allocs", "64"])
    rep = run.report
    proc = mtlib.find_process(rep, pid=run.wl_pid)
    full = (rep.get("counters") or {}).get("allocs_map_full") or 0
    c = Checks()
    c.true((rep.get("lost_events") or 0) >= full > 0,
           "lost_events = %r, allocs_map_full = %r: expected 0 < allocs_map_full <= lost_events"
           % (rep.get("lost_events"), full))
    c.true(warning_lines(run.mt_stdout, "--max-allocs"),
           "no WARNING line naming --max-allocs in the text report")
    c.eq((rep.get("maps") or {}).get("allocs"), {"entries": 64, "max_entries": 64},
         "maps.allocs (the map is full)")
    c.true([l for l in run.mt_stdout.splitlines() if l.startswith("maps: allocs 64/64,")],
           "no 'maps: allocs 64/64,' line in the text report")
    st = c.run(one_stack, proc, "leak_blocks")
    if st:
        live = st.get("live_allocs") or 0
        c.eq((st.get("allocs_total"), st.get("alloc_bytes_total")), (1000, 100000),
             "leak_blocks allocs_total, alloc_bytes_total")
        c.true(0 < live <= 64, "leak_blocks live_allocs = %d, expected 1..64" % live)
        c.eq(st.get("live_bytes"), 100 * live, "leak_blocks live_bytes (100 per live block)")
        c.true(live + full >= 1000, "live_allocs %d + allocs_map_full %d < the 1000 blocks "
               "leaked" % (live, full))
    c.true(((proc.get("heap") or {}).get("live_allocs") or 0) <= 64,
           "heap.live_allocs = %r, more than --max-allocs 64" % (proc.get("heap") or {}))
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(120)
def test_stacks_map_full():
    """--max-stacks 16 and 128 distinct stacks: the loss is counted and
    warned about, naming the option; the stacks recorded have their exact
    figures."""
    run = mtlib.run_attached("mapfill", ["stacks", "7"], mt_args=["--max-stacks", "16"])
    rep = run.report
    proc = mtlib.find_process(rep, pid=run.wl_pid)
    full = (rep.get("counters") or {}).get("stacks_map_full") or 0
    c = Checks()
    c.true((rep.get("lost_events") or 0) >= full > 0,
           "lost_events = %r, stacks_map_full = %r: expected 0 < stacks_map_full <= lost_events"
           % (rep.get("lost_events"), full))
    c.true(warning_lines(run.mt_stdout, "--max-stacks"),
           "no WARNING line naming --max-stacks in the text report")
    leaves = stacks_with_innermost(proc, "leaf_alloc")
    c.true(0 < len(leaves) <= 16, "%d leaf_alloc stacks recorded, expected 1..16" % len(leaves))
    c.true((proc.get("stacks_total") or 0) <= 16, "stacks_total = %r, more than --max-stacks 16"
           % proc.get("stacks_total"))
    c.eq((rep.get("maps") or {}).get("stacks"), {"entries": 16, "max_entries": 16},
         "maps.stacks (the map is full)")
    c.true(len(leaves) + full >= 128, "%d stacks recorded + stacks_map_full %d < 128"
           % (len(leaves), full))
    for st in leaves:
        c.figures(st, fig(48, 1, 48, 1, 0), "leaf_alloc stack")
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(120)
def test_system_wide_forgotten_stacks_taken_out():
    """System-wide with --max-stacks 8192, three processes one after another,
    each with 4096 distinct stacks (12,288 in all): once a process has exited
    and been forgotten, its stacks are taken out of the map, so the next
    process's stacks all fit and none is lost."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    mt = None
    try:
        json_path = os.path.join(tmp, "report.json")
        argv = [mtlib.memtrace_path(), "--batch", "-i", "1", "--max-stacks", "8192",
                "--json", json_path]
        mt = mtlib.Proc(argv, name="memtrace")
        run = mtlib.Run(argv, tmp)
        mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 60,
                     '"memtrace: attached" line')
        for _ in range(3):
            wl = mtlib.Proc([mtlib.workload("mapfill"), "stacks", "12"], name="mapfill")
            if wl.wait(30, "mapfill stacks 12 should finish") != 0:
                raise AssertionError("mapfill exited %s" % wl.popen.returncode)
            # Two refreshes to see it exited and let it go, up to four more when
            # other processes were forgotten just before, two passes to take its
            # stacks out.
            time.sleep(9)
        mt.signal(signal.SIGINT)
        run.mt_status = mt.wait(60, "after SIGINT")
        run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
        mtlib._load_outputs(run, folded=False)
        rep = run.report
        c = Checks()
        c.eq(run.mt_status, 0, "memtrace's exit status")
        c.eq((rep.get("counters") or {}).get("stacks_map_full"), 0,
             "counters.stacks_map_full (stacks of forgotten processes still in the map?)")
        stacks = (rep.get("maps") or {}).get("stacks") or {}
        # Other processes on the machine keep their own stacks: beyond those, the
        # three forgotten processes' 12,288 would show as thousands more.
        others = sum(p.get("stacks_total") or 0 for p in rep.get("processes") or [])
        c.true(stacks.get("entries", 8192) - others < 4096,
               "maps.stacks = %r, %d of them the reported processes': the three forgotten "
               "processes' stacks are still there" % (stacks, others))
        c.finish()
    finally:
        if mt:
            mt.kill()
        shutil.rmtree(tmp, ignore_errors=True)
