#!/usr/bin/env bash
# Side-by-side benchmark: churnctl's random forest vs scikit-learn's
# RandomForestClassifier (../shared/bench/sklearn_rf.py) on the same CSV,
# 100 trees, balanced class weights, 5 stratified folds, seed 42, 2 jobs.
#
#   scripts/bench_train.sh [FEATURES.csv|FEATURES.parquet-dir]   (default: synthetic 32,000 x 31 table)
#
# Env: BIN (churnctl binary, default bin/churnctl, built if missing), SKLEARN_RF
# (default /work/shared/bench/sklearn_rf.py), PY (default /usr/bin/python3),
# LABEL (churn), ID (user_id), JOBS (2), TREES (100), ROWS (32000: the synthetic table), PEERS (1),
# PEER_LEAF (20: churnctl's default min_samples_leaf).
# Both tools train on every row of the table (train --holdout-users 0: churnctl's
# default keeps 20 % of users out for evaluate, sklearn_rf.py does not).
# The parity pass runs churnctl at scikit-learn's defaults (--min-samples-leaf 1, as
# sklearn_rf.py) and prints the churnctl summary line, the sklearn JSON line, then one
# JSON line of differences and ratios. Then (PEERS=0 skips it) churnctl trains again at
# min_samples_leaf PEER_LEAF and scripts/bench_peers.py compares it on its own outer folds
# (train --oof-out) with sklearn's RandomForest (same min_samples_leaf), HistGradientBoosting
# and LogisticRegression: churn F1 nested/tuned, ROC-AUC, PR-AUC, lift@10 %, Brier, fit wall;
# one JSON line per learner and one of differences.
# sklearn needs: apt-get install -y python3-sklearn python3-pandas
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/churnctl}
SKLEARN_RF=${SKLEARN_RF:-/work/shared/bench/sklearn_rf.py}
PY=${PY:-/usr/bin/python3}
LABEL=${LABEL:-churn}
ID=${ID:-user_id}
JOBS=${JOBS:-2}
TREES=${TREES:-100}
PEERS=${PEERS:-1}
PEER_LEAF=${PEER_LEAF:-20}
ROWS=${ROWS:-32000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$BIN" ] || make build >/dev/null
IN=${1:-}
if [ -z "$IN" ]; then
  IN=$WORK/synth.csv
  go run ./scripts/gensynth -rows "$ROWS" -features 31 -seed 1 >"$IN"
fi
# One CSV both tools read: Parquet is converted, non-feature columns
# (as_of, strings other than the id) are dropped, as churnctl ignores as_of.
CSV=$WORK/bench.csv
"$PY" - "$IN" "$CSV" "$LABEL" "$ID" <<'PYEOF'
import sys, glob, os
import pandas as pd
src, dst, label, idc = sys.argv[1:5]
if os.path.isdir(src):
    files = sorted(glob.glob(os.path.join(src, "**", "*.parquet"), recursive=True)) or sorted(glob.glob(os.path.join(src, "**", "*.csv"), recursive=True))
    df = pd.concat([pd.read_parquet(f) if f.endswith(".parquet") else pd.read_csv(f) for f in files], ignore_index=True)
elif src.endswith(".parquet"):
    df = pd.read_parquet(src)
else:
    df = pd.read_csv(src)
# churnctl stores category features (gender, os, state) as their values and
# reads them as codes through features.schema.json: give sklearn the codes too.
import json
schemas = glob.glob(os.path.join(src if os.path.isdir(src) else os.path.dirname(src), "**", "features.schema.json"), recursive=True)
if schemas:
    for f in json.load(open(schemas[0]))["features"]:
        if f["type"] == "category" and f["name"] in df.columns and df[f["name"]].dtype == object:
            df[f["name"]] = df[f["name"]].map({v: i for i, v in enumerate(f["categories"])})
drop = [c for c in df.columns if c not in (label, idc) and (c == "as_of" or df[c].dtype == object)]
df = df.drop(columns=drop)
for c in df.columns:
    if df[c].dtype == bool:
        df[c] = df[c].astype(int)
df.to_csv(dst, index=False)
PYEOF

train() { # train LEAF NAME [more flags]
  local leaf=$1 name=$2; shift 2
  "$BIN" train --features "$CSV" --label "$LABEL" --id "$ID" --registry "$WORK/reg" --name "$name" --holdout-users 0 \
    --min-samples-leaf "$leaf" --trees "$TREES" --class-weight balanced --folds 5 --seed 42 --jobs "$JOBS" --log-level warn "$@" | tail -1
}
CH=$(train 1 bench)
SK=$("$PY" "$SKLEARN_RF" "$CSV" --label "$LABEL" --id "$ID" --trees "$TREES" --folds 5 --jobs "$JOBS" --class-weight balanced --seed 42)
echo "$CH"
echo "$SK"
"$PY" - "$CH" "$SK" <<'PYEOF'
import json, sys
c, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "f1_churnctl": c["cv_f1"], "f1_sklearn": s["oof_f1"], "f1_diff": c["cv_f1"] - s["oof_f1"],
    "f1_bar_ok": c["cv_f1"] >= s["oof_f1"] - 0.01,
    "roc_auc_churnctl": c["cv_roc_auc"], "roc_auc_sklearn": s["oof_roc_auc"], "roc_auc_diff": c["cv_roc_auc"] - s["oof_roc_auc"],
    "roc_auc_bar_ok": abs(c["cv_roc_auc"] - s["oof_roc_auc"]) <= 0.005,
    "pr_auc_churnctl": c["cv_pr_auc"], "pr_auc_sklearn": s["oof_pr_auc"],
    "f1_tuned_churnctl": c["cv_f1_tuned"], "tuned_above_0.5": c["cv_f1_tuned"] > c["cv_f1"],
    "fit_seconds_churnctl": c["fit_seconds"], "fit_seconds_sklearn": s["fit_all_seconds"],
    "fit_ratio_churnctl_over_sklearn": c["fit_seconds"] / s["fit_all_seconds"],
    "fit_bar_ok": c["fit_seconds"] <= 0.5 * s["fit_all_seconds"],
    "total_ms_churnctl": c["duration_ms"]}))
PYEOF
if [ "$PEERS" != 0 ]; then
  train "$PEER_LEAF" peers --oof-out "$WORK/oof.csv" | tee "$WORK/summary.json"
  OMP_NUM_THREADS=$JOBS "$PY" scripts/bench_peers.py "$CSV" "$WORK/oof.csv" "$WORK/summary.json" --label "$LABEL" --id "$ID" \
    --trees "$TREES" --jobs "$JOBS" --seed 42 --min-samples-leaf "$PEER_LEAF"
fi
