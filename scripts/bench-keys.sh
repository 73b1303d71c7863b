# Sourced by the bench scripts: a key of the run's own, every scope, given to the services
# as its digest (OBS_AUTH__*_KEY_HASHES) and to the bench tools and curl as OBS_API_TOKEN
# (`curl -H "$BENCH_KEY"`). The default rate limit per key is far above the benches' rates.
OBS_API_TOKEN="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export OBS_API_TOKEN
bench_digest="$(printf '%s' "$OBS_API_TOKEN" | sha256sum | cut -d' ' -f1)"
export OBS_AUTH__INGEST_KEY_HASHES="$bench_digest" OBS_AUTH__READ_KEY_HASHES="$bench_digest" \
  OBS_AUTH__OPERATE_KEY_HASHES="$bench_digest"
BENCH_KEY="authorization: Bearer $OBS_API_TOKEN"
