#!/usr/bin/env bash
# Quality of the streaming anomaly detectors, measured (too slow for `cargo test`):
#   * NAB score of `backtest` (the processing service's detector, default configuration)
#     on the NAB files, all three profiles, at the shipped warning level and at the best
#     threshold (--sweep), and on the two halves of the files (docs/detection.md);
#   * ROC-AUC of the Isolation Forest on the ODDS sets shuttle and mammography
#     (tests/fixtures/odds), trained in batch as in the paper (100 trees, 256-point
#     subsamples), over 5 seeds, and again with the streaming forest's trees and
#     subsample (the configuration in effect);
#   * precision and recall of the alerts on the sample generator's labelled data;
#   * accuracy and per-severity precision/recall/F1 of the log-event severity classifier
#     on the held-out part of its corpus (crates/severity/corpus), and its training time.
# Usage: scripts/eval.sh [extra backtest flags, e.g. --config my.json]
#
# The NAB files and their scorer are not in the repository:
#   NAB_DIR     directory with data/<category>/<file>.csv and labels/combined_windows.json
#               (default: ../shared/data/nab next to the repository, when it exists)
#   NAB_SCORER  nab_score.py (default: ../shared/tools/nab_score.py, when it exists)
# When either is not found the NAB part is skipped with a line saying what to set and the
# rest runs; when NAB_DIR or NAB_SCORER is set and names nothing usable, the script fails
# before building anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODDS="$ROOT/tests/fixtures/odds"
cd "$ROOT"

nab_requested=0
[[ -n "${NAB_DIR:-}" || -n "${NAB_SCORER:-}" ]] && nab_requested=1
NAB_DIR="${NAB_DIR:-$ROOT/../shared/data/nab}"
NAB_SCORER="${NAB_SCORER:-$ROOT/../shared/tools/nab_score.py}"

need=()
[[ -d "$NAB_DIR/data" && -f "$NAB_DIR/labels/combined_windows.json" ]] ||
  need+=("NAB_DIR=<folder with data/ and labels/combined_windows.json> (none at $NAB_DIR)")
[[ -f "$NAB_SCORER" ]] || need+=("NAB_SCORER=<path of nab_score.py> (none at $NAB_SCORER)")
run_nab=1
if ((${#need[@]})); then
  run_nab=0
  to_set="${need[0]}${need[1]:+ and ${need[1]}}"
  if ((nab_requested)); then
    echo "eval: error: NAB asked for (NAB_DIR or NAB_SCORER is set) but not found: set $to_set" >&2
    exit 1
  fi
  skipped="NAB part skipped: set $to_set"
  echo "eval: $skipped" >&2
fi

cargo build --release --locked -p obs-backtest -p obs-severity
BACKTEST="$ROOT/target/release/backtest"

if ((run_nab)); then
  OUT="$(mktemp -d)"
  trap 'rm -rf "$OUT"' EXIT

  threshold="$("$BACKTEST" --print-config "$@" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["levels"]["warning"])')"

  echo "== backtest over $NAB_DIR/data"
  "$BACKTEST" --input "$NAB_DIR/data" --output "$OUT/nab" "$@"

  nab() {
    python3 "$NAB_SCORER" --data "$NAB_DIR/data" \
      --labels "$NAB_DIR/labels/combined_windows.json" --results "$OUT/nab" "$@"
  }
  echo
  echo "== NAB at the shipped warning level ($threshold)"
  nab --threshold "$threshold"
  echo
  echo "== NAB at the best threshold per profile"
  nab --sweep
  echo
  # The halves of docs/detection.md: the defaults were chosen on half A and checked on
  # half B, the labelled files in sorted order taken alternately.
  python3 - "$NAB_DIR/labels/combined_windows.json" "$OUT" <<'PY'
import json, sys
files = sorted(json.load(open(sys.argv[1])))
for name, part in (("a", files[0::2]), ("b", files[1::2])):
    with open(f"{sys.argv[2]}/half_{name}.txt", "w") as out:
        out.write("\n".join(part) + "\n")
PY
  echo "== NAB at the shipped warning level, half A (defaults chosen on it)"
  nab --threshold "$threshold" --files "$OUT/half_a.txt"
  echo
  echo "== NAB at the shipped warning level, half B (held out)"
  nab --threshold "$threshold" --files "$OUT/half_b.txt"
  echo
fi

echo "== Isolation Forest ROC-AUC on ODDS (batch, 100 trees, ψ = 256)"
"$BACKTEST" --odds "$ODDS/shuttle.csv" --odds "$ODDS/mammography.csv" --repeat 5

read -r trees subsample < <("$BACKTEST" --print-config "$@" |
  python3 -c 'import json, sys; f = json.load(sys.stdin)["forest"]; print(f["trees"], f["subsample"])')
echo
echo "== the same with the streaming forest's settings ($trees trees, ψ = $subsample)"
"$BACKTEST" --odds "$ODDS/shuttle.csv" --odds "$ODDS/mammography.csv" --repeat 5 \
  --trees "$trees" --subsample "$subsample"

echo
echo "== Alerts against the sample generator's labels (rules, detectors, any; 400 hours)"
"$BACKTEST" --labelled "$@"

echo
echo "== Severity classifier of application log events (held-out part of its corpus)"
"$ROOT/target/release/severity-eval"

if ((!run_nab)); then
  echo
  echo "eval: $skipped" >&2
fi
