#!/bin/bash
# The compose broker's entry point: formats the storage on first start with one SCRAM user
# per client, their passwords from the environment; starts the broker; then, as the
# administrator on the broker's loopback listener, creates the missing topics of ./topics
# and makes the broker's ACLs exactly those of ./acls (adding what is missing, removing
# what the file does not grant), at every start; then marks the broker ready and waits for
# it, passing SIGTERM/SIGINT on.
#
#   KAFKA_CONFIG           the server.properties (default: the one beside this script)
#   KAFKA_ACLS             the grants (default: ./acls beside this script)
#   KAFKA_TOPICS           the topics (default: ./topics beside this script)
#   KAFKA_BIN              Kafka's scripts (default /opt/kafka/bin, the apache/kafka image):
#                          kafka-storage.sh, kafka-server-start.sh, kafka-topics.sh,
#                          kafka-acls.sh
#   KAFKA_READY_FILE       written once topics and ACLs are in place, removed at start
#                          (default /tmp/kafka-ready; the compose health check looks for it)
#   KAFKA_SETUP_TIMEOUT    seconds to get topics and ACLs in place before giving up and
#                          stopping the broker (default 300)
#   KAFKA_SCRAM_USERS      the users, space-separated (ingestion standardization processing
#                          kafka-ui); each one's password in KAFKA_<USER>_PASSWORD (upper
#                          case, '-' as '_'); a missing one stops the start, naming it
#
# Passwords are set when the storage is formatted (the first start of a volume); to change
# one later: kafka-configs.sh --bootstrap-server 127.0.0.1:9094 --alter --entity-type users
# --entity-name NAME --add-config 'SCRAM-SHA-512=[password=…]' inside the container.
# Needs bash 4 and Kafka's scripts, nothing else.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config="${KAFKA_CONFIG:-$here/server.properties}"
acls="${KAFKA_ACLS:-$here/acls}"
topics="${KAFKA_TOPICS:-$here/topics}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
ready="${KAFKA_READY_FILE:-/tmp/kafka-ready}"
setup_timeout="${KAFKA_SETUP_TIMEOUT:-300}"
users="${KAFKA_SCRAM_USERS:-ingestion standardization processing kafka-ui}"

say() { echo "start.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# One property of the server.properties.
property() {
  local line
  while IFS= read -r line; do
    [[ "$line" == "$1="* ]] && { echo "${line#*=}"; return; }
  done <"$config"
}
data="$(property log.dirs)"
[[ -n "$data" ]] || die "no log.dirs in $config"
# The administrator's address: the LOCAL listener, loopback and PLAINTEXT (super user).
[[ "$(property listeners)" =~ LOCAL://([^,]+) ]] || die "no LOCAL listener in $config"
admin="${BASH_REMATCH[1]}"

declare -A known_user=()
for user in $users; do
  # Lower case: no user can be ANONYMOUS, the super user.
  [[ "$user" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "user '$user': lower-case letters, digits and '-' only"
  known_user[$user]=1
done

if [[ ! -f "$data/meta.properties" ]]; then
  scram=()
  for user in $users; do
    variable="${user^^}"
    variable="KAFKA_${variable//-/_}_PASSWORD"
    password="${!variable:-}"
    [[ -n "$password" ]] || die "$variable is not set (make env writes it into .env)"
    [[ "$password" != *[],[=]* ]] || die "$variable holds one of , [ ] ="
    scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$password]")
  done
  say "formatting $data with SCRAM users: $users"
  "$bin/kafka-storage.sh" format --config "$config" \
    --cluster-id "$("$bin/kafka-storage.sh" random-uuid)" "${scram[@]}"
fi

# --- The topics of ./topics: NAME PARTITIONS RETENTION_MS CLEANUP_POLICY [SEGMENT_BYTES]
topic_names=()
declare -A topic_args=()
number=0
while IFS= read -r line || [[ -n "$line" ]]; do
  number=$((number + 1))
  line="${line%%#*}"
  read -r name partitions retention policy segment rest <<<"$line" || true
  [[ -n "${name:-}" ]] || continue
  [[ "$partitions" =~ ^[0-9]+$ && "$retention" =~ ^-?[0-9]+$ && "$policy" =~ ^[a-z,]+$ &&
    "${segment:-0}" =~ ^[0-9]+$ && -z "${rest:-}" ]] \
    || die "$topics:$number: NAME PARTITIONS RETENTION_MS CLEANUP_POLICY [SEGMENT_BYTES] expected"
  args=(--partitions "$partitions" --config "retention.ms=$retention" --config "cleanup.policy=$policy")
  [[ -z "${segment:-}" ]] || args+=(--config "segment.bytes=$segment")
  topic_names+=("$name")
  topic_args[$name]="$(printf '%q ' "${args[@]}")"
done <"$topics"

# --- The grants of ./acls, as the broker lists them: principal|TYPE|PATTERN|name|OPERATION|ALLOW|*
declare -A want=()     # grant -> the acls line (number) that grants it
declare -A line_args=() # line number -> kafka-acls.sh arguments adding that line's grants
upper_snake() { # DescribeConfigs -> DESCRIBE_CONFIGS
  local word="$1" out="" i c
  for ((i = 0; i < ${#word}; i++)); do
    c="${word:i:1}"
    [[ $i -gt 0 && "$c" == [A-Z] ]] && out+="_"
    out+="${c^^}"
  done
  echo "$out"
}
number=0
while IFS= read -r line || [[ -n "$line" ]]; do
  number=$((number + 1))
  line="${line%%#*}"
  read -r user resource pattern operations rest <<<"$line" || true
  [[ -n "${user:-}" ]] || continue
  read -ra names <<<"${rest:-}"
  where="$acls:$number"
  [[ -n "${known_user[$user]:-}" ]] || die "$where: $user is none of the SCRAM users ($users)"
  ((${#names[@]} > 0)) || die "$where: no resource name"
  case "$resource" in
    topic) type=TOPIC flag=--topic ;;
    group) type=GROUP flag=--group ;;
    transactionalId) type=TRANSACTIONAL_ID flag=--transactional-id ;;
    cluster) type=CLUSTER flag=--cluster ;;
    *) die "$where: unknown resource '$resource'" ;;
  esac
  case "$pattern" in
    literal) kind=LITERAL ;;
    prefix) kind=PREFIXED ;;
    *) die "$where: unknown pattern '$pattern' (literal or prefix)" ;;
  esac
  args=(--allow-principal "User:$user" --resource-pattern-type "${kind,,}")
  IFS=, read -ra ops <<<"$operations"
  for op in "${ops[@]}"; do
    [[ "$op" =~ ^[A-Z][A-Za-z]+$ ]] || die "$where: operation '$op'"
    args+=(--operation "$op")
  done
  if [[ "$type" == CLUSTER ]]; then
    [[ "${names[*]}" == kafka-cluster ]] || die "$where: the cluster is named kafka-cluster"
    args+=(--cluster)
  else
    for name in "${names[@]}"; do args+=("$flag" "$name"); done
  fi
  line_args[$number]="$(printf '%q ' "${args[@]}")"
  for name in "${names[@]}"; do
    for op in "${ops[@]}"; do
      want["User:$user|$type|$kind|$name|$(upper_snake "$op")|ALLOW|*"]=$number
    done
  done
done <"$acls"
((${#want[@]} > 0)) || die "$acls grants nothing"

# A Kafka tool as the administrator; its own small heap (KAFKA_HEAP_OPTS is the broker's).
tool() { # script args...
  KAFKA_HEAP_OPTS="-Xmx256m" "$bin/$1" --bootstrap-server "$admin" "${@:2}" </dev/null
}

# The broker's ACLs, one grant a line, from `kafka-acls.sh --list`.
declare -A have=()
read_acls() {
  local out line type="" name="" kind=""
  out="$(tool kafka-acls.sh --list)" || return 1
  have=()
  while IFS= read -r line; do
    if [[ "$line" =~ resourceType=([A-Z_]+),\ name=(.*),\ patternType=([A-Z]+)\) ]]; then
      type="${BASH_REMATCH[1]}" name="${BASH_REMATCH[2]}" kind="${BASH_REMATCH[3]}"
    elif [[ "$line" =~ \(principal=(.*),\ host=(.*),\ operation=([A-Z_]+),\ permissionType=([A-Z]+)\) ]]; then
      have["${BASH_REMATCH[1]}|$type|$kind|$name|${BASH_REMATCH[3]}|${BASH_REMATCH[4]}|${BASH_REMATCH[2]}"]=1
    fi
  done <<<"$out"
}

apply_acls() {
  local grant line principal type kind name op permission host flag
  local -A lines=()
  read_acls || return 1
  for grant in "${!want[@]}"; do
    [[ -n "${have[$grant]:-}" ]] || lines[${want[$grant]}]=1
  done
  for grant in "${!have[@]}"; do
    [[ -z "${want[$grant]:-}" ]] || continue
    IFS='|' read -r principal type kind name op permission host <<<"$grant"
    case "$type" in
      TOPIC) flag=(--topic "$name") ;;
      GROUP) flag=(--group "$name") ;;
      TRANSACTIONAL_ID) flag=(--transactional-id "$name") ;;
      CLUSTER) flag=(--cluster) ;;
      *) say "leaving an ACL on a $type alone: $grant"; continue ;;
    esac
    say "removing an ACL $acls does not grant: $grant"
    tool kafka-acls.sh --remove --force \
      "--${permission,,}-principal" "$principal" "--${permission,,}-host" "$host" \
      --operation "$op" --resource-pattern-type "${kind,,}" "${flag[@]}" >/dev/null || return 1
  done
  for ((line = 1; line <= number; line++)); do
    [[ -n "${lines[$line]:-}" ]] || continue
    say "adding the grants of $acls:$line"
    eval "args=(${line_args[$line]})"
    tool kafka-acls.sh --add "${args[@]}" >/dev/null || return 1
  done
  [[ ${#lines[@]} -gt 0 ]] || return 0
  # Changed: the broker must now hold exactly the file's grants.
  read_acls || return 1
  for grant in "${!want[@]}" "${!have[@]}"; do
    if [[ -z "${want[$grant]:-}" || -z "${have[$grant]:-}" ]]; then
      say "after the changes the ACLs still differ from $acls: $grant"
      return 1
    fi
  done
}

create_topics() {
  local existing name
  local -A exists=()
  existing="$(tool kafka-topics.sh --list)" || return 1
  while IFS= read -r name; do
    [[ -z "$name" ]] || exists[$name]=1
  done <<<"$existing"
  for name in "${topic_names[@]}"; do
    [[ -z "${exists[$name]:-}" ]] || continue
    say "creating topic $name"
    eval "args=(${topic_args[$name]})"
    tool kafka-topics.sh --create --if-not-exists --topic "$name" "${args[@]}" >/dev/null || return 1
  done
}

rm -f "$ready"
"$bin/kafka-server-start.sh" "$config" &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null || true' TERM INT EXIT

deadline=$((SECONDS + setup_timeout))
until create_topics && apply_acls; do
  kill -0 "$broker" 2>/dev/null || break
  if ((SECONDS >= deadline)); then
    say "topics and ACLs are not in place: stopping the broker"
    kill -TERM "$broker"
    wait "$broker" || true
    exit 1
  fi
  sleep 2
done
if kill -0 "$broker" 2>/dev/null; then
  : >"$ready"
  say "topics and ACLs in place; ready"
fi

# A trapped signal ends `wait` early: wait again until the broker is gone.
status=0
while :; do
  wait "$broker" && status=0 || status=$?
  kill -0 "$broker" 2>/dev/null || break
done
exit "$status"
