#!/usr/bin/env bash
# `make bench-e2e`: the three release services on the real broker.
#  0. warm-up: BENCH_WARMUP (100,000) records as fast as ingestion takes them, not measured
#     (a fresh broker's JVM compiles its hot paths for a minute: twice the CPU per record);
#  1. latency: 60,000 records at a fixed 5,000 records/s; p50/p99 from `ingested-at` to
#     processed (the processing stage's end-to-end histogram, since the warm-up);
#  2. throughput: BENCH_RECORDS (1,000,000) records as fast as ingestion takes them, timed
#     until processing has committed them all;
#  3. the RSS of each service after it all: at the end, its peak, and at rest.
# In every phase, BENCH_LOG_EVENTS_PER_RUN (1) application log events about each run go to
# ingestion's /log with it (ingest-bench's --log-events-per-run), and a phase ends once
# processing's error-rate stage has committed them too; 0 is the benchmark of runs alone.
# The three phases are one fleet's stream (seed 1), each its own part of it, so no record
# id repeats: standardization would drop a repeat as a duplicate (it says how many).
# BENCH_COMPANIES (4): companies of the generated fleet; 4 run 92 series, 10 run 167, 11 run 189.
# BENCH_PROCESSING_ENV: settings for processing alone (VAR=value …), e.g.
# OBS_CHECKPOINT__ENABLED=false.
# BENCH_PROCESSING_ROLES=split: processing as two instances, one running the stages
# (`processing`, port 18103) and one the views (`views`, port 18104), instead of one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${BENCH_RECORDS:-1000000}"
WARMUP="${BENCH_WARMUP:-100000}"
EVENTS="${BENCH_LOG_EVENTS_PER_RUN:-1}"
COMPANIES="${BENCH_COMPANIES:-4}"
RUN="e2e-$(date +%s)"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}" RUST_LOG=warn
source scripts/bench-topics.sh
source scripts/bench-keys.sh
bench_topics "$RUN"
mkdir -p .demo
pids=()
# The services stop with the script however it ends (an error, Ctrl-C, a timeout's
# SIGTERM): SIGTERM first, SIGKILL for one still there 10 s later.
stop_services() {
  trap - EXIT INT TERM
  (( ${#pids[@]} )) || return 0
  kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "${pids[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop_services EXIT
trap 'stop_services; exit 130' INT TERM
declare -A port=([ingestion]=18101 [standardization]=18102 [processing]=18103 [views]=18104)
services=(ingestion standardization processing)
processing_role=()
if [[ "${BENCH_PROCESSING_ROLES:-all}" == split ]]; then
  services+=(views)
  processing_role=(OBS_ROLE=stages)
elif [[ "${BENCH_PROCESSING_ROLES:-all}" != all ]]; then
  echo "bench: BENCH_PROCESSING_ROLES is all or split, not ${BENCH_PROCESSING_ROLES}" >&2
  exit 2
fi
OBS_HTTP__LISTEN="127.0.0.1:${port[ingestion]}" target/release/ingestion >.demo/bench-ingestion.log 2>&1 &
pids+=($!); pid_ingestion=$!
for service in "${services[@]:1}"; do
  # BENCH_PROCESSING_ENV: settings of processing alone (VAR=value …; the other services
  # refuse keys that are not theirs), e.g. OBS_CHECKPOINT__ENABLED=false.
  extra=() binary=$service
  [[ $service == processing ]] && extra+=("${processing_role[@]}")
  [[ $service == views ]] && extra+=(OBS_ROLE=views) binary=processing
  if [[ $binary == processing ]]; then
    read -ra settings <<<"${BENCH_PROCESSING_ENV:-}"
    extra+=("${settings[@]}")
  fi
  env "${extra[@]}" OBS_HTTP__LISTEN="127.0.0.1:${port[$service]}" OBS_STAGE__GROUP_ID="$RUN-$binary" \
    OBS_STAGE__TRANSACTIONAL_ID="$RUN-$service" target/release/$binary >".demo/bench-$service.log" 2>&1 &
  pids+=($!)
  declare "pid_$service=$!"
done
# Ready, not only healthy: on a fresh broker the first group join and the first
# transactional producer create Kafka's internal topics (seconds). Latency is measured once
# every loop of both stages (runs, log events, incident signals) has initialized its
# transactions and been assigned its partitions, and processing's views have caught up.
for service in "${services[@]}"; do
  ready=0
  for _ in $(seq 1 1200); do
    if curl -fsS "http://127.0.0.1:${port[$service]}/health/ready" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
  done
  if [[ $ready == 0 ]]; then
    echo "bench: $service is not ready after 120 s:" >&2
    curl -sS "http://127.0.0.1:${port[$service]}/health/ready" >&2 || true
    tail -5 ".demo/bench-$service.log" >&2
    exit 1
  fi
done
# What processing has committed: runs, and log events through its error-rate stage; the
# runs include those standardization dropped as already standardized (none, unless two
# phases post the same record ids: they would never reach processing).
duplicates() {
  curl -fsS "http://127.0.0.1:${port[standardization]}/metrics" |
    awk '/^standardization_duplicates_dropped_total / { d = $2 } END { printf "%d\n", d }'
}
committed() {
  local dropped
  dropped=$(duplicates)
  curl -fsS "http://127.0.0.1:${port[processing]}/metrics" | awk -v d="$dropped" '
    /^stage_records_consumed_total\{input="runs"\}/ { r = $2 }
    /^stage_records_consumed_total\{input="log_events"\}/ { e = $2 }
    END { printf "%d %d\n", r + d, e }'
}
# Waits until processing has committed $1 runs and $2 log events; sets runs_at and
# events_at to when each was reached.
wait_for() {
  local runs=0 events=0 now
  runs_at="" events_at=""
  for _ in $(seq 1 3000); do
    read -r runs events < <(committed)
    now=$(date +%s.%N)
    [[ -z "$runs_at" ]] && (( runs >= $1 )) && runs_at=$now
    [[ -z "$events_at" ]] && (( events >= $2 )) && events_at=$now
    [[ -n "$runs_at" && -n "$events_at" ]] && return 0
    sleep 0.1
  done
  echo "bench: timed out with $runs of $1 runs and $events of $2 log events committed" >&2
  exit 1
}
posts=(--log-events-per-run "$EVENTS" --companies "$COMPANIES")

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
broker=$(pgrep -f 'kafka\.Kafka ' | head -1 || true)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), broker $KAFKA_BOOTSTRAP_SERVERS on the same host"
WARMUP=$(( WARMUP / 1000 * 1000 ))
echo "--- warm-up: $WARMUP records, not measured"
if (( WARMUP > 0 )); then
  # The latency phase's fleet (seed 1), records after those that phase posts.
  target/release/ingest-bench --url "http://127.0.0.1:${port[ingestion]}" --seed 1 --skip 60000 \
    --batches $((WARMUP / 1000)) --batch-size 1000 --concurrency 4 "${posts[@]}" >/dev/null
  wait_for $WARMUP $((WARMUP * EVENTS))
fi
curl -fsS "http://127.0.0.1:${port[processing]}/metrics" >.demo/bench-warmup-metrics.txt
declare -A cpu_start
for service in "${services[@]}"; do
  pid_var="pid_$service"
  cpu_start[$service]=$(cpu_seconds ${!pid_var})
done
broker_cpu_start=$([[ -n "$broker" ]] && cpu_seconds "$broker" || echo 0)

echo "--- latency at a fixed 5,000 records/s (60,000 records)"
target/release/ingest-bench --url "http://127.0.0.1:${port[ingestion]}" --seed 1 \
  --batches 600 --batch-size 100 --concurrency 4 --rate 5000 "${posts[@]}"
wait_for $((WARMUP + 60000)) $(((WARMUP + 60000) * EVENTS))
target/release/stage-bench latency "http://127.0.0.1:${port[processing]}/metrics" processing \
  .demo/bench-warmup-metrics.txt

echo "--- throughput: $N records, ingestion to processed-metrics"
# Timed from the first post (ingest-bench says when), not from its start: generating the
# records beforehand takes seconds of a core and is not the stack's work.
# The same fleet's stream after the warm-up's records: another seed from its first hour
# would repeat record ids of the earlier phases, which standardization drops as duplicates.
posted=$(target/release/ingest-bench --url "http://127.0.0.1:${port[ingestion]}" --seed 1 --skip $((60000 + WARMUP)) \
  --batches $((N / 1000)) --batch-size 1000 --concurrency 4 "${posts[@]}")
echo "$posted"
start=$(sed -n 's/^posting from unix time \([0-9.]*\)$/\1/p' <<<"$posted")
[[ -n "$start" ]] || { echo "bench: ingest-bench did not say when it started posting" >&2; exit 1; }
wait_for $((WARMUP + 60000 + N)) $(((WARMUP + 60000 + N) * EVENTS))
end=$(date +%s.%N)
awk -v n="$N" -v s="$start" -v e="$end" 'BEGIN { printf "end to end: %d records processed in %.1f s: %.0f records/s\n", n, e - s, n / (e - s) }'
echo "standardization: $(duplicates) runs dropped as duplicates over the whole run"
if (( EVENTS > 0 )); then
  awk -v n="$((N * EVENTS))" -v s="$start" -v e="$end" -v r="$runs_at" -v l="$events_at" 'BEGIN {
    printf "end to end: %d log events through the error-rate stage in %.1f s: %.0f events/s (the runs alone were committed after %.1f s, the log events after %.1f s)\n",
      n, e - s, n / (e - s), r - s, l - s }'
fi
curl -fsS -H "$BENCH_KEY" "http://127.0.0.1:${port[processing]}/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)["detector"]
print("processing detector: %d series, %d forests; state at most %.1f MB (an upper bound)"
      % (d["series"], d["trained_forests"], d["state_bytes"] / 1e6))' || true
# Where each stage loop's time went: waiting for input, waiting for its previous commit.
# The loops of log events (standardization's, processing's error-rate stage) too, when
# there are some.
loops=(runs)
(( EVENTS > 0 )) && loops+=(log_events)
for service in standardization processing; do
  metrics=$(curl -fsS "http://127.0.0.1:${port[$service]}/metrics")
  for input in "${loops[@]}"; do
    name=$([[ $input == runs ]] && echo "$service" || echo "$service ${input//_/-}")
    awk -v s="$name" -v l="{input=\"$input\"}" '
      function is(metric) { return index($0, metric l " ") == 1 }
      is("stage_input_wait_seconds_total") { i = $2 } is("stage_commit_wait_seconds_total") { c = $2 }
      is("stage_batch_records_count") { n = $2 } is("stage_batch_records_sum") { r = $2 }
      is("stage_transaction_duration_seconds_sum") { d = $2 }
      END { printf "%s loop: %.1f s waiting for input, %.1f s waiting for commits; %d transactions, %.0f records and %.1f ms each on average\n", s, i, c, n, r / n, 1000 * d / n }' <<<"$metrics"
  done
done
if (( EVENTS > 0 )); then
  # What the log events were: severities as standardization found them (given or
  # classified from the text), and what the error-rate stage made of them.
  curl -fsS "http://127.0.0.1:${port[standardization]}/metrics" | awk '
    /^standardization_log_events_total\{/ { match($0, /severity="[a-z]*"/); s = substr($0, RSTART + 10, RLENGTH - 11); n[s] += $2 }
    /^standardization_log_events_classified_total\{/ { c += $2 }
    END { printf "log events by severity: %d debug, %d info, %d warning, %d error, %d critical; %d classified from their text\n",
      n["debug"], n["info"], n["warning"], n["error"], n["critical"], c }'
  curl -fsS "http://127.0.0.1:${port[processing]}/metrics" | awk '
    /^processing_app_log_events_windowed_total / { w = $2 } /^processing_app_log_events_late_total / { l = $2 }
    /^processing_app_log_windows_total / { n = $2 } /^processing_app_log_error_rate_alerts_total\{/ { a += $2 }
    END { printf "error-rate stage: %d events in windows, %d late (older than their service'"'"'s open window), %d windows closed, %d alerts\n", w, l, n, a }'
fi
# CPU seconds (user + system) each service spent over the whole run (both phases), to
# show where the two cores went; the broker's too when it runs from scripts/kafka.sh.
# RSS: right after the last record (still holding what the run freed), peak over the
# run (VmHWM), and at rest 3 s later, once each service has trimmed its heap after the
# burst (obs_service::heap).
declare -A rss_end
for service in "${services[@]}"; do
  pid_var="pid_$service"
  rss_end[$service]=$(ps -o rss= -p ${!pid_var} | awk '{printf "%.1f", $1/1024}')
done
sleep 3
for service in "${services[@]}"; do
  pid_var="pid_$service"
  peak=$(awk '/^VmHWM/ { printf "%.1f", $2/1024 }' /proc/${!pid_var}/status)
  rest=$(ps -o rss= -p ${!pid_var} | awk '{printf "%.1f", $1/1024}')
  cpu=$(awk -v a="${cpu_start[$service]}" -v b="$(cpu_seconds ${!pid_var})" 'BEGIN { printf "%.1f", b - a }')
  echo "$service: RSS ${rss_end[$service]} MB at the end, peak $peak MB, $rest MB at rest; CPU $cpu s"
done
# Where each service's CPU went, by thread (named by the services; librdkafka's are
# rdk:*), over the whole life of the process, the six busiest.
for service in "${services[@]}"; do
  pid_var="pid_$service"
  for task in /proc/${!pid_var}/task/*; do
    awk -v hz="$(getconf CLK_TCK)" '{ match($0, /\(.*\)/); name = substr($0, RSTART + 1, RLENGTH - 2)
      split(substr($0, RSTART + RLENGTH + 1), f, " "); printf "%s\t%.1f\n", name, (f[12] + f[13]) / hz }' "$task/stat"
  done | awk -F'\t' -v s="$service" '{ cpu[$1] += $2 } END {
    n = 0; for (t in cpu) names[++n] = t
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (cpu[names[j]] > cpu[names[i]]) { x = names[i]; names[i] = names[j]; names[j] = x }
    line = s " threads (CPU s):"; for (i = 1; i <= n && i <= 6; i++) line = line sprintf(" %s %.1f;", names[i], cpu[names[i]])
    print line }'
done
if [[ -n "$broker" ]]; then
  awk -v a="$broker_cpu_start" -v b="$(cpu_seconds "$broker")" 'BEGIN { printf "broker: CPU %.1f s\n", b - a }'
fi
