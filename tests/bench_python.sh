#!/bin/bash
# make bench, Python: ns per object allocation of a Python loop, ten frames
# deep, each allocation matched by a free (tests/bench/bench_python.py),
# for each INTERPRETER given: natively, under empty probes at the same sites
# (the floor any uprobe tracer pays), under memtrace, and under the
# interpreter's own tracemalloc (its default of one frame per traceback, and
# with the whole stack: -X tracemalloc=16); median of RUNS runs each.
#   tests/bench_python.sh MEMTRACE INTERPRETER...
set -euo pipefail
MEMTRACE=$1
shift
SCRIPT=$(dirname "$0")/bench/bench_python.py
RUNS=${RUNS:-5}
ALLOCS=${ALLOCS:-300000}

one_run() {	# interpreter mode -> ns per allocation
	local py=$1 out
	case $2 in
	native) out=$("$py" "$SCRIPT" "$ALLOCS") ;;
	floor) out=$("$MEMTRACE" --batch --empty-probes -i 1000 -- "$py" "$SCRIPT" "$ALLOCS" 2>/dev/null) ;;
	memtrace) out=$("$MEMTRACE" --batch -i 1000 -- "$py" "$SCRIPT" "$ALLOCS" 2>/dev/null) ;;
	tracemalloc) out=$("$py" -X tracemalloc "$SCRIPT" "$ALLOCS") ;;
	tracemalloc16) out=$("$py" -X tracemalloc=16 "$SCRIPT" "$ALLOCS") ;;
	esac
	echo "$out" | awk '/^ns_per_alloc/ { print $2 }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

for py in "$@"; do
	# A script (pyenv's shims) is not the interpreter memtrace must find: its target.
	py=$("$py" -c 'import sys; print(sys.executable)')
	label=python$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	declare -A res
	printf '%-11s %-13s %12s\n' "$label" mode ns/alloc
	for mode in native floor memtrace tracemalloc tracemalloc16; do
		res[$mode]=$(for i in $(seq "$RUNS"); do one_run "$py" $mode; done | median)
		printf '%-11s %-13s %12s\n' "$label" "$mode" "${res[$mode]}"
	done
	awk -v l="$label" -v n="${res[native]}" -v f="${res[floor]}" -v m="${res[memtrace]}" \
		-v t="${res[tracemalloc]}" -v t16="${res[tracemalloc16]}" \
		'BEGIN { printf "%-11s ratios: memtrace/native %.1f  memtrace/floor %.2f  " \
		"tracemalloc/native %.1f  tracemalloc16/native %.1f  memtrace/tracemalloc16 %.2f\n",
		l, m / n, m / f, t / n, t16 / n, m / t16 }'
done
