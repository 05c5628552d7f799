#!/usr/bin/env bash
# bench_features.sh: churnctl features vs DuckDB (duckpeer) on the same data, same run.
#
#   scripts/bench_features.sh [INPUT.json]
#
# Without INPUT, generates a ~3.42 GB dataset with `churnctl generate` into $WORK (--users from
# scripts/gen_users.sh).
# Measures, each REPS times (best and all runs printed):
#   1. Parquet → features for one cutoff: `churnctl features --lake L --as-of T` (gold → snapshot)
#      vs `duckpeer features bronze.parquet out.parquet` (DuckDB's per-user feature query).
#   2. JSON → features end to end: `churnctl etl` + `churnctl features`
#      vs `duckpeer ingest` (with DUCK_PRESERVE_ORDER=false, its fastest setting) + `duckpeer features`.
# Env: WORK (default /tmp/churnctl-bench-features), REPS (3), AS_OF (default: last gold day − 30 days),
#      DUCKPEER (path to a built duckpeer; built from ../shared/bench/duckpeer if missing), SKIP_ETL=1
#      (reuse $WORK/lake and $WORK/duck_events.parquet: Parquet → features only), USERS (default: about 3.42 GB), DAYS (60).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/churnctl-bench-features}
REPS=${REPS:-3}
mkdir -p "$WORK"
BIN=$WORK/churnctl
CGO_ENABLED=0 go build -trimpath -o "$BIN" ./cmd/churnctl

DUCKPEER=${DUCKPEER:-}
if [ -z "$DUCKPEER" ]; then
  for p in /tmp/duckpeer/duckpeer /tmp/duckpeer-features/duckpeer /tmp/duckpeer-bronze/duckpeer; do
    if [ -x "$p" ]; then DUCKPEER=$p; break; fi
  done
fi
if [ -z "$DUCKPEER" ]; then
  rm -rf /tmp/duckpeer-features && cp -r ../shared/bench/duckpeer /tmp/duckpeer-features
  (cd /tmp/duckpeer-features && go build -o duckpeer .)
  DUCKPEER=/tmp/duckpeer-features/duckpeer
fi

IN=${1:-}
if [ -z "$IN" ]; then
  IN=$WORK/events.json
  if [ ! -s "$IN" ]; then
    USERS=${USERS:-$(BIN=$BIN scripts/gen_users.sh 3415984586 1 "${DAYS:-60}")}
    "$BIN" generate --users "$USERS" --days "${DAYS:-60}" --out "$IN" >/dev/null
  fi
fi
echo "input: $IN ($(du -h "$IN" | cut -f1))"

# t CMD...: run, print "seconds maxrss_MiB" of the run.
t() {
  /usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" >"$WORK/last.out" 2>"$WORK/last.err" || {
    cat "$WORK/last.err" >&2; return 1; }
  awk '{printf "%.2f %.0f", $1, $2/1024}' "$WORK/time.txt"
}

LAKE=$WORK/lake
etl_runs=()
feat_runs=()
duck_ing=()
duck_feat=()
# cutoff: the last labeled one for H = 30 days (last gold day - 29 days)
cutoff() {
  if [ -z "${AS_OF:-}" ]; then
    last=$(ls "$LAKE/gold/fact_user_day" | sed -n 's/^dt=//p' | sort | tail -1)
    AS_OF=$(date -u -d "$last -29 days" +%F)
    echo "cutoff: $AS_OF (horizon 30d)"
  fi
}
# Every repetition runs churnctl and duckpeer back to back, so both see about the same load.
for r in $(seq "$REPS"); do
  if [ "${SKIP_ETL:-}" != 1 ]; then
    rm -rf "$LAKE"
    etl_runs+=("$(t "$BIN" etl --lake "$LAKE" "$IN")")
  fi
  cutoff
  feat_runs+=("$(t "$BIN" features --lake "$LAKE" --as-of "$AS_OF" --horizon 30d)")
  cp "$WORK/last.out" "$WORK/features.out"
  if [ "${SKIP_ETL:-}" != 1 ] || [ ! -s "$WORK/duck_events.parquet" ]; then
    # DuckDB's fastest ingest setting (../shared/bench/README.md), as in bench_etl.sh.
    duck_ing+=("$(DUCK_PRESERVE_ORDER=false t "$DUCKPEER" ingest "$IN" "$WORK/duck_events.parquet")")
  fi
  duck_feat+=("$(t "$DUCKPEER" features "$WORK/duck_events.parquet" "$WORK/duck_features.parquet")")
done
[ ${#etl_runs[@]} -gt 0 ] || etl_runs=("0 0")
[ ${#duck_ing[@]} -gt 0 ] || duck_ing=("0 0")

best() { printf '%s\n' "$@" | sort -n | head -1; }
echo
printf '%-34s %-10s %-10s %s\n' step best_s rss_MiB "all runs (s rss)"
printf '%-34s %-10s %-10s %s\n' "churnctl etl (JSON→gold)" $(best "${etl_runs[@]}") "${etl_runs[*]}"
printf '%-34s %-10s %-10s %s\n' "churnctl features (gold→snapshot)" $(best "${feat_runs[@]}") "${feat_runs[*]}"
printf '%-34s %-10s %-10s %s\n' "duckpeer ingest (JSON→Parquet)" $(best "${duck_ing[@]}") "${duck_ing[*]}"
printf '%-34s %-10s %-10s %s\n' "duckpeer features (Parquet→feat)" $(best "${duck_feat[@]}") "${duck_feat[*]}"
fe=$(best "${feat_runs[@]}" | cut -d' ' -f1)
df=$(best "${duck_feat[@]}" | cut -d' ' -f1)
ee=$(best "${etl_runs[@]}" | cut -d' ' -f1)
di=$(best "${duck_ing[@]}" | cut -d' ' -f1)
tail -1 "$WORK/features.out"
awk -v fe="$fe" -v df="$df" -v ee="$ee" -v di="$di" 'BEGIN {
  printf "\nParquet→features: churnctl %.2f s vs duckdb %.2f s: ratio %.2f (bar ≤ 1), best runs\n", fe, df, fe/df
  if (ee > 0 && di > 0) printf "JSON→features:    churnctl %.2f s vs duckdb %.2f s: ratio %.2f (bar ≤ 1), best runs\n", ee+fe, di+df, (ee+fe)/(di+df)
}'
