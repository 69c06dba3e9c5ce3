#!/bin/bash
# make bench: ns per malloc+free pair natively, under empty probes at the
# same sites (the floor any uprobe tracer pays) and under memtrace; one and
# two threads; median of RUNS runs each.
set -euo pipefail
MEMTRACE=$1
WORKLOAD=$2
RUNS=${RUNS:-5}
PAIRS=${PAIRS:-200000}

one_run() {	# mode threads -> ns per pair
	local out
	case $1 in
	native) out=$("$WORKLOAD" "$2" "$PAIRS") ;;
	floor) out=$("$MEMTRACE" --empty-probes -i 1000 -- "$WORKLOAD" "$2" "$PAIRS" 2>/dev/null) ;;
	memtrace) out=$("$MEMTRACE" -i 1000 -- "$WORKLOAD" "$2" "$PAIRS" 2>/dev/null) ;;
	esac
	echo "$out" | awk '/^ns_per_pair/ { print $2 }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

printf '%-8s %-8s %12s\n' threads mode ns/pair
for threads in 1 2; do
	declare -A res=()
	for mode in native floor memtrace; do
		res[$mode]=$(for i in $(seq "$RUNS"); do one_run $mode $threads; done | median)
		printf '%-8s %-8s %12s\n' "$threads" "$mode" "${res[$mode]}"
	done
	awk -v n="${res[native]}" -v f="${res[floor]}" -v m="${res[memtrace]}" -v t="$threads" \
		'BEGIN { printf "%-8s ratios: memtrace/floor %.2f  memtrace/native %.1f  floor/native %.1f\n", t, m / f, m / n, f / n }'
	unset res
done
