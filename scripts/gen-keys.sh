#!/usr/bin/env bash
# Writes the stack's API keys into .env (created when absent): for each scope (ingest,
# read, operate) a token `OBS_<SCOPE>_TOKEN` (32 random bytes in hex) for the clients, and
# its SHA-256 digest `OBS_AUTH__<SCOPE>_KEY_HASHES` for the services. A scope whose token
# is already set keeps it; ROTATE=1 makes new tokens and keeps the old digests beside the
# new ones (both accepted until the old ones are removed from .env). Prints no token.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="${ENV_FILE:-$ROOT/.env}"
umask 077
touch "$ENV_FILE"

random_hex() {
  if command -v openssl >/dev/null; then openssl rand -hex 32
  else od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; echo; fi
}
value_of() { sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1; }
# Sets NAME=VALUE in .env, in place of an existing line or at the end.
set_value() {
  local tmp
  tmp="$(mktemp "$ENV_FILE.XXXXXX")"
  grep -v "^$1=" "$ENV_FILE" >"$tmp" || true
  printf '%s=%s\n' "$1" "$2" >>"$tmp"
  mv "$tmp" "$ENV_FILE"
}

made=()
for scope in INGEST READ OPERATE; do
  token="$(value_of "OBS_${scope}_TOKEN")"
  hashes="$(value_of "OBS_AUTH__${scope}_KEY_HASHES")"
  if [[ -n "$token" && "${ROTATE:-0}" != 1 ]]; then continue; fi
  token="$(random_hex)"
  digest="$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
  if [[ "${ROTATE:-0}" == 1 && -n "$hashes" ]]; then digest="$digest,$hashes"; fi
  set_value "OBS_${scope}_TOKEN" "$token"
  set_value "OBS_AUTH__${scope}_KEY_HASHES" "$digest"
  made+=("${scope,,}")
done
if ((${#made[@]})); then
  echo "gen-keys: new ${made[*]} key(s) in $(basename "$ENV_FILE") (tokens OBS_<SCOPE>_TOKEN, digests OBS_AUTH__<SCOPE>_KEY_HASHES)"
else
  echo "gen-keys: $(basename "$ENV_FILE") already has a key per scope; not changed (ROTATE=1 makes new ones)"
fi
