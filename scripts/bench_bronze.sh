#!/usr/bin/env bash
# bench_bronze.sh: times `churnctl etl bronze` (JSON lines -> partitioned Parquet) against DuckDB's
# `duckpeer ingest` (JSON -> Parquet, zstd) on the same generated files in the same run, as whole
# processes under /usr/bin/time -v (wall clock and peak RSS), at about 1.07 GB and about 3.42 GB (--users
# chosen by scripts/gen_users.sh for those sizes); then the line decoder's go benchmark. The big files are deleted at the end.
#
# usage: scripts/bench_bronze.sh [path/to/churnctl]
# env:   BENCH_DIR (scratch, default /tmp/churnctl-bench-bronze), DUCKPEER (binary; built from
#        /work/shared/bench/duckpeer when missing), SIZES (--users per input; default: those of
#        about 1.07 GB and 3.42 GB), REPEAT (runs per
#        tool and size, interleaved; the best wall time is reported; default 1)
set -euo pipefail
bin=${1:-bin/churnctl}
work=${BENCH_DIR:-/tmp/churnctl-bench-bronze}
duck=${DUCKPEER:-/tmp/duckpeer/duckpeer}
sizes=${SIZES:-"$(BIN=$bin "$(dirname "$0")/gen_users.sh" 1073225472 1) $(BIN=$bin "$(dirname "$0")/gen_users.sh" 3415984586 1)"}
repeat=${REPEAT:-1}
mkdir -p "$work"
trap 'rm -rf "$work"/events-*.json "$work"/lake-* "$work"/duck-*.parquet "$work"/decode.txt' EXIT

if [ ! -x "$duck" ]; then
	echo "building duckpeer (a few minutes)..." >&2
	rm -rf "$(dirname "$duck")" && cp -r /work/shared/bench/duckpeer "$(dirname "$duck")"
	(cd "$(dirname "$duck")" && go build -o duckpeer .)
fi

# timed LABEL CMD...: runs CMD under /usr/bin/time -v, prints "wall_s rss_mib"
timed() {
	local log="$work/time.$1"; shift
	/usr/bin/time -v "$@" >"$log.out" 2>"$log" || { echo "FAILED: $*" >&2; tail -5 "$log" >&2; tail -2 "$log.out" >&2; exit 1; }
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
		/Maximum resident set size/ { r = $2 / 1024 }
		END { printf "%.2f %.0f\n", w, r }' "$log"
}

printf '%-8s %-9s %-10s %-10s %-10s %-10s %-8s\n' users json_GB churn_s churn_MiB duck_s duck_MiB ratio
for users in $sizes; do
	json="$work/events-$users.json"
	"$bin" generate --users "$users" --days 60 --seed 1 --out "$json" >/dev/null 2>&1
	gb=$(awk -v b="$(stat -c %s "$json")" 'BEGIN { printf "%.2f", b / 1e9 }')
	best_c=999999; best_d=999999; rss_c=0; rss_d=0
	for i in $(seq "$repeat"); do
		rm -rf "$work/lake-$users"
		read -r w r < <(timed churnctl "$bin" etl bronze --no-progress --log-level warn --lake "$work/lake-$users" "$json")
		awk -v a="$w" -v b="$best_c" 'BEGIN { exit !(a < b) }' && best_c=$w
		[ "${r%.*}" -gt "$rss_c" ] && rss_c=${r%.*}
		tail -1 "$work/time.churnctl.out" >&2
		rm -f "$work/duck-$users.parquet"
		read -r w r < <(DUCK_PRESERVE_ORDER=false timed duckdb "$duck" ingest "$json" "$work/duck-$users.parquet")
		awk -v a="$w" -v b="$best_d" 'BEGIN { exit !(a < b) }' && best_d=$w
		[ "${r%.*}" -gt "$rss_d" ] && rss_d=${r%.*}
	done
	if [ -z "${decoded:-}" ]; then
		# The line decoder alone and decode -> Arrow, on the first 64 MiB of this file (cpu-s/GB is
		# robust to a busy machine; MB/s is wall time).
		(cd "$(dirname "$0")/.." && BRONZE_BENCH_FILE="$json" go test -run XXX -bench 'Decode' -benchtime 5x ./etl/bronze/ | grep Benchmark) >"$work/decode.txt" 2>&1 || true
		decoded=1
	fi
	ratio=$(awk -v a="$best_c" -v b="$best_d" 'BEGIN { printf "%.2f", a / b }')
	printf '%-8s %-9s %-10s %-10s %-10s %-10s %-8s\n' "$users" "$gb" "$best_c" "$rss_c" "$best_d" "$rss_d" "$ratio"
	rm -rf "$json" "$work/lake-$users" "$work/duck-$users.parquet"
done
echo "ratio = churnctl wall / duckpeer wall (lower is better; the bar is <= 1.00)"

cat "$work/decode.txt"
