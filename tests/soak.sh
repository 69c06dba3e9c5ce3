#!/bin/bash
# make soak: memtrace on a churning workload for SOAK_MINUTES (default 30),
# its own RSS and its maps' entries sampled every minute; at the end the
# report's counters. Not part of make test. memtrace's memory and maps must
# stay flat: the allocations it tracks are freed as fast as they are made.
set -euo pipefail
MEMTRACE=$1
CHURN=$2
MINUTES=${SOAK_MINUTES:-30}
OUT=$(mktemp -d)
trap 'kill $MT 2>/dev/null || true; rm -rf "$OUT"' EXIT

"$MEMTRACE" --batch -i 60 -d $((MINUTES * 60)) --json "$OUT/soak.json" -- \
	"$CHURN" 100000000000 > "$OUT/text" 2> "$OUT/err" &
MT=$!
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
python3 - "$OUT/soak.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["processes"][0]
print("lost_events %d, counters %s" % (d["lost_events"], {k: v for k, v in d["counters"].items() if v}))
print("allocs_total %d, frees_total %d, live_allocs %d, stacks %d" % (
    p["heap"]["allocs_total"], p["heap"]["frees_total"], p["heap"]["live_allocs"], p["stacks_total"]))
PY
