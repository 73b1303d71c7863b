#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, combined broker+controller) without Docker.
#
#   scripts/kafka.sh up       start a broker on 127.0.0.1:$KAFKA_PORT (no-op if one answers)
#   scripts/kafka.sh down     stop the broker started by `up`, delete its data
#   scripts/kafka.sh status   does a broker answer, and is it ours?
#   scripts/kafka.sh stop [TERM|KILL]  signal our broker (SIGTERM by default) and wait until
#                             it is gone, keeping its data (for `restart`)
#   scripts/kafka.sh restart  start our broker again on the data it had (after `stop`)
#   scripts/kafka.sh topics … org.apache.kafka.tools.TopicCommand with --bootstrap-server added
#   scripts/kafka.sh tool <main-class> …   run any class from the cached Kafka jars
#
# Jars are fetched once with Maven (deploy/kafka/pom.xml) into .kafka/libs (git-ignored).
# A second broker (`make chaos`) runs beside the first with other ports and a state dir of
# its own (KAFKA_STATE_DIR): its pid, state, log and lock; the jars stay shared.
# Env: KAFKA_HOST (127.0.0.1), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
#      KAFKA_START_TIMEOUT (90 s), KAFKA_HEAP_OPTS (-Xms256m -Xmx768m),
#      KAFKA_LOG_LEVEL (root log4j level, WARN), KAFKA_JAVA (explicit java binary),
#      KAFKA_STATE_DIR (.kafka), KAFKA_LIBS_DIR (.kafka/libs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/deploy/kafka/pom.xml"
CACHE="${KAFKA_STATE_DIR:-$ROOT/.kafka}"
LIBS="${KAFKA_LIBS_DIR:-$ROOT/.kafka/libs}"
STATE="$CACHE/state"
PIDFILE="$CACHE/kafka.pid"
LOG="$CACHE/kafka.log"
BROKER_LOG4J="$CACHE/log4j.properties"
TOOLS_LOG4J="$CACHE/tools-log4j.properties"

HOST="${KAFKA_HOST:-127.0.0.1}"
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-9093}"
BOOTSTRAP="$HOST:$PORT"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
LOG_LEVEL="${KAFKA_LOG_LEVEL:-WARN}"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka: cannot read <kafka.version> from $POM" >&2; exit 1; }

log() { echo "kafka: $*" >&2; }
die() { echo "kafka: error: $*" >&2; exit 1; }

# --- helpers -----------------------------------------------------------------

# TCP probe without nc/curl.
answers() { # host port
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# Pid of the broker we started, if it is still alive and really is a Kafka JVM.
our_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

APT_UPDATED=0
apt_install() {
  [[ "$(id -u)" == 0 ]] || return 1
  command -v apt-get >/dev/null 2>&1 || return 1
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

java_major() { # java-binary -> major version (8, 11, 17, ...)
  local v
  v="$("$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  v="${v#1.}"
  echo "${v%%[.+-]*}"
}

# Kafka 3.9 supports Java 11/17/21; newer JDKs (23+) break its Subject/SecurityManager use.
java_ok() {
  [[ -x "$1" ]] || return 1
  local m
  m="$(java_major "$1" 2>/dev/null || true)"
  [[ "$m" =~ ^[0-9]+$ ]] && ((m >= 11 && m <= 22))
}

find_java() {
  local c
  for c in ${KAFKA_JAVA:-} /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/java-21-openjdk-*/bin/java \
    ${JAVA_HOME:+$JAVA_HOME/bin/java} "$(command -v java 2>/dev/null || true)"; do
    [[ -n "$c" ]] && java_ok "$c" && { echo "$c"; return 0; }
  done
  return 1
}

ensure_java() {
  JAVA="$(find_java || true)"
  if [[ -z "$JAVA" ]]; then
    apt_install openjdk-17-jre-headless || true
    JAVA="$(find_java || true)"
  fi
  [[ -n "$JAVA" ]] || die "no Java 11-22 runtime found (Java 17 recommended). Install openjdk-17-jre-headless or set KAFKA_JAVA=/path/to/java"
  JAVA_HOME_FOR_JAVA="$(dirname "$(dirname "$(readlink -f "$JAVA")")")"
}

ensure_jars() {
  local want have
  want="$KAFKA_VERSION $(sha256sum "$POM" | cut -d' ' -f1)"
  have="$(cat "$LIBS/.fetched" 2>/dev/null || true)"
  if [[ "$want" == "$have" && -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
    return 0
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    apt_install maven || true
    command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is required to fetch the Kafka jars; install it (apt-get install maven)"
  fi
  log "fetching Kafka $KAFKA_VERSION jars into $LIBS (one-time)"
  mkdir -p "$CACHE" "$(dirname "$LIBS")"
  local tmp
  tmp="$(mktemp -d "$(dirname "$LIBS")/libs.tmp.XXXXXX")"
  if ! JAVA_HOME="$JAVA_HOME_FOR_JAVA" mvn -q -B -f "$POM" \
    dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime >"$CACHE/mvn.out" 2>&1; then
    cat "$CACHE/mvn.out" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (output above)"
  fi
  chmod 755 "$tmp"
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
  echo "$want" >"$tmp/.fetched"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
}

write_log4j() {
  cat >"$BROKER_LOG4J" <<EOF
# Generated by scripts/kafka.sh. stdout is redirected to .kafka/kafka.log.
log4j.rootLogger=$LOG_LEVEL, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Keep start/stop milestones visible even at WARN.
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka\$=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
  cat >"$TOOLS_LOG4J" <<'EOF'
# Generated by scripts/kafka.sh: quiet logging for CLI tool classes.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

run_tool() { # main-class args...
  ensure_java
  [[ -f "$LIBS/.fetched" ]] || ensure_jars
  [[ -f "$TOOLS_LOG4J" ]] || write_log4j
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$TOOLS_LOG4J" \
    -cp "$LIBS/*" "$@"
}

# A random Kafka cluster id: 16 random bytes, base64url without padding (22 chars).
random_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && { echo "$id"; return; }
  done
}

write_properties() { # data-dir
  local dir="$1"
  cat >"$dir/server.properties" <<EOF
# Generated by scripts/kafka.sh: single-node KRaft (combined broker + controller).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
metadata.log.dir=$dir/metadata

# Topics are created explicitly by the services.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# Internal topics on one node: RF=1, few partitions for a fast start.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0

# Transactions / idempotence (read_committed consumers need the txn coordinator).
transaction.max.timeout.ms=900000
transaction.partition.verification.enable=true

# Small footprint for a 2-core dev/CI machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=24
log.segment.bytes=67108864
EOF
}

# --- subcommands ---------------------------------------------------------------

cmd_down() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"
  flock 9 2>/dev/null || true
  local pid
  if pid="$(our_pid)"; then
    log "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker did not stop within 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  if [[ -f "$STATE" ]]; then
    local dir
    dir="$(sed -n 's/^data_dir=//p' "$STATE")"
    # Only ever delete a directory this script created.
    if [[ -n "$dir" && -d "$dir" && "$(basename "$dir")" == kafka-data.* ]]; then
      rm -rf "$dir"
    fi
  fi
  rm -f "$PIDFILE" "$STATE"
}

cmd_up() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"
  flock 9 2>/dev/null || true

  if answers "$HOST" "$PORT"; then
    local who="not started by scripts/kafka.sh"
    local pid
    pid="$(our_pid)" && who="ours, pid $pid"
    echo "kafka: a broker already answers on $BOOTSTRAP ($who); nothing to do"
    return 0
  fi
  # Leftovers from a crashed/timed-out run: clean them up first.
  flock -u 9 2>/dev/null || true
  cmd_down
  exec 9>"$CACHE/lock"
  flock 9 2>/dev/null || true

  if answers "$HOST" "$CPORT"; then
    die "controller port $HOST:$CPORT is already in use by another process (set KAFKA_CONTROLLER_PORT)"
  fi

  ensure_java
  ensure_jars
  write_log4j

  local t0=$SECONDS dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/kafka-data.XXXXXX")"
  printf 'data_dir=%s\nbootstrap=%s\nversion=%s\n' "$dir" "$BOOTSTRAP" "$KAFKA_VERSION" >"$STATE"
  write_properties "$dir"

  local cluster_id
  cluster_id="$(random_cluster_id)"
  log "formatting storage (cluster id $cluster_id) in $dir"
  if ! "$JAVA" -Xmx256m -Dlog4j.configuration="file:$TOOLS_LOG4J" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >"$dir/format.out" 2>&1; then
    cat "$dir/format.out" >&2
    die "storage format failed"
  fi

  : >"$LOG"
  launch "$dir" "$t0"
}

# Starts the JVM on data dir $1 and waits until it serves metadata ($2: when we began).
launch() {
  local dir="$1" t0="$2"
  log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller $HOST:$CPORT), log: $LOG"
  # shellcheck disable=SC2086  # HEAP_OPTS is intentionally word-split
  # Detached: own session (setsid; not a group leader here, so it execs in place and
  # $! stays the JVM pid), no inherited lock fd 9, no inherited stdout (CI pipes).
  local setsid=()
  command -v setsid >/dev/null 2>&1 && setsid=(setsid)
  (
    cd "$dir"
    # Do not leak the caller's extra fds (lock, CI pipes) into the long-lived JVM.
    for fd in /proc/self/fd/*; do
      fd="${fd##*/}"
      [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null || true
    done
    exec nohup "${setsid[@]}" "$JAVA" $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$BROKER_LOG4J" \
      -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" >>"$LOG" 2>&1 </dev/null
  ) &
  local pid=$!
  echo "$pid" >"$PIDFILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker process exited during startup; last 50 log lines:"
      tail -n 50 "$LOG" >&2 || true
      cmd_down
      exit 1
    fi
    if answers "$HOST" "$PORT"; then
      # TCP is up; confirm it serves metadata requests with Kafka's own admin tool.
      if timeout 30 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$TOOLS_LOG4J" \
        -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list \
        >/dev/null 2>"$dir/probe.err"; then
        echo "kafka: broker ready on $BOOTSTRAP (pid $pid, started in $((SECONDS - t0)) s, data $dir)"
        return 0
      fi
    fi
    sleep 1
  done
  log "broker did not become ready within ${START_TIMEOUT}s; last 50 log lines:"
  tail -n 50 "$LOG" >&2 || true
  [[ -s "$dir/probe.err" ]] && { log "last probe error:"; tail -n 5 "$dir/probe.err" >&2; }
  exit 1
}

cmd_stop() { # TERM|KILL
  local signal="${1:-TERM}" pid
  [[ "$signal" == TERM || "$signal" == KILL ]] || die "stop: TERM or KILL, not $signal"
  pid="$(our_pid)" || die "no broker of ours is running (state: $CACHE)"
  log "sending SIG$signal to the broker (pid $pid), keeping its data"
  kill "-$signal" "$pid"
  local i
  for ((i = 0; i < 120; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  log "broker still there 60 s after SIG$signal; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_restart() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"
  flock 9 2>/dev/null || true
  local pid dir
  pid="$(our_pid)" && die "our broker is still running (pid $pid): stop it first"
  dir="$(sed -n 's/^data_dir=//p' "$STATE" 2>/dev/null || true)"
  [[ -n "$dir" && -f "$dir/server.properties" ]] || die "no data of an earlier broker in $CACHE: use up"
  answers "$HOST" "$PORT" && die "something else answers on $BOOTSTRAP"
  ensure_java
  launch "$dir" "$SECONDS"
}

cmd_status() {
  local pid="" ours=no
  pid="$(our_pid)" && ours=yes
  if answers "$HOST" "$PORT"; then
    if [[ "$ours" == yes ]]; then
      echo "kafka: broker answers on $BOOTSTRAP (ours: pid $pid, data $(sed -n 's/^data_dir=//p' "$STATE" 2>/dev/null))"
    else
      echo "kafka: broker answers on $BOOTSTRAP (not started by scripts/kafka.sh)"
    fi
  else
    if [[ "$ours" == yes ]]; then
      echo "kafka: nothing answers on $BOOTSTRAP, but our broker process (pid $pid) is running (starting or stuck; see $LOG)"
    else
      echo "kafka: nothing answers on $BOOTSTRAP"
    fi
    return 3
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop) cmd_stop "${2:-TERM}" ;;
  restart) cmd_restart ;;
  topics) shift; run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@" ;;
  tool) shift; [[ $# -ge 1 ]] || die "usage: $0 tool <main-class> [args...]"; run_tool "$@" ;;
  *)
    echo "usage: $0 {up|down|status|stop [TERM|KILL]|restart|topics <TopicCommand args>|tool <main-class> [args...]}" >&2
    exit 2
    ;;
esac
