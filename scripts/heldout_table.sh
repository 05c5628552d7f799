#!/usr/bin/env bash
# heldout_table.sh LAKE OUT AS_OF...: held-out quality of churnctl's forest and of scikit-learn's
# RandomForest, HistGradientBoosting and LogisticRegression on the same rows. churnctl's forest is trained
# as `churnctl run` trains it (100 trees, balanced, 5 folds, the lake's snapshots of the AS_OF cutoffs
# stacked, less the 20 % of users train.holdout_users keeps out) and scored on every row; the peers are
# trained on the same training users' rows (CSV snapshots of the same cutoffs). Every model is judged on
# the held-out users only, at a threshold chosen on training rows (churnctl: its stored one; peers: the
# F1-best on their 5-fold out-of-fold probabilities, grouped by user): churn F1, ROC-AUC, PR-AUC, lift@10 %.
# Prints one JSON line per model (also OUT/table.jsonl).
#
#   churnctl generate --users 10000 --seed 11 --out /tmp/events.json
#   churnctl run --lake /tmp/lake10k --inputs /tmp/events.json
#   scripts/heldout_table.sh /tmp/lake10k /tmp/t-stacked 2018-10-17 2018-10-24 2018-10-31
#   scripts/heldout_table.sh /tmp/lake10k /tmp/t-one 2018-10-31
#
# Env: BIN (default bin/churnctl), PY (/usr/bin/python3; needs python3-sklearn, python3-pandas),
# LEAF (min_samples_leaf of both forests, default 20: churnctl's default), TRAIN_ARGS (more train flags).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/churnctl}
PY=${PY:-/usr/bin/python3}
[ $# -ge 3 ] || { echo "usage: heldout_table.sh LAKE OUT AS_OF..." >&2; exit 2; }
L=$1 O=$2; shift 2
rm -rf "$O"; mkdir -p "$O"
go build -o "$O/predcsv" ./scripts/predcsv
feats=(); csvs=()
for d in "$@"; do
  feats+=(--features "$L/features/as_of=$d")
  "$BIN" features --lake "$L" --as-of "$d" --horizon 30d --format csv --out "$O/f-$d.csv" --log-level warn >/dev/null
  csvs+=("$O/f-$d.csv")
done
# shellcheck disable=SC2086
"$BIN" train --registry "$O/reg" --name t --seed 42 --trees 100 --max-depth 0 --min-samples-leaf "${LEAF:-20}" --min-samples-split 2 \
  --max-features sqrt --class-weight balanced --folds 5 --holdout-users 0.2 ${TRAIN_ARGS:-} "${feats[@]}" --log-level warn | tail -1 >"$O/train.json"
"$BIN" score --registry "$O/reg" --model t@1 "${feats[@]}" --out "$O/pred.parquet" --log-level warn >/dev/null
"$O/predcsv" "$O/pred.parquet" >"$O/pred.csv"
LEAF=${LEAF:-20} "$PY" scripts/heldout_peers.py "$O/pred.csv" "${csvs[@]}" | tee "$O/table.jsonl"
