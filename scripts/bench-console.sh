#!/usr/bin/env bash
# `make bench-console`: the operator console's API and pages on a release build of
# processing, on the real broker, with run-unique topics (scripts/bench-topics.sh).
#  1. the field sample (sample-data/logs.json) written to raw-logs and standardized-logs as
#     ingestion and standardization write them (console-bench fill); once processing has
#     caught up, each page's load time in headless Chromium (scripts/console-page-load.py);
#  2. BENCH_RECORDS (1,000,000) runs of a generated fleet of BENCH_SERIES (10,000) series,
#     written the same way; once processing has caught up, BENCH_REQUESTS (2,000) requests
#     per endpoint from BENCH_CONCURRENCY (4) clients (console-bench load): p50/p99/max;
#     the pages' load time again; processing's RSS and what its indexes hold (/status).
# Ingestion and standardization do not run: the pipeline page shows them unreachable
# (their URLs point at a closed port, so that the page does not wait for a timeout).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SERIES="${BENCH_SERIES:-10000}"
RECORDS="${BENCH_RECORDS:-1000000}"
REQUESTS="${BENCH_REQUESTS:-2000}"
CONCURRENCY="${BENCH_CONCURRENCY:-4}"
RUN="console-$(date +%s)"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}" RUST_LOG=warn
source scripts/bench-topics.sh
bench_topics "$RUN"
source scripts/bench-keys.sh
mkdir -p .demo
PORT=18203
URL="http://127.0.0.1:$PORT"
IDS=".demo/bench-console-ids.txt"
# The bench's key may send far beyond the default rate limit: what is measured is the
# answer, not the limiter's 429.
OBS_HTTP__LISTEN="127.0.0.1:$PORT" OBS_STAGE__GROUP_ID="$RUN-processing" \
  OBS_AUTH__RATE_PER_SECOND=1000000 OBS_AUTH__BURST=1000000 \
  OBS_STAGE__TRANSACTIONAL_ID="$RUN-processing" \
  OBS_CONSOLE__INGESTION_URL=http://127.0.0.1:9 OBS_CONSOLE__STANDARDIZATION_URL=http://127.0.0.1:9 \
  target/release/processing >.demo/bench-console-processing.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
ready=0
for _ in $(seq 1 1200); do
  if curl -fsS "$URL/health/ready" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
if [[ $ready == 0 ]]; then
  echo "bench: processing is not ready after 120 s" >&2
  tail -5 .demo/bench-console-processing.log >&2
  exit 1
fi
rss() { ps -o rss= -p $pid | awk '{printf "%.1f", $1/1024}'; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), broker $KAFKA_BOOTSTRAP_SERVERS on the same host"
echo "processing at rest, empty: RSS $(rss) MB"

# Waits until processing has processed $1 runs and its views (analytics, trace, incidents)
# have read every processed record and alert it wrote (one follower feeds the view and the
# trace index: a record in the view is in the index).
caught_up() {
  python3 - "$URL/status" "$1" <<'PY'
import json, os, sys, time, urllib.request
url, expected = sys.argv[1], int(sys.argv[2])
key = {"authorization": "Bearer " + os.environ["BENCH_API_TOKEN"]}
deadline = time.time() + 900
while True:
    s = json.load(urllib.request.urlopen(urllib.request.Request(url, headers=key), timeout=10))
    processed = s["stage"]["records_consumed"]
    view = s["analytics"]["view"]
    incidents = s["incidents"]["stage"]["records_consumed"]
    if (processed >= expected and view["records_applied"] >= expected
            and incidents >= view["alerts_applied"]):
        print(f"caught up: {processed} runs processed, {view['alerts_applied']} alerts, "
              f"{incidents} alerts through the incident stage")
        break
    if time.time() > deadline:
        sys.exit(f"bench: not caught up after 900 s: {processed} of {expected} runs processed, "
                 f"{view['records_applied']} in the view and the trace index")
    time.sleep(0.5)
PY
}

echo "--- 1. the field sample"
target/release/console-bench fill --file sample-data/logs.json
sample=$(grep -c . sample-data/logs.json)
caught_up "$sample"
echo "page load on the field sample (ms from the navigation's start; first load / median of the others / max, of 5):"
scripts/console-page-load.py "$URL" 5

echo "--- 2. $RECORDS runs of $SERIES series"
started=$(date +%s.%N)
target/release/console-bench fill --series "$SERIES" --records "$RECORDS" --ids "$IDS"
caught_up $((sample + RECORDS))
awk -v s="$started" -v e="$(date +%s.%N)" -v n="$RECORDS" 'BEGIN { printf "written and processed in %.1f s (%.0f runs/s)\n", e - s, n / (e - s) }'
echo "processing after the fill: RSS $(rss) MB, peak $(awk '/^VmHWM/ { printf "%.1f", $2/1024 }' /proc/$pid/status) MB"
curl -fsS -H "$BENCH_KEY" "$URL/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
v, t, l, i = s["analytics"]["view"], s["trace"], s["logs"], s["incidents"]["view"]
print("analytics view: %d runs applied, %d recent records kept, %d alerts kept, %d sources, %d objects tracked (%d runs of untracked objects)"
      % (v["records_applied"], v["records_kept"], v["alerts_kept"], v["sources_tracked"], v["objects_tracked"], v["records_from_untracked_objects"]))
print("trace index: %d of %d records held, %.1f MB" % (t["index"]["held"], t["index"]["capacity"], t["memory_bytes"] / 1e6))
print("log index: %s" % json.dumps(l.get("index", {})))
print("incident view: %s" % json.dumps(i))
print("detector bank: %d series, state at most %.1f MB" % (s["detector"]["series"], s["detector"]["state_bytes"] / 1e6))'
target/release/console-bench load --url "$URL" --requests "$REQUESTS" --concurrency "$CONCURRENCY" --ids "$IDS"
echo "processing after the requests: RSS $(rss) MB"
echo "page load at $SERIES series (first / median / max of 3):"
scripts/console-page-load.py "$URL" 3
