#!/usr/bin/env bash
# The operations tools the ops test (scripts/ops-test.sh) and CI need, installed when
# missing (idempotent):
#
#   prometheus, promtool          Debian package `prometheus`
#   alertmanager, amtool          Debian package `prometheus-alertmanager`
#   node exporter                 Debian package `prometheus-node-exporter` (the ops test
#                                 scrapes the host with it for the platform rules and panels)
#   docker-compose (v2)           the Compose CLI built from its Go module (no Docker
#                                 engine needed to validate a compose file)
#   libssl-dev, pkg-config        Debian packages: librdkafka with OpenSSL, for the ingestion
#                                 the SASL/SCRAM test builds (`--features obs-kafka/tls`)
#
#   scripts/ops-tools.sh          install what is missing, print the tools' paths
#   scripts/ops-tools.sh env      the same, as shell assignments (PROMETHEUS=... AMTOOL=...)
#
# apt-get needs root; the Compose build needs Go >= 1.21 (it fetches the Go toolchain
# Compose asks for by itself, GOTOOLCHAIN=auto). Compose is built once into
# $OPS_TOOLS_DIR (default target/ops-tools, git-ignored with target/): about 4 minutes on
# 2 cores, then reused. An existing Compose v2 on PATH (docker-compose or `docker compose`)
# is used as is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${OPS_TOOLS_DIR:-$ROOT/target/ops-tools}"
COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
COMPOSE_MODULE="github.com/docker/compose/v2"

log() { echo "ops-tools: $*" >&2; }
die() { echo "ops-tools: error: $*" >&2; exit 1; }

APT_UPDATED=0
apt_install() { # packages...
  [[ "$(id -u)" == 0 ]] || die "missing $*; install them as root (apt-get install $*) or run this script as root"
  command -v apt-get >/dev/null 2>&1 || die "missing $*, and no apt-get to install them"
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  # The packages' services are not started in containers (policy-rc.d) and not needed:
  # the ops test runs its own instances on other ports.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Debian names the Alertmanager binary prometheus-alertmanager.
find_alertmanager() {
  command -v alertmanager 2>/dev/null || command -v prometheus-alertmanager 2>/dev/null
}

ensure_prometheus() {
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    apt_install prometheus
  fi
  if ! find_alertmanager >/dev/null || ! command -v amtool >/dev/null 2>&1; then
    apt_install prometheus-alertmanager
  fi
  if ! command -v prometheus-node-exporter >/dev/null 2>&1 && ! command -v node_exporter >/dev/null 2>&1; then
    apt_install prometheus-node-exporter
  fi
  PROMETHEUS="$(command -v prometheus)"
  # Debian names it prometheus-node-exporter, upstream node_exporter.
  NODE_EXPORTER="$(command -v prometheus-node-exporter 2>/dev/null || command -v node_exporter)"
  PROMTOOL="$(command -v promtool)"
  ALERTMANAGER="$(find_alertmanager)"
  AMTOOL="$(command -v amtool)"
}

is_compose_v2() { # command...
  local version
  version="$("$@" version --short 2>/dev/null)" || return 1
  [[ "$version" =~ ^v?2\. ]]
}

go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local minor
  minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  [[ "$minor" =~ ^[0-9]+$ ]] && ((minor >= 21))
}

# Compose's go.mod has exclude/replace directives, so `go install module@version` refuses
# it: download the module, then build it as the main module.
build_compose() {
  go_ok || apt_install golang-go
  go_ok || die "building docker-compose needs Go >= 1.21 (found: $(go version 2>/dev/null || echo none)); install a newer Go"
  log "building docker-compose $COMPOSE_VERSION from its Go module (one-time, a few minutes)"
  mkdir -p "$TOOLS_DIR/bin"
  local work dir
  work="$(mktemp -d "$TOOLS_DIR/compose-build.XXXXXX")"
  dir="$(go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -d "$dir" ]] || { rm -rf "$work"; die "cannot download $COMPOSE_MODULE@$COMPOSE_VERSION"; }
  cp -r "$dir/." "$work/src"
  chmod -R u+w "$work/src"
  if ! (cd "$work/src" && GOTOOLCHAIN=auto GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" \
    -o "$work/docker-compose" ./cmd) >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    rm -rf "$work"
    die "docker-compose build failed (log above)"
  fi
  mv "$work/docker-compose" "$TOOLS_DIR/bin/docker-compose"
  rm -rf "$work"
}

ensure_compose() {
  local built="$TOOLS_DIR/bin/docker-compose"
  if [[ -x "$built" ]] && is_compose_v2 "$built"; then
    COMPOSE="$built"
  elif command -v docker-compose >/dev/null 2>&1 && is_compose_v2 docker-compose; then
    COMPOSE="$(command -v docker-compose)"
  elif command -v docker >/dev/null 2>&1 && is_compose_v2 docker compose; then
    COMPOSE="docker compose"
  else
    build_compose
    is_compose_v2 "$built" || die "$built does not run"
    COMPOSE="$built"
  fi
}

ensure_openssl() {
  if ! pkg-config --exists openssl 2>/dev/null; then
    apt_install libssl-dev pkg-config
  fi
}

ensure_prometheus
ensure_compose
ensure_openssl

case "${1:-}" in
  env)
    printf 'PROMETHEUS=%q\nPROMTOOL=%q\nALERTMANAGER=%q\nAMTOOL=%q\nNODE_EXPORTER=%q\nCOMPOSE=%q\n' \
      "$PROMETHEUS" "$PROMTOOL" "$ALERTMANAGER" "$AMTOOL" "$NODE_EXPORTER" "$COMPOSE"
    ;;
  "")
    echo "prometheus:     $PROMETHEUS ($("$PROMETHEUS" --version 2>&1 | head -n1))"
    echo "promtool:       $PROMTOOL"
    echo "alertmanager:   $ALERTMANAGER ($("$ALERTMANAGER" --version 2>&1 | head -n1))"
    echo "amtool:         $AMTOOL"
    echo "node exporter:  $NODE_EXPORTER ($("$NODE_EXPORTER" --version 2>&1 | head -n1))"
    echo "docker-compose: $COMPOSE ($($COMPOSE version --short 2>&1))"
    ;;
  *) die "usage: $0 [env]" ;;
esac
