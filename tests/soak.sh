#!/bin/bash
# make soak: memtrace on a churning workload for SOAK_MINUTES (default 30),
# its own RSS and its maps' entries sampled every minute; at the end the
# report's counters. Not part of make test. memtrace's memory and maps must
# stay flat: the allocations it tracks are freed as fast as they are made.
# It serves too (--serve), scraped all along as Prometheus and Parca would,
# with profiles over time and bad requests mixed in: the server's memory
# must stay flat as well.
set -euo pipefail
MEMTRACE=$1
CHURN=$2
MINUTES=${SOAK_MINUTES:-30}
OUT=$(mktemp -d)
SCRAPER=
trap 'kill $MT $SCRAPER 2>/dev/null || true; rm -rf "$OUT"' EXIT

"$MEMTRACE" --batch -i 60 -d $((MINUTES * 60)) --json "$OUT/soak.json" --serve 127.0.0.1:0 -- \
	"$CHURN" 100000000000 > "$OUT/text" 2> "$OUT/err" &
MT=$!
for _ in $(seq 50); do
	URL=$(sed -n 's/^memtrace: serving on //p' "$OUT/err")
	[ -n "$URL" ] && break
	sleep 0.2
done
# Every second: what Prometheus and Parca fetch, the page; every 10 s a profile over 5 s and a bad request.
(
	n=0
	while kill -0 $MT 2>/dev/null; do
		for p in metrics debug/pprof/heap "" flamegraph.svg report.json; do
			curl -s -o /dev/null -w '%{http_code}\n' "$URL$p"
		done
		if [ $((n % 10)) -eq 0 ]; then
			curl -s -o /dev/null -w '%{http_code}\n' "${URL}debug/pprof/allocs?seconds=5"
			curl -s -o /dev/null -w '%{http_code}\n' "${URL}debug/pprof/heap?seconds=x"
		fi
		n=$((n + 1))
		sleep 1
	done
) > "$OUT/codes" 2>/dev/null &
SCRAPER=$!
printf '%-8s %12s %12s  %s\n' minute memtrace_rss churn_rss "map entries (last report)"
for m in $(seq 0 "$MINUTES"); do
	[ "$m" -gt 0 ] && sleep 60
	kill -0 $MT 2>/dev/null || break
	child=$(pgrep -P $MT | head -1 || true)
	rss=$(awk '/VmRSS/ { print $2 " kB" }' /proc/$MT/status 2>/dev/null || echo -)
	crss=$(awk '/VmRSS/ { print $2 " kB" }' /proc/${child:-0}/status 2>/dev/null || echo -)
	maps=$(grep '^maps:' "$OUT/text" | tail -1 || true)
	printf '%-8s %12s %12s  %s\n' "$m" "$rss" "$crss" "${maps#maps: }"
done
# At the end of -d memtrace ends the command (SIGTERM) and writes its report.
wait $MT || true
echo "requests by status: $(sort "$OUT/codes" | uniq -c | tr -s ' ' | tr '\n' ' ')"
python3 - "$OUT/soak.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["processes"][0]
print("lost_events %d, counters %s" % (d["lost_events"], {k: v for k, v in d["counters"].items() if v}))
print("allocs_total %d, frees_total %d, live_allocs %d, stacks %d" % (
    p["heap"]["allocs_total"], p["heap"]["frees_total"], p["heap"]["live_allocs"], p["stacks_total"]))
PY
