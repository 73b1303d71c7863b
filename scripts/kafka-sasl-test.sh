#!/usr/bin/env bash
# Tests the compose broker's security (deploy/kafka/compose) on a real Kafka without Docker:
# runs its start.sh with its server.properties (ports moved to free loopback ones, the data
# in a temporary directory) on the cached Kafka jars of scripts/kafka.sh, then checks that
#   * each SCRAM user start.sh created is let in with its password,
#   * a wrong password and a client without SASL are refused,
#   * start.sh refuses to format without a user's password, naming the variable;
#   * with SASL_TEST_INGESTION_BIN (an ingestion built with `--features obs-kafka/tls`:
#     librdkafka's SCRAM needs OpenSSL), a service logs in as its user: ready, and a record
#     posted is acknowledged by Kafka; with a wrong password it is not ready.
# Run by `make test` (through ops-test.sh, which builds that ingestion). Fails, never skips.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA="$ROOT/scripts/kafka.sh"
COMPOSE_KAFKA="$ROOT/deploy/kafka/compose"

log() { echo "kafka-sasl-test: $*" >&2; }
die() { echo "kafka-sasl-test: error: $*" >&2; exit 1; }

WORK="$(mktemp -d)"
broker_pid=""
ingestion_pid=""
cleanup() {
  if [[ -n "$ingestion_pid" ]]; then
    kill "$ingestion_pid" 2>/dev/null || true
  fi
  if [[ -n "$broker_pid" ]]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clients="$(free_port)"; controller="$(free_port)"; local_port="$(free_port)"

# Kafka's scripts, as start.sh calls them, on the cached jars.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexec "%s" tool kafka.tools.StorageTool "$@"\n' "$KAFKA" >"$WORK/bin/kafka-storage.sh"
printf '#!/bin/sh\nexec "%s" tool kafka.Kafka "$@"\n' "$KAFKA" >"$WORK/bin/kafka-server-start.sh"
chmod +x "$WORK/bin/"*.sh

sed -e "s#CLIENTS://:9092#CLIENTS://127.0.0.1:$clients#" \
    -e "s#CLIENTS://kafka:9092#CLIENTS://127.0.0.1:$clients#" \
    -e "s#127.0.0.1:9093#127.0.0.1:$controller#g" \
    -e "s#127.0.0.1:9094#127.0.0.1:$local_port#g" \
    -e "s#^log.dirs=.*#log.dirs=$WORK/data#" \
    "$COMPOSE_KAFKA/server.properties" >"$WORK/server.properties"
grep -q "CLIENTS://127.0.0.1:$clients" "$WORK/server.properties" || die "could not move the client listener's port"

export KAFKA_CONFIG="$WORK/server.properties" KAFKA_BIN="$WORK/bin"

# Without a password start.sh refuses, naming what to set.
if out="$(env -u KAFKA_PROCESSING_PASSWORD KAFKA_SCRAM_USERS="ingestion processing" \
    KAFKA_INGESTION_PASSWORD=x bash "$COMPOSE_KAFKA/start.sh" 2>&1)"; then
  die "start.sh started without KAFKA_PROCESSING_PASSWORD"
fi
grep -q "KAFKA_PROCESSING_PASSWORD is not set" <<<"$out" || die "start.sh did not name the missing password: $out"
[[ ! -e "$WORK/data/meta.properties" ]] || die "start.sh formatted the storage without every password"
log "ok: start.sh refuses to format without a user's password"

password_of() { echo "pw-$1-$RANDOM$RANDOM"; }
export KAFKA_INGESTION_PASSWORD="$(password_of ingestion)"
export KAFKA_STANDARDIZATION_PASSWORD="$(password_of standardization)"
export KAFKA_PROCESSING_PASSWORD="$(password_of processing)"
export KAFKA_KAFKA_UI_PASSWORD="$(password_of kafka-ui)"
bash "$COMPOSE_KAFKA/start.sh" >"$WORK/broker.log" 2>&1 &
broker_pid=$!

for _ in $(seq 1 90); do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$clients" 2>/dev/null; then break; fi
  kill -0 "$broker_pid" 2>/dev/null || { tail -n 30 "$WORK/broker.log" >&2; die "the broker stopped"; }
  sleep 1
done

client_config() { # file user password
  cat >"$1" <<CONF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$2" password="$3";
request.timeout.ms=10000
default.api.timeout.ms=20000
CONF
}
list_topics() { # command-config
  "$KAFKA" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$clients" \
    --command-config "$1" --list >"$WORK/list.out" 2>&1
}

for user in ingestion standardization processing kafka-ui; do
  variable="KAFKA_$(tr 'a-z-' 'A-Z_' <<<"$user")_PASSWORD"
  client_config "$WORK/$user.properties" "$user" "${!variable}"
  # The broker may still be electing itself: a few tries for the first.
  for try in 1 2 3 4 5; do
    list_topics "$WORK/$user.properties" && break
    ((try < 5)) || { cat "$WORK/list.out" >&2; die "$user was refused with its password"; }
    sleep 2
  done
done
log "ok: ingestion, standardization, processing and kafka-ui are let in with their passwords"

client_config "$WORK/wrong.properties" ingestion "not-its-password"
if list_topics "$WORK/wrong.properties"; then die "a wrong password was let in"; fi
grep -qi "authentication failed" "$WORK/list.out" || { cat "$WORK/list.out" >&2; die "a wrong password failed, but not on authentication"; }
log "ok: a wrong password is refused"

printf 'security.protocol=PLAINTEXT\nrequest.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$WORK/plain.properties"
if list_topics "$WORK/plain.properties"; then die "a client without SASL was let in"; fi
log "ok: a client without SASL is refused"

if [[ -n "${SASL_TEST_INGESTION_BIN:-}" ]]; then
  [[ -x "$SASL_TEST_INGESTION_BIN" ]] || die "SASL_TEST_INGESTION_BIN=$SASL_TEST_INGESTION_BIN is not an executable"
  token="sasl-test-$RANDOM$RANDOM$RANDOM"
  digest="$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
  run_ingestion() { # password port
    KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$clients" KAFKA_SECURITY_PROTOCOL=sasl_plaintext \
      KAFKA_SASL_MECHANISM=SCRAM-SHA-512 KAFKA_SASL_USERNAME=ingestion KAFKA_SASL_PASSWORD="$1" \
      OBS_HTTP__LISTEN="127.0.0.1:$2" OBS_AUTH__INGEST_KEY_HASHES="$digest" \
      OBS_TOPICS__RAW_LOGS__NAME="sasl-test-raw-$RANDOM" RUST_LOG=warn \
      "$SASL_TEST_INGESTION_BIN" >>"$WORK/ingestion.log" 2>&1 &
    ingestion_pid=$!
  }
  stop_ingestion() { kill "$ingestion_pid" 2>/dev/null || true; wait "$ingestion_pid" 2>/dev/null || true; }
  ready() { # port -> HTTP status of /health/ready
    curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/health/ready" || true
  }

  port="$(free_port)"
  run_ingestion "$KAFKA_INGESTION_PASSWORD" "$port"
  status=""
  for _ in $(seq 1 60); do
    status="$(ready "$port")"
    [[ "$status" == 200 ]] && break
    kill -0 "$ingestion_pid" 2>/dev/null || break
    sleep 1
  done
  [[ "$status" == 200 ]] || { stop_ingestion; tail -n 20 "$WORK/ingestion.log" >&2; die "ingestion with its SCRAM password is not ready ($status)"; }
  record="$(head -n 1 "$ROOT/sample-data/logs.json")"
  answer="$(curl -s -w ' %{http_code}' -H "authorization: Bearer $token" -H 'content-type: application/json' \
    --data "$record" "http://127.0.0.1:$port/ingest/single")"
  stop_ingestion
  [[ "$answer" == *" 202" ]] || die "a record posted to ingestion over SCRAM was not acknowledged: $answer"
  log "ok: ingestion logs in with SCRAM: ready, a record acknowledged by Kafka"

  port="$(free_port)"
  run_ingestion "not-its-password" "$port"
  sleep 8
  status="$(ready "$port")"
  stop_ingestion
  [[ "$status" != 200 ]] || die "ingestion with a wrong SCRAM password says it is ready"
  log "ok: ingestion with a wrong SCRAM password is not ready ($status)"
fi
log "passed"
