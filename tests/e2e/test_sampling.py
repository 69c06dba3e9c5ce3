"""Sampled native tracking: one block kept per BYTES allocated (an
exponential draw, as tcmalloc and Go sample), live figures estimated by
weighing each kept block by the inverse of its chance, bytes and calls
allocated counted exactly. Checked against sampleleak's known figures
(tests/workloads/sampleleak.c):

    keep_small   20000 x 64 bytes, kept     1,280,000 bytes
    keep_large   16000 x 4096 bytes, kept   65,536,000 bytes
    churn        100000 x 128 bytes, each freed at once: nothing live

and the choice memtrace makes by itself: exact while the allocation map has
room, sampling once it is 90% full (and from the start for a process that is
already large when memtrace attaches), each said in one line and in JSON.
"""

import math
import statistics

import mtlib
from mtlib import Checks

SITES = {"keep_small": (1280000, 20000), "keep_large": (65536000, 16000)}


def site(proc, fn):
    """The figures of fn's stacks, summed (frees are null when sampled)."""
    stacks = mtlib.stacks_with_innermost(proc, fn)
    return {k: sum(s.get(k) or 0 for s in stacks)
            for k in ("live_bytes", "live_allocs", "alloc_bytes_total", "allocs_total")}


def check_sampled_proc(c, run, proc, rate):
    c.eq(proc.get("sampled"), True, "JSON: sampled")
    c.eq(proc.get("sample_rate"), rate, "JSON: sample_rate")
    tracking = run.report.get("tracking") or {}
    c.eq((tracking.get("mode"), tracking.get("sample_rate")), ("sampled", rate),
         "JSON: tracking mode and rate")
    c.eq((run.report.get("counters") or {}).get("allocs_map_full"), 0, "counters.allocs_map_full")
    c.eq((run.report.get("counters") or {}).get("unknown_frees"), 0,
         "counters.unknown_frees (frees of blocks sampling let go are not unknown)")
    for fn, (_, calls) in SITES.items():
        s = site(proc, fn)
        c.eq(s["allocs_total"], calls, "%s: calls allocated, counted exactly" % fn)
    ch = site(proc, "churn")
    c.eq((ch["allocs_total"], ch["alloc_bytes_total"], ch["live_bytes"]), (100000, 12800000, 0),
         "churn: calls and bytes allocated exactly, nothing live")
    stacks = mtlib.stacks_with_innermost(proc, "keep_large")
    c.eq([s.get("frees_total") for s in stacks], [None] * len(stacks),
         "keep_large: frees_total null (sampling sees no frees of blocks it let go)")
    vm = proc.get("vm") or {}
    c.eq(vm.get("retained_estimate"), True, "vm.retained_estimate")


def test_sampled_estimates():
    """--sample-rate 256, three runs: each site's live bytes within 6% of the
    program's (4 standard deviations of keep_small's estimate, ~5,000
    samples), their mean within 3%; calls allocated exact, frees not known."""
    c = Checks()
    got = {fn: [] for fn in SITES}
    for _ in range(3):
        run = mtlib.run_command("sampleleak", mt_args=["--sample-rate", "256"])
        proc = mtlib.find_process(run.report, exe_name="sampleleak")
        check_sampled_proc(c, run, proc, 256)
        for fn, (want, _) in SITES.items():
            live = site(proc, fn)["live_bytes"]
            got[fn].append(live)
            c.true(abs(live - want) <= 0.06 * want,
                   "%s: live %d, the program's %d (6%%)" % (fn, live, want))
    for fn, (want, _) in SITES.items():
        mean = statistics.mean(got[fn])
        c.true(abs(mean - want) <= 0.03 * want,
               "%s: mean live %.0f over 3 runs, the program's %d (3%%)" % (fn, mean, want))
    c.finish("live bytes per run: %r" % got)


def test_sampled_attached():
    """-p with --sample-rate 1024: the same estimates of what was allocated
    after attaching (keep_large's blocks, 4 in each KiB, are all but surely
    sampled: within 1%; keep_small within 15%, ~1,250 samples)."""
    run = mtlib.run_attached("sampleleak", mt_args=["--sample-rate", "1024"])
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    check_sampled_proc(c, run, proc, 1024)
    for fn, tol in (("keep_large", 0.01), ("keep_small", 0.15)):
        want = SITES[fn][0]
        live = site(proc, fn)["live_bytes"]
        c.true(abs(live - want) <= tol * want,
               "%s: live %d, the program's %d (%d%%)" % (fn, live, want, tol * 100))
    c.finish(mtlib.describe_stacks(proc))


def test_switch_when_map_fills():
    """--max-allocs 16384, the default choice: exact until the map is 90%
    full (keep_small fills it), then sampling at 1 per 64 KiB, said on
    stderr and in JSON; no block refused; keep_large (64 MB, ~970 samples)
    within 5 standard deviations of its estimate (16%); the first 90% of
    keep_small's blocks are exact."""
    run = mtlib.run_command("sampleleak", mt_args=["--max-allocs", "16384"])
    proc = mtlib.find_process(run.report, exe_name="sampleleak")
    c = Checks()
    tracking = run.report.get("tracking") or {}
    c.eq(tracking.get("mode"), "sampled", "JSON: tracking.mode")
    c.true("90% full" in (tracking.get("why") or ""),
           "JSON: tracking.why says the map was 90%% full: %r" % tracking.get("why"))
    c.true("memtrace: sampling allocations from now on, 1 per 64.0 KiB allocated: "
           "the allocation map was 90% full" in run.mt_stderr,
           "stderr says sampling began, and why:\n" + run.mt_stderr[-800:])
    c.eq((run.report.get("counters") or {}).get("allocs_map_full"), 0, "counters.allocs_map_full")
    want, blocks = SITES["keep_large"]
    live = site(proc, "keep_large")["live_bytes"]
    # Each 4096-byte block is drawn with probability 1 - e^(-4096/65536):
    # ~970 samples, whose count varies by 1/sqrt(970) = 3.2% from run to
    # run (measured: 3.8% over 12 runs). 12% (3.7 of them) failed once in
    # a full run; 5 of them fail once in millions.
    samples = blocks * (1 - math.exp(-4096 / 65536))
    tol = 5 / math.sqrt(samples)
    c.true(abs(live - want) <= tol * want,
           "keep_large: live %d, the program's %d (%.0f%%: 5 standard deviations)"
           % (live, want, tol * 100))
    small = site(proc, "keep_small")
    c.true(small["live_allocs"] >= 14745 * 0.99,
           "keep_small: %d live blocks estimated; the 14,745 kept before sampling are exact"
           % small["live_allocs"])
    c.eq(proc.get("sampled"), True, "JSON: sampled")
    c.finish(mtlib.describe_stacks(proc))


def test_exact_keeps_every_block():
    """--exact with the same small map: no sampling; the blocks that do not
    fit are refused and counted, the warning names --max-allocs, and
    retained is unknown (resident less an undercount would call live memory
    retained)."""
    run = mtlib.run_command("sampleleak", mt_args=["--exact", "--max-allocs", "16384"])
    proc = mtlib.find_process(run.report, exe_name="sampleleak")
    c = Checks()
    c.eq((run.report.get("tracking") or {}).get("mode"), "exact", "JSON: tracking.mode")
    c.eq(proc.get("sampled"), False, "JSON: sampled")
    c.true((run.report.get("counters") or {}).get("allocs_map_full", 0) > 0,
           "counters.allocs_map_full counts the refused blocks")
    c.true("allocations not recorded: the allocation map was full; increase --max-allocs"
           in run.mt_stdout, "the text report's warning names --max-allocs")
    c.eq((proc.get("vm") or {}).get("retained_bytes"), None, "vm.retained_bytes: unknown")
    c.true("sampling" not in run.mt_stderr, "no sampling line on stderr")
    c.finish()


@mtlib.timeout(90)
def test_large_target_starts_sampled():
    """-p on a process holding 1.1 GiB already: memtrace samples from the
    start and says why; what it allocates after is estimated (keep_large
    within 12% at 1 per 64 KiB)."""
    run = mtlib.run_attached("sampleleak", env={"MT_PREFILL_MB": "1126"})
    proc = mtlib.find_process(run.report, pid=run.wl_pid)
    c = Checks()
    tracking = run.report.get("tracking") or {}
    c.eq((tracking.get("mode"), tracking.get("sample_rate"), tracking.get("since_s")),
         ("sampled", 65536, 0), "JSON: tracking mode, rate, since")
    c.true("of anonymous memory already" in (tracking.get("why") or ""),
           "JSON: tracking.why says the target was large: %r" % tracking.get("why"))
    want, blocks = SITES["keep_large"]
    live = site(proc, "keep_large")["live_bytes"]
    # Each 4096-byte block is drawn with probability 1 - e^(-4096/65536):
    # ~970 samples, whose count varies by 1/sqrt(970) = 3.2% from run to
    # run (measured: 3.8% over 12 runs). 12% (3.7 of them) failed once in
    # a full run; 5 of them fail once in millions.
    samples = blocks * (1 - math.exp(-4096 / 65536))
    tol = 5 / math.sqrt(samples)
    c.true(abs(live - want) <= tol * want,
           "keep_large: live %d, the program's %d (%.0f%%: 5 standard deviations)"
           % (live, want, tol * 100))
    c.finish(mtlib.describe_stacks(proc))
