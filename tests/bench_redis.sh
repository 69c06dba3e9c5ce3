#!/bin/bash
# make bench, a real service: redis-server (Debian's, on jemalloc) filling
# its keyspace with DEBUG POPULATE and emptying it with FLUSHALL, natively
# and with memtrace -p attached. Seconds per command, median of RUNS runs,
# and the ratio traced/native.
set -euo pipefail
MEMTRACE=$1
RUNS=${RUNS:-3}
KEYS=${REDIS_KEYS:-200000}
REDIS=$(command -v redis-server || true)
CLI=$(command -v redis-cli || true)
if [ -z "$REDIS" ] || [ -z "$CLI" ]; then
	echo "redis: redis-server or redis-cli not installed (tests/install-deps.sh installs them)" >&2
	exit 1
fi
dir=$(mktemp -d)
sock=$dir/redis.sock
redis_pid= mt_pid=
cleanup() {
	[ -n "$mt_pid" ] && kill -INT "$mt_pid" 2>/dev/null && wait "$mt_pid" 2>/dev/null
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

"$REDIS" --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$dir" \
	--enable-debug-command local --daemonize no >"$dir/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do
	[ -S "$sock" ] && "$CLI" -s "$sock" PING >/dev/null 2>&1 && break
	sleep 0.1
done

timed() {	# command... -> seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$CLI" -s "$sock" "$@" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

measure() {	# label -> prints populate and flushall medians
	local pop=() flush=() i
	for i in $(seq "$RUNS"); do
		pop+=("$(timed DEBUG POPULATE "$KEYS" key 512)")
		flush+=("$(timed FLUSHALL)")
	done
	printf '%s\n' "${pop[@]}" | median
	printf '%s\n' "${flush[@]}" | median
}

read -r -d '' native < <(measure && printf '\0') || true
n_pop=$(echo "$native" | sed -n 1p)
n_flush=$(echo "$native" | sed -n 2p)

"$MEMTRACE" --batch -i 1000 -p "$redis_pid" >"$dir/mt.out" 2>"$dir/mt.err" &
mt_pid=$!
for _ in $(seq 300); do
	grep -q "^memtrace: attached" "$dir/mt.err" && break
	kill -0 "$mt_pid" 2>/dev/null || { cat "$dir/mt.err" >&2; exit 1; }
	sleep 0.1
done
read -r -d '' traced < <(measure && printf '\0') || true
t_pop=$(echo "$traced" | sed -n 1p)
t_flush=$(echo "$traced" | sed -n 2p)
kill -INT "$mt_pid"
wait "$mt_pid" || true
mt_pid=

printf '%-22s %10s %10s %8s\n' "redis ($KEYS keys)" native memtrace ratio
awk -v n="$n_pop" -v t="$t_pop" 'BEGIN { printf "%-22s %9.3fs %9.3fs %7.1fx\n", "DEBUG POPULATE", n, t, t / n }'
awk -v n="$n_flush" -v t="$t_flush" 'BEGIN { printf "%-22s %9.3fs %9.3fs %7.1fx\n", "FLUSHALL", n, t, t / n }'
grep -E "lost|warning" "$dir/mt.err" | head -3 || true
