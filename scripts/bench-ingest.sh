#!/usr/bin/env bash
# `make bench-ingest` / `make bench-log`: ingestion throughput into the real broker. Starts
# the release ingestion binary on a side port with topics of its own, runs `ingest-bench`
# against it: `scripts/bench-ingest.sh` posts runs to /ingest/batch,
# `scripts/bench-ingest.sh log` application log events to /log (one per generated run),
# both in NDJSON batches of 1,000.
# Env: BENCH_BATCHES (300), BENCH_CONCURRENCY (4), KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
case "${1:-runs}" in
  runs) posts=() ;;
  log) posts=(--log-events-per-run 1 --log-events-only) ;;
  *) echo "usage: scripts/bench-ingest.sh [runs|log]" >&2; exit 2 ;;
esac
PORT=18001
source scripts/bench-topics.sh
source scripts/bench-keys.sh
bench_topics "bench-ingest-$(date +%s)"
mkdir -p .demo
OBS_HTTP__LISTEN="127.0.0.1:$PORT" target/release/ingestion >.demo/bench-ingestion.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 1 # topic creation
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), broker ${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092} on the same host"
target/release/ingest-bench --url "http://127.0.0.1:$PORT" \
  --batches "${BENCH_BATCHES:-300}" --batch-size 1000 --concurrency "${BENCH_CONCURRENCY:-4}" "${posts[@]}"
echo "service RSS after the run: $(ps -o rss= -p $pid | awk '{printf "%.1f MB", $1/1024}')"
