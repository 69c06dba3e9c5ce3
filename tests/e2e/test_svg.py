"""--svg: the flame graph of the family workload, read back as XML, then
opened in a headless browser (chromium), whose DOM after the script ran and
whose screenshot are checked.

One memtrace run per binary serves every test.
"""

import os
import shutil
import struct
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import mtlib
from mtlib import Checks

NS = "{http://www.w3.org/2000/svg}"
CHROMIUM = "/usr/bin/chromium"

# memtrace binary -> (svg text, report) or the exception the run raised
_runs = {}


def family_svg():
    """memtrace --svg -- family_pie: the SVG text and the JSON report."""
    key = mtlib.config.memtrace
    if key not in _runs:
        tmpdir = tempfile.mkdtemp(prefix="mt-svg-")
        path = os.path.join(tmpdir, "family.svg")
        try:
            run = mtlib.run_command("family_pie", mt_args=["--svg", path])
            with open(path, encoding="utf-8") as f:
                _runs[key] = (f.read(), run.report)
        except Exception as e:
            _runs[key] = e
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    if isinstance(_runs[key], Exception):
        raise _runs[key]
    return _runs[key]


class Frame:
    def __init__(self, g):
        self.title = g.find(NS + "title").text or ""
        self.name = self.title[:self.title.rfind(" (")]
        self.depth = int(g.get("data-d"))
        self.x = int(g.get("data-x"))
        self.bytes = int(g.get("data-w"))
        self.width = float(g.find(NS + "rect").get("width"))


def frames_of(root):
    return [Frame(g) for g in root.iter(NS + "g") if g.get("class") == "f"]


def ancestors(frames, fr):
    """Outward from fr's parent: at each depth the frame spanning fr's bytes."""
    out = []
    for d in range(fr.depth - 1, -1, -1):
        span = [a for a in frames if a.depth == d and a.x <= fr.x
                and a.x + a.bytes >= fr.x + fr.bytes]
        if len(span) != 1:
            raise AssertionError("%d frames at depth %d span %s" % (len(span), d, fr.title))
        out.append(span[0].name)
    return out


def live_total(report):
    return sum(s["live_bytes"] for p in report["processes"] for s in p["stacks"]
               if (s.get("live_bytes") or 0) > 0)


def test_svg_family():
    """--svg on family_pie: well-formed, self-contained, leak_malloc under run_all and main."""
    text, report = family_svg()
    c = Checks()
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        raise AssertionError("SVG is not well-formed XML: %s; starts with %r" % (e, text[:300]))
    c.eq(root.tag, NS + "svg", "root element")
    for e in root.iter():
        for k, v in e.attrib.items():
            c.true("href" not in k and ("url(" not in v or "url(#" in v),
                   "reference outside the document: %s=%r" % (k, v))
    c.true(root.find(NS + "script") is not None and root.find(NS + "style") is not None,
           "inline <script> and <style>")

    frames = frames_of(root)
    total = live_total(report)
    c.eq(int(root.get("data-total")), total, "data-total vs JSON live bytes")
    roots = [f for f in frames if f.depth == 0]
    c.eq([f.title for f in roots], ["all (%s bytes, 100.00%%)" % format(total, ",")],
         "root frame")
    c.eq([f.name for f in frames if f.depth == 1], ["family_pie"],
         "the process frame (one process: its comm)")

    mine = [f for f in frames if f.title.startswith("leak_malloc (10,000 bytes, ")]
    if c.true(len(mine) == 1, "%d frames titled 'leak_malloc (10,000 bytes, ...', expected 1"
              % len(mine)):
        fr = mine[0]
        c.eq(fr.title, "leak_malloc (10,000 bytes, %.2f%%)" % (100.0 * 10000 / total),
             "leak_malloc title")
        up = c.run(ancestors, frames, fr)
        if up:
            c.eq(up[:2], ["run_all", "main"], "leak_malloc's parent and grandparent")
            c.eq(up[-2:], ["family_pie", "all"], "leak_malloc's outermost ancestors")
        c.true(abs(fr.width - 1180.0 * 10000 / total) < 0.02,
               "leak_malloc width %.2f, expected %.2f" % (fr.width, 1180.0 * 10000 / total))
    # Each function of the table once, one rectangle: one call site each.
    for fn in ("leak_calloc", "leak_valloc", "run_all", "main"):
        c.eq(len([f for f in frames if f.name == fn]), 1, "frames named " + fn)
    c.finish("frames:\n" + "\n".join("  %d %s" % (f.depth, f.title) for f in frames))


def run_chromium(args, tmpdir, timeout=30):
    """Run headless chromium to completion; return (stdout, stderr)."""
    mtlib.require(CHROMIUM, "chromium")
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmpdir)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
            "--enable-logging=stderr", "--v=0"] + list(args)
    # Its caches and settings go to the temporary directory, not $HOME.
    env = dict(os.environ, HOME=tmpdir, XDG_CONFIG_HOME=tmpdir, XDG_CACHE_HOME=tmpdir)
    p = mtlib.Proc(argv, env=env, name="chromium")
    try:
        p.wait(timeout, "headless chromium")
        return p.text("stdout"), p.text("stderr")
    finally:
        p.kill()


def png_pixels(path):
    """(width, height, decompressed scanlines) of a PNG file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG file" % path)
    pos, idat, size = 8, b"", None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    return size[0], size[1], zlib.decompress(idat)


@mtlib.timeout(120)
def test_svg_browser():
    """The SVG in headless chromium: the script runs, labels fit, search works; a screenshot."""
    mtlib.require(CHROMIUM, "chromium")
    text, report = family_svg()
    tmpdir = tempfile.mkdtemp(prefix="mt-svg-browser-")
    c = Checks()
    try:
        path = os.path.join(tmpdir, "family.svg")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        url = "file://" + urllib.parse.quote(path)

        # ?s= searches on load: the matched share is set on the root.
        dom, err = run_chromium(["--dump-dom", url + "?s=" + urllib.parse.quote("^leak_malloc$")],
                                tmpdir)
        c.true("Uncaught" not in err, "script errors: %s"
               % [l for l in err.splitlines() if "Uncaught" in l or "CONSOLE" in l][:5])
        try:
            root = ET.fromstring(dom.encode("utf-8"))
        except ET.ParseError as e:
            raise AssertionError("--dump-dom output does not parse: %s; starts with %r"
                                 % (e, dom[:300]))
        c.eq(root.get("data-ready"), "1", "data-ready set by the script")
        want = "%.1f" % (100.0 * 10000 / live_total(report))
        c.eq(root.get("data-matched"), want, "matched share of ^leak_malloc$")
        frames = [g for g in root.iter(NS + "g") if g.get("class") == "f"]
        c.eq(len(frames), text.count('<g class="f"'), "frames in the DOM")
        labels = {"".join(g.find(NS + "text").itertext()) for g in frames}
        for name in ("all", "family_pie", "main", "run_all", "leak_malloc"):
            c.true(name in labels, "no label %r drawn whole (labels: %s)" % (name, sorted(labels)))
        c.true(all(l.endswith("..") or l in {Frame(g).name for g in frames}
                   for l in labels if l),
               "a label is neither a whole name nor cut with '..'")

        png = os.path.join(tmpdir, "family.png")
        run_chromium(["--screenshot=" + png, "--window-size=1200,800", url], tmpdir)
        if c.true(os.path.exists(png), "no screenshot written"):
            w, h, pixels = png_pixels(png)
            c.eq((w, h), (1200, 800), "screenshot size")
            # A drawn graph has many colours; a blank page very few.
            c.true(len(set(pixels)) > 64, "screenshot looks blank (%d distinct bytes)"
                   % len(set(pixels)))
        c.finish()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
