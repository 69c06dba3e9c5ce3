#!/bin/bash
# make bench, Go: ns per allocation of a Go loop (64-byte objects, 10
# frames deep; tests/workloads/go/allocbench), for each WORKLOAD given (the
# same program built by each Go toolchain, named by its directory):
# natively, under empty probes, under memtrace counting every allocation
# without sampling (--go-sample-rate 0, entry probes on runtime.mallocgc and
# the functions compiled code calls instead), and under memtrace's default,
# which also samples by bytes for live figures (probes at the allocator's
# publication sites); median of RUNS runs each. Then each BPF program's own
# time per call.
#   tests/bench_go.sh MEMTRACE WORKLOAD...
set -euo pipefail
MEMTRACE=$1
shift
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

bench_one() {	# workload
	local WORKLOAD=$1 go opts
	go=$(basename "$(dirname "$WORKLOAD")")
	declare -A res
	printf '%-7s %-11s %12s\n' "$go" mode ns/alloc
	for mode in native floor count-only sampled; do
		res[$mode]=$(for i in $(seq "$RUNS"); do one_run $mode; done | median)
		printf '%-7s %-11s %12s\n' "$go" "$mode" "${res[$mode]}"
	done
	awk -v g="$go" -v c="${res[count-only]}" -v s="${res[sampled]}" -v f="${res[floor]}" \
		-v n="${res[native]}" 'BEGIN { printf "%-7s ratios: sampled/count-only %.2f  " \
		"sampled/floor %.2f  sampled/native %.1f\n", g, s / c, s / f, s / n }'

	was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || return 0
	sysctl -qw kernel.bpf_stats_enabled=1 || return 0
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
        print("%-7s %-18s %8.0f ns per call  (%d calls)" % (sys.argv[2], n,
              p["run_time_ns"] / cnt, cnt))
' "$before" "$go" || true
		wait $mt || true
	done
	sysctl -qw kernel.bpf_stats_enabled="$was"
}

for w in "$@"; do
	WORKLOAD=$w
	bench_one "$w"
done
