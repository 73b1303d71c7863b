# Sourced by the bench scripts: a key of the run's own, every scope, given to the services
# as its digest (OBS_AUTH__*_KEY_HASHES) and to the bench tools and curl as BENCH_API_TOKEN
# (`curl -H "$BENCH_KEY"`). Not an OBS_ variable: the services would read it as config.
# The default rate limit per key is far above the benches' rates.
BENCH_API_TOKEN="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export BENCH_API_TOKEN
bench_digest="$(printf '%s' "$BENCH_API_TOKEN" | sha256sum | cut -d' ' -f1)"
export OBS_AUTH__INGEST_KEY_HASHES="$bench_digest" OBS_AUTH__READ_KEY_HASHES="$bench_digest" \
  OBS_AUTH__OPERATE_KEY_HASHES="$bench_digest"
BENCH_KEY="authorization: Bearer $BENCH_API_TOKEN"
