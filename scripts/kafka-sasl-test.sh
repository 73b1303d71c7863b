#!/usr/bin/env bash
# Tests the compose broker's security (deploy/kafka/compose) on a real Kafka without Docker:
# runs its start.sh with its server.properties (ports moved to free loopback ones, the data
# in a temporary directory) on the cached Kafka jars of scripts/kafka.sh, then checks that
#   * each SCRAM user start.sh created is let in with its password,
#   * a wrong password and a client without SASL are refused,
#   * start.sh refuses to format without a user's password, naming the variable.
# Run by `make test` (through ops-test.sh's static part). Fails, never skips.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA="$ROOT/scripts/kafka.sh"
COMPOSE_KAFKA="$ROOT/deploy/kafka/compose"

log() { echo "kafka-sasl-test: $*" >&2; }
die() { echo "kafka-sasl-test: error: $*" >&2; exit 1; }

WORK="$(mktemp -d)"
broker_pid=""
cleanup() {
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
log "passed"
