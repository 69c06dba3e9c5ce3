#!/bin/bash
# make bench: ns per malloc+free pair, 13 frames deep: natively, under empty
# probes at the same sites (the floor any uprobe tracer pays), under memtrace
# (frame-pointer walk, and unwind tables for the build without frame
# pointers), and under memtrace --fp-only; one and two threads; median of
# RUNS runs each.
set -euo pipefail
MEMTRACE=$1
WORKLOAD=$2
WORKLOAD_NOFP=${3:-}
RUNS=${RUNS:-5}
PAIRS=${PAIRS:-200000}

one_run() {	# workload mode threads -> ns per pair
	local w=$1 out
	case $2 in
	native) out=$("$w" "$3" "$PAIRS") ;;
	floor) out=$("$MEMTRACE" --batch --empty-probes -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	memtrace) out=$("$MEMTRACE" --batch -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	fp-only) out=$("$MEMTRACE" --batch --fp-only -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	esac
	echo "$out" | awk '/^ns_per_pair/ { print $2 }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

bench() {	# label workload
	local label=$1 w=$2 threads mode
	declare -A res
	for threads in 1 2; do
		for mode in native floor memtrace fp-only; do
			res[$mode]=$(for i in $(seq "$RUNS"); do one_run "$w" $mode $threads; done | median)
			printf '%-6s %-8s %-9s %12s\n' "$label" "$threads" "$mode" "${res[$mode]}"
		done
		awk -v n="${res[native]}" -v f="${res[floor]}" -v m="${res[memtrace]}" \
			-v p="${res[fp-only]}" -v t="$threads" -v l="$label" \
			'BEGIN { printf "%-6s %-8s ratios: memtrace/floor %.2f  fp-only/floor %.2f  memtrace/native %.1f\n", l, t, m / f, p / f, m / n }'
	done
}

printf '%-6s %-8s %-9s %12s\n' build threads mode ns/pair
bench fp "$WORKLOAD"
[ -n "$WORKLOAD_NOFP" ] && bench nofp "$WORKLOAD_NOFP"
exit 0
