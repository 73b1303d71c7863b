#!/usr/bin/env bash
# Writes .env for docker-compose (`make env`): created from .env.example when absent; every
# *_PASSWORD of .env.example that .env leaves empty or lacks gets a random one (but
# SMTP_PASSWORD, which is the mail account's: set it yourself), the other settings of
# .env.example that .env lacks are added with their example value; then the API keys
# (scripts/gen-keys.sh). What .env already holds is kept. Prints no secret.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="${ENV_FILE:-$ROOT/.env}"
EXAMPLE="$ROOT/.env.example"
umask 077
[[ -e "$ENV_FILE" ]] || cp "$EXAMPLE" "$ENV_FILE"

random_password() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }
has_value() { grep -q "^$1=." "$ENV_FILE"; }
has_key() { grep -q "^$1=" "$ENV_FILE"; }

made=()
tmp="$(mktemp "$ENV_FILE.XXXXXX")"
cp "$ENV_FILE" "$tmp"
while IFS= read -r line; do
  [[ "$line" =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
  key="${BASH_REMATCH[1]}" example="${BASH_REMATCH[2]}"
  if [[ "$key" == *_PASSWORD && "$key" != SMTP_PASSWORD ]]; then
    has_value "$key" && continue
    grep -v "^$key=" "$tmp" >"$tmp.next" || true
    mv "$tmp.next" "$tmp"
    printf '%s=%s\n' "$key" "$(random_password)" >>"$tmp"
    made+=("$key")
  elif ! has_key "$key"; then
    printf '%s=%s\n' "$key" "$example" >>"$tmp"
  fi
done <"$EXAMPLE"
mv "$tmp" "$ENV_FILE"
if ((${#made[@]})); then
  echo "gen-env: generated ${made[*]} in $(basename "$ENV_FILE")"
fi
grep -q '^SMTP_PASSWORD=.' "$ENV_FILE" || echo "gen-env: set SLACK_WEBHOOK_URL and SMTP_PASSWORD in $(basename "$ENV_FILE") for the notifications"
ENV_FILE="$ENV_FILE" "$ROOT/scripts/gen-keys.sh"
