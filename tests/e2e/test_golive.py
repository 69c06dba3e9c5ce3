"""Go live bytes from memtrace's own sample (--go-live memtrace) in every
output besides JSON: the flame graph (--svg), folded stacks and pprof, the
diff of two reports, and the live display.

The workload is goinuse (tests/workloads/go/inuse), which prints the
runtime's exact in-use bytes per site (`inuse big=B small=S garbage=G`):
64 MiB kept at main.allocBig (INUSE_BIG=N: N MiB), 16 MiB at
main.allocSmall, 32 MiB dropped at main.allocGarbage.
"""

import json
import os
import re
import shutil
import signal
import tempfile
import xml.etree.ElementTree as ET

import mtlib
from mtlib import Checks
from test_display import Screen, need_tmux, parse_bytes, right_cell, function_of, table
from test_goprofile import SAMPLED, TOLERANCE, parse_inuse, site_live
from test_profiles import go_binary, json_by_path, pprof, raw_samples, write_profile
from test_svg import NS, frames_of

RATE = 16 << 10


def near(got, want):
    return want > 0 and abs(got - want) <= TOLERANCE * want


def sampled_proc(c, run, name="goinuse"):
    """The process of a SAMPLED run, checked to be sampled by memtrace."""
    proc = mtlib.find_process(run.report, exe_name=name)
    c.eq(proc.get("sampled"), True, "JSON: sampled")
    c.eq(proc.get("sample_rate"), RATE, "JSON: sample_rate")
    c.eq((proc.get("go") or {}).get("live_source"), "memtrace", "JSON: go.live_source")
    return proc


@mtlib.timeout(90)
@mtlib.per_go
def test_go_sampled_svg(go):
    """--svg: the flame graph's bytes are the sampled live bytes (within 15%
    of the program's own figures, equal to the JSON's), the dropped site
    absent, and the graph says they are sampled estimates."""
    tmpdir = tempfile.mkdtemp(prefix="mt-golive-")
    try:
        path = os.path.join(tmpdir, "go.svg")
        run = mtlib.run_command(go.w("goinuse"), mt_args=SAMPLED + ["--svg", path])
        with open(path, encoding="utf-8") as f:
            text = f.read()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    c = Checks()
    proc = sampled_proc(c, run)
    own = parse_inuse(run.mt_stdout.splitlines())
    root = ET.fromstring(text.encode("utf-8"))
    frames = frames_of(root)
    total = sum(s["live_bytes"] for s in proc["stacks"] if (s["live_bytes"] or 0) > 0)
    c.eq(int(root.get("data-total")), total, "data-total vs the JSON's live bytes")
    for fn, key in (("main.allocBig", "big"), ("main.allocSmall", "small")):
        got = sum(f.bytes for f in frames if f.name == fn)
        c.true(near(got, own[key]), "%s: %d bytes in the graph vs the program's inuse %d"
               % (fn, got, own[key]))
        c.eq(got, site_live(proc, fn), fn + ": graph vs JSON live bytes")
    garbage = sum(f.bytes for f in frames if f.name == "main.allocGarbage")
    c.true(garbage < 1 << 20, "main.allocGarbage: %d bytes in the graph, expected ~0" % garbage)
    texts = " | ".join("".join(t.itertext()) for t in root.iter(NS + "text")
                       if t.get("id") == "title" or t.get("class") == "sub")
    c.true("live bytes" in texts and "bytes allocated" not in texts,
           "the graph says it shows live bytes: %r" % texts)
    c.true(re.search(r"sampled estimates? \(1 sample per 16\.0 KiB\)", texts),
           "the graph says its Go figures are sampled estimates: %r" % texts)
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(90)
@mtlib.per_go
def test_go_sampled_folded_pprof(go):
    """--folded and --pprof: the live bytes of each stack are the JSON's
    sampled live bytes, stack by stack."""
    go_binary()
    run = mtlib.run_command(go.w("goinuse"), mt_args=SAMPLED, folded=True, pprof=True)
    c = Checks()
    proc = sampled_proc(c, run)
    own = parse_inuse(run.mt_stdout.splitlines())
    c.true(near(site_live(proc, "main.allocBig"), own["big"]),
           "JSON: main.allocBig near the program's inuse %d" % own["big"])

    # Folded: "comm;outermost;...;innermost BYTES", one line per stack with live bytes.
    folded = {}
    for line in run.folded.splitlines():
        path, n = line.rsplit(" ", 1)
        key = tuple(path.split(";")[1:])
        folded[key] = folded.get(key, 0) + int(n)
    want = {}
    for s in proc["stacks"]:
        if (s["live_bytes"] or 0) <= 0:
            continue
        key = tuple(f["function"] or "%s+0x%x" % (os.path.basename(f["module"] or ""),
                                                  f["offset"])
                    for f in reversed(s["frames"]))
        want[key] = want.get(key, 0) + s["live_bytes"]
    c.eq(folded, want, "folded lines vs the JSON's live bytes per stack")
    # Every stack through main.allocBig, as site_live counts them: the runtime
    # sometimes allocates beneath it (a collection started there makes an M).
    big = [v for k, v in folded.items() if "main.allocBig" in k]
    c.true(big, "folded: a line through main.allocBig")
    c.eq(sum(big), site_live(proc, "main.allocBig"), "folded: main.allocBig's lines")

    workdir = tempfile.mkdtemp(prefix="mt-golive-")
    try:
        prof = write_profile(workdir, run.pprof)
        types, samples = raw_samples(pprof(["-raw", prof], workdir))
        top = pprof(["-top", "-sample_index=inuse_space", "-unit=B", "-nodefraction=0", prof],
                    workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    c.eq(types, ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                  "inuse_space/bytes[dflt]"], "pprof: inuse_space is the default")
    c.eq(samples, json_by_path(proc), "pprof -raw samples vs the JSON stacks")
    total = sum(s["live_bytes"] or 0 for s in proc["stacks"])
    c.true("Total samples = %dB" % total in top,
           "pprof -top's total is the JSON's live bytes (%d)" % total)
    c.finish(mtlib.describe_stacks(proc))


@mtlib.timeout(120)
@mtlib.per_go
def test_go_sampled_diff(go):
    """--diff of two sampled runs, 32 then 64 MiB kept at main.allocBig: the
    diff compares live bytes (not bytes allocated), main.allocBig grew by
    about 32 MiB, and the text says the figures are sampled estimates."""
    runs = [mtlib.run_command(go.w("goinuse"), mt_args=SAMPLED, env={"INUSE_BIG": str(n)})
            for n in (32, 64)]
    c = Checks()
    own = []
    for run in runs:
        sampled_proc(c, run)
        own.append(parse_inuse(run.mt_stdout.splitlines()))
    c.true(near(own[0]["big"], 32 << 20) and near(own[1]["big"], 64 << 20),
           "the program kept 32 then 64 MiB: %s" % own)
    live = [site_live(mtlib.find_process(r.report, exe_name="goinuse"), "main.allocBig")
            for r in runs]
    workdir = tempfile.mkdtemp(prefix="mt-golive-")
    try:
        paths = []
        for i, run in enumerate(runs):
            paths.append(os.path.join(workdir, "%d.json" % i))
            with open(paths[-1], "w") as f:
                json.dump(run.report, f)
        folded = os.path.join(workdir, "d.folded")
        status, out, err = mtlib.run_memtrace(["--diff", paths[0], paths[1],
                                               "--folded", folded])
        lines = {}
        through_big = []
        if os.path.exists(folded):
            with open(folded) as f:
                for line in f:
                    path, o, n = line.rsplit(" ", 2)
                    lines.setdefault(path.split(";")[-1], []).append((int(o), int(n)))
                    if "main.allocBig" in path.split(";"):
                        through_big.append((int(o), int(n)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    c.eq(status, 0, "exit status (stderr %r)" % err[-300:])
    c.true("live figures unknown" not in out and "bytes allocated" not in out,
           "the diff compares live bytes, not bytes allocated")
    heads = re.findall(r"^  live ([\d.]+) MiB -> ([\d.]+) MiB .*; sampled estimates "
                       r"\(1 sample per 16\.0 KiB\)$", out, re.M)
    want = tuple("%.1f" % (r.report["processes"][0]["heap"]["live_bytes"] / (1 << 20))
                 for r in runs)
    c.eq(heads, [want], "the process's live bytes, OLD -> NEW, called sampled estimates")
    # The first path that grew, and by how much: "#1  +32.0 MiB, ...".
    m = re.search(r"^  #1  \+([\d.]+) MiB, .*\n {8}main\.allocBig$", out, re.M)
    if c.true(m, "main.allocBig grew most, by some MiB"):
        c.true(near(float(m.group(1)) * (1 << 20), 32 << 20),
               "main.allocBig grew by %s MiB, expected about 32" % m.group(1))
    # Every line through main.allocBig, as site_live counts them: the runtime
    # sometimes allocates beneath it (a collection started there makes an M).
    c.eq(len(lines.get("main.allocBig") or []), 1, "folded diff: one line ends at main.allocBig")
    c.eq(tuple(map(sum, zip(*through_big))) if through_big else None, tuple(live),
         "folded diff: main.allocBig's live bytes (its lines), OLD then NEW")
    # 32 MiB allocated and dropped in both runs: no live bytes, no line.
    c.eq(lines.get("main.allocGarbage"), None, "folded diff: main.allocGarbage (nothing live)")
    c.finish(out)


@mtlib.timeout(90)
@mtlib.per_go
def test_go_sampled_display(go):
    """The live display on a Go program sampled by memtrace (-p): live
    bytes per stack, not "-", main.allocBig on top near the program's
    figure, and the header says the figures are sampled estimates."""
    need_tmux()
    wl = mtlib.start_workload(go.w("goinuse"), env={"INUSE_ALLOC_AFTER": "1"})
    scr = None
    try:
        scr = Screen(["-p", wl.pid, "-i", "0.5"] + SAMPLED)
        scr.wait_attached()
        wl.signal(signal.SIGUSR1)
        wl.wait_line("stdout", lambda l: l == "done", 20, '"done"')
        own = parse_inuse(wl.lines["stdout"])
        text = scr.wait("main.allocBig and main.allocSmall in the stack view",
                        lambda t: "main.allocBig" in t and "main.allocSmall" in t and
                        "Call stacks of PID %d" % wl.pid in t)
        c = Checks()
        _, header, rows = table(text.split("\n"))
        c.eq(function_of(rows[0], header), "main.allocBig", "first row's function")
        cells = {function_of(r, header): right_cell(r, header, "LIVE") for r in rows}
        for fn, key in (("main.allocBig", "big"), ("main.allocSmall", "small")):
            cell = cells.get(fn, "")
            c.true(re.match(r"^[\d.]+ [KMG]?i?B$", cell) and near(parse_bytes(cell), own[key]),
                   "%s's LIVE cell %r vs the program's inuse %d" % (fn, cell, own[key]))
        c.true(re.search(r"live [\d.]+ MiB \(\d+ objects, sampled 1 per 16\.0 KiB\)",
                         text.split("\n")[1]),
               "the process line says its live bytes are sampled: %r" % text.split("\n")[1])
        # Enter: the first stack's frames, its live bytes called sampled.
        scr.keys("Enter")
        text = scr.wait("the frames view", lambda t: "Stack of PID %d" % wl.pid in t)
        head = next((l for l in text.split("\n") if "Stack of PID" in l), "")
        c.true(re.search(r": live [\d.]+ MiB in \d+ objects \(sampled 1 per 16\.0 KiB\); "
                         r"allocated", head), "the frames view's figures: %r" % head)
        c.true(re.search(r"^\s*\d+\s+main\.allocBig\s", text, re.M),
               "the frames view shows main.allocBig")
        scr.keys("Left")
        scr.wait("the stack view again", lambda t: "Call stacks of PID" in t)
        scr.keys("q")
        status, _ = scr.wait_exit()
        c.eq(status, 0, "memtrace's exit status after q")
        c.finish(text)
    finally:
        if scr:
            scr.close()
        wl.kill()


mtlib.for_each_go(globals())
