"""make bench, Python: ns per object allocation of a Python loop.

    bench_python.py [ALLOCS]

Ten Python frames deep, the loop makes ALLOCS objects of a small class
(one pymalloc block each: no free list serves them, and the loop makes no
other object) and keeps the last 1,024, so that each allocation is matched
by a free. Prints
"ns_per_alloc N", the loop's own time (start-up not counted).
"""

import itertools
import sys
import time


class Obj:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = self.b = None


def loop(n):
    ring = [None] * 1024
    t0 = time.perf_counter_ns()
    i = 0
    for _ in itertools.repeat(None, n):
        ring[i] = Obj()
        i = (i + 1) & 1023
    return time.perf_counter_ns() - t0


def deep(k, n):
    if k:
        return deep(k - 1, n)
    return loop(n)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
    ns = deep(9, n)
    sys.stdout.write("ns_per_alloc %.1f\n" % (ns / n))


main()
