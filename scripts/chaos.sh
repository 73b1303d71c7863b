#!/usr/bin/env bash
# `make chaos`: the chaos harness (crates/devtools/src/bin/chaos) on a broker of its own.
#
# The broker is scripts/kafka.sh's, on loopback ports of its own (CHAOS_KAFKA_PORT and
# CHAOS_KAFKA_CONTROLLER_PORT, default: free ones from the OS) with its own state in .kafka-chaos/ (data in a fresh
# $TMPDIR/kafka-data.*), deleted when the run ends: the shared broker on 9092 is never
# touched. The harness restarts this one itself (scripts/kafka.sh stop/restart).
# Env: CHAOS_RECORDS (1,000,000), CHAOS_RATE (records/s, 5,000), CHAOS_SEED (random,
# printed), CHAOS_KILLS_PER_STAGE (3), CHAOS_PROFILE (release: the binaries of
# target/$CHAOS_PROFILE). Exit status: the harness's (non-zero on a loss, a duplicate, an
# analytics total that differs, or a recovery of 10 s or more).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export KAFKA_PORT="${CHAOS_KAFKA_PORT:-$(free_port)}"
export KAFKA_CONTROLLER_PORT="${CHAOS_KAFKA_CONTROLLER_PORT:-$(free_port)}"
while [[ "$KAFKA_CONTROLLER_PORT" == "$KAFKA_PORT" ]]; do KAFKA_CONTROLLER_PORT="$(free_port)"; done
export KAFKA_STATE_DIR="$ROOT/.kafka-chaos"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
if [[ "$KAFKA_PORT" == 9092 || "$KAFKA_CONTROLLER_PORT" == 9093 ]]; then
  echo "chaos: the shared broker's ports (9092/9093) are not for the chaos broker" >&2
  exit 2
fi
export CHAOS_BIN_DIR="$ROOT/target/${CHAOS_PROFILE:-release}"
export CHAOS_LOG_DIR="$KAFKA_STATE_DIR/logs"
export CHAOS_KAFKA_SCRIPT="$ROOT/scripts/kafka.sh"

# Leftovers of an interrupted run (our broker only: kafka.sh down stops what its state
# dir names), then a fresh broker, deleted however the run ends.
scripts/kafka.sh down
if scripts/kafka.sh status >/dev/null 2>&1; then
  echo "chaos: something else answers on $KAFKA_BOOTSTRAP_SERVERS; set CHAOS_KAFKA_PORT" >&2
  exit 2
fi
rm -rf "$CHAOS_LOG_DIR"
trap 'scripts/kafka.sh down' EXIT
scripts/kafka.sh up
"$CHAOS_BIN_DIR/chaos"
