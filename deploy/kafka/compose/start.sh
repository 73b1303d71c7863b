#!/bin/bash
# The compose broker's entry point: formats the storage on first start with one SCRAM user
# per client, their passwords from the environment, then runs the broker in the foreground.
#
#   KAFKA_CONFIG           the server.properties (default: the one mounted beside this script)
#   KAFKA_BIN              Kafka's scripts (default /opt/kafka/bin, the apache/kafka image)
#   KAFKA_SCRAM_USERS      the users, space-separated (ingestion standardization processing
#                          kafka-ui); each one's password in KAFKA_<USER>_PASSWORD (upper
#                          case, '-' as '_'); a missing one stops the start, naming it
#
# Passwords are set when the storage is formatted (the first start of a volume); to change
# one later: kafka-configs.sh --bootstrap-server 127.0.0.1:9094 --alter --entity-type users
# --entity-name NAME --add-config 'SCRAM-SHA-512=[password=…]' inside the container.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config="${KAFKA_CONFIG:-$here/server.properties}"
bin="${KAFKA_BIN:-/opt/kafka/bin}"
users="${KAFKA_SCRAM_USERS:-ingestion standardization processing kafka-ui}"

data="$(sed -n 's/^log\.dirs=//p' "$config" | head -n 1)"
[[ -n "$data" ]] || { echo "start.sh: no log.dirs in $config" >&2; exit 1; }

if [[ ! -f "$data/meta.properties" ]]; then
  scram=()
  for user in $users; do
    variable="KAFKA_$(tr 'a-z-' 'A-Z_' <<<"$user")_PASSWORD"
    password="${!variable:-}"
    [[ -n "$password" ]] || { echo "start.sh: $variable is not set (make env writes it into .env)" >&2; exit 1; }
    [[ "$password" != *[],[=]* ]] || { echo "start.sh: $variable holds one of , [ ] =" >&2; exit 1; }
    scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$password]")
  done
  echo "start.sh: formatting $data with SCRAM users: $users" >&2
  "$bin/kafka-storage.sh" format --config "$config" \
    --cluster-id "$("$bin/kafka-storage.sh" random-uuid)" "${scram[@]}"
fi
exec "$bin/kafka-server-start.sh" "$config"
