#!/usr/bin/env bash
# Quality of the streaming anomaly detectors, measured (too slow for `cargo test`):
#   * NAB score of `backtest` (the processing service's detector, default configuration)
#     on the NAB files in ../shared/data/nab, all three profiles, at the shipped warning
#     level and at the best threshold (--sweep);
#   * ROC-AUC of the Isolation Forest on the ODDS sets shuttle and mammography, trained in
#     batch as in the paper (100 trees, 256-point subsamples), over 5 seeds.
# Usage: scripts/eval.sh [extra backtest flags, e.g. --config my.json]
# SHARED overrides the location of the shared data (default: ../shared next to the repo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$(cd "${SHARED:-$ROOT/../shared}" && pwd)"
DATA="$SHARED/data"
cd "$ROOT"

cargo build --release --locked -p obs-backtest
BACKTEST="$ROOT/target/release/backtest"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

threshold="$("$BACKTEST" --print-config "$@" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["levels"]["warning"])')"

echo "== backtest over $DATA/nab/data"
"$BACKTEST" --input "$DATA/nab/data" --output "$OUT/nab" "$@"

nab() {
  python3 "$SHARED/tools/nab_score.py" --data "$DATA/nab/data" \
    --labels "$DATA/nab/labels/combined_windows.json" --results "$OUT/nab" "$@"
}
echo
echo "== NAB at the shipped warning level ($threshold)"
nab --threshold "$threshold"
echo
echo "== NAB at the best threshold per profile"
nab --sweep

echo
echo "== Isolation Forest ROC-AUC on ODDS (batch, 100 trees, ψ = 256)"
"$BACKTEST" --odds "$DATA/odds/shuttle.csv" --odds "$DATA/odds/mammography.csv" --repeat 5

echo
echo "== Alerts against the sample generator's labels (rules, detectors, any; 400 hours)"
"$BACKTEST" --labelled "$@"
