#!/usr/bin/env bash
# `make demo`: the stack on the sample data, on a machine with only Rust installed.
#
# Without KAFKA_BOOTSTRAP_SERVERS it hosts librdkafka's mock cluster (DEV ONLY: an
# in-memory Kafka-protocol broker, not Apache Kafka) in the `mock-kafka` process; with it,
# the services use that broker. Then it starts the services, ingests
# sample-data/logs.json and prints what the stack reports. Logs go to .demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${BIN:-target/debug}"
STATE=.demo
INGESTION_PORT="${DEMO_INGESTION_PORT:-8001}"
INGESTION="http://127.0.0.1:$INGESTION_PORT"
mkdir -p "$STATE"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_healthy() { # name url
  for _ in $(seq 1 60); do
    if curl -fsS "$2/health" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "demo: $1 did not become healthy; last log lines:" >&2
  tail -n 20 "$STATE/$1.log" >&2
  exit 1
}

if port_busy "$INGESTION_PORT"; then
  echo "demo: port $INGESTION_PORT is in use (set DEMO_INGESTION_PORT)" >&2
  exit 1
fi

if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  echo "=== DEV ONLY: embedded broker (librdkafka mock cluster, in memory; not Apache Kafka)"
  echo "    set KAFKA_BOOTSTRAP_SERVERS to run the demo against a real broker"
  rm -f "$STATE/bootstrap"
  "$BIN/mock-kafka" "$STATE/bootstrap" >"$STATE/mock-kafka.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do [[ -s "$STATE/bootstrap" ]] && break; sleep 0.1; done
  [[ -s "$STATE/bootstrap" ]] || { cat "$STATE/mock-kafka.log" >&2; exit 1; }
  KAFKA_BOOTSTRAP_SERVERS="$(cat "$STATE/bootstrap")"
  export KAFKA_BOOTSTRAP_SERVERS
fi
echo "=== Kafka: $KAFKA_BOOTSTRAP_SERVERS"

OBS_HTTP__LISTEN="127.0.0.1:$INGESTION_PORT" "$BIN/ingestion" >"$STATE/ingestion.log" 2>&1 &
pids+=($!)
wait_healthy ingestion "$INGESTION"
echo "=== ingestion healthy on $INGESTION"

echo "=== POST /ingest/file  sample-data/logs.json ($(wc -l <sample-data/logs.json) records)"
curl -sS -X POST -H 'content-type: application/x-ndjson' \
  --data-binary @sample-data/logs.json "$INGESTION/ingest/file"
echo
echo "=== GET /status (ingestion)"
curl -sS "$INGESTION/status"
echo
echo "=== ingestion metrics"
curl -sS "$INGESTION/metrics" | grep -E '^ingestion_records_(received|published|rejected)_total'
echo
echo "demo: standardization and processing are not implemented yet (see the README's roadmap)."
echo "demo: logs are in $STATE/"
