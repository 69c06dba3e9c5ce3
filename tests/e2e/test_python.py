"""Python programs: every object allocation with its Python call stack.

The workloads (tests/workloads/python) keep Python objects at known lines
and report the program's own truth, which memtrace's figures must equal:

    tracemalloc      per line, the size and count of what is allocated there
                     and still live (tracemalloc started before the work);
                     memtrace's stacks through the interpreter's API
                     ("allocator": "pymalloc"), grouped by their innermost
                     Python frame's line, give the same two numbers
    sys.getallocatedblocks()   every block the API holds (pymalloc's and the
                     larger ones it took from malloc): the live blocks of all
                     those stacks, at the end of a run that traced the
                     process from its start
    sys._debugmallocstats()    pymalloc's arenas: as many as memtrace counts

Each is run with Debian's python3.11 (built with link-time optimization:
pymalloc inlined into ~260 places, each probed) and with every other
CPython 3.11+ pyenv has here (their allocator's own functions probed); a
pyenv interpreter that is absent is not tested, and the test says so.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import mtlib
from mtlib import Checks


# ---------------------------------------------------------------- interpreters

def debian_python():
    """Debian's python3.11 (python3.11-minimal), wherever the package put it."""
    try:
        out = subprocess.run(["dpkg-query", "-L", "python3.11-minimal"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        if line.endswith("/bin/python3.11") and os.access(line, os.X_OK):
            return line
    return None


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        try:
            root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, timeout=10).stdout.decode().strip()
        except (OSError, subprocess.TimeoutExpired):
            root = None
    if not root:
        root = os.path.expanduser("~/.pyenv")
    return root if os.path.isdir(root) else None


def pyenv_pythons(older=False):
    """(version, path) of every CPython 3.11 or later pyenv has built (older: 3.8-3.10)."""
    root = pyenv_root()
    found = []
    for d in sorted(glob.glob(os.path.join(root, "versions", "3.*"))) if root else []:
        m = re.match(r"^3\.(\d+)\.\d+$", os.path.basename(d))
        exe = os.path.join(d, "bin", "python3.%s" % m.group(1)) if m else None
        if m and (8 <= int(m.group(1)) < 11 if older else int(m.group(1)) >= 11) and \
                os.access(exe, os.X_OK):
            found.append((os.path.basename(d), exe))
    return found


INTERPRETERS = [("debian", None)] + [("pyenv" + v.replace(".", "_"), exe)
                                      for v, exe in pyenv_pythons()]


def interpreter(label):
    if label == "debian":
        exe = debian_python()
        if not exe:
            raise AssertionError("Debian's python3.11 is not installed (package python3.11, "
                                 "which tests/install-deps.sh installs)")
        return exe
    return dict(INTERPRETERS)[label]


def ask(exe, code):
    """What the interpreter itself says (a Python expression's repr)."""
    out = subprocess.run([exe, "-S", "-c", "print(repr(%s))" % code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=mtlib.remaining(30))
    if out.returncode:
        raise AssertionError("%s -c %r: %s" % (exe, code, out.stderr.decode()[-300:]))
    return eval(out.stdout.decode())


# ---------------------------------------------------------------- the workloads' lines

def line_of(script, text):
    """The line of the workload's source that holds text (the tests name lines so)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workloads", "python",
                        script)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError("%s has no line with %r" % (script, text))


def py_frames(stack):
    return [f for f in stack.get("frames") or [] if f.get("python")]


def py_names(stack):
    return [f.get("function") for f in py_frames(stack)]


def by_line(proc, script, allocator="pymalloc"):
    """Live bytes and blocks per line of script, of the stacks whose innermost
    Python frame is there (through the interpreter's API by default)."""
    out = {}
    for s in proc.get("stacks") or []:
        fr = py_frames(s)
        if not fr or os.path.basename(fr[0].get("file") or "") != script:
            continue
        if allocator and s.get("allocator") != allocator:
            continue
        d = out.setdefault(fr[0].get("line"), [0, 0])
        d[0] += s.get("live_bytes") or 0
        d[1] += s.get("live_allocs") or 0
    return out


def stacks_at(proc, script, line):
    return [s for s in proc.get("stacks") or [] if py_frames(s) and
            os.path.basename(py_frames(s)[0].get("file") or "") == script and
            py_frames(s)[0].get("line") == line]


def read_truth(path):
    """pykeep.py's --truth file: its JSON line, the blocks count after it,
    then sys._debugmallocstats() at the end, whose arena figures win (writing
    the first ones can take a new arena)."""
    with open(path) as f:
        lines = f.read().split("\n")
    truth = json.loads(lines[0])
    if len(lines) > 1 and lines[1].strip():
        truth["allocated_blocks"] = int(lines[1])
    for line in lines[2:]:
        if line.startswith("# arenas allocated current"):
            truth["arenas"] = int(line.split("=")[1].replace(",", ""))
        elif line.startswith("# bytes in allocated blocks"):
            truth["allocated_block_bytes"] = int(line.split("=")[1].replace(",", ""))
    return truth


def check_process(c, proc, exe, run):
    version = ask(exe, "'%d.%d.%d' % __import__('sys').version_info[:3]")
    c.eq(proc.get("runtime"), "python", "runtime")
    c.eq(proc.get("allocator"), "pymalloc", "allocator")
    py = proc.get("python") or {}
    c.eq((py.get("version"), py.get("frames"), py.get("note")), (version, True, None),
         "python: version, frames read, note")
    c.eq(py.get("unresolved_sites"), 0, "python.unresolved_sites")
    counters = run.report.get("counters") or {}
    for k in ("missed_returns", "addr_reused", "py_events_lost", "py_stack_read_failed",
              "allocs_map_full", "stacks_map_full"):
        c.eq(counters.get(k), 0, "counters." + k)
    return py


def check_against_tracemalloc(c, proc, truth, script):
    """Every line tracemalloc reports in script, to the byte and the block."""
    got = by_line(proc, script)
    lines = truth.get("lines") or []
    c.true(len(lines) >= 3, "tracemalloc reported %d lines of %s" % (len(lines), script))
    for t in sorted(lines, key=lambda t: t["line"]):
        c.eq(tuple(got.get(t["line"], [0, 0])), (t["size"], t["count"]),
             "%s:%d live bytes and blocks (tracemalloc's)" % (script, t["line"]))


def truth_path(tmp):
    return os.path.join(tmp, "truth")


# ---------------------------------------------------------------- pykeep

RECORDS = 10000


def check_keep(label, mode):
    exe = interpreter(label)
    tmp = tempfile.mkdtemp(prefix="mt-py-")
    try:
        args = ["--records", str(RECORDS), "--truth", truth_path(tmp)]
        if mode in ("cmd_tracemalloc", "pid"):
            args.append("--tracemalloc")
        if mode == "pid":
            run = mtlib.run_attached("python/pykeep.py", args, interp=exe, timeout=240)
            proc = mtlib.find_process(run.report, pid=run.wl_pid)
        else:
            run = mtlib.run_command("python/pykeep.py", args, interp=exe, timeout=240)
            proc = run.report["processes"][0]
        truth = read_truth(truth_path(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c = Checks()
    py = check_process(c, proc, exe, run)
    if label == "debian":
        c.true(py.get("pymalloc_inlined") and py.get("inlined_sites", 0) > 100,
               "Debian's python3.11 inlines pymalloc, each copy probed: %s" % py)

    rec = line_of("pykeep.py", 'return {"id": i')
    s = stacks_at(proc, "pykeep.py", rec)
    c.true(s and all(py_names(x)[:4] == ["make_record", "fill", "main", "<module>"] for x in s),
           "make_record's stacks: make_record <- fill <- main <- <module>: %s"
           % [py_names(x)[:5] for x in s])
    c.true(all(not f.get("python") or f.get("file", "").endswith("pykeep.py")
               for x in s for f in x["frames"][:4]), "make_record's frames are in pykeep.py")

    blob = line_of("pykeep.py", "return bytes(600)")
    size = ask(exe, "__import__('sys').getsizeof(bytes(600))")
    c.eq(tuple(by_line(proc, "pykeep.py").get(blob, [0, 0])),
         (size * (RECORDS // 20), RECORDS // 20),
         "make_blob: live bytes and blocks (%d bytes objects of %d bytes)" % (RECORDS // 20, size))
    churn = line_of("pykeep.py", "t = (i, i)")
    c.eq(by_line(proc, "pykeep.py").get(churn, [0, 0])[0], 0, "churn: nothing live")

    if mode in ("cmd_tracemalloc", "pid"):
        check_against_tracemalloc(c, proc, truth, "pykeep.py")
    if mode == "cmd":
        # Traced from its start: what the API holds is every block memtrace saw live.
        live = sum(s.get("live_allocs") or 0 for s in proc.get("stacks") or []
                   if s.get("allocator") == "pymalloc")
        c.eq(live, truth["allocated_blocks"],
             "live blocks through the interpreter's API (sys.getallocatedblocks())")
        c.eq(py.get("arenas"), truth["arenas"],
             "pymalloc arenas (sys._debugmallocstats(): arenas allocated current)")
        c.eq(py.get("arena_bytes"), truth["arenas"] << 20, "pymalloc arenas' bytes")
        c.true(py.get("arena_live_bytes", 0) <= truth["allocated_block_bytes"] <=
               py.get("arena_live_bytes", 0) + 15 * py.get("arena_live_blocks", 0),
               "live bytes in arenas (%s) below pymalloc's allocated block bytes (%d) by its "
               "rounding to 16 at most" % (py.get("arena_live_bytes"),
                                            truth["allocated_block_bytes"]))
        c.eq(run.report["counters"].get("unknown_frees"), 0, "counters.unknown_frees")
    c.finish(mtlib.describe_stacks(proc))


def _make_keep(label, mode):
    def test():
        check_keep(label, mode)
    test.__name__ = "test_python_%s_%s" % (label, mode)
    test.__doc__ = "pykeep.py with %s, memtrace %s: %s." % (
        label, "-p" if mode == "pid" else "--",
        {"cmd": "exact figures against sys.getallocatedblocks() and pymalloc's arenas",
         "cmd_tracemalloc": "every line's figures equal tracemalloc's",
         "pid": "allocations after attaching, every line's figures equal tracemalloc's"}[mode])
    return mtlib.timeout(300)(test)


for _label, _ in INTERPRETERS:
    for _mode in ("cmd", "cmd_tracemalloc", "pid"):
        globals()["test_python_%s_%s" % (_label, _mode)] = _make_keep(_label, _mode)


def test_python_interpreters_found():
    """Which CPython interpreters the tests above ran with (pyenv's are optional)."""
    found = [v for v, _ in pyenv_pythons()]
    if not found:
        raise mtlib.Skip("no pyenv CPython 3.11+ here: only Debian's python3.11 is tested")
    mtlib.note("pyenv interpreters tested: %s" % ", ".join(found))
    for want in ("3.12", "3.13"):
        if not any(v.startswith(want + ".") for v in found):
            mtlib.note("no CPython %s from pyenv here: its variant is not tested" % want)


def test_python_unknown_version():
    """An interpreter whose frames memtrace does not read (the newest CPython 3.8-3.10
    pyenv has): C stacks and a note saying why, its objects and pymalloc's arenas seen all
    the same."""
    older = pyenv_pythons(older=True)
    if not older:
        raise mtlib.Skip("no pyenv CPython 3.8-3.10 here")
    version, exe = max(older, key=lambda v: [int(x) for x in v[0].split(".")])
    tmp = tempfile.mkdtemp(prefix="mt-py-")
    try:
        run = mtlib.run_command("python/pykeep.py", ["--records", "2000", "--truth",
                                                     truth_path(tmp)], interp=exe, timeout=240)
        truth = read_truth(truth_path(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    proc = run.report["processes"][0]
    py = proc.get("python") or {}
    c = Checks()
    c.eq((proc.get("runtime"), proc.get("allocator")), ("python", "pymalloc"),
         "CPython %s: runtime, allocator" % version)
    c.eq(py.get("frames"), False, "python.frames")
    c.true("3.11-3.13" in (py.get("note") or ""), "python.note says why: %r" % py.get("note"))
    c.true("Python stacks are not read" in run.mt_stderr, "said on stderr: %r" % run.mt_stderr[-300:])
    c.eq(sum(len(py_frames(s)) for s in proc.get("stacks") or []), 0, "no Python frame")
    c.true(sum(s.get("live_allocs") or 0 for s in proc.get("stacks") or []
               if s.get("allocator") == "pymalloc") >= 2000, "the records' objects are live")
    c.eq(py.get("arenas"), truth["arenas"],
         "pymalloc arenas (sys._debugmallocstats(): arenas allocated current)")
    c.eq(run.report["counters"].get("unknown_frees"), 0, "counters.unknown_frees")
    c.finish(mtlib.describe_stacks(proc))


# ---------------------------------------------------------------- freeing everything

def test_python_free_all():
    """Debian's python3.11 frees every record and blob it made: none live, each freed,
    and the API's live blocks are again exactly sys.getallocatedblocks()."""
    exe = interpreter("debian")
    tmp = tempfile.mkdtemp(prefix="mt-py-")
    try:
        run = mtlib.run_command("python/pykeep.py", ["--records", str(RECORDS), "--free-all",
                                                     "--truth", truth_path(tmp)], interp=exe,
                                timeout=240)
        truth = read_truth(truth_path(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    proc = run.report["processes"][0]
    c = Checks()
    check_process(c, proc, exe, run)
    for text, name in (('return {"id": i', "make_record"), ("return bytes(600)", "make_blob")):
        st = stacks_at(proc, "pykeep.py", line_of("pykeep.py", text))
        f = mtlib.sum_stacks(st)
        c.true(f["allocs_total"] >= RECORDS // 20, "%s allocated %d times" % (name, f["allocs_total"]))
        c.eq((f["live_bytes"], f["live_allocs"], f["frees_total"]), (0, 0, f["allocs_total"]),
             "%s: nothing live, every block freed" % name)
    live = sum(s.get("live_allocs") or 0 for s in proc.get("stacks") or []
               if s.get("allocator") == "pymalloc")
    c.eq(live, truth["allocated_blocks"], "live blocks through the interpreter's API")
    c.eq(run.report["counters"].get("unknown_frees"), 0, "counters.unknown_frees")
    c.finish(mtlib.describe_stacks(proc))


# ---------------------------------------------------------------- threads

def test_python_threads():
    """Two threads allocating in functions of their own: their lines' figures equal
    tracemalloc's, and their stacks go through threading's Thread.run. Then without
    tracemalloc, where Debian's inlined pymalloc copies are the probes (the threads' scratch
    apart): each thread's line has the same figures as under tracemalloc."""
    exe = interpreter("debian")
    tmp = tempfile.mkdtemp(prefix="mt-py-")
    try:
        run = mtlib.run_command("python/pythreads.py", ["--truth", truth_path(tmp)], interp=exe,
                                timeout=240)
        truth = read_truth(truth_path(tmp))
        bare = mtlib.run_command("python/pythreads.py", ["--no-tracemalloc"], interp=exe,
                                 timeout=240)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    proc = run.report["processes"][0]
    c = Checks()
    check_process(c, proc, exe, run)
    check_against_tracemalloc(c, proc, truth, "pythreads.py")
    bare_proc = bare.report["processes"][0]
    check_process(c, bare_proc, exe, bare)
    want = {t["line"]: (t["size"], t["count"]) for t in truth.get("lines") or []}
    got = by_line(bare_proc, "pythreads.py")
    for fn, worker, text in (("make_a", "worker_a", "return Three(i)"),
                             ("make_b", "worker_b", "return bytearray(40)")):
        line = line_of("pythreads.py", text)
        for label, p in (("tracemalloc", proc), ("no tracemalloc", bare_proc)):
            st = stacks_at(p, "pythreads.py", line)
            c.true(st and all(py_names(s)[:2] == [fn, worker] and "Thread.run" in py_names(s) and
                              "Thread._bootstrap" in py_names(s) for s in st),
                   "%s, %s's stacks: %s <- %s <- ... Thread.run ... Thread._bootstrap: %s"
                   % (label, fn, fn, worker, [py_names(s) for s in st]))
        c.eq(want.get(line, (0, 0))[1], 5000 * (1 if fn == "make_a" else 2),
             "%s: tracemalloc's blocks (an object each, and a bytearray's buffer)" % fn)
        c.eq(tuple(got.get(line, [0, 0])), want.get(line),
             "no tracemalloc, %s: live bytes and blocks as tracemalloc's" % fn)
    c.finish(mtlib.describe_stacks(bare_proc))


# ---------------------------------------------------------------- a C extension

def test_python_c_extension():
    """A C extension's malloc shows the extension's frames, then its Python caller;
    what it makes through the API shows it too. Exact figures, -- and -p."""
    exe = interpreter("debian")
    c = Checks()
    for mode in ("cmd", "pid"):
        if mode == "cmd":
            run = mtlib.run_command("python/pyext.py", ["--records", "200"], interp=exe)
            proc = run.report["processes"][0]
        else:
            run = mtlib.run_attached("python/pyext.py", ["--records", "200"], interp=exe)
            proc = mtlib.find_process(run.report, pid=run.wl_pid)
        native = [s for s in proc.get("stacks") or []
                  if (s.get("frames") or [{}])[0].get("function") == "native_block"]
        c.eq(len(native), 1, "%s: stacks whose first frame is native_block" % mode)
        for s in native:
            names = [f.get("function") for f in s["frames"]]
            c.eq(names[:5], ["native_block", "keep_native", "use_native", "main", "<module>"],
                 "%s: native_block's stack" % mode)
            c.eq([f.get("python", False) for f in s["frames"][:3]], [False, False, True],
                 "%s: native frames, then the Python caller" % mode)
            c.eq((s.get("live_bytes"), s.get("live_allocs"), s.get("allocator")),
                 (200 * 4096, 200, "malloc"), "%s: native_block live bytes, blocks" % mode)
        bufs = [s for s in proc.get("stacks") or []
                if (s.get("frames") or [{}])[0].get("function") == "make_buffers"]
        size = ask(exe, "__import__('sys').getsizeof(bytes(1000))")
        # PyList_New(200): the list's array of 200 pointers (the list itself is a freelist's).
        items = ask(exe, "__import__('sys').getsizeof([None] * 200) - __import__('sys').getsizeof([])")
        f = mtlib.sum_stacks(bufs)
        c.eq((f["live_bytes"], f["live_allocs"]), (200 * size + items, 201),
             "%s: make_buffers' 200 bytes objects (%d bytes each) and its list's array (%d)"
             % (mode, size, items))
        c.true(bufs and all([x.get("function") for x in s["frames"][:2]] ==
                            ["make_buffers", "use_buffers"] and s.get("allocator") == "pymalloc"
                            for s in bufs), "%s: make_buffers <- use_buffers, the API's" % mode)
    c.finish()


SCRIPT = """#!/usr/bin/env python3.11
keep = [None] * 1000


def make():
    for i in range(len(keep)):
        keep[i] = bytes(600)  # the kept objects


make()
"""


@mtlib.timeout(120)
def test_python_script_command():
    """memtrace -- script.py, the script run by its "#!/usr/bin/env python3.11"
    line: memtrace traces the interpreter env finds along PATH (Debian's),
    with its Python frames: make's 1000 objects of bytes(600) allocated at
    their line, one allocation each."""
    exe = interpreter("debian")
    tmp = tempfile.mkdtemp(prefix="mt-py-")
    try:
        script = os.path.join(tmp, "keep_script.py")
        with open(script, "w") as f:
            f.write(SCRIPT)
        os.chmod(script, 0o755)
        # PATH without pyenv's shims, which are shell scripts that exec a Python later.
        run = mtlib.run_command(script, env={"PATH": os.path.dirname(exe) + ":/usr/bin:/bin"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c = Checks()
    proc = run.report["processes"][0]
    c.eq((proc.get("exe"), proc.get("runtime"), proc.get("allocator")),
         (os.path.realpath(exe), "python", "pymalloc"), "exe, runtime, allocator")
    line = SCRIPT.splitlines().index("        keep[i] = bytes(600)  # the kept objects") + 1
    size = ask(exe, "__import__('sys').getsizeof(bytes(600))")
    at = [s for s in proc.get("stacks") or [] if py_frames(s) and
          (py_frames(s)[0].get("file") or "").endswith("keep_script.py") and
          py_frames(s)[0].get("line") == line]
    c.eq(sorted(py_names(s)[:2] for s in at), [["make", "<module>"]] * len(at) or [[]],
         "the line's stacks: make <- <module>")
    c.eq((sum(s["allocs_total"] for s in at), sum(s["alloc_bytes_total"] for s in at)),
         (1000, 1000 * size), "allocations and bytes at the line (bytes(600) is %d)" % size)
    c.finish(mtlib.describe_stacks(proc))
