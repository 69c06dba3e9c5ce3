"""Python threads allocating at lines of their own.

    pythreads.py [--wait] [--records N] [--truth FILE]

Two threads, each its own function: make_a (in worker_a) keeps N lists of
three ints' worth, make_b (in worker_b) N bytearrays of 40 bytes; the main
thread waits for both. Started and joined inside the work, so that every
allocation of theirs is one a tracer attached before the work sees.
--truth FILE: tracemalloc's per-line size and count (started before the
threads) as JSON.
"""

import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wl  # noqa: E402

A = []
B = []


def make_a(i):
    return [i, i, i]


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
    n, truth = 5000, None
    while args:
        a = args.pop(0)
        if a == "--records":
            n = int(args.pop(0))
        elif a == "--truth":
            truth = args.pop(0)
    import tracemalloc
    tracemalloc.start()
    threads = [threading.Thread(target=worker_a, args=(n,)),
               threading.Thread(target=worker_b, args=(n,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
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
