"""Python threads allocating at lines of their own.

    pythreads.py [--wait] [--records N] [--truth FILE] [--no-tracemalloc]

Two threads, each its own function: make_a (in worker_a) keeps N objects
of three slots, make_b (in worker_b) N bytearrays of 40 bytes; the main
thread waits for both. None of them comes from a free list (tracemalloc
gives an object taken from one the line that took it, memtrace the line
that allocated its memory). Started and joined inside the work, so that
every allocation of theirs is one a tracer attached before the work sees;
the main thread allocates nothing at a line of this file while traced.
--truth FILE: tracemalloc's per-line size and count (started before the
threads) as JSON; --no-tracemalloc: without it (the interpreter's
allocator functions then run unhooked).
"""

import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wl  # noqa: E402

A = []
B = []


class Three:
    __slots__ = ("a", "b", "c")

    def __init__(self, i):
        self.a = self.b = self.c = i


def make_a(i):
    return Three(i)


def worker_a(n):
    for i in range(n):
        A.append(make_a(i))


def make_b(i):
    return bytearray(40)


def worker_b(n):
    for i in range(n):
        B.append(make_b(i))


def main():
    args = wl.start()
    n, truth, trace = 5000, None, True
    while args:
        a = args.pop(0)
        if a == "--records":
            n = int(args.pop(0))
        elif a == "--truth":
            truth = args.pop(0)
        elif a == "--no-tracemalloc":
            trace = False
    import tracemalloc
    # Made before tracemalloc starts: a list from a free list would be this line's for it.
    threads = [threading.Thread(target=worker_a, args=(n,)),
               threading.Thread(target=worker_b, args=(n,))]
    lines = ()
    if trace:
        tracemalloc.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if trace:
        snap = tracemalloc.take_snapshot()
        mine = snap.filter_traces([tracemalloc.Filter(True, os.path.abspath(__file__))])
        lines = [{"line": s.traceback[0].lineno, "size": s.size, "count": s.count}
                 for s in mine.statistics("lineno")]
        tracemalloc.stop()
    if truth:
        with open(truth, "w") as f:
            json.dump({"lines": lines}, f)
    wl.done()


main()
