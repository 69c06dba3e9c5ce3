"""Exit statuses and error reporting.

`--` mode: memtrace exits with the command's status (128+N if signal N
killed it), 127 if the command is not found, 126 if not executable, 125
for its own failures.  -p mode: 1 for its own failures.  Every error is
exactly one stderr line starting "memtrace: ".
"""

import json
import re
import os
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time

import mtlib
from mtlib import Checks, check_single_error, one_stack


def check_leak_once(run):
    proc = mtlib.find_process(run.report, exe_name="exitcode")
    s = one_stack(proc, "leak_once")
    if (s.get("live_bytes"), s.get("live_allocs")) != (100, 1):
        raise AssertionError("leak_once: live %s/%s, expected 100/1"
                             % (s.get("live_bytes"), s.get("live_allocs")))


def test_exit_status_passed_through():
    """memtrace -- exitcode 7 exits 7 (and still writes its report)."""
    check_leak_once(mtlib.run_command("exitcode", ["7"], expect_status=7))


def test_exit_status_signal():
    """The command dies of SIGUSR2: memtrace exits 128 + 12."""
    check_leak_once(mtlib.run_command("exitcode", ["--signal"],
                                      expect_status=128 + signal.SIGUSR2))


def test_exit_status_sigkill():
    """The command dies of SIGKILL: memtrace exits 128 + 9."""
    check_leak_once(mtlib.run_command("exitcode", ["--signal", "9"],
                                      expect_status=128 + signal.SIGKILL))


def test_duration_ends_command():
    """-d 2 -- CMD: when the time is up the command gets SIGTERM, as with
    timeout(1); memtrace reports once it exited and exits with its status."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    try:
        json_path = os.path.join(tmp, "report.json")
        # family --wait allocates nothing until SIGUSR1 and exits 0 on SIGTERM.
        t0 = time.monotonic()
        status, out, err = mtlib.run_memtrace(
            ["--batch", "-d", "2", "--json", json_path, "--", mtlib.workload("family_pie"),
             "--wait"], timeout=30)
        took = time.monotonic() - t0
        c = Checks()
        c.eq(status, 0, "memtrace's exit status (the command's: 0 after SIGTERM)")
        # Start-up (loading, attaching) comes before the 2 s; the 5 s grace after.
        c.true(2 <= took < 20, "memtrace took %.1f s, expected start-up, 2 s and the "
               "command's exit" % took)
        c.true("runs on" not in err, "memtrace said the command runs on: %r" % err)
        if c.true(os.path.exists(json_path), "no JSON report"):
            with open(json_path) as f:
                rep = json.load(f)
            proc = mtlib.find_process(rep, exe_name="family_pie")
            c.eq(proc.get("exited"), True, "the command exited")
            pid = proc.get("pid")
            c.true(pid and not os.path.exists("/proc/%d" % pid),
                   "pid %s still exists after memtrace exited" % pid)
        c.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_command_not_found():
    status, _, err = mtlib.run_memtrace(["--", "/nonexistent-memtrace-test/prog"])
    check_single_error(status, err, "memtrace -- /nonexistent", expect_status=127)


def test_command_not_executable():
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    try:
        path = os.path.join(tmp, "not-executable")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o644)
        status, _, err = mtlib.run_memtrace(["--", path])
        check_single_error(status, err, "memtrace -- <file without x bit>", expect_status=126)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_command_script_unfollowable():
    """A "#!" line memtrace cannot follow to a program (env with options, a
    missing interpreter): one line naming the script, 126, nothing run."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    try:
        c = Checks()
        for line in ("#!/usr/bin/env -S sh -e", "#!/nonexistent-memtrace-test/sh"):
            path = os.path.join(tmp, "script")
            with open(path, "w") as f:
                f.write(line + "\ntouch %s/ran\n" % tmp)
            os.chmod(path, 0o755)
            status, _, err = mtlib.run_memtrace(["--", path])
            check_single_error(status, err, "memtrace -- <%s>" % line, expect_status=126)
            c.true(path in err and '"#!" line' in err, "the line names the script: %r" % err)
        c.true(not os.path.exists(os.path.join(tmp, "ran")), "the script did not run")
        c.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_bad_json_path_fails_before_command():
    """An unwritable --json path is memtrace's own failure (125), found
    before the command runs: the command must leave no trace."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    try:
        marker = os.path.join(tmp, "command-ran")
        status, _, err = mtlib.run_memtrace(
            ["--json", "/nonexistent-memtrace-test/x.json", "--", "/usr/bin/touch", marker])
        check_single_error(status, err, "--json into a missing directory", expect_status=125)
        if os.path.exists(marker):
            raise AssertionError("the command ran although memtrace could not write its report")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_pid():
    pid = 999999
    while os.path.exists("/proc/%d" % pid):
        pid += 1
    return pid


def test_no_such_pid():
    pid = free_pid()
    status, _, err = mtlib.run_memtrace(["-p", str(pid)])
    check_single_error(status, err, "-p <no such pid>", expect_status=1, mention=[str(pid)])


def test_kernel_thread():
    """-p 2: kthreadd has no user memory to trace."""
    try:
        with open("/proc/2/comm") as f:
            comm = f.read().strip()
    except OSError:
        comm = None
    if comm != "kthreadd":
        raise mtlib.Skip("pid 2 is not kthreadd here (%s)" % comm)
    status, _, err = mtlib.run_memtrace(["-p", "2"])
    check_single_error(status, err, "-p 2 (kthreadd)", expect_status=1)


def test_bad_option_values():
    """Each bad value: exit 1 (-p mode), one line, nothing attached."""
    wl = mtlib.start_workload("family_pie")
    try:
        c = Checks()
        target = ["-p", str(wl.pid)]
        for args in (["-i", "0"] + target, ["-d", "-1"] + target,
                     ["--top", "abc"] + target, ["-p", "abc"]):
            status, _, err = mtlib.run_memtrace(args)
            c.run(check_single_error, status, err, "memtrace " + " ".join(args), 1)
            c.true("attached" not in err, "memtrace %s attached anyway" % " ".join(args))
        c.true(wl.alive(), "the target died")
        c.finish()
    finally:
        wl.kill()


def usable_by_nobody(path):
    """Can uid 65534 (not in any group) reach and execute `path`?"""
    path = os.path.abspath(path)
    st = os.stat(path)
    if not st.st_mode & stat.S_IXOTH or not st.st_mode & stat.S_IROTH:
        return False
    d = os.path.dirname(path)
    while True:
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return False
        if d == "/":
            return True
        d = os.path.dirname(d)


def not_root_run(prefix, memtrace):
    """memtrace -p on a workload, run under `prefix`; checks its one error line."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    wl = None
    try:
        os.chmod(tmp, 0o1777)     # a --json path nobody may write
        if not usable_by_nobody(memtrace):
            copy = os.path.join(tmp, "memtrace")
            shutil.copy2(memtrace, copy)
            os.chmod(copy, 0o755)
            memtrace = copy
        wl = mtlib.start_workload("family_pie")
        saved = mtlib.config.memtrace
        mtlib.config.memtrace = memtrace
        try:
            status, _, err = mtlib.run_memtrace(
                ["--json", os.path.join(tmp, "x.json"), "-p", str(wl.pid)], prefix=prefix)
        finally:
            mtlib.config.memtrace = saved
        check_single_error(status, err, "memtrace as %s" % " ".join(prefix[1:-1]),
                           expect_status=1, mention=["root", "CAP_BPF"])
        if os.path.exists(os.path.join(tmp, "x.json")):
            raise AssertionError("memtrace without privileges wrote its report file")
    finally:
        if wl is not None:
            wl.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def test_not_root():
    """Run without privileges: one line saying root (or CAP_BPF) is needed.
    As uid 0 with no capabilities (root in a container without CAP_BPF), and
    as nobody where the filesystem lets nobody run programs at all."""
    setpriv = mtlib.require("setpriv", "util-linux")
    memtrace = mtlib.memtrace_path()
    not_root_run([setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"], memtrace)
    loader = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    if usable_by_nobody(loader):
        not_root_run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
                     memtrace)
    else:
        mtlib.note("not run as nobody: nobody cannot reach %s here" % loader)


def test_help():
    status, out, err = mtlib.run_memtrace(["--help"])
    text = out + err
    c = Checks()
    c.eq(status, 0, "memtrace --help exit status")
    for opt in ("--json", "--folded", "--top", "-p"):
        c.true(opt in text, "--help does not mention " + opt)
    c.finish()


def test_help_lists_every_option():
    """--help lists every long option memtrace accepts (its getopt table, as
    --list-options prints it) and no option it does not accept: the loss
    warnings send users to --vm-buffer, --max-procs and the like."""
    status, out, err = mtlib.run_memtrace(["--list-options"])
    c = Checks()
    c.eq(status, 0, "memtrace --list-options exit status")
    accepted = set(line.strip() for line in out.splitlines() if line.strip())
    c.true(len(accepted) > 10 and all(o.startswith("--") for o in accepted),
           "--list-options printed %r" % out[:200])
    status, help_out, _ = mtlib.run_memtrace(["--help"])
    c.eq(status, 0, "memtrace --help exit status")
    # The option lines: "  -p, --pid PID" or "      --json FILE" (examples name
    # a command's own options too).
    listed = set(re.findall(r"(?m)^ +(?:-\w, )?(--[a-z][a-z-]*)", help_out))
    for opt in sorted(accepted - listed):
        c.true(False, "--help does not list " + opt)
    for opt in sorted(listed - accepted):
        c.true(False, "--help lists %s, which memtrace does not accept" % opt)
    c.finish()


def test_section_headers_damaged():
    """A dynamically linked program whose section headers are garbage (as
    after sstrip or a packer) but which runs: traced through the libraries
    ld.so loads, figures exact, its own frames as module+offset."""
    tmp = tempfile.mkdtemp(prefix="mt-e2e-sstrip-")
    try:
        prog = os.path.join(tmp, "family_damaged")
        shutil.copy2(mtlib.workload("family_pie"), prog)
        with open(prog, "r+b") as f:
            f.seek(0x28)                          # e_shoff
            f.write(struct.pack("<Q", 0xdeadbeef00))
            f.seek(0x3c)                          # e_shnum, e_shstrndx
            f.write(struct.pack("<HH", 0x7777, 0x1234))
        r = subprocess.run(["readelf", "-S", prog], capture_output=True, text=True)
        if "Section header" in r.stdout and "[ 1]" in r.stdout:
            raise AssertionError("readelf still reads sections: the program is not damaged")
        run = mtlib.run_command(prog)
        proc = mtlib.find_process(run.report, exe_name="family_damaged")
        c = Checks()
        c.eq(proc.get("allocator"), "glibc", "allocator")
        heap = proc.get("heap") or {}
        # family.c's own totals (see tests/workloads/family.c).
        c.eq((heap.get("live_bytes"), heap.get("live_allocs")), (39410, 35), "heap live")
        frames = [f for s in proc.get("stacks") or [] for f in s.get("frames") or []
                  if f.get("module") == prog]
        c.true(frames and all(f.get("function") is None and isinstance(f.get("offset"), int)
                              for f in frames),
               "the program's own frames are module+offset: %s" % frames[:3])
        c.finish()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
