#!/usr/bin/env bash
# Load 1,000,000 fact_user_day rows into a private PostgreSQL 15 three ways in
# the same run, alternating, and print rows/s and ratios:
#   load_rows/s    churnctl's loader into empty days (Parquet -> binary COPY)
#   upsert_rows/s  the same days again with changed values (staging + upsert)
#   psql_rows/s    psql -c "\copy churn.fact_user_day ... from CSV" of the same rows
# Bar: ratio (load / psql) >= 0.8. Needs the PostgreSQL server binaries and psql.
# Usage: scripts/bench_load.sh [ITERATIONS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-3}"
go test -count=1 -run '^$' -bench 'BenchmarkLoadVsPsql' -benchtime "${n}x" -timeout 60m ./sql/
