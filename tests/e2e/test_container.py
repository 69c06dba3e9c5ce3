"""A process in a container: mount and PID namespaces of its own and its own
root directory (unshare --mount --pid --fork --root), running a stripped
program whose debug file is inside that root only. memtrace -p with the
host's pid must give the exact figures and take the names and lines from the
container's debug file; a link in the container's debug directory that
points out of the container must not be followed."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import mtlib
from mtlib import Checks, one_stack
from test_family import FAMILY

CHECKED = ("leak_malloc", "leak_calloc", "leak_posix_memalign", "balanced")


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]{8,})", out)
    if not m:
        raise AssertionError("%s has no build-id (readelf -n)" % path)
    return m.group(1)


def loaded_libraries(prog):
    """The absolute paths ld.so loads for prog, itself included."""
    out = subprocess.run(["ldd", prog], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        for word in line.split():
            if word.startswith("/"):
                libs.append(word)
    return libs


def make_root(tmp):
    """tmp/root: the program stripped at /app/family, its libraries at the
    paths ld.so looks for them; the debug file is written next to tmp/root,
    at tmp/family.debug, for each test to place. Returns (root, build_id)."""
    prog = mtlib.workload("family_pie")
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "app"))
    for lib in loaded_libraries(prog):
        dest = root + lib
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(lib, dest)
    subprocess.run(["objcopy", "--only-keep-debug", prog, os.path.join(tmp, "family.debug")],
                   check=True)
    subprocess.run(["objcopy", "--strip-all", prog, os.path.join(root, "app", "family")],
                   check=True)
    out = subprocess.run(["nm", "-D", "--defined-only", os.path.join(root, "app", "family")],
                         capture_output=True, text=True).stdout
    if "leak_malloc" in out:
        raise AssertionError("the stripped program still names leak_malloc (.dynsym): "
                             "the test could not tell whether the debug file was used")
    return root, build_id(prog)


def child_of(pid):
    """The one child of pid (unshare --fork's), polled until it appears."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("unshare (pid %d) has no child after 10 s" % pid)


def run_in_container(root):
    """Run /app/family in the container, trace it with memtrace -p (host pid)
    and return (report, host pid)."""
    unshare = mtlib.require("unshare", "util-linux")
    tmp = tempfile.mkdtemp(prefix="mt-e2e-")
    ctr = mt = None
    try:
        # --propagation unchanged: "/" need not be a mount point (a chroot).
        ctr = mtlib.Proc([unshare, "--mount", "--propagation", "unchanged", "--pid", "--fork",
                          "--root", root,
                          "/app/family", "--wait"], name="container")
        # PID 1 of its namespace says so; the host knows it by another number.
        ctr.wait_line("stdout", lambda l: l.startswith("ready "), 10, "ready line")
        pid = child_of(ctr.pid)
        argv = [mtlib.memtrace_path(), "--json", os.path.join(tmp, "report.json"),
                "-p", str(pid)]
        mt = mtlib.Proc(argv, name="memtrace")
        run = mtlib.Run(argv, tmp)
        mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"), 30,
                     '"memtrace: attached" line')
        os.kill(pid, signal.SIGUSR1)
        ctr.wait_line("stdout", lambda l: l == "done", 20, '"done"')
        mt.signal(signal.SIGINT)
        status = mt.wait(30, "after SIGINT")
        run.mt_stderr = mt.text("stderr")
        if status != 0:
            raise AssertionError("memtrace exited %s after SIGINT, expected 0" % status)
        os.kill(pid, signal.SIGTERM)
        status = ctr.wait(10, "after SIGTERM")
        if status != 0:
            raise AssertionError("the containerized workload exited %s, expected 0 "
                                 "(tracing must not harm it)" % status)
        mtlib._load_outputs(run, folded=False)
        return run.report, pid
    finally:
        for p in (mt, ctr):
            if p:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def with_root(test):
    tmp = tempfile.mkdtemp(prefix="mt-e2e-ctr-")
    try:
        root, bid = make_root(tmp)
        return test(tmp, root, bid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_container_debug_file():
    """The debug file at the container's /usr/lib/debug/.build-id: names,
    file and line from it, figures exact."""
    def test(tmp, root, bid):
        dbg = os.path.join(root, "usr/lib/debug/.build-id", bid[:2], bid[2:] + ".debug")
        os.makedirs(os.path.dirname(dbg))
        shutil.move(os.path.join(tmp, "family.debug"), dbg)
        rep, pid = run_in_container(root)
        proc = mtlib.find_process(rep, pid=pid)
        c = Checks()
        c.eq(rep.get("lost_events"), 0, "lost_events")
        for name in CHECKED:
            st = c.run(one_stack, proc, name)
            if not st:
                continue
            c.figures(st, FAMILY[name], name)
            leaf = st["frames"][0]
            c.eq(os.path.basename(leaf.get("file") or ""), "family.c", name + " file")
            c.true(isinstance(leaf.get("line"), int) and leaf["line"] > 0,
                   "%s line = %r" % (name, leaf.get("line")))
        c.finish(mtlib.describe_stacks(proc))
    with_root(test)


def test_container_link_out_not_followed():
    """The container's build-id entry is a link to the right debug file, but
    one outside the container: memtrace must not read it. The stacks stay,
    with their exact figures, named module+offset."""
    def test(tmp, root, bid):
        dbg = os.path.join(root, "usr/lib/debug/.build-id", bid[:2], bid[2:] + ".debug")
        os.makedirs(os.path.dirname(dbg))
        outside = os.path.join(tmp, "family.debug")
        os.symlink(outside, dbg)
        rep, pid = run_in_container(root)
        proc = mtlib.find_process(rep, pid=pid)
        c = Checks()
        names = [mtlib.frame_name(f) for s in proc.get("stacks") or [] for f in s["frames"]]
        c.true(not [n for n in names if n and n.startswith("leak_")],
               "a leak_* name was resolved: the debug file outside the container was read")
        # leak_malloc's stack, known by its figures alone.
        want = FAMILY["leak_malloc"]
        found = [s for s in proc.get("stacks") or []
                 if all(s.get(k) == v for k, v in want.items())]
        c.eq(len(found), 1, "stacks with leak_malloc's figures")
        if found:
            leaf = found[0]["frames"][0]
            c.eq(leaf.get("function"), None, "leak_malloc's frame function (unresolved)")
            # The kernel names the file from the reader's root: /app/family
            # under pivot_root, the whole host path under a chroot.
            c.true((leaf.get("module") or "").endswith("/app/family"),
                   "leak_malloc's frame module %r is not /app/family" % leaf.get("module"))
        c.true((proc.get("unresolved_frames") or 0) > 0, "unresolved_frames counted")
        c.finish(mtlib.describe_stacks(proc))
    with_root(test)
