#!/usr/bin/env python3
"""How far memtrace's sampled live bytes of the top call stack are from the
program's own exact profile, over repeated runs (not part of make test).

    python3 tests/go_sampling_spread.py MEMTRACE WORKLOADS_DIR [RUNS] [RATE...]

For each Go toolchain's goinuse (WORKLOADS_DIR/go1.MINOR/goinuse, which
keeps 64 MiB in 1 MiB objects at main.allocBig, 16 MiB in 64 KiB objects at
main.allocSmall, and prints its own figures at MemProfileRate = 1), runs
memtrace -- goinuse --go-live memtrace --go-sample-rate RATE RUNS times and
prints, per toolchain and rate, the mean and standard deviation of
memtrace's main.allocBig and main.allocSmall live bytes relative to the
program's own, and of heap.live_bytes against its /gc/heap/live:bytes.
"""

import json
import math
import os
import subprocess
import sys
import tempfile


def one_run(memtrace, workload, rate):
    with tempfile.TemporaryDirectory(prefix="mt-spread-") as tmp:
        path = os.path.join(tmp, "r.json")
        p = subprocess.run([memtrace, "--json", path, "--go-live", "memtrace",
                            "--go-sample-rate", str(rate), "--", workload],
                           capture_output=True, text=True, timeout=120)
        own = {}
        for line in p.stdout.splitlines():
            if line.startswith("inuse "):
                own = {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
        with open(path) as f:
            proc = json.load(f)["processes"][0]
    live = {}
    for fn in ("main.allocBig", "main.allocSmall"):
        live[fn] = sum(s["live_bytes"] or 0 for s in proc["stacks"]
                       if any(fr.get("function") == fn for fr in s["frames"]))
    return own, live, proc


def stats(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0
    return m, sd


def main():
    memtrace, wdir = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    rates = [int(r) for r in sys.argv[4:]] or [512 << 10]
    print("%-7s %8s %5s  %-22s %-22s" % ("go", "rate", "runs", "allocBig/own mean sd",
                                          "allocSmall/own mean sd"))
    for go in sorted(d for d in os.listdir(wdir) if d.startswith("go1.")):
        workload = os.path.join(wdir, go, "goinuse")
        for rate in rates:
            big, small = [], []
            for _ in range(runs):
                own, live, _ = one_run(memtrace, workload, rate)
                big.append(live["main.allocBig"] / own["big"])
                small.append(live["main.allocSmall"] / own["small"])
            (bm, bs), (sm, ss) = stats(big), stats(small)
            print("%-7s %8d %5d  %6.3f %6.1f%%         %6.3f %6.1f%%"
                  % (go, rate, runs, bm, 100 * bs, sm, 100 * ss), flush=True)


if __name__ == "__main__":
    main()
