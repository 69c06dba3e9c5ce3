"""The live display: memtrace on a terminal, driven through tmux.

Each test runs memtrace in a tmux pane of its own tmux server (-L), as

    bash -c 'memtrace ARGS -d 300 2>STDERR; echo EXIT=$?; sleep 60'

so the pane outlives memtrace and shows its exit status and what the
terminal looks like once it is given back; and so that, whatever happens to
the test runner, memtrace and the tmux server end by themselves.  Keys go in with
`tmux send-keys`; the screen comes out with `tmux capture-pane` (-e for the
colours, to see which column header is highlighted).

The workloads are the usual ones (family, agedleak) started with --wait;
the figures checked are those of family.c's table.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import mtlib

# The pane: tall enough for every family stack and the frames of one.
WIDTH, HEIGHT = 150, 45

# memtrace's -d in every run: should the runner itself be killed, nothing
# would end the tmux server's memtrace; this does.
SAFETY_S = 300

# family.c's leaks, by live bytes: (function, live bytes, live blocks).
FAMILY_TOP = ("leak_malloc", "9.8 KiB", "10")
FAMILY_LEAKS = ("leak_malloc", "leak_valloc", "leak_posix_memalign", "leak_realloc_grow",
                "leak_pvalloc", "leak_memalign", "leak_calloc", "leak_reallocarray",
                "leak_aligned_alloc", "leak_realloc_null")

_sessions = 0


def need_tmux():
    mtlib.need_root()
    mtlib.require("tmux", "tmux")


class Screen:
    """memtrace in a tmux pane."""

    def __init__(self, mt_args, width=WIDTH, height=HEIGHT, env=None, command=()):
        global _sessions
        _sessions += 1
        self.tmpdir = tempfile.mkdtemp(prefix="mt-display-")
        self.socket = "mt-e2e-%d-%d" % (os.getpid(), _sessions)
        self.stderr_path = os.path.join(self.tmpdir, "stderr")
        self.argv = [mtlib.memtrace_path()] + [str(a) for a in mt_args] + ["-d", str(SAFETY_S)]
        # memtrace starts after this: its uptime at any moment is at most the time since.
        self.started = time.monotonic()
        if command:
            self.argv += ["--"] + [str(a) for a in command]
        self.run = mtlib.Run(self.argv, self.tmpdir)
        environment = {"TERM": "xterm-256color", "LC_ALL": "C.UTF-8"}
        environment.update(env or {})
        inner = "%s %s 2>%s; echo EXIT=$?; sleep 60" % (
            " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in environment.items()),
            " ".join(shlex.quote(a) for a in self.argv), shlex.quote(self.stderr_path))
        self.tmux("new-session", "-d", "-s", "mt", "-x", str(width), "-y", str(height),
                  "-c", self.tmpdir, "exec bash --norc --noprofile -c " + shlex.quote(inner))
        self.pane_pid = int(self.tmux("display-message", "-p", "-t", "mt", "#{pane_pid}"))

    def tmux(self, *args):
        out = subprocess.run(["tmux", "-L", self.socket] + list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        if out.returncode != 0:
            raise AssertionError("tmux %s: %s" % (" ".join(args), out.stderr.decode().strip()))
        return out.stdout.decode("utf-8", "replace")

    def keys(self, *keys, literal=False, pause=0.3):
        """Send keys one by one: Escape followed at once by another key would
        read as an escape sequence, as on any terminal."""
        for k in keys:
            self.tmux("send-keys", "-t", "mt", *(["-l", k] if literal else [k]))
            time.sleep(pause)

    def text(self):
        return self.tmux("capture-pane", "-p", "-t", "mt")

    def lines(self):
        return self.text().split("\n")

    def escaped_lines(self):
        return self.tmux("capture-pane", "-p", "-e", "-t", "mt").split("\n")

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait(self, what, cond, timeout=20):
        """Wait until cond(screen text) holds; return the text."""
        end = time.monotonic() + mtlib.remaining(timeout)
        while True:
            text = self.text()
            if cond(text):
                return text
            if time.monotonic() > end:
                raise AssertionError("the screen never showed %s; it shows:\n%s\n%s\nstderr:\n%s"
                                     % (what, text.rstrip(), self.where(),
                                        self.stderr()[-1500:]))
            time.sleep(0.2)

    def where(self):
        """Where memtrace is, when the screen stops changing: its kernel stack."""
        out = []
        for pid in self._children(self.pane_pid):
            try:
                with open("/proc/%d/comm" % pid) as f:
                    comm = f.read().strip()
                with open("/proc/%d/stack" % pid) as f:
                    stack = " <- ".join(l.split()[-1].split("+")[0]
                                        for l in f.read().splitlines()[:4])
            except OSError:
                continue
            out.append("%s %d in the kernel at: %s" % (comm, pid, stack or "(running)"))
        return "\n".join(out)

    @staticmethod
    def uptime(text):
        """Seconds of the title's "up H:MM:SS", or -1."""
        m = re.search(r"\bup\s+(\d+):(\d\d):(\d\d)", text.split("\n")[0])
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) if m else -1

    def wait_drawn_after(self, what, cond, moment, settle=2.0, timeout=20):
        """Wait for a screen drawn at least `settle` seconds after `moment`
        (time.monotonic()) on which cond holds: the screen shown at a moment
        was drawn at the last refresh before it, from figures older still."""
        least = moment - self.started + settle
        return self.wait(what + " (drawn %.1f s after the moment)" % settle,
                         lambda t: self.uptime(t) >= least and cond(t), timeout)

    def wait_attached(self, timeout=30):
        end = time.monotonic() + mtlib.remaining(timeout)
        while "memtrace: attached" not in self.stderr():
            if "EXIT=" in self.text() or time.monotonic() > end:
                raise AssertionError("memtrace did not attach; stderr:\n%s\nscreen:\n%s"
                                     % (self.stderr()[-1500:], self.text().rstrip()))
            time.sleep(0.2)

    def wait_exit(self, timeout=20):
        text = self.wait("memtrace's exit status", lambda t: re.search(r"^EXIT=\d+", t, re.M),
                         timeout)
        return int(re.search(r"^EXIT=(\d+)", text, re.M).group(1)), text

    def _children(self, pid):
        kids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
        return kids

    def memtrace_pids(self):
        """memtrace, the only child of the pane's shell while it runs."""
        pids = self._children(self.pane_pid)
        if not pids:
            raise AssertionError("memtrace is not running in the pane")
        return pids

    def close(self):
        """Kill what runs in the pane (memtrace, the shell) and the server."""
        for pid in self._children(self.pane_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.tmux("kill-server")
        except (AssertionError, subprocess.TimeoutExpired):
            pass
        self.run.mt_stderr = self.stderr()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


# ---------------------------------------------------------------- reading the screen

def table(lines, first_title="LIVE", last_title="FUNCTION"):
    """(header line index, header, rows) of the list on the screen."""
    for i, line in enumerate(lines):
        if re.match(r"^\s*%s\s" % re.escape(first_title), line) and last_title in line:
            rows = []
            for row in lines[i + 1:]:
                if not row.strip() or row.startswith("? help"):
                    break
                rows.append(row)
            return i, line, rows
    raise AssertionError("no table headed %s on the screen:\n%s" % (first_title, "\n".join(lines)))


def title_span(header, title):
    m = re.search(r"(?<!\S)%s(?!\S)" % re.escape(title), header)
    if not m:
        raise AssertionError("no column %s in %r" % (title, header))
    return m.start(), m.end()


def right_cell(row, header, title, prev=None):
    """A right-aligned cell: from the end of the previous column to the end of its title."""
    start = title_span(header, prev)[1] if prev else 0
    return row[start:title_span(header, title)[1]].strip()


def function_of(row, header):
    cell = row[title_span(header, "FUNCTION")[0]:].strip()
    return cell.split(" (")[0]


UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}


def parse_bytes(text):
    value, unit = text.split()
    return float(value) * UNITS[unit]


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def backgrounds(escaped):
    """The plain text of a captured line and each character's background."""
    text, bgs, bg = [], [], None
    pos = 0
    for m in SGR.finditer(escaped + "\x1b[m"):
        chunk = escaped[pos:m.start()]
        text.append(chunk)
        bgs.extend([bg] * len(chunk))
        pos = m.end()
        codes = m.group(1).split(";") if m.group(1) else ["0"]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c in ("0", "49"):
                bg = None
            elif c == "48" and i + 2 < len(codes):
                bg = "48;" + ";".join(codes[i + 1:i + 3])
                i += 2
            elif c.isdigit() and (40 <= int(c) <= 47 or 100 <= int(c) <= 107):
                bg = c
            i += 1
    return "".join(text), bgs


def highlighted_titles(screen, first_title="LIVE"):
    """The column titles shown in another colour than the others: the sort column."""
    lines = screen.escaped_lines()
    for escaped in lines:
        plain, bgs = backgrounds(escaped)
        if re.match(r"^\s*%s\s" % re.escape(first_title), plain) and "FUNCTION" in plain:
            titles = [(m.group(0), bgs[m.start()]) for m in re.finditer(r"\S+", plain)]
            counts = {}
            for _, bg in titles:
                counts[bg] = counts.get(bg, 0) + 1
            usual = max(counts, key=counts.get)
            return [t for t, bg in titles if bg != usual]
    raise AssertionError("no column header on the screen")


def restored(text):
    """The pane after memtrace: the shell's screen, none of the display's."""
    return "EXIT=" in text and "Call stacks of" not in text and "Processes:" not in text \
        and "memtrace:" not in text


# ---------------------------------------------------------------- tests

def start_family():
    return mtlib.start_workload("family_pie")


def family_stack_view(scr, wl):
    scr.wait_attached()
    wl.signal(signal.SIGUSR1)
    wl.wait_line("stdout", lambda l: l == "done", 10, '"done"')
    return scr.wait("family's leaks in the stack view",
                    lambda t: all(f in t for f in FAMILY_LEAKS) and "Call stacks of PID %d"
                    % wl.pid in t)


@mtlib.timeout(90)
def test_stack_view_keys():
    """-p on a terminal: the stack view of family, its figures, and the keys
    that sort, open a stack, filter, show help and quit."""
    need_tmux()
    wl = start_family()
    scr = None
    try:
        scr = Screen(["-p", wl.pid, "-i", "1"])
        family_stack_view(scr, wl)
        checks = mtlib.Checks()

        # Default order: leak score, then live bytes; family's leaks all
        # happen at once, so live bytes decide: leak_malloc first.
        _, header, rows = table(scr.lines())
        checks.eq(function_of(rows[0], header), FAMILY_TOP[0], "first row's function")
        checks.eq(right_cell(rows[0], header, "LIVE"), FAMILY_TOP[1], "leak_malloc's live bytes")
        checks.eq(right_cell(rows[0], header, "COUNT", "LIVE"), FAMILY_TOP[2],
                  "leak_malloc's live blocks")
        checks.eq(highlighted_titles(scr), ["SCORE"], "highlighted column by default")
        checks.true("sorted by SCORE" in scr.text(), "the view does not say it sorts by SCORE")

        # > : the next sortable column to the right (TREND cannot sort): FUNCTION.
        scr.keys(">")
        scr.wait("sorted by FUNCTION", lambda t: "sorted by FUNCTION" in t)
        _, header, rows = table(scr.lines())
        names = [function_of(r, header) for r in rows]
        checks.eq(highlighted_titles(scr), ["FUNCTION"], "highlighted column after >")
        checks.eq(names, sorted(names), "rows sorted by function name")
        checks.eq(names[0], "balanced", "first row by function name")

        # s cycles: FUNCTION -> LIVE -> COUNT.
        scr.keys("s")
        scr.wait("sorted by LIVE", lambda t: "sorted by LIVE" in t)
        _, header, rows = table(scr.lines())
        live = [parse_bytes(right_cell(r, header, "LIVE")) for r in rows]
        checks.eq(highlighted_titles(scr), ["LIVE"], "highlighted column after s")
        checks.eq(live, sorted(live, reverse=True), "rows sorted by live bytes")
        checks.eq([function_of(r, header) for r in rows[:2]], ["leak_malloc", "leak_valloc"],
                  "first rows by live bytes")
        scr.keys("s")
        scr.wait("sorted by COUNT", lambda t: "sorted by COUNT" in t)
        _, header, rows = table(scr.lines())
        counts = [int(right_cell(r, header, "COUNT", "LIVE")) for r in rows]
        checks.eq(highlighted_titles(scr), ["COUNT"], "highlighted column after s s")
        checks.eq(counts, sorted(counts, reverse=True), "rows sorted by live blocks")
        checks.eq([function_of(r, header) for r in rows[:2]], ["leak_malloc", "leak_calloc"],
                  "first rows by live blocks")

        # Enter: the frames of the selected (first) stack, innermost first.
        scr.keys("Enter")
        text = scr.wait("the frames view", lambda t: "Stack of PID %d" % wl.pid in t)
        frames = [m.group(2) for m in re.finditer(r"^\s*(\d+)\s+(\S+)\s", text, re.M)]
        checks.eq(frames[:3], ["leak_malloc", "run_all", "main"], "frames of the first stack")
        checks.true("live 9.8 KiB in 10 blocks" in text, "the frames view's figures")
        scr.keys("Left")
        scr.wait("the stack view again", lambda t: "Call stacks of PID" in t)

        # / filters on function names.
        scr.keys("/")
        scr.keys("leak_m", literal=True)
        scr.keys("Enter")
        text = scr.wait("the filtered list", lambda t: 'filter "leak_m"' in t)
        _, header, rows = table(scr.lines())
        checks.eq(sorted(function_of(r, header) for r in rows), ["leak_malloc", "leak_memalign"],
                  "rows left by the filter leak_m")
        scr.keys("/")
        scr.keys("BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "Enter")
        scr.wait("the list unfiltered", lambda t: "match filter" not in t)

        # ? shows help; q there goes back, not out.
        scr.keys("?")
        scr.wait("the help screen", lambda t: "The leak score" in t and "score = rising" in t)
        scr.keys("q")
        scr.wait("the stack view after help", lambda t: "Call stacks of PID" in t)

        # q in the first view quits, and the terminal is the shell's again.
        scr.keys("q")
        status, text = scr.wait_exit()
        checks.eq(status, 0, "memtrace's exit status after q")
        checks.true(restored(text), "the terminal was not restored after q:\n" + text.rstrip())
        checks.finish()
    finally:
        if scr:
            scr.close()
        wl.kill()


@mtlib.timeout(90)
def test_pause_interval_snapshot():
    """p freezes the screen, + and - change the interval, f writes a snapshot."""
    need_tmux()
    wl = start_family()
    scr = None
    try:
        scr = Screen(["-p", wl.pid, "-i", "1"])
        family_stack_view(scr, wl)
        checks = mtlib.Checks()

        scr.keys("p")
        first = scr.wait("PAUSED", lambda t: "PAUSED" in t)
        up = re.search(r"up (\S+)", first).group(1)
        time.sleep(2.5)
        checks.eq(re.search(r"up (\S+)", scr.text()).group(1), up, "uptime while paused")
        scr.keys("p")
        scr.wait("the display running again", lambda t: "PAUSED" not in t and
                 re.search(r"up (\S+)", t).group(1) != up)

        scr.keys("+")
        scr.wait("a 2 s interval", lambda t: "every 2 s" in t)
        scr.keys("-", "-")
        scr.wait("a 0.5 s interval", lambda t: "every 0.5 s" in t)

        scr.keys("f")
        text = scr.wait("the snapshot message", lambda t: "snapshot written to" in t, 30)
        m = re.search(r"snapshot written to (\S+\.json) and (\S+\.folded)", text)
        checks.true(m, "no file names in the message: " + text.strip().split("\n")[-1])
        if m:
            json_path = os.path.join(scr.tmpdir, m.group(1))
            folded_path = os.path.join(scr.tmpdir, m.group(2))
            checks.true(os.path.exists(json_path), "no %s" % json_path)
            checks.true(os.path.exists(folded_path), "no %s" % folded_path)
            if os.path.exists(folded_path):
                with open(folded_path) as f:
                    checks.true("leak_malloc" in f.read(), "leak_malloc not in the folded file")

        scr.keys("q")
        status, text = scr.wait_exit()
        checks.eq(status, 0, "exit status")
        checks.finish()
    finally:
        if scr:
            scr.close()
        wl.kill()


@mtlib.timeout(120)
def test_system_wide_process_list():
    """memtrace with no target opens on the process list; both workloads are
    in it, and Enter on one shows its stacks."""
    need_tmux()
    family = aged = scr = None
    try:
        family = start_family()
        aged = mtlib.start_workload("agedleak", ["1"])
        # --exact: every stack kept, however many blocks the rest of the machine keeps.
        scr = Screen(["-i", "1", "--exact"], height=60)
        scr.wait_attached(60)
        family.signal(signal.SIGUSR1)
        aged.signal(signal.SIGUSR1)
        family.wait_line("stdout", lambda l: l == "done", 10, '"done"')
        aged.wait_line("stdout", lambda l: l == "done", 10, '"done"')
        checks = mtlib.Checks()

        # Other processes come and go; the filter keeps the workloads'.
        scr.wait("the process list", lambda t: "Processes:" in t)
        scr.keys("/")
        scr.keys("leak_", literal=True)
        scr.keys("Enter")

        def both(text):
            return re.search(r"^\s*%d\s+family_pie\s" % family.pid, text, re.M) and \
                re.search(r"^\s*%d\s+agedleak\s" % aged.pid, text, re.M)

        scr.wait("both workloads in the process list (pid and command)", both, 30)
        lines = scr.lines()
        _, header, rows = table(lines, "PID", "COMMAND")
        pids = [int(r.split()[0]) for r in rows]
        checks.true(family.pid in pids, "family_pie's pid not in the list")

        # Move the selection to family_pie and open it.
        scr.keys("Home")
        for _ in range(pids.index(family.pid) if family.pid in pids else 0):
            scr.keys("Down")
        scr.keys("Enter")
        text = scr.wait("family's stacks",
                        lambda t: "Call stacks of PID %d (family_pie)" % family.pid in t and
                        "leak_malloc" in t)
        checks.true("leak_memalign" in text, "leak_memalign not among family's stacks")

        # Back to the list, then quit.
        scr.keys("Escape")
        scr.wait("the process list again", lambda t: "Processes:" in t)
        scr.keys("q")
        status, text = scr.wait_exit(30)
        checks.eq(status, 0, "exit status")
        checks.true(restored(text), "terminal not restored:\n" + text.rstrip())
        checks.finish()
    finally:
        if scr:
            scr.close()
        for wl in (family, aged):
            if wl:
                wl.kill()


def stop_and_check(how, stop):
    need_tmux()
    wl = start_family()
    scr = None
    try:
        scr = Screen(["-p", wl.pid, "-i", "1"])
        family_stack_view(scr, wl)
        stop(scr)
        status, text = scr.wait_exit()
        checks = mtlib.Checks()
        checks.eq(status, 0, "exit status after " + how)
        checks.true(restored(text), "terminal not restored after %s:\n%s" % (how, text.rstrip()))
        checks.finish()
    finally:
        if scr:
            scr.close()
        wl.kill()


@mtlib.timeout(60)
def test_ctrl_c_restores_terminal():
    """Ctrl-C ends memtrace with status 0 and gives the terminal back."""
    stop_and_check("Ctrl-C", lambda scr: scr.keys("C-c"))


@mtlib.timeout(60)
def test_sigterm_restores_terminal():
    """So does SIGTERM."""
    def term(scr):
        for pid in scr.memtrace_pids():
            os.kill(pid, signal.SIGTERM)
    stop_and_check("SIGTERM", term)


@mtlib.timeout(60)
def test_iterations_exit():
    """-n 3: the display exits by itself after three refreshes."""
    need_tmux()
    wl = start_family()
    scr = None
    try:
        scr = Screen(["-p", wl.pid, "-i", "0.5", "-n", "3"])
        status, text = scr.wait_exit(30)
        checks = mtlib.Checks()
        checks.eq(status, 0, "exit status with -n 3")
        checks.true(restored(text), "terminal not restored after -n 3:\n" + text.rstrip())
        checks.finish()
    finally:
        if scr:
            scr.close()
        wl.kill()


def test_command_ended_with_display():
    """memtrace -n 2 -- CMD: when the display ends, the command memtrace
    started gets SIGTERM and is waited for, not left running untraced."""
    need_tmux()
    scr = None
    try:
        scr = Screen(["-i", "0.5", "-n", "2", "--json", "report.json"],
                     command=[mtlib.workload("family_pie"), "--wait"])
        status, text = scr.wait_exit(30)
        checks = mtlib.Checks()
        checks.eq(status, 0, "exit status (the command's: 0 after SIGTERM)")
        checks.true(restored(text), "terminal not restored:\n" + text.rstrip())
        checks.true("runs on" not in scr.stderr(), "stderr: %r" % scr.stderr()[-500:])
        path = os.path.join(scr.tmpdir, "report.json")
        if checks.true(os.path.exists(path), "no report.json written"):
            with open(path) as f:
                proc = mtlib.find_process(json.load(f), exe_name="family_pie")
            checks.eq(proc.get("exited"), True, "the command exited")
            checks.true(not os.path.exists("/proc/%d" % proc["pid"]),
                        "pid %d still exists" % proc["pid"])
        checks.finish()
    finally:
        if scr:
            scr.close()


@mtlib.timeout(60)
def test_small_terminal_and_resize():
    """An 80x24 terminal, then a narrow one: the rows still fit their lines
    and leak_malloc stays on screen."""
    need_tmux()
    wl = start_family()
    scr = None
    try:
        scr = Screen(["-p", wl.pid, "-i", "1"], width=80, height=24, env={"LC_ALL": "C"})
        family_stack_view(scr, wl)
        checks = mtlib.Checks()
        _, header, rows = table(scr.lines())
        checks.true("TREND" not in header, "TREND shown on 80 columns: %r" % header)
        checks.eq(function_of(rows[0], header), "leak_malloc", "first row on 80 columns")
        scr.tmux("resize-window", "-t", "mt", "-x", "60", "-y", "15")
        text = scr.wait("the display at 60 columns",
                        lambda t: max(len(l) for l in t.split("\n")) <= 60 and
                        "leak_malloc" in t)
        checks.true(all(len(l) <= 60 for l in text.split("\n")), "a line is wider than 60")
        scr.keys("q")
        status, _ = scr.wait_exit()
        checks.eq(status, 0, "exit status")
        checks.finish()
    finally:
        if scr:
            scr.close()
        wl.kill()
