#!/usr/bin/env bash
# The operations test (run by `make test` and `make ops-test`):
#   1. installs Prometheus/promtool, Alertmanager/amtool and docker-compose when missing
#      (scripts/ops-tools.sh: apt-get as root, Compose built from its Go module);
#   2. checks the configuration: promtool check config/rules, promtool test rules (every
#      alert firing and not firing), amtool check-config, docker-compose config, the
#      Grafana dashboards; the compose broker's SASL/SCRAM and ACL set-up on a real Kafka
#      (scripts/kafka-sasl-test.sh, with the three services built with librdkafka's OpenSSL
#      running the pipeline as their SCRAM users, unless --static-only);
#   3. unless --static-only: builds the three services, runs them against the real broker
#      with a real Prometheus, Alertmanager and node exporter on loopback ports (the node
#      exporter's chosen by the OS), ingests sample-data/logs.json and checks every rule and
#      dashboard query, the panels' data and the alerts in Alertmanager
#      (tests/ops/ops_test.py). cAdvisor is not run (no Docker engine): its panels are
#      named exceptions there.
# Needs a broker for step 3 (`make kafka-up`). Fails, never skips, when a tool or the
# broker cannot be had.
#
# Env: OPS_BIN_DIR (prebuilt binaries; default: build target/debug), KAFKA_BOOTSTRAP_SERVERS,
#      OPS_{INGESTION,STANDARDIZATION,PROCESSING,PROMETHEUS,ALERTMANAGER}_PORT
#      (free loopback ports from the OS), OPS_KEEP_LOGS=1 (keep the processes' logs on failure).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

tools="$(scripts/ops-tools.sh env)"
eval "$tools"
export PROMETHEUS PROMTOOL ALERTMANAGER AMTOOL NODE_EXPORTER COMPOSE

if [[ "${1:-}" != --static-only ]]; then
  # The services with librdkafka's OpenSSL (SCRAM needs it) for the SASL test, kept aside:
  # the plain build below puts the usual binaries back in place.
  "${CARGO:-cargo}" build --locked -p ingestion -p standardization -p processing --features obs-kafka/tls
  sasl_bins="$(mktemp -d)"
  trap 'rm -rf "$sasl_bins"' EXIT
  for service in ingestion standardization processing; do
    cp "${CARGO_TARGET_DIR:-target}/debug/$service" "$sasl_bins/$service-tls"
  done
  export SASL_TEST_INGESTION_BIN="$sasl_bins/ingestion-tls"
  export SASL_TEST_STANDARDIZATION_BIN="$sasl_bins/standardization-tls"
  export SASL_TEST_PROCESSING_BIN="$sasl_bins/processing-tls"
  if [[ -z "${OPS_BIN_DIR:-}" ]]; then
    # As `cargo test` builds them (see scripts/fuzz-api.sh): relinks the three services,
    # compiles nothing else after make test's cargo test.
    "${CARGO:-cargo}" test --workspace --locked --no-run --quiet
  fi
fi
scripts/kafka-sasl-test.sh
python3 tests/ops/ops_test.py "$@"
