#!/usr/bin/env bash
# `make bench-standardize` (second half): raw-logs → standardized-logs through the release
# standardization binary on the real broker. Preloads N raw records into a fresh topic with
# `stage-bench`, starts the service, and times from its first committed batch until all N
# inputs are committed (read from /status).
# Env: BENCH_RECORDS (200000), KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${BENCH_RECORDS:-200000}"
PORT=18002
RUN="bench-$(date +%s)"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
source scripts/bench-topics.sh
source scripts/bench-keys.sh
bench_topics "$RUN"
mkdir -p .demo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), broker $KAFKA_BOOTSTRAP_SERVERS on the same host"
target/release/stage-bench produce "$N"
OBS_HTTP__LISTEN="127.0.0.1:$PORT" OBS_STAGE__GROUP_ID="$RUN" OBS_STAGE__TRANSACTIONAL_ID="$RUN" RUST_LOG=warn \
  target/release/standardization >.demo/bench-standardization.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
target/release/stage-bench watch "http://127.0.0.1:$PORT/status" "$N"
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E '^stage_(transaction_duration_seconds|batch_records)_(sum|count)|^stage_transactions_committed_total|^errors_total' || true
echo "service RSS after the run: $(ps -o rss= -p $pid | awk '{printf "%.1f MB", $1/1024}')"
