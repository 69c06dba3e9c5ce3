"""A Python service's leak: objects kept at known lines, others dropped.

    pykeep.py [--wait] [--records N] [--truth FILE] [--tracemalloc] [--free-all]

What it does, each at a line of its own (the tests find them by name):

    make_record      N dicts {"id": i, "name": "x"}, kept (a dict and its keys)
    fill             the ints of N records (all but the cached small ones), and
                     the list that holds them (more than 512 bytes: malloc's)
    make_blob        N // 20 bytes objects of 600 bytes, kept (malloc's, through
                     PyObject_Malloc)
    churn            N tuples made and dropped: nothing kept

--free-all: then drop every record and blob (gc.collect() too): what was
kept is freed, and the process's live Python objects go back to what the
interpreter itself holds.

--truth FILE: the program's own figures after the work: a JSON line with
tracemalloc's per-line size and count of what it keeps (with
--tracemalloc, started before the work) and sys._debugmallocstats()'s
arena figures, then a line with sys.getallocatedblocks() (the blocks the
interpreter's API holds), taken last: the int that says it is freed again.
"""

import gc
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wl  # noqa: E402

KEEP = []
BLOBS = []


def make_record(i):
    return {"id": i, "name": "x"}


def fill(n):
    for i in range(n):
        KEEP.append(make_record(i))


def make_blob(i):
    return bytes(600)


def keep_blobs(n):
    for i in range(n):
        BLOBS.append(make_blob(i))


def churn(n):
    for i in range(n):
        t = (i, i)
        del t


def free_all():
    KEEP.clear()
    BLOBS.clear()
    gc.collect()


def arena_figures():
    """sys._debugmallocstats()'s arena lines, read from its output (it writes to stderr)."""
    r, w = os.pipe()
    saved = os.dup(2)
    os.dup2(w, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(w)
    text = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        text += chunk
    os.close(r)
    figures = {}
    for line in text.decode().splitlines():
        if line.startswith("# arenas allocated current"):
            figures["arenas"] = int(line.split("=")[1].replace(",", ""))
        elif line.startswith("# bytes in allocated blocks"):
            figures["allocated_block_bytes"] = int(line.split("=")[1].replace(",", ""))
    return figures


def main():
    args = wl.start()
    n, truth, trace, drop = 20000, None, False, False
    while args:
        a = args.pop(0)
        if a == "--records":
            n = int(args.pop(0))
        elif a == "--truth":
            truth = args.pop(0)
        elif a == "--tracemalloc":
            trace = True
        elif a == "--free-all":
            drop = True
    if trace:
        import tracemalloc
        tracemalloc.start()
    fill(n)
    keep_blobs(n // 20)
    churn(n)
    if drop:
        free_all()
    out = {}
    if trace:
        snap = tracemalloc.take_snapshot()
        mine = snap.filter_traces([tracemalloc.Filter(True, os.path.abspath(__file__))])
        out["lines"] = [{"line": s.traceback[0].lineno, "size": s.size, "count": s.count}
                        for s in mine.statistics("lineno")]
        tracemalloc.stop()
        del snap, mine
    out.update(arena_figures())
    fd = os.open(truth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if truth else -1
    if truth:
        os.write(fd, json.dumps(out).encode())
    del out
    # Last: the blocks the API holds now; the int that says so is freed again below.
    blocks = sys.getallocatedblocks()
    if truth:
        os.write(fd, b"\n%d\n" % blocks)
    del blocks
    if truth:
        # And the arenas as they are at the end: what was made above to write
        # the figures can take a new arena. C's stderr is unbuffered; nothing
        # of Python's is allocated after it, up to the exit.
        os.dup2(fd, 2)
        sys._debugmallocstats()
        os.close(fd)
    wl.done()


main()
