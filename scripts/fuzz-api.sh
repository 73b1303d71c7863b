#!/usr/bin/env bash
# Property-based API fuzzing (run by `make test` and `make fuzz-api`): installs Schemathesis
# (pinned, from PyPI, into a virtualenv under target/) when missing, builds the three
# services and runs tests/api/fuzz_api.py: each service against the real broker, its own
# /openapi.json fuzzed with a key of every scope; no 5xx, every answer as documented.
# Needs a broker (`make kafka-up`). Fails, never skips, when Schemathesis cannot be had.
#
# Env: FUZZ_MAX_EXAMPLES (cases per operation, default 50), FUZZ_SEED, FUZZ_BIN_DIR
#      (prebuilt binaries; default: build target/debug as cargo test does), KAFKA_BOOTSTRAP_SERVERS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/target/schemathesis-venv"
ST="$VENV/bin/st"

if ! "$ST" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "fuzz-api: installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
  python3 -m venv "$VENV" || { echo "fuzz-api: error: cannot create a virtualenv (python3 -m venv)" >&2; exit 1; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || { echo "fuzz-api: error: cannot install schemathesis $SCHEMATHESIS_VERSION from PyPI" >&2; exit 1; }
fi

if [[ -z "${FUZZ_BIN_DIR:-}" ]]; then
  # Built as `cargo test` builds them (the same features): after `make test`'s cargo test
  # this compiles nothing, where `cargo build --bin` would compile every crate a second time.
  "${CARGO:-cargo}" test --workspace --locked --no-run --quiet
fi
ST="$ST" exec python3 tests/api/fuzz_api.py "$@"
