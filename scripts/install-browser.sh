#!/usr/bin/env bash
# The browser the console's browser test drives (services/processing/tests/console_browser.rs),
# installed when missing (idempotent): Chromium and its WebDriver, chromedriver, from the
# Debian packages `chromium` and `chromium-driver`. `make test` runs it before cargo test.
#
#   scripts/install-browser.sh      install what is missing, print the two paths
#
# apt-get needs root; a machine without apt-get must have both on PATH already.
set -euo pipefail

log() { echo "install-browser: $*" >&2; }
die() { echo "install-browser: error: $*" >&2; exit 1; }

find_chromium() {
  command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null
}

if find_chromium >/dev/null && command -v chromedriver >/dev/null 2>&1; then
  :
else
  [[ "$(id -u)" == 0 ]] || die "missing chromium or chromedriver; install them as root (apt-get install chromium chromium-driver) or run this script as root"
  command -v apt-get >/dev/null 2>&1 || die "missing chromium or chromedriver, and no apt-get to install them"
  log "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  log "apt-get install chromium chromium-driver"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi
find_chromium || die "chromium is still missing after the installation"
command -v chromedriver || die "chromedriver is still missing after the installation"
