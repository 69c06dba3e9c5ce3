#!/bin/bash
# make bench, Go: ns per allocation of a Go loop (64-byte objects, 10
# frames deep; tests/workloads/go/allocbench): natively, under empty probes,
# under memtrace counting every allocation without sampling
# (--go-sample-rate 0, the probe on runtime.mallocgc's entry), and under
# memtrace's default, which also samples by bytes for live figures (the
# probe at mallocgc's publication site); median of RUNS runs each. Then each
# BPF program's own time per call.
set -euo pipefail
MEMTRACE=$1
WORKLOAD=$2
RUNS=${RUNS:-5}
ALLOCS=${ALLOCS:-300000}

one_run() {	# mode -> ns per allocation
	local out
	case $1 in
	native) out=$("$WORKLOAD" "$ALLOCS") ;;
	floor) out=$("$MEMTRACE" --batch --empty-probes -i 1000 -- "$WORKLOAD" "$ALLOCS" 2>/dev/null) ;;
	count-only) out=$("$MEMTRACE" --batch --go-sample-rate 0 -i 1000 -- "$WORKLOAD" "$ALLOCS" 2>/dev/null) ;;
	sampled) out=$("$MEMTRACE" --batch -i 1000 -- "$WORKLOAD" "$ALLOCS" 2>/dev/null) ;;
	esac
	echo "$out" | awk '/^ns_per_alloc/ { print $2 }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

declare -A res
printf '%-6s %-11s %12s\n' go mode ns/alloc
for mode in native floor count-only sampled; do
	res[$mode]=$(for i in $(seq "$RUNS"); do one_run $mode; done | median)
	printf '%-6s %-11s %12s\n' go "$mode" "${res[$mode]}"
done
awk -v c="${res[count-only]}" -v s="${res[sampled]}" -v f="${res[floor]}" \
	'BEGIN { printf "go     ratios: sampled/count-only %.2f  sampled/floor %.2f\n", s / c, s / f }'

was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || exit 0
sysctl -qw kernel.bpf_stats_enabled=1 || exit 0
for opts in "--go-sample-rate 0" ""; do
	# Only the programs this run loads: another memtrace may be running.
	before=$(bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))') || before=
	# shellcheck disable=SC2086
	"$MEMTRACE" --batch -i 1000 $opts -- "$WORKLOAD" $((ALLOCS * 10)) >/dev/null 2>&1 &
	mt=$!
	sleep 3
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
old = set(sys.argv[1].split())
for p in json.load(sys.stdin):
    n, cnt = p.get("name", ""), p.get("run_cnt", 0)
    if n.startswith("mt_go") and cnt and str(p["id"]) not in old:
        print("go     %-18s %8.0f ns per call  (%d calls)" % (n, p["run_time_ns"] / cnt, cnt))
' "$before" || true
	wait $mt || true
done
sysctl -qw kernel.bpf_stats_enabled="$was"
