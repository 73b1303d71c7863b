#!/usr/bin/env bash
# `make demo`: the stack on the sample data, on a machine with only Rust installed.
#
# Without KAFKA_BOOTSTRAP_SERVERS it hosts librdkafka's mock cluster (DEV ONLY: an
# in-memory Kafka-protocol broker, not Apache Kafka) in the `mock-kafka` process; with it,
# the services use that broker. Then it starts the services, ingests
# sample-data/logs.json, prints what the stack reports and the operator console's URL.
# With KEEP=1 the stack keeps running until Ctrl-C, so a person can open the console.
# The API keys come from .env (`make env` writes them, `make demo` runs it first).
# Logs go to .demo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${BIN:-target/debug}"
STATE=.demo
INGESTION="http://127.0.0.1:${DEMO_INGESTION_PORT:-8001}"
STANDARDIZATION="http://127.0.0.1:${DEMO_STANDARDIZATION_PORT:-8002}"
PROCESSING="http://127.0.0.1:${DEMO_PROCESSING_PORT:-8003}"
mkdir -p "$STATE"

[[ -f .env ]] || scripts/gen-keys.sh
env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }
for scope in INGEST READ OPERATE; do
  export "OBS_AUTH__${scope}_KEY_HASHES=$(env_value "OBS_AUTH__${scope}_KEY_HASHES")"
done
INGEST_KEY="authorization: Bearer $(env_value OBS_INGEST_TOKEN)"
READ_KEY="authorization: Bearer $(env_value OBS_READ_TOKEN)"

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

for url in "$INGESTION" "$STANDARDIZATION" "$PROCESSING"; do
  if port_busy "${url##*:}"; then
    echo "demo: port ${url##*:} is in use (set DEMO_INGESTION_PORT, DEMO_STANDARDIZATION_PORT, DEMO_PROCESSING_PORT)" >&2
    exit 1
  fi
done

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

# A fresh consumer group and transactional ids per run: a demo against a real broker
# processes the sample again instead of resuming an earlier run.
RUN="demo-$(date +%s)"
start_service() { # name url
  OBS_HTTP__LISTEN="127.0.0.1:${2##*:}" OBS_STAGE__GROUP_ID="$RUN-$1" OBS_STAGE__TRANSACTIONAL_ID="$RUN-$1" \
    "$BIN/$1" >"$STATE/$1.log" 2>&1 &
  pids+=($!)
}
OBS_HTTP__LISTEN="127.0.0.1:${INGESTION##*:}" "$BIN/ingestion" >"$STATE/ingestion.log" 2>&1 &
pids+=($!)
start_service standardization "$STANDARDIZATION"
# The console's pipeline page asks the other two for their /status on the demo's ports.
OBS_CONSOLE__INGESTION_URL="$INGESTION" OBS_CONSOLE__STANDARDIZATION_URL="$STANDARDIZATION" \
  start_service processing "$PROCESSING"
wait_healthy ingestion "$INGESTION"
wait_healthy standardization "$STANDARDIZATION"
wait_healthy processing "$PROCESSING"
echo "=== services healthy: ingestion $INGESTION, standardization $STANDARDIZATION, processing $PROCESSING"

total=$(grep -c . sample-data/logs.json)
echo "=== POST /ingest/file  sample-data/logs.json ($total records)"
curl -sS -X POST -H 'content-type: application/x-ndjson' -H "$INGEST_KEY" \
  --data-binary @sample-data/logs.json "$INGESTION/ingest/file"
echo

echo "=== waiting for the pipeline to process them"
for _ in $(seq 1 120); do
  done_count=$(curl -fsS -H "$READ_KEY" "$PROCESSING/analytics/summary" | sed -n 's/.*"total_logs_processed":\([0-9]*\).*/\1/p')
  [[ "${done_count:-0}" -ge "$total" ]] && break
  sleep 0.5
done

pretty() { if command -v python3 >/dev/null; then python3 -m json.tool; else cat; echo; fi; }
echo "=== GET /analytics/summary"
curl -sS -H "$READ_KEY" "$PROCESSING/analytics/summary" | pretty
echo "=== GET /analytics/sources"
curl -sS -H "$READ_KEY" "$PROCESSING/analytics/sources" | pretty
echo "=== GET /analytics/anomalies?limit=10&severity=critical"
curl -sS -H "$READ_KEY" "$PROCESSING/analytics/anomalies?limit=10&severity=critical" | pretty

# The incident stage takes the alerts in from incident-signals behind the run stage, and
# the incident view reads what it commits: the incidents are read once the stage has
# consumed every signal committed so far and the view has applied every incident change.
echo "=== waiting for the incident stage and its view to take in the alerts"
incidents_pending() {
  local applied
  applied=$(curl -fsS -H "$READ_KEY" "$PROCESSING/status" | sed -n 's/.*"applied":{"incidents":\([0-9]*\)}.*/\1/p')
  curl -fsS "$PROCESSING/metrics" | awk -v applied="${applied:-0}" '
    /^stage_records_produced_total\{.*topic="[^"]*incident-signals"/ { sent += $2 }
    /^stage_records_consumed_total\{input="incident_signals"\}/ { taken += $2 }
    /^stage_records_produced_total\{input="incident_signals",topic="[^"]*incidents"/ { changes += $2 }
    END { print (sent > 0 && taken >= sent && applied >= changes) ? 0 : 1 }'
}
incidents_in=0
for _ in $(seq 1 120); do
  if [[ "$(incidents_pending)" == 0 ]]; then incidents_in=1; break; fi
  sleep 0.5
done
[[ "$incidents_in" == 1 ]] ||
  echo "demo: the incident stage has not taken every alert in after 60 s: the figures below are partial"
echo "=== bookkeeping"
curl -sS "$INGESTION/metrics" | grep -E '^ingestion_records_(received|published)_total|^errors_total'
curl -sS "$STANDARDIZATION/metrics" | grep -E '^standardization_records_standardized_total|^errors_total'
curl -sS "$PROCESSING/metrics" | grep -E '^stage_records_consumed_total'
alerted=$(curl -fsS "$PROCESSING/metrics" | awk '/^processing_alerts_total/ { n += $2 } END { print n + 0 }')
echo "=== alerts (what pages someone): $alerted of $total runs ($(awk -v a="$alerted" -v t="$total" 'BEGIN { printf "%.1f", 100 * a / t }') %), by cause:"
curl -sS "$PROCESSING/metrics" | grep -E '^processing_alerts_total' || true

echo "=== GET /incidents?limit=500: the alerts above as incidents (what an operator works on)"
curl -sS -H "$READ_KEY" "$PROCESSING/incidents?limit=500" >"$STATE/incidents.json"
if command -v python3 >/dev/null; then
  python3 - "$STATE/incidents.json" <<'PY'
import collections, json, sys
answer = json.load(open(sys.argv[1]))
incidents = answer.get("incidents", [])
by = collections.Counter((i["status"], i["severity"]) for i in incidents)
source_wide = sum(1 for i in incidents if i["scope"]["kind"] == "source")
caught_up = "yes" if answer.get("view_caught_up") else "no (partial)"
print(f"{answer.get('total_matched')} incidents ({source_wide} source-wide), "
      f"view caught up: {caught_up}")
for (status, severity), n in sorted(by.items()):
    print(f"  {status:<12} {severity:<9} {n}")
print("the worst five:")
for i in incidents[:5]:
    print(f"  {i['id']}  {i['status']:<12} {i['severity']:<9} {i['title']}")
PY
else
  cat "$STATE/incidents.json"; echo
fi
echo
echo "demo: logs are in $STATE/"
echo "=== operator console: $PROCESSING/console/ (paste OBS_READ_TOKEN, or OBS_OPERATE_TOKEN to act on incidents, from .env in its key form)"
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "demo: KEEP=1: the stack keeps running; Ctrl-C stops it"
  wait
else
  echo "demo: stopping the stack (make demo KEEP=1 keeps it running to open the console)"
fi
