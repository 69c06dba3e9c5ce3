#!/bin/bash
# make bench: ns per malloc+free pair, 13 frames deep: natively, under empty
# probes at the same sites (the floor any uprobe tracer pays), under memtrace
# (frame-pointer walk, and unwind tables for the build without frame
# pointers), and under memtrace --fp-only; one and two threads; median of
# RUNS runs each, the modes alternated (one-thread rows pinned beside a busy
# CPU: steady). First, memtrace's start-up time. The same workload linked
# with jemalloc and with tcmalloc follows the table: memtrace's cost per pair
# there against glibc's ("je", "tc" rows). System-wide, with SCALE_PROCS
# processes allocating: memtrace's own CPU per one-second refresh.
set -euo pipefail
MEMTRACE=$1
WORKLOAD=$2
WORKLOAD_NOFP=${3:-}
WORKLOAD_JE=${4:-}
WORKLOAD_TC=${5:-}
DRIP=${6:-}
SCALE_PROCS=${SCALE_PROCS:-200}
RUNS=${RUNS:-5}
PAIRS=${PAIRS:-200000}

PIN=()		# steady: the command prefix that pins a run to one CPU
SPIN=

one_run() {	# workload mode threads -> ns per pair
	local w=$1 out
	case $2 in
	native) out=$("${PIN[@]}" "$w" "$3" "$PAIRS") ;;
	floor) out=$("${PIN[@]}" "$MEMTRACE" --batch --empty-probes -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	memtrace) out=$("${PIN[@]}" "$MEMTRACE" --batch -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	fp-only) out=$("${PIN[@]}" "$MEMTRACE" --batch --fp-only -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	sampled) out=$("${PIN[@]}" "$MEMTRACE" --batch --sample-rate 64k -i 1000 -- "$w" "$3" "$PAIRS" 2>/dev/null) ;;
	esac
	echo "$out" | awk '/^ns_per_pair/ { print $2 }'
}

# One-thread rows run on the last CPU while CPU 0 spins: an idle vCPU makes
# traps vary by half from run to run (a VM's idle states), a busy one keeps
# runs within a few percent of each other. Two-thread rows use both CPUs.
steady() {	# on|off
	if [ "$1" = on ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
		taskset -c 0 sh -c 'while :; do :; done' &
		SPIN=$!
		PIN=(taskset -c $(($(nproc) - 1)))
	elif [ -n "$SPIN" ]; then
		kill "$SPIN" 2>/dev/null
		wait "$SPIN" 2>/dev/null || true
		SPIN=
		PIN=()
	fi
}
trap 'steady off' EXIT

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

bench() {	# label workload
	local label=$1 w=$2 threads mode
	declare -A res
	declare -A runs
	for threads in 1 2; do
		[ "$threads" = 1 ] && steady on
		# Modes alternate within each round: a drift over the rounds hits them all alike.
		runs=()
		for i in $(seq "$RUNS"); do
			for mode in native floor memtrace fp-only sampled; do
				runs[$mode]+="$(one_run "$w" $mode $threads) "
			done
		done
		steady off
		for mode in native floor memtrace fp-only sampled; do
			res[$mode]=$(printf '%s\n' ${runs[$mode]} | median)
			printf '%-6s %-8s %-9s %12s\n' "$label" "$threads" "$mode" "${res[$mode]}"
		done
		awk -v n="${res[native]}" -v f="${res[floor]}" -v m="${res[memtrace]}" \
			-v p="${res[fp-only]}" -v s="${res[sampled]}" -v t="$threads" -v l="$label" \
			'BEGIN { printf "%-6s %-8s ratios: memtrace/floor %.2f  fp-only/floor %.2f  sampled/floor %.2f  memtrace/native %.1f\n", l, t, m / f, p / f, s / f, m / n }'
	done
}

# Where the time goes inside memtrace: each BPF program's own run time per
# call, from the kernel's BPF statistics (kernel.bpf_stats_enabled), read
# with bpftool while memtrace runs the workload once more.
prog_costs() {	# label workload [memtrace options]
	local label=$1 w=$2 mt was
	shift 2
	was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || return 0
	sysctl -qw kernel.bpf_stats_enabled=1 || return 0
	# Only the programs this run loads: another memtrace may be running.
	before=$(bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))') || before=
	"$MEMTRACE" --batch -i 1000 "$@" -- "$w" 1 $((PAIRS * 10)) >/dev/null 2>&1 &
	mt=$!
	sleep 3
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
label, old = sys.argv[1], set(sys.argv[2].split())
for p in json.load(sys.stdin):
    n, cnt = p.get("name", ""), p.get("run_cnt", 0)
    if n.startswith("mt_") and cnt and str(p["id"]) not in old:
        print("%-6s %-18s %8.0f ns per call  (%d calls)" % (label, n, p["run_time_ns"] / cnt, cnt))
' "$label" "$before" || true
	wait $mt || true
	sysctl -qw kernel.bpf_stats_enabled="$was"
}

# Start-up: milliseconds from memtrace's start to its "attached" line with
# -p (the probes are live), and the whole of `memtrace -- /bin/true`
# (start-up, the command, the report and the detach).
ms_since() {	# start (EPOCHREALTIME) -> ms
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }'
}

one_attach() {	# pid -> ms until attached
	local t0=$EPOCHREALTIME line
	"$MEMTRACE" --batch -d 1 -p "$1" 2>&1 >/dev/null | while IFS= read -r line; do
		case $line in "memtrace: attached"*) ms_since "$t0" ;; esac
	done
}

one_true() {	# -> ms for the whole run
	local t0=$EPOCHREALTIME
	"$MEMTRACE" --batch -- /bin/true >/dev/null 2>&1
	ms_since "$t0"
}

# System-wide: from start to "attached" (every allocator library probed, the
# common tables built), then a program started after it, allocating at once:
# ns per pair of its first PAIRS/10 pairs (whose first walks are finished in
# userspace: the tables are not published yet) against the same run traced
# with --.
one_sys_attach() {	# -> ms until attached, system-wide
	local t0=$EPOCHREALTIME line
	"$MEMTRACE" --batch -d 1 2>&1 >/dev/null | while IFS= read -r line; do
		case $line in "memtrace: attached"*) ms_since "$t0" ;; esac
	done
}

system_wide() {	# workload
	local mt ns
	printf '%-34s %8s ms\n' "start-up: system-wide, probes live" \
		"$(for i in $(seq "$RUNS"); do one_sys_attach; done | median)"
	"$MEMTRACE" --batch -i 1000 -d 30 >/dev/null 2>&1 &
	mt=$!
	sleep 3
	ns=$(for i in $(seq "$RUNS"); do "$1" 1 $((PAIRS / 10)) | awk '/^ns_per_pair/ { print $2 }'; done | median)
	kill -INT $mt 2>/dev/null
	wait $mt 2>/dev/null || true
	printf '%-34s %8s ns/pair (-- the same: %s)\n' "started after a system-wide memtrace" "$ns" \
		"$(for i in $(seq "$RUNS"); do one_run "$1" memtrace 1; done | median)"
}

cpu_ticks() {	# pid -> user+system clock ticks so far
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# SCALE_PROCS drip processes, each allocating 4 KiB every 100 ms, under a
# system-wide memtrace refreshing once a second: milliseconds of its CPU per
# second, over 10 s once they have all started.
system_wide_scale() {
	local mt pids=() t0 c0 c1 i
	"$MEMTRACE" --batch -i 1 >/dev/null 2>&1 &
	mt=$!
	sleep 3
	for i in $(seq "$SCALE_PROCS"); do
		"$DRIP" forever >/dev/null &
		pids+=($!)
	done
	sleep 5
	t0=$EPOCHREALTIME
	c0=$(cpu_ticks $mt)
	sleep 10
	c1=$(cpu_ticks $mt)
	printf '%-34s %8s ms CPU per 1 s refresh\n' "system-wide, $SCALE_PROCS processes" \
		"$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$EPOCHREALTIME" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.0f", (b - a) / hz / (t1 - t0) * 1000 }')"
	kill -INT $mt 2>/dev/null
	wait $mt 2>/dev/null || true
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null || true
}

startup() {
	local target
	sleep 600 &
	target=$!
	printf '%-34s %8s ms\n' "start-up: -p, until probes live" \
		"$(for i in $(seq "$RUNS"); do one_attach $target; done | median)"
	kill $target
	printf '%-34s %8s ms\n' "start-up: -- /bin/true, whole run" \
		"$(for i in $(seq "$RUNS"); do one_true; done | median)"
}

startup
system_wide "$WORKLOAD_NOFP"
[ -n "$DRIP" ] && system_wide_scale
echo
printf '%-6s %-8s %-9s %12s\n' build threads mode ns/pair
bench fp "$WORKLOAD"
[ -n "$WORKLOAD_NOFP" ] && bench nofp "$WORKLOAD_NOFP"
# Other allocators: memtrace's cost over native per pair, against glibc's.
alloc_cost() {	# workload -> memtrace - native, ns per pair, one thread
	local n m
	n=$(for i in $(seq "$RUNS"); do one_run "$1" native 1; done | median)
	m=$(for i in $(seq "$RUNS"); do one_run "$1" memtrace 1; done | median)
	awk -v m="$m" -v n="$n" 'BEGIN { printf "%.0f\n", m - n }'
}
if [ -n "$WORKLOAD_JE" ] && [ -n "$WORKLOAD_TC" ]; then
	echo
	steady on
	glibc=$(alloc_cost "$WORKLOAD")
	for pair in "je $WORKLOAD_JE" "tc $WORKLOAD_TC"; do
		set -- $pair
		cost=$(alloc_cost "$2")
		awk -v l="$1" -v c="$cost" -v g="$glibc" \
			'BEGIN { printf "%-6s memtrace cost %6d ns/pair, glibc %6d: %.2fx glibc\n", l, c, g, c / g }'
	done
	steady off
fi
echo
prog_costs fp "$WORKLOAD"
prog_costs fp-only "$WORKLOAD" --fp-only
[ -n "$WORKLOAD_NOFP" ] && prog_costs nofp "$WORKLOAD_NOFP"
exit 0
