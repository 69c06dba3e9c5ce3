"""Helpers for memtrace's end-to-end tests.

They start the test workloads (tests/workloads/) and memtrace, drive the
workloads' start/stop protocol, and load memtrace's reports:

    workload --wait    prints "ready <pid>", waits for SIGUSR1, does its
                       work, prints "done", then waits for SIGTERM (exit 0)

run_attached() is memtrace's -p mode, run_command() its `--` mode.  Every
wait has a timeout, bounded by the current test's deadline, and every
process started here is killed when its run ends, whatever happens, so a
test cannot hang or leave anything behind.

tests/run.py sets `config` and `test_deadline` before each test.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time


class Skip(Exception):
    """Raised by a test that cannot run here (something it needs is missing)."""


class Config:
    memtrace = None      # path of the memtrace binary under test
    workloads = None     # directory holding the built workloads


config = Config()

# Set by the runner: time.monotonic() by which the current test must end.
test_deadline = None

# memtrace runs a test looked at, so the runner can show their stderr when
# the test fails.  Reset by the runner before each test.
runs_seen = []

# Free-form remarks a test wants printed under its result line.
notes = []

# Every process started and not yet reaped, so the runner can kill what a
# timed-out test left behind.
_procs = set()
_procs_lock = threading.Lock()


def note(text):
    notes.append(text)


def not_asan(reason):
    """Decorator: do not run this test again against the sanitizer build of
    memtrace (every other test is, when the runner is given --asan-memtrace)."""
    def mark(fn):
        fn.not_asan = reason
        return fn
    return mark


class Go:
    """One of the Go toolchains the workloads are built with (the Makefile's
    GO_RELEASES): its programs are in the workloads' goMINOR/ directory."""

    def __init__(self, minor):
        self.minor = minor                          # 26
        self.name = "go1.%d" % minor                # the directory, and go.version's start
        self.tag = "go1%d" % minor                  # test names: test_..._go126

    def w(self, program):
        """The workload name of program as this toolchain built it."""
        return "%s/%s" % (self.name, program)

    def __repr__(self):
        return self.name


# MT_GO_MINORS=24,25 runs the Go tests on workloads another toolchain built
# into goMINOR/ (the suite builds go1.19, go1.26 and go1.27's).
GO_TOOLCHAINS = tuple(Go(int(m)) for m in os.environ.get("MT_GO_MINORS", "19,26,27").split(","))


def per_go(fn):
    """Decorator: fn(go) runs once per Go toolchain, as a test named
    fn_go119, fn_go126, ... (see for_each_go)."""
    fn.per_go = True
    return fn


def for_each_go(namespace):
    """Replace each @per_go test in a module's namespace (its globals())
    with one test per toolchain, keeping its attributes (timeout, not_asan)."""
    for name, fn in list(namespace.items()):
        if not callable(fn) or getattr(fn, "per_go", None) is not True:
            continue
        del namespace[name]
        for go in GO_TOOLCHAINS:
            def test(fn=fn, go=go):
                return fn(go)
            test.__name__ = "%s_%s" % (name, go.tag)
            test.__module__ = fn.__module__
            test.__doc__ = fn.__doc__
            for attr in ("timeout", "not_asan"):
                if hasattr(fn, attr):
                    setattr(test, attr, getattr(fn, attr))
            namespace[test.__name__] = test


def timeout(seconds):
    """Decorator: this test may take up to `seconds` (the default is 60)."""
    def mark(fn):
        fn.timeout = seconds
        return fn
    return mark


def remaining(timeout):
    """The smaller of `timeout` and the time left before the test's deadline."""
    if test_deadline is None:
        return timeout
    return max(0.1, min(timeout, test_deadline - time.monotonic()))


# ---------------------------------------------------------------- processes

class Proc:
    """A child process whose stdout and stderr are read line by line by two
    threads, so a test can wait for a given line without blocking on a
    pipe, and can always see what the process printed."""

    def __init__(self, argv, env=None, name=None):
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        self.lines = {"stdout": [], "stderr": []}
        self.eof = {"stdout": False, "stderr": False}
        self.cond = threading.Condition()
        # A session of its own: cleanup can kill the whole process group
        # (memtrace's traced command included) without touching ours.
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.pid = self.popen.pid
        with _procs_lock:
            _procs.add(self)
        self._threads = [
            threading.Thread(target=self._reader, args=(stream,), daemon=True)
            for stream in ("stdout", "stderr")]
        for t in self._threads:
            t.start()

    def _reader(self, stream):
        pipe = getattr(self.popen, stream)
        for raw in iter(pipe.readline, b""):
            with self.cond:
                self.lines[stream].append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof[stream] = True
            self.cond.notify_all()

    def text(self, stream):
        with self.cond:
            return "\n".join(self.lines[stream])

    def wait_line(self, stream, match, timeout, what=None, start=0):
        """Wait until a line of `stream` (from index `start` on) satisfies
        match(line); return its index.  Fails on timeout or end of stream."""
        wait = remaining(timeout)
        end = time.monotonic() + wait
        with self.cond:
            while True:
                for i in range(start, len(self.lines[stream])):
                    if match(self.lines[stream][i]):
                        return i
                if self.eof[stream]:
                    raise AssertionError(
                        "%s: %s ended without %s (exit status %s)"
                        % (self.name, stream, what or "the expected line",
                           self.popen.poll()))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "%s: no %s on %s within %.0f s%s"
                        % (self.name, what or "expected line", stream, wait,
                           " (the test's time is up)" if wait < timeout else ""))
                self.cond.wait(min(left, 0.5))

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout, what=None):
        """Wait for exit and return the status (negative: killed by signal)."""
        wait = remaining(timeout)
        try:
            rc = self.popen.wait(wait)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not exit within %.0f s%s%s"
                                 % (self.name, wait,
                                    " (" + what + ")" if what else "",
                                    " (the test's time is up)" if wait < timeout else ""))
        # Let the readers drain the pipes, so the output is complete.
        for t in self._threads:
            t.join(2)
        return rc

    def kill(self):
        """Kill the process and its group (even if the leader is gone: a
        command memtrace started may still be there); reap it."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for t in self._threads:
            t.join(1)
        with _procs_lock:
            _procs.discard(self)


def kill_all():
    """Kill every process still registered (used by the runner on timeout)."""
    with _procs_lock:
        procs = list(_procs)
    for p in procs:
        p.kill()


# ---------------------------------------------------------------- paths

def workload(name):
    path = os.path.join(config.workloads, name)
    if not os.access(path, os.X_OK):
        raise AssertionError("workload %s is not built (no %s)" % (name, path))
    return path


def memtrace_path():
    if not config.memtrace or not os.access(config.memtrace, os.X_OK):
        raise AssertionError("memtrace binary not found: %s" % config.memtrace)
    return config.memtrace


def start_workload(name, args=(), timeout=10, env=None, interp=None):
    """Start a workload with --wait and wait for its "ready <pid>" line.
    env: variables added to the environment. interp: the interpreter that
    runs it (a Python workload, python/NAME.py)."""
    p = Proc(([interp] if interp else []) + [workload(name), "--wait"] + list(args),
             env=dict(os.environ, **env) if env else None, name=os.path.basename(name))
    try:
        i = p.wait_line("stdout", lambda l: l.startswith("ready "), timeout,
                        "ready line")
        line = p.lines["stdout"][i]
        if line != "ready %d" % p.pid:
            raise AssertionError("%s said %r, expected 'ready %d'" % (name, line, p.pid))
    except BaseException:
        p.kill()
        raise
    return p


# ---------------------------------------------------------------- runs

class Run:
    """What one memtrace run produced."""

    def __init__(self, argv, tmpdir):
        self.argv = argv
        self.tmpdir = tmpdir
        self.json_path = os.path.join(tmpdir, "report.json")
        self.folded_path = os.path.join(tmpdir, "report.folded")
        self.pprof_path = os.path.join(tmpdir, "report.pb.gz")
        self.report = None        # parsed JSON
        self.folded = None        # text of the --folded file
        self.pprof = None         # bytes of the --pprof file
        self.mt_status = None     # memtrace's exit status
        self.mt_stderr = ""
        self.mt_stdout = ""
        self.wl_pid = None
        self.wl_status = None     # workload's exit status (-p mode)
        self.wl_stdout = []
        self.files_after = []     # names in the output directory at the end
        runs_seen.append(self)

    def stderr_tail(self, n=15):
        lines = self.mt_stderr.splitlines()
        return "\n".join(lines[-n:])


def _load_outputs(run, folded, pprof=False):
    run.files_after = sorted(os.listdir(run.tmpdir))
    if not os.path.exists(run.json_path):
        raise AssertionError("memtrace wrote no JSON report (%s); files: %s"
                             % (run.json_path, run.files_after))
    with open(run.json_path) as f:
        text = f.read()
    try:
        run.report = json.loads(text)
    except ValueError as e:
        raise AssertionError("JSON report does not parse: %s; starts with %r"
                             % (e, text[:200]))
    if folded:
        if not os.path.exists(run.folded_path):
            raise AssertionError("memtrace wrote no folded report; files: %s"
                                 % run.files_after)
        with open(run.folded_path) as f:
            run.folded = f.read()
    if pprof:
        if not os.path.exists(run.pprof_path):
            raise AssertionError("memtrace wrote no pprof profile; files: %s"
                                 % run.files_after)
        with open(run.pprof_path, "rb") as f:
            run.pprof = f.read()


def run_attached(name, wl_args=(), mt_args=(), folded=False, timeout=60,
                 target_exits=False, while_attached=None, after_detach=None,
                 stop_signal=signal.SIGINT, keep_tmp=False, pprof=False, env=None, interp=None):
    """memtrace -p: start workload `name` with --wait, attach memtrace, let
    the workload do its work, then stop memtrace with SIGINT and the
    workload with SIGTERM.

    stop_signal: what stops memtrace (None: it must exit by itself, e.g.
      with -d, within `timeout` seconds).
    target_exits: the workload exits by itself after "done" (exitleak).
    while_attached(run, mt, wl): called once the work is done, memtrace
      still attached.
    after_detach(run, mt, wl): called after memtrace exited, the workload
      still running.
    pprof: also write --pprof; its bytes end up in run.pprof.
    env: variables added to the workload's environment.
    interp: the interpreter that runs the workload (a Python one).
    Fails unless memtrace exits 0 and (for a lingering workload) the
    workload exits 0 after SIGTERM: tracing must not harm the target.
    """
    tmpdir = tempfile.mkdtemp(prefix="mt-e2e-")
    run = Run(None, tmpdir)
    wl = mt = None
    try:
        wl = start_workload(name, wl_args, env=env, interp=interp)
        run.wl_pid = wl.pid
        argv = [memtrace_path(), "--json", run.json_path]
        if folded:
            argv += ["--folded", run.folded_path]
        if pprof:
            argv += ["--pprof", run.pprof_path]
        argv += list(mt_args) + ["-p", str(wl.pid)]
        run.argv = argv
        mt = Proc(argv, name="memtrace")
        mt.wait_line("stderr", lambda l: l.startswith("memtrace: attached"),
                     30, '"memtrace: attached" line')

        wl.signal(signal.SIGUSR1)
        wl.wait_line("stdout", lambda l: l == "done", timeout, '"done"')
        if target_exits:
            run.wl_status = wl.wait(10, "it should exit right after done")
        if while_attached:
            while_attached(run, mt, wl)

        # The target may be gone already, and memtrace may have exited on
        # its own then (status 0): both are allowed.
        if stop_signal is None:
            run.mt_status = mt.wait(timeout, "it should stop by itself")
            how = "by itself"
        else:
            mt.signal(stop_signal)
            run.mt_status = mt.wait(30, "after " + signal.Signals(stop_signal).name)
            how = "after " + signal.Signals(stop_signal).name
        run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
        if run.mt_status != 0:
            raise AssertionError("memtrace exited %s %s, expected 0"
                                 % (run.mt_status, how))
        if after_detach:
            after_detach(run, mt, wl)
        if not target_exits:
            wl.signal(signal.SIGTERM)
            run.wl_status = wl.wait(10, "after SIGTERM")
            if run.wl_status != 0:
                raise AssertionError("traced workload exited %s after SIGTERM, expected 0"
                                     % run.wl_status)
        run.wl_stdout = list(wl.lines["stdout"])
        _load_outputs(run, folded, pprof)
        return run
    finally:
        if mt is not None:
            run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
            mt.kill()
        if wl is not None:
            run.wl_stdout = list(wl.lines["stdout"])
            wl.kill()
        if not keep_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)


def run_command(name, wl_args=(), mt_args=(), expect_status=0, folded=False,
                timeout=60, env=None, pprof=False, interp=None):
    """memtrace -- workload: run the workload (without --wait) under memtrace
    and wait for both to end; memtrace must exit with `expect_status`.
    env: variables added to the environment (the command inherits them).
    pprof: also write --pprof; its bytes end up in run.pprof.
    interp: the interpreter that runs the workload (a Python one)."""
    tmpdir = tempfile.mkdtemp(prefix="mt-e2e-")
    run = Run(None, tmpdir)
    mt = None
    try:
        argv = [memtrace_path(), "--json", run.json_path]
        if folded:
            argv += ["--folded", run.folded_path]
        if pprof:
            argv += ["--pprof", run.pprof_path]
        argv += list(mt_args) + ["--"] + ([interp] if interp else []) + [workload(name)] + \
            list(wl_args)
        run.argv = argv
        full_env = dict(os.environ, **env) if env else None
        mt = Proc(argv, env=full_env, name="memtrace")
        run.mt_status = mt.wait(timeout, "the command should have ended")
        run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
        if expect_status is not None and run.mt_status != expect_status:
            raise AssertionError("memtrace -- %s exited %s, expected %s"
                                 % (name, run.mt_status, expect_status))
        _load_outputs(run, folded, pprof)
        return run
    finally:
        if mt is not None:
            run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
            mt.kill()
        shutil.rmtree(tmpdir, ignore_errors=True)


def run_memtrace(args, timeout=30, env=None, prefix=()):
    """Run memtrace with `args` to completion; return (status, stdout, stderr).
    `prefix` is put before the binary (e.g. setpriv ...)."""
    run = Run(None, tempfile.gettempdir())
    argv = list(prefix) + [memtrace_path()] + list(args)
    run.argv = argv
    mt = Proc(argv, env=env, name="memtrace")
    try:
        run.mt_status = mt.wait(timeout)
        run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
        return run.mt_status, run.mt_stdout, run.mt_stderr
    finally:
        run.mt_stdout, run.mt_stderr = mt.text("stdout"), mt.text("stderr")
        mt.kill()


# ---------------------------------------------------------------- reports

def find_process(report, pid=None, exe_name=None):
    procs = report.get("processes") or []
    for p in procs:
        if pid is not None and p.get("pid") == pid:
            return p
        if pid is None and exe_name and os.path.basename(p.get("exe") or "") == exe_name:
            return p
    raise AssertionError("no process %s in the report (processes: %s)"
                         % (pid if pid is not None else exe_name,
                            [(p.get("pid"), p.get("comm")) for p in procs]))


def frame_name(frame):
    return frame.get("function")


def innermost(stack):
    frames = stack.get("frames") or []
    return frame_name(frames[0]) if frames else None


def stacks_with_innermost(proc, name):
    """All stacks whose frames[0].function is `name`."""
    return [s for s in proc.get("stacks", []) if innermost(s) == name]


def stacks_containing(proc, name):
    """All stacks with a frame whose function is `name`."""
    return [s for s in proc.get("stacks", [])
            if any(frame_name(f) == name for f in s.get("frames") or [])]


def one_stack(proc, name):
    """The only stack whose innermost frame is `name`: each workload function
    has one allocating call site, so more than one would be a split stack."""
    found = stacks_with_innermost(proc, name)
    if len(found) != 1:
        present = sorted(set(str(innermost(s)) for s in proc.get("stacks", [])))
        raise AssertionError("expected exactly 1 stack with innermost frame %s, found %d "
                             "(innermost frames present: %s)"
                             % (name, len(found), ", ".join(present[:30])))
    return found[0]


FIGURES = ("live_bytes", "live_allocs", "alloc_bytes_total", "allocs_total", "frees_total")


def sum_stacks(stacks):
    return {k: sum(s.get(k, 0) for s in stacks) for k in FIGURES}


def stack_line(s):
    names = []
    for f in (s.get("frames") or [])[:6]:
        names.append(f.get("function") or "%s+%s" % (os.path.basename(f.get("module") or "?"),
                                                     f.get("offset")))
    return "live %s/%s total %s/%s frees %s: %s" % (
        s.get("live_bytes"), s.get("live_allocs"), s.get("alloc_bytes_total"),
        s.get("allocs_total"), s.get("frees_total"), " <- ".join(names))


def describe_stacks(proc, limit=20):
    stacks = proc.get("stacks", [])
    out = ["  stacks (%d):" % len(stacks)]
    out += ["    " + stack_line(s) for s in stacks[:limit]]
    if len(stacks) > limit:
        out.append("    ...")
    return "\n".join(out)


class Checks:
    """Collects every mismatch of a test, so one failure reports them all."""

    def __init__(self):
        self.errors = []

    def eq(self, actual, expected, what):
        if actual != expected:
            self.errors.append("%s: got %r, expected %r" % (what, actual, expected))

    def true(self, cond, what):
        if not cond:
            self.errors.append(what)
        return cond

    def figures(self, got, expected, what):
        for k, v in expected.items():
            self.eq(got.get(k), v, "%s %s" % (what, k))

    def run(self, fn, *args):
        """Call fn(*args); record an AssertionError instead of stopping."""
        try:
            return fn(*args)
        except AssertionError as e:
            self.errors.append(str(e))
            return None

    def finish(self, context=""):
        if self.errors:
            msg = "%d check(s) failed:\n  - " % len(self.errors) + "\n  - ".join(self.errors)
            if context:
                msg += "\n" + context
            raise AssertionError(msg)


def check_single_error(status, stderr, what, expect_status=None, mention=()):
    """memtrace's errors are one line on stderr starting "memtrace: "."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    problems = []
    if expect_status is None:
        if status == 0:
            problems.append("exit status 0, expected a failure")
    elif status != expect_status:
        problems.append("exit status %s, expected %s" % (status, expect_status))
    if len(lines) != 1:
        problems.append("%d stderr lines, expected exactly 1" % len(lines))
    elif not lines[0].startswith("memtrace: "):
        problems.append("stderr line does not start with 'memtrace: '")
    if lines and mention and not any(m.lower() in stderr.lower() for m in mention):
        problems.append("stderr does not mention %s" % " or ".join(mention))
    if problems:
        raise AssertionError("%s: %s\n  stderr: %r" % (what, "; ".join(problems), stderr[-500:]))
    return lines[0]


def need_root():
    if os.geteuid() != 0:
        raise Skip("needs root")


def which(prog):
    return shutil.which(prog) or next(
        (p for p in ("/usr/sbin/" + prog, "/sbin/" + prog) if os.access(p, os.X_OK)), None)


def require(prog, package):
    """The path of `prog`; a missing one fails the test: tests/install-deps.sh
    installs every tool the tests use, so a skip here would hide a missing
    install step on a fresh machine."""
    path = which(prog)
    if not path:
        raise AssertionError("%s is not installed (Debian package %s, which "
                             "tests/install-deps.sh installs)" % (prog, package))
    return path
