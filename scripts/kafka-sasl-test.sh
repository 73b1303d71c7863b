#!/usr/bin/env bash
# Tests the compose broker's security (deploy/kafka/compose) on a real Kafka without Docker:
# runs its start.sh with its server.properties, acls and topics (ports moved to free
# loopback ones, the data in a temporary directory) on the cached Kafka jars of
# scripts/kafka.sh, then checks that
#   * start.sh refuses to format without a user's password, naming the variable;
#   * it creates the topics of ./topics with their partitions and settings;
#   * each SCRAM user is let in with its password and sees the stack's topics; a wrong
#     password and a client without SASL are refused;
#   * with Kafka's console clients, each user may do what its service does and is DENIED
#     what it must not (the error names the authorization, and no record arrived): e.g.
#     ingestion writes raw-logs but neither writes processed-metrics nor reads
#     standardized-logs; a service may not join another's group; Kafka UI reads but
#     neither writes nor creates topics nor joins a group;
#   * a restart puts the ACLs back to ./acls (an extra one removed, a missing one added)
#     and creates nothing; SIGTERM to start.sh stops the broker;
#   * with SASL_TEST_INGESTION_BIN (an ingestion built with `--features obs-kafka/tls`:
#     librdkafka's SCRAM needs OpenSSL), a service logs in as its user: ready, a record
#     posted is acknowledged by Kafka; with a wrong password it is not ready; told to write
#     a topic it may not, it does not acknowledge;
#   * with SASL_TEST_STANDARDIZATION_BIN and SASL_TEST_PROCESSING_BIN too (same build), the
#     three services run the pipeline under the ACLs: records posted to ingestion reach
#     processed-metrics, each service's POST /dead-letters/replay replays a dead letter
#     into its input, and no service logs an authorization failure.
# Run by `make test` (through ops-test.sh, which builds those services). Needs Python 3
# (free ports), curl, pkill. Fails, never skips.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA="$ROOT/scripts/kafka.sh"
COMPOSE_KAFKA="$ROOT/deploy/kafka/compose"

log() { echo "kafka-sasl-test: $*" >&2; }
die() { echo "kafka-sasl-test: error: $*" >&2; exit 1; }

WORK="$(mktemp -d)"
broker_pid=""
service_pids=()
stop_services() {
  local pid
  for pid in "${service_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${service_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  service_pids=()
}
stop_broker() { # SIGTERM to start.sh, as `docker stop` sends it; the whole group if it hangs
  [[ -n "$broker_pid" ]] || return 0
  kill -TERM "$broker_pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$broker_pid" 2>/dev/null; then
    kill -KILL -- "-$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
    return 1
  fi
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
}
cleanup() {
  stop_services
  stop_broker || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clients="$(free_port)"; controller="$(free_port)"; local_port="$(free_port)"
admin="127.0.0.1:$local_port"

# Kafka's scripts, as start.sh calls them, on the cached jars. kafka.sh runs java as its
# child: the broker's wrapper passes SIGTERM on to it, as the image's script (exec java) does.
mkdir -p "$WORK/bin"
wrap() { # script class
  printf '#!/bin/sh\nexec "%s" tool %s "$@"\n' "$KAFKA" "$2" >"$WORK/bin/$1"
}
wrap kafka-storage.sh kafka.tools.StorageTool
wrap kafka-acls.sh kafka.admin.AclCommand
wrap kafka-topics.sh org.apache.kafka.tools.TopicCommand
cat >"$WORK/bin/kafka-server-start.sh" <<EOF
#!/usr/bin/env bash
"$KAFKA" tool kafka.Kafka "\$@" &
tool=\$!
trap 'pkill -TERM -P "\$tool"' TERM INT
wait "\$tool" || wait "\$tool"
EOF
chmod +x "$WORK/bin/"*.sh
tool() { "$KAFKA" tool "$@"; }

sed -e "s#CLIENTS://:9092#CLIENTS://127.0.0.1:$clients#" \
    -e "s#CLIENTS://kafka:9092#CLIENTS://127.0.0.1:$clients#" \
    -e "s#127.0.0.1:9093#127.0.0.1:$controller#g" \
    -e "s#127.0.0.1:9094#$admin#g" \
    -e "s#^log.dirs=.*#log.dirs=$WORK/data#" \
    "$COMPOSE_KAFKA/server.properties" >"$WORK/server.properties"
grep -q "CLIENTS://127.0.0.1:$clients" "$WORK/server.properties" || die "could not move the client listener's port"
grep -q "LOCAL://$admin" "$WORK/server.properties" || die "could not move the local listener's port"

export KAFKA_CONFIG="$WORK/server.properties" KAFKA_BIN="$WORK/bin" KAFKA_READY_FILE="$WORK/ready"

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

start_broker() { # log file
  # Its own process group, so that a broker that ignores SIGTERM can still be stopped.
  setsid bash "$COMPOSE_KAFKA/start.sh" >"$1" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 240); do
    [[ -f "$KAFKA_READY_FILE" ]] && return 0
    kill -0 "$broker_pid" 2>/dev/null || { tail -n 30 "$1" >&2; die "the broker stopped"; }
    sleep 1
  done
  tail -n 30 "$1" >&2
  die "start.sh did not mark the broker ready"
}
start_broker "$WORK/broker.log"
log "ok: the broker is up and start.sh says topics and ACLs are in place"

# --- Topics: those of ./topics, as the file gives them.
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$admin" --describe >"$WORK/describe.out" 2>&1 \
  || { cat "$WORK/describe.out" >&2; die "cannot describe the topics"; }
python3 - "$COMPOSE_KAFKA/topics" "$WORK/describe.out" >"$WORK/topic-names" <<'PY' || die "the topics differ from deploy/kafka/compose/topics"
import re, sys
described = {}
for line in open(sys.argv[2]):
    m = re.match(r"Topic: (\S+)\t.*PartitionCount: (\d+)\t.*Configs: ?(.*)$", line.rstrip("\n"))
    if m:
        configs = dict(kv.split("=", 1) for kv in re.split(r",(?=[a-z.]+=)", m[3]) if kv)
        described[m[1]] = (int(m[2]), configs)
bad = False
for line in open(sys.argv[1]):
    fields = line.split("#", 1)[0].split()
    if not fields:
        continue
    name, partitions, retention, policy, *segment = fields
    want = {"retention.ms": retention, "cleanup.policy": policy}
    if segment:
        want["segment.bytes"] = segment[0]
    got = described.get(name)
    if got is None:
        print(f"topic {name} was not created", file=sys.stderr); bad = True; continue
    if got[0] != int(partitions) or any(got[1].get(k) != v for k, v in want.items()):
        print(f"topic {name}: {got}, the file says {partitions} partitions, {want}", file=sys.stderr); bad = True
    print(name)
sys.exit(1 if bad else 0)
PY
mapfile -t topic_names <"$WORK/topic-names"
((${#topic_names[@]} == 14)) || die "deploy/kafka/compose/topics lists ${#topic_names[@]} topics, the stack has 14"
log "ok: start.sh created the ${#topic_names[@]} topics with their partitions, retention, cleanup policy and segment size"

# --- Logins.
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
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$clients" \
    --command-config "$1" --list >"$WORK/list.out" 2>&1
}
for user in ingestion standardization processing kafka-ui; do
  variable="${user^^}"
  variable="KAFKA_${variable//-/_}_PASSWORD"
  client_config "$WORK/$user.properties" "$user" "${!variable}"
  list_topics "$WORK/$user.properties" || { cat "$WORK/list.out" >&2; die "$user was refused with its password"; }
  for name in "${topic_names[@]}"; do
    grep -qx "$name" "$WORK/list.out" || { cat "$WORK/list.out" >&2; die "$user does not see topic $name"; }
  done
done
log "ok: ingestion, standardization, processing and kafka-ui are let in with their passwords and see the 14 topics"

client_config "$WORK/wrong.properties" ingestion "not-its-password"
if list_topics "$WORK/wrong.properties"; then die "a wrong password was let in"; fi
grep -qi "authentication failed" "$WORK/list.out" || { cat "$WORK/list.out" >&2; die "a wrong password failed, but not on authentication"; }
log "ok: a wrong password is refused"

printf 'security.protocol=PLAINTEXT\nrequest.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$WORK/plain.properties"
if list_topics "$WORK/plain.properties"; then die "a client without SASL was let in"; fi
log "ok: a client without SASL is refused"

# --- What each user may and may not do, with Kafka's own clients.
end_offsets() { # -> "topic total" lines, as the administrator sees them
  tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$admin" >"$WORK/offsets.raw" 2>&1 \
    || { cat "$WORK/offsets.raw" >&2; die "cannot read the end offsets"; }
  python3 - "$WORK/offsets.raw" <<'PY'
import sys, collections
total = collections.Counter()
for line in open(sys.argv[1]):
    parts = line.strip().rsplit(":", 2)
    if len(parts) == 3 and parts[2].isdigit():
        total[parts[0]] += int(parts[2])
for topic, n in sorted(total.items()):
    print(topic, n)
PY
}
offset_of() { # file topic
  awk -v t="$2" '$1 == t { print $2; found = 1 } END { if (!found) print 0 }' "$1"
}
denied() { # what output-file: the client failed on authorization
  grep -Eqi "not authorized|authorization failed|AuthorizationException" "$2" \
    || { cat "$2" >&2; die "$1: not refused on authorization"; }
}
produce() { # user topic value output-file; Kafka's producer logs a refused send, exits 0
  printf '%s\n' "$3" | tool kafka.tools.ConsoleProducer --bootstrap-server "127.0.0.1:$clients" \
    --producer.config "$WORK/$1.properties" --topic "$2" --request-required-acks all \
    --producer-property max.block.ms=15000 --producer-property delivery.timeout.ms=20000 \
    --producer-property request.timeout.ms=10000 >"$4" 2>&1 || true
}
produce_ok() { # user topic value
  produce "$1" "$2" "$3" "$WORK/produce.out"
  ! grep -Eqi "error|exception" "$WORK/produce.out" || { cat "$WORK/produce.out" >&2; die "$1 could not write $2"; }
}
produce_denied() { # user topic value
  produce "$1" "$2" "$3" "$WORK/produce.out"
  denied "$1 writing $2" "$WORK/produce.out"
}
consume() { # user output-file args...; exit status of the consumer
  local user="$1" out="$2"
  shift 2
  tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "127.0.0.1:$clients" \
    --consumer.config "$WORK/$user.properties" --timeout-ms 15000 "$@" >"$out" 2>&1
}
consume_ok() { # user topic group marker: reads the marker in the group
  consume "$1" "$WORK/consume.out" --topic "$2" --group "$3" --from-beginning --max-messages 1 \
    || { cat "$WORK/consume.out" >&2; die "$1 could not read $2 in group $3"; }
  grep -qx "$4" "$WORK/consume.out" || { cat "$WORK/consume.out" >&2; die "$1 read $2 in group $3 but not the record written"; }
}
consume_denied() { # user what args...; Kafka's consumer may exit 0 when refused
  local user="$1" what="$2"
  shift 2
  consume "$user" "$WORK/consume.out" "$@" --max-messages 1 || true
  denied "$user $what" "$WORK/consume.out"
  grep -q "Processed a total of 0 messages" "$WORK/consume.out" \
    || { cat "$WORK/consume.out" >&2; die "$user $what: refused, yet it read a record"; }
}

marker="acl-test-$RANDOM$RANDOM"
end_offsets >"$WORK/before"
produce_ok ingestion raw-logs "$marker-raw"
produce_ok ingestion app-logs "$marker-app"
produce_denied ingestion processed-metrics "$marker-denied"
consume_denied ingestion "reading standardized-logs" --topic standardized-logs --partition 0 --offset earliest
log "ok: ingestion writes raw-logs and app-logs; it may neither write processed-metrics nor read standardized-logs"

consume_ok standardization raw-logs standardization "$marker-raw"
produce_ok standardization standardized-logs "$marker-std"
produce_denied standardization processed-metrics "$marker-denied"
consume_denied standardization "reading processed-metrics" --topic processed-metrics --partition 0 --offset earliest
consume_denied standardization "joining group processing" --topic raw-logs --group processing --from-beginning
log "ok: standardization reads raw-logs in its group and writes standardized-logs; it may neither write nor read processed-metrics, nor join processing's group"

consume_ok processing standardized-logs processing "$marker-std"
produce_ok processing alerts "$marker-alert"
produce_denied processing raw-logs "$marker-denied"
consume_denied processing "joining group standardization" --topic standardized-logs --group standardization --from-beginning
log "ok: processing reads standardized-logs in its group and writes alerts; it may neither write raw-logs nor join standardization's group"

consume kafka-ui "$WORK/consume.out" --topic alerts --partition 0 --offset earliest --max-messages 1 \
  || { cat "$WORK/consume.out" >&2; die "kafka-ui could not read alerts"; }
grep -qx "$marker-alert" "$WORK/consume.out" || { cat "$WORK/consume.out" >&2; die "kafka-ui read alerts but not the record written"; }
produce_denied kafka-ui raw-logs "$marker-denied"
consume_denied kafka-ui "joining a group" --topic alerts --group kafka-ui-test --from-beginning
tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$clients" --command-config "$WORK/kafka-ui.properties" \
  --create --topic "acl-test-$RANDOM" --partitions 1 >"$WORK/create.out" 2>&1 && die "kafka-ui created a topic"
denied "kafka-ui creating a topic" "$WORK/create.out"
log "ok: kafka-ui reads alerts; it may neither write raw-logs, nor join a group, nor create a topic"

end_offsets >"$WORK/after"
for expected in raw-logs:1 app-logs:1 standardized-logs:1 alerts:1 processed-metrics:0; do
  topic="${expected%:*}"
  grew=$(($(offset_of "$WORK/after" "$topic") - $(offset_of "$WORK/before" "$topic")))
  ((grew == ${expected#*:})) || die "$topic took $grew records, ${expected#*:} expected (a refused write arrived?)"
done
log "ok: the allowed writes arrived, the refused ones did not"

# --- The services themselves.
token="sasl-test-$RANDOM$RANDOM$RANDOM"
digest="$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
run_service() { # log-name bin user password port [VAR=value...]
  local name="$1" bin="$2" user="$3" password="$4" port="$5"
  shift 5
  env KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$clients" KAFKA_SECURITY_PROTOCOL=sasl_plaintext \
    KAFKA_SASL_MECHANISM=SCRAM-SHA-512 KAFKA_SASL_USERNAME="$user" KAFKA_SASL_PASSWORD="$password" \
    OBS_HTTP__LISTEN="127.0.0.1:$port" OBS_AUTH__INGEST_KEY_HASHES="$digest" \
    OBS_AUTH__READ_KEY_HASHES="$digest" OBS_AUTH__OPERATE_KEY_HASHES="$digest" RUST_LOG=warn "$@" \
    "$bin" >>"$WORK/$name.log" 2>&1 &
  service_pids+=($!)
}
ready() { # port -> HTTP status of /health/ready
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/health/ready" || true
}
wait_ready() { # name port
  local status=""
  for _ in $(seq 1 90); do
    status="$(ready "$2")"
    [[ "$status" == 200 ]] && return 0
    sleep 1
  done
  tail -n 20 "$WORK/$1.log" >&2
  die "$1 as its SCRAM user is not ready ($status)"
}
post() { # port path content-type body -> "answer status"
  curl -s -w ' %{http_code}' -H "authorization: Bearer $token" -H "content-type: $3" \
    --data-binary "$4" "http://127.0.0.1:$1$2"
}

if [[ -n "${SASL_TEST_INGESTION_BIN:-}" ]]; then
  [[ -x "$SASL_TEST_INGESTION_BIN" ]] || die "SASL_TEST_INGESTION_BIN=$SASL_TEST_INGESTION_BIN is not an executable"
  record="$(head -n 1 "$ROOT/sample-data/logs.json")"

  port="$(free_port)"
  run_service ingestion "$SASL_TEST_INGESTION_BIN" ingestion "$KAFKA_INGESTION_PASSWORD" "$port"
  wait_ready ingestion "$port"
  answer="$(post "$port" /ingest/single application/json "$record")"
  stop_services
  [[ "$answer" == *" 202" ]] || die "a record posted to ingestion over SCRAM was not acknowledged: $answer"
  log "ok: ingestion logs in with SCRAM: ready, a record acknowledged by Kafka"

  port="$(free_port)"
  run_service ingestion-wrong "$SASL_TEST_INGESTION_BIN" ingestion "not-its-password" "$port"
  sleep 8
  status="$(ready "$port")"
  stop_services
  [[ "$status" != 200 ]] || die "ingestion with a wrong SCRAM password says it is ready"
  log "ok: ingestion with a wrong SCRAM password is not ready ($status)"

  # Told that its raw-logs topic is processed-metrics (which it may describe, not write).
  port="$(free_port)"
  run_service ingestion-denied "$SASL_TEST_INGESTION_BIN" ingestion "$KAFKA_INGESTION_PASSWORD" "$port" \
    OBS_TOPICS__RAW_LOGS__NAME=processed-metrics
  wait_ready ingestion-denied "$port"
  answer="$(post "$port" /ingest/single application/json "$record")"
  stop_services
  [[ "$answer" != *" 202" ]] || die "ingestion writing processed-metrics was acknowledged: $answer"
  grep -qi "authoriz" <<<"$answer" || grep -qi "authoriz" "$WORK/ingestion-denied.log" \
    || { cat "$WORK/ingestion-denied.log" >&2; die "ingestion's write to processed-metrics failed, but not on authorization: $answer"; }
  log "ok: ingestion writing processed-metrics is refused by Kafka (${answer##* })"
fi

if [[ -n "${SASL_TEST_STANDARDIZATION_BIN:-}${SASL_TEST_PROCESSING_BIN:-}" ]]; then
  for variable in SASL_TEST_INGESTION_BIN SASL_TEST_STANDARDIZATION_BIN SASL_TEST_PROCESSING_BIN; do
    [[ -x "${!variable:-}" ]] || die "$variable is not an executable (the pipeline test needs the three)"
  done
  # Dead letters to replay, one per service, as a stage writes them (the administrator).
  printf 'dead-letter-stage:standardization,dead-letter-source-topic:raw-logs,dead-letter-error-kind:acl-test\t%s\n' \
    "$record" >"$WORK/dead-letters"
  printf 'dead-letter-stage:processing,dead-letter-source-topic:standardized-logs,dead-letter-error-kind:acl-test\t{}\n' \
    >>"$WORK/dead-letters"
  tool kafka.tools.ConsoleProducer --bootstrap-server "$admin" --topic dead-letters \
    --property parse.headers=true <"$WORK/dead-letters" >"$WORK/produce.out" 2>&1 \
    || { cat "$WORK/produce.out" >&2; die "cannot write the dead letters"; }

  end_offsets >"$WORK/before"
  declare -A ports=()
  for name in ingestion standardization processing; do
    ports[$name]="$(free_port)"
    variable="SASL_TEST_${name^^}_BIN" password="KAFKA_${name^^}_PASSWORD"
    run_service "pipeline-$name" "${!variable}" "$name" "${!password}" "${ports[$name]}"
  done
  for name in ingestion standardization processing; do wait_ready "pipeline-$name" "${ports[$name]}"; done
  answer="$(head -n 50 "$ROOT/sample-data/logs.json" | post "${ports[ingestion]}" /ingest/batch application/x-ndjson @-)"
  [[ "$answer" == *'"accepted":50'*" 202" ]] || die "ingestion did not accept the sample: $answer"
  for _ in $(seq 1 60); do
    end_offsets >"$WORK/after"
    (($(offset_of "$WORK/after" processed-metrics) > $(offset_of "$WORK/before" processed-metrics))) && break
    sleep 2
  done
  for topic in raw-logs standardized-logs standardized-ids processed-metrics; do
    (($(offset_of "$WORK/after" "$topic") > $(offset_of "$WORK/before" "$topic"))) \
      || { tail -n 5 "$WORK"/pipeline-*.log >&2; die "nothing reached $topic: the pipeline is stuck under the ACLs"; }
  done
  log "ok: records posted to ingestion went through standardization and processing to processed-metrics"

  for name in standardization processing; do
    answer="$(post "${ports[$name]}" /dead-letters/replay application/json '{"kinds":["acl-test"]}')"
    [[ "$answer" =~ \"replayed\":1[,}].*\ 200$ ]] || { tail -n 20 "$WORK/pipeline-$name.log" >&2; die "$name's replay: $answer"; }
  done
  log "ok: standardization and processing each replayed a dead letter into their input"

  if grep -qi "authoriz" "$WORK"/pipeline-*.log; then
    grep -i "authoriz" "$WORK"/pipeline-*.log | head -n 5 >&2
    die "a service logged an authorization failure"
  fi
  stop_services
  log "ok: no service logged an authorization failure"
fi

# --- A restart: the ACLs are put back to ./acls, nothing is created.
tool kafka.admin.AclCommand --bootstrap-server "$admin" --add --allow-principal User:ingestion \
  --operation Read --topic standardized-logs >"$WORK/acl.out" 2>&1 || { cat "$WORK/acl.out" >&2; die "cannot add an ACL"; }
tool kafka.admin.AclCommand --bootstrap-server "$admin" --remove --force --allow-principal User:processing \
  --operation Write --topic alerts >"$WORK/acl.out" 2>&1 || { cat "$WORK/acl.out" >&2; die "cannot remove an ACL"; }
stop_broker || die "start.sh did not stop the broker on SIGTERM within 60 s"
rm -f "$KAFKA_READY_FILE"
start_broker "$WORK/broker-again.log"
said="$(grep '^start.sh:' "$WORK/broker-again.log" || true)"
grep -q "removing an ACL .* does not grant: User:ingestion|TOPIC|LITERAL|standardized-logs|READ|" <<<"$said" \
  || die "the restart did not remove the extra ACL: $said"
[[ "$(grep -c "adding the grants" <<<"$said")" == 1 ]] || die "the restart did not add back exactly one line's grants: $said"
! grep -q "creating topic" <<<"$said" || die "the restart created a topic again: $said"
consume_denied ingestion "reading standardized-logs after the restart" --topic standardized-logs --partition 0 --offset earliest
produce_ok processing alerts "$marker-alert-again"
log "ok: a restart removes an ACL ./acls does not grant, adds back a missing one, creates nothing"
log "passed"
