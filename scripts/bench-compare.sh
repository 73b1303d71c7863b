#!/usr/bin/env bash
# `make bench-compare BASELINE=<rev>`: `make bench-e2e`'s throughput of this checkout against
# another commit, in one sitting on one broker, as pairs of runs in alternating order.
#
# A lone run says little on a small machine: the same binaries ran 10,500 and 14,600
# records/s ten minutes apart, and the run right after the other tree's was often the
# slower one. So each pair runs both trees back to back, the baseline first in odd pairs
# and this checkout first in even ones, and the script prints each pair's ratio and the
# median and mean of the ratios; judge those, never one pair.
#
# BASELINE (required): a commit. Its release binaries are built once in a worktree under
# .bench/ (`git worktree`, a target directory of its own: the first build takes minutes).
# BENCH_PAIRS (6): pairs of runs. BENCH_RECORDS (300,000), BENCH_WARMUP (50,000),
# BENCH_LOG_EVENTS_PER_RUN (0: runs alone), BENCH_COMPANIES and BENCH_PROCESSING_ENV go
# to both trees' scripts/bench-e2e.sh, each run's output to .bench/compare-<n>-<tree>.log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASELINE="${BASELINE:-}"
PAIRS="${BENCH_PAIRS:-6}"
[[ -n "$BASELINE" ]] || { echo "bench-compare: set BASELINE to a commit, e.g. BASELINE=HEAD~1" >&2; exit 2; }
[[ "$PAIRS" =~ ^[1-9][0-9]*$ ]] || { echo "bench-compare: BENCH_PAIRS is a positive integer, not $PAIRS" >&2; exit 2; }
rev=$(git rev-parse --verify --quiet "$BASELINE^{commit}") ||
  { echo "bench-compare: BASELINE=$BASELINE is not a commit of this repository" >&2; exit 2; }
export BENCH_RECORDS="${BENCH_RECORDS:-300000}" BENCH_WARMUP="${BENCH_WARMUP:-50000}"
export BENCH_LOG_EVENTS_PER_RUN="${BENCH_LOG_EVENTS_PER_RUN:-0}"
bins=(--bin ingestion --bin standardization --bin processing --bin ingest-bench --bin stage-bench)

mkdir -p .bench
baseline=".bench/${rev:0:12}"
if [[ ! -d "$baseline" ]]; then
  git worktree add --detach "$baseline" "$rev" >/dev/null
fi
echo "bench-compare: building this checkout and ${rev:0:12} (release)"
cargo build --release --locked --quiet "${bins[@]}"
(cd "$baseline" && cargo build --release --locked --quiet "${bins[@]}")

# One run of tree $1 (a directory): its records/s and the CPU seconds of the three services
# and the broker together over the measured phases, on stdout; nothing when the run failed
# (it is read from a process substitution, where an exit would end only that subshell:
# the loop below stops on the missing figure).
run() {
  local tree="$1" log="$2"
  (cd "$tree" && scripts/bench-e2e.sh) >"$log" 2>&1 ||
    { echo "bench-compare: a run failed, see $log" >&2; return 1; }
  awk '/^end to end: [0-9]+ records processed/ { r = $(NF - 1) }
       /^(ingestion|standardization|processing|broker): .*CPU [0-9.]+ s$/ { c += $(NF - 1) }
       END { printf "%s %.1f\n", r, c }' "$log"
}

head_rev=$(git rev-parse --short=12 HEAD)
echo "bench-compare: $PAIRS pairs, $BENCH_RECORDS records, $BENCH_LOG_EVENTS_PER_RUN log events per run; this checkout ($head_rev$(git diff --quiet HEAD || echo ', modified')) against ${rev:0:12}"
# Records/s of each tree, their ratio, and each tree's CPU seconds (services and broker,
# over the latency and throughput phases): on two busy cores the CPU a run needs is what
# sets its pace, and it shows where a slow run spent it.
printf '%-5s %-9s %12s %12s %7s %9s %9s\n' pair first "${rev:0:12}" this ratio "CPU base" "CPU this"
ratios=()
for pair in $(seq 1 "$PAIRS"); do
  if ((pair % 2)); then
    first=baseline
    read -r base base_cpu < <(run "$baseline" ".bench/compare-$pair-baseline.log")
    read -r this this_cpu < <(run . ".bench/compare-$pair-this.log")
  else
    first=this
    read -r this this_cpu < <(run . ".bench/compare-$pair-this.log")
    read -r base base_cpu < <(run "$baseline" ".bench/compare-$pair-baseline.log")
  fi
  [[ -n "$base" && -n "$this" ]] || { echo "bench-compare: pair $pair printed no records/s (.bench/compare-$pair-*.log)" >&2; exit 1; }
  ratio=$(awk -v a="$this" -v b="$base" 'BEGIN { printf "%.1f", 100 * a / b }')
  ratios+=("$ratio")
  printf '%-5s %-9s %12s %12s %6s%% %8ss %8ss\n' "$pair" "$first" "$base" "$this" "$ratio" "$base_cpu" "$this_cpu"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '
  { r[NR] = $1; s += $1 }
  END { m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
        printf "this checkout against the baseline: median %.1f %%, mean %.1f %%, from %.1f to %.1f %%\n", m, s / NR, r[1], r[NR] }'
