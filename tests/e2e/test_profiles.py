"""pprof profiles (--pprof) and report diffs (--diff), read by `go tool pprof`.

The profile of a run must show exactly the figures of the JSON report of
that same run; --diff is checked on two hand-written reports whose output
is known to the byte, and on two real runs that differ in a known way.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile

import mtlib
from mtlib import Checks


# ---------------------------------------------------------------- go tool pprof

# Debian's go1.19 ships pprof built; a newer go builds it at its first use
# (~30 s, again for every fresh GOCACHE). Any release reads these profiles.
GO_WITH_PPROF = "/usr/lib/go-1.19/bin/go"


def go_binary():
    """The go command whose `go tool pprof` reads the profiles: $MT_GO_PPROF
    (make test names Debian's go1.19, whose pprof is built already; Go 1.24+
    builds its tools on first use), else Debian's go1.19, else `go` from PATH."""
    path = os.environ.get("MT_GO_PPROF")
    if path and os.access(path, os.X_OK):
        return path
    if os.access(GO_WITH_PPROF, os.X_OK):
        return GO_WITH_PPROF
    return mtlib.require("go", "golang-1.19")


def pprof(args, workdir):
    """Run `go tool pprof ARGS` and return its stdout; fails on a non-zero status."""
    # Go 1.24+ builds its tools on first use and caches them: one cache for the
    # whole run (beside the workloads'), not one per call (~30 s each here).
    env = dict(os.environ, HOME=workdir,
               GOCACHE=os.path.join(os.path.dirname(mtlib.config.workloads), "gocache"),
               GOFLAGS="", GO111MODULE="off", GOTOOLCHAIN="local")
    argv = [go_binary(), "tool", "pprof"] + list(args)
    try:
        p = subprocess.run(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=mtlib.remaining(60))
    except subprocess.TimeoutExpired:
        raise AssertionError("go tool pprof %s timed out" % " ".join(args))
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError("go tool pprof %s exited %d: %s"
                             % (" ".join(args), p.returncode,
                                p.stderr.decode("utf-8", "replace")[-800:]))
    return out


TOP_ROW = re.compile(r"^\s*(-?[\d.]+)([a-zA-Z]*)\s+-?[\d.e+-]+%\s+-?[\d.e+-]+%\s+"
                     r"(-?[\d.]+)([a-zA-Z]*)\s+-?[\d.e+-]+%\s+(.+?)\s*$")


def top_rows(text):
    """-top output -> [(name, flat, cum)] in order; values as printed with
    -unit=B (bytes) or as counts, so integers."""
    rows = []
    for line in text.splitlines():
        m = TOP_ROW.match(line)
        if m and m.group(2) in ("", "B") and m.group(4) in ("", "B"):
            rows.append((m.group(5), int(float(m.group(1))), int(float(m.group(3)))))
    return rows


def traces(text):
    """-traces output -> [(value as printed, [functions leaf first])]."""
    out = []
    for block in re.split(r"^-+\+-+$", text, flags=re.M)[1:]:
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        first = lines[0].split()
        if len(first) < 2:
            continue
        out.append((first[0], [first[1]] + [l.strip() for l in lines[1:]]))
    return out


LOC_HEAD = re.compile(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(?:\[F\] )?(.*)$")
# "name file:line s=start", then "(system name)" when it differs from the name.
LOC_LINE = re.compile(r"^(.*) \S*:-?\d+ s=-?\d+(?:\(.*\))?$")


def raw_samples(text):
    """-raw output -> ([sample type names], {function tuple: summed values}).
    A location's functions are its lines, inlined ones first; a location
    without lines (an unresolved frame) is ""."""
    types, samples, locs = [], [], {}
    section, loc = None, None
    for line in text.splitlines():
        if line.startswith("Samples:"):
            section = "samples-header"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = None
            continue
        if section == "samples-header":
            types = line.split()
            section = "samples"
        elif section == "samples":
            m = re.match(r"^\s*([-\d ]+):([\d ]*)$", line)
            if m:
                samples.append(([int(v) for v in m.group(1).split()],
                                [int(i) for i in m.group(2).split()]))
        elif section == "locations":
            m = LOC_HEAD.match(line)
            if m:
                loc = locs.setdefault(int(m.group(1)), [])
                rest = m.group(2).strip()
            elif loc is not None and line.strip():
                rest = line.strip()
            else:
                continue
            lm = LOC_LINE.match(rest)
            if lm:
                loc.append(lm.group(1))
            elif not rest:
                loc.append("")
    by_path = {}
    for values, ids in samples:
        key = tuple(name for i in ids for name in locs.get(i, ["?"]))
        old = by_path.get(key, [0] * len(values))
        by_path[key] = [a + b for a, b in zip(old, values)]
    return types, by_path


def json_by_path(proc):
    """The JSON stacks as -raw shows them: {function tuple: [alloc_objects,
    alloc_space, inuse_objects, inuse_space]} (live figures 0 when null)."""
    out = {}
    for s in proc.get("stacks") or []:
        # pprof prints a name without its empty argument lists: the method
        # set of a generic shape, "interface { Error() string }", loses "()".
        key = tuple((f.get("function") or "").replace("()", "") for f in s.get("frames") or [])
        vals = [s["allocs_total"], s["alloc_bytes_total"], s.get("live_allocs") or 0,
                s.get("live_bytes") or 0]
        old = out.get(key, [0, 0, 0, 0])
        out[key] = [a + b for a, b in zip(old, vals)]
    return out


def write_profile(workdir, data, name="profile.pb.gz"):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---------------------------------------------------------------- --pprof

# Per function of the family workload: inuse_space, inuse_objects, alloc_space,
# alloc_objects (tests/workloads/family.c).
FAMILY = {
    "leak_malloc": (10000, 10, 10000, 10),
    "leak_calloc": (2331, 7, 2331, 7),
    "leak_realloc_grow": (4000, 1, 4300, 3),
    "leak_valloc": (6666, 2, 6666, 2),
    "balanced": (0, 0, 64000, 1000),
}


@mtlib.timeout(120)
def test_pprof_family():
    """--pprof on family (-p mode): go tool pprof shows the JSON's figures."""
    go_binary()
    run = mtlib.run_attached("family_pie", pprof=True)
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    c.true(run.pprof[:2] == b"\x1f\x8b", "the profile is gzip-compressed")
    workdir = tempfile.mkdtemp(prefix="mt-pprof-")
    try:
        prof = write_profile(workdir, run.pprof)
        common = ["-unit=B", "-nodefraction=0", "-edgefraction=0", "-nodecount=100000"]
        tops = {}
        for index in ("inuse_space", "inuse_objects", "alloc_space", "alloc_objects"):
            rows = top_rows(pprof(["-top", "-sample_index=" + index] + common + [prof],
                                  workdir))
            tops[index] = {name: flat for name, flat, cum in rows}
        for fn, want in FAMILY.items():
            got = tuple(tops[i].get(fn, 0) for i in ("inuse_space", "inuse_objects",
                                                     "alloc_space", "alloc_objects"))
            c.eq(got, want, fn + " (inuse_space, inuse_objects, alloc_space, alloc_objects)")
        # The whole profile against the whole JSON report of the same run.
        total = sum(s.get("live_bytes") or 0 for s in proc["stacks"])
        default = pprof(["-top"] + common + [prof], workdir)
        c.true("Type: inuse_space" in default, "default sample type is inuse_space")
        c.true("Total samples = %dB" % total in default,
               "-top total is the JSON's live bytes (%d)" % total)

        tr = traces(pprof(["-traces", "-sample_index=inuse_space", "-unit=B", prof],
                          workdir))
        mine = [t for t in tr if t[1] and t[1][0] == "leak_malloc"]
        if c.true(len(mine) == 1, "one trace with leaf leak_malloc (traces: %s)" % tr[:5]):
            c.eq(mine[0][0], "10000B", "leak_malloc trace's value")
            c.eq(mine[0][1][:3], ["leak_malloc", "run_all", "main"],
                 "leak_malloc trace, leaf first")

        raw = pprof(["-raw", prof], workdir)
        types, samples = raw_samples(raw)
        c.eq(types, ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                      "inuse_space/bytes[dflt]"], "-raw sample types (Go's order)")
        c.eq(samples, json_by_path(proc), "-raw samples vs the JSON stacks")
        c.true(re.search(r"^PeriodType: space bytes$", raw, re.M) and
               re.search(r"^Period: 1$", raw, re.M), "period: space/bytes, 1")
        exe = proc.get("exe") or ""
        c.true(re.search(r"^\d+: 0x0/0x10000000000/0x0 %s [0-9a-f]* ?\[FN\]\[FL\]\[LN\]\[IN\]$"
                         % re.escape(exe), raw, re.M),
               "first mapping is the executable, at 0, symbolized (functions, files, lines, "
               "inlined frames)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    c.finish(mtlib.describe_stacks(proc) + "\n" + (raw if c.errors else ""))


@mtlib.timeout(120)
@mtlib.per_go
def test_pprof_go(go):
    """--pprof on a Go program: main.hotPath on top by alloc_space; inuse_space
    the default with memtrace's sampled live figures, alloc_space without."""
    go_binary()
    run = mtlib.run_command(go.w("gohot"), pprof=True)
    proc = mtlib.find_process(run.report, exe_name="gohot")
    c = Checks()
    workdir = tempfile.mkdtemp(prefix="mt-pprof-")
    try:
        prof = write_profile(workdir, run.pprof)
        rows = top_rows(pprof(["-top", "-sample_index=alloc_space", "-unit=B",
                               "-nodefraction=0", prof], workdir))
        c.true(rows and rows[0][0] == "main.hotPath",
               "first -top row by alloc_space: %s" % rows[:3])
        hot = sum(s["alloc_bytes_total"] for s in mtlib.stacks_with_innermost(proc,
                                                                             "main.hotPath"))
        if rows:
            c.eq(rows[0][1], hot, "main.hotPath's alloc_space vs the JSON")
        types, samples = raw_samples(pprof(["-raw", prof], workdir))
        c.eq(types, ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                      "inuse_space/bytes[dflt]"],
             "Go, sampled by memtrace: inuse_space is the default sample type")
        c.eq(samples, json_by_path(proc), "-raw samples vs the JSON stacks")
        run = mtlib.run_command(go.w("gohot"), pprof=True, mt_args=["--go-live", "runtime"])
        prof = write_profile(workdir, run.pprof)
        types, samples = raw_samples(pprof(["-raw", prof], workdir))
        c.eq(types, ["alloc_objects/count", "alloc_space/bytes[dflt]", "inuse_objects/count",
                      "inuse_space/bytes"],
             "Go without live figures (--go-live runtime): alloc_space is the default")
        c.true(samples and all(v[2] == 0 and v[3] == 0 for v in samples.values()),
               "Go without live figures: inuse values are 0")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    c.finish(mtlib.describe_stacks(proc))


# ---------------------------------------------------------------- --diff

# Where each function's call site is in /bin/srv; "name@offset" is another one.
OFFSETS = {"grow": 0x100, "shrink": 0x200, "leak_gone": 0x300, "freed": 0x400, "main": 0x500}


def frames(*names):
    """Frames, innermost first: a name, "name@offset", or (module, offset)
    for a frame without a name."""
    out = []
    for n in names:
        if isinstance(n, tuple):
            out.append({"function": None, "module": n[0], "offset": n[1], "file": None,
                        "line": None, "inlined": False})
        else:
            name, _, off = n.partition("@")
            out.append({"function": name, "module": "/bin/srv",
                        "offset": int(off, 0) if off else OFFSETS[name], "file": None,
                        "line": None, "inlined": False})
    return out


def stack(live, allocs, *names, total=None):
    return {"live_bytes": live, "live_allocs": allocs,
            "alloc_bytes_total": live if total is None else total,
            "allocs_total": allocs, "frees_total": 0, "oldest_age_s": None,
            "truncated": False, "frames": frames(*names)}


def report(pid, live, allocs, stacks, duration):
    return {"version": 1, "duration_s": duration, "lost_events": 0, "counters": {},
            "min_age_s": 0.0,
            "processes": [{"pid": pid, "comm": "srv", "exe": "/bin/srv", "runtime": "native",
                           "allocator": "glibc", "allocator_path": None, "rss_bytes": 1,
                           "exited": False,
                           "heap": {"live_bytes": live, "live_allocs": allocs,
                                    "alloc_bytes_total": live, "allocs_total": allocs,
                                    "frees_total": 0},
                           "vm": None, "unresolved_frames": 0,
                           "stacks_total": len(stacks), "stacks": stacks}]}


# A server restarted between the snapshots (pid 100, then 200): grow's two
# call sites are one call path, so are the two stacks through an unresolved
# address in libx.
OLD = report(100, 3300, 4, [
    stack(2000, 2, "shrink", "main"),
    stack(1000, 1, "grow", "main"),
    stack(300, 1, "leak_gone", "main"),
    stack(0, 0, "freed", "main", total=500),
], 1.0)
NEW = report(200, 5000, 6, [
    stack(3000, 3, "grow@0x110", "main"),
    stack(1000, 1, "grow@0x120", "main"),
    stack(500, 1, "shrink", "main"),
    stack(300, 0, ("/lib/libx.so", 153), "main"),
    stack(200, 1, ("/lib/libx.so", 153), "main"),
], 2.0)

WANT_TEXT = """\
memtrace diff: OLD {old} (1.0 s) -> NEW {new} (2.0 s)

PID 100 -> 200 (srv)
  live 3.2 KiB -> 4.9 KiB (+1.7 KiB), 4 -> 6 allocations (+2)
  grew: 2 call paths, top 2 by live bytes:
  #1  +2.9 KiB, +3 allocations (1000 B in 1 -> 3.9 KiB in 4)
        grow
        main
  #2  +500 B, +1 allocation (0 B in 0 -> 500 B in 1, new)
        /lib/libx.so+0x99
        main
  shrank or gone: 2 call paths
    -1.5 KiB, -1 allocation (2.0 KiB in 2 -> 500 B in 1)  shrink <- main
    -300 B, -1 allocation (300 B in 1 -> 0 B in 0, gone)  leak_gone <- main
"""

WANT_FOLDED = """\
srv;main;grow 1000 4000
srv;main;leak_gone 300 0
srv;main;libx.so+0x99 0 500
srv;main;shrink 2000 500
"""


def test_diff_hand_written():
    """--diff on two hand-written reports: exact text, folded, and pprof pair."""
    workdir = tempfile.mkdtemp(prefix="mt-diff-")
    c = Checks()
    try:
        old, new = os.path.join(workdir, "old.json"), os.path.join(workdir, "new.json")
        for path, rep in ((old, OLD), (new, NEW)):
            with open(path, "w") as f:
                json.dump(rep, f, indent=1)
        folded, prof = os.path.join(workdir, "d.folded"), os.path.join(workdir, "d.pb.gz")
        status, out, err = mtlib.run_memtrace(["--diff", old, new, "--folded", folded,
                                               "--pprof", prof])
        c.eq(status, 0, "exit status (stderr %r)" % err[-300:])
        c.eq(err, "", "stderr")
        # The runner's capture drops the last newline.
        c.eq(out, WANT_TEXT.format(old=old, new=new).rstrip("\n"), "text output")
        if os.path.exists(folded):
            with open(folded) as f:
                c.eq(f.read(), WANT_FOLDED, "folded output")
        c.eq(sorted(os.listdir(workdir)),
             ["d.folded", "d.pb.gz", "d.pb.gz.base", "new.json", "old.json"],
             "files written (NEW's profile, OLD's as .base)")

        status, out1, _ = mtlib.run_memtrace(["--diff", old, new, "--top", "1"])
        c.true(status == 0 and "  grew: 2 call paths, top 1 by live bytes:\n" in out1 and
               "  #2" not in out1 and out1.endswith("    ... and 1 more"),
               "--top 1 limits both lists:\n" + out1)

        if go_binary() and os.path.exists(prof):
            rows = top_rows(pprof(["-top", "-unit=B", "-nodefraction=0", "-diff_base",
                                   prof + ".base", prof], workdir))
            flat = {name: f for name, f, cum in rows}
            c.eq(flat.get("grow"), 3000, "pprof -diff_base: grow's growth")
            c.eq(flat.get("shrink"), -1500, "pprof -diff_base: shrink's change")
            c.eq(flat.get("leak_gone"), -300, "pprof -diff_base: leak_gone's change")
            cum = {name: cu for name, f, cu in rows}
            c.eq(cum.get("main"), 1700, "pprof -diff_base: main's cumulative change")
        else:
            mtlib.note("go not installed: pprof diff not checked")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    c.finish()


def test_diff_errors():
    """--diff: unreadable, not JSON, not a report: one error line, status 1."""
    workdir = tempfile.mkdtemp(prefix="mt-diff-")
    try:
        good = os.path.join(workdir, "good.json")
        with open(good, "w") as f:
            json.dump(OLD, f)
        cases = [
            ("missing.json", None, ["No such file"]),
            ("trunc.json", json.dumps(OLD)[:-5], ["not JSON", "line 1"]),
            ("empty.json", "", ["not JSON"]),
            ("other.json", '{"a": [1, 2]}', ['not a memtrace report', '"version"']),
            ("noprocs.json", '{"version": 1}', ['"processes"']),
            ("v2.json", '{"version": 2, "processes": []}', ["version 2"]),
            ("types.json", '{"version": 1, "processes": [{"stacks": [{"live_bytes": "x"}]}]}',
             ["processes[0].stacks[0].live_bytes is not an integer"]),
            ("binary.json", "\x00\xff\xfe{", ["not JSON"]),
        ]
        for name, content, mention in cases:
            path = os.path.join(workdir, name)
            if content is not None:
                with open(path, "w", encoding="latin-1") as f:
                    f.write(content)
            for argv in (["--diff", path, good], ["--diff", good, path]):
                status, out, err = mtlib.run_memtrace(argv)
                mtlib.check_single_error(status, err, name, expect_status=1, mention=mention)
                if out:
                    raise AssertionError("%s: printed %r before failing" % (name, out[:200]))
        # An output path that cannot be written fails before anything is printed.
        status, out, err = mtlib.run_memtrace(["--diff", good, good, "--pprof",
                                               os.path.join(workdir, "no", "p.pb.gz")])
        mtlib.check_single_error(status, err, "unwritable --pprof", expect_status=1)
        if out:
            raise AssertionError("unwritable --pprof: printed %r" % out[:200])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@mtlib.timeout(120)
def test_diff_runs():
    """Two runs of family, the first with --min-size 1000: what the second
    shows more is exactly the allocations under 1000 bytes."""
    small = mtlib.run_command("family_pie", mt_args=["--min-size", "1000"])
    full = mtlib.run_command("family_pie")
    workdir = tempfile.mkdtemp(prefix="mt-diff-")
    c = Checks()
    try:
        old, new = os.path.join(workdir, "old.json"), os.path.join(workdir, "new.json")
        for path, run in ((old, small), (new, full)):
            with open(path, "w") as f:
                json.dump(run.report, f)
        folded, prof = os.path.join(workdir, "d.folded"), os.path.join(workdir, "d.pb.gz")
        status, out, err = mtlib.run_memtrace(["--diff", old, new, "--folded", folded,
                                               "--pprof", prof, "--top", "20"])
        c.eq(status, 0, "exit status (stderr %r)" % err[-300:])
        # Under 1000 bytes: calloc(3, 111), realloc(NULL, 555), reallocarray(13, 70),
        # aligned_alloc(256, 512), memalign(128, 700); what grew is exactly them.
        grew = {"leak_calloc": (2331, 7), "leak_realloc_null": (555, 1),
                "leak_reallocarray": (1820, 2), "leak_aligned_alloc": (1536, 3),
                "leak_memalign": (2800, 4)}
        c.true("grew: %d call paths" % len(grew) in out, "five call paths grew:\n" + out)
        c.true("shrank or gone" not in out, "nothing shrank:\n" + out)
        lines = {}
        with open(folded) as f:
            for line in f:
                path, o, n = line.rsplit(" ", 2)
                lines[path.split(";")[-1]] = (int(o), int(n))
        for fn, (live, _) in grew.items():
            c.eq(lines.get(fn), (0, live), "folded line of " + fn)
        c.eq(lines.get("leak_malloc"), (10000, 10000), "folded line of leak_malloc (unchanged)")
        if go_binary():
            rows = top_rows(pprof(["-top", "-unit=B", "-nodefraction=0", "-diff_base",
                                   prof + ".base", prof], workdir))
            flat = {name: f for name, f, cum in rows}
            for fn, (live, _) in grew.items():
                c.eq(flat.get(fn), live, "pprof -diff_base: " + fn)
            c.eq(flat.get("leak_malloc", 0), 0, "pprof -diff_base: leak_malloc unchanged")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    c.finish(out)


mtlib.for_each_go(globals())
