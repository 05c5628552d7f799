#!/usr/bin/env bash
# bench_etl.sh — times `churnctl etl` (bronze → silver → gold, one process)
# against DuckDB's `duckpeer ingest` (JSON → Parquet) on the same generated
# file, in the same run (interleaved, best of REPEAT), and checks the bar of
# issue 4: churnctl's wall time at most 1.3× DuckDB's, peak RSS under 1 GiB.
# Also times silver+gold alone (`churnctl etl` re-run without inputs) and
# cross-checks gold/fact_user_day against DuckDB's own aggregation of bronze.
#
# Env: BIN (churnctl, default bin/churnctl), DUCKPEER (default
# /tmp/duckpeer/duckpeer; built from /work/shared/bench/duckpeer when
# missing), BENCH_DIR (default /tmp/churnctl-bench-etl), BENCH_USERS
# (default: the --users of about 3.42 GB, scripts/gen_users.sh), BENCH_JSON (use this file instead of
# generating one; it is kept), REPEAT (default 1).
set -euo pipefail

BIN=${BIN:-bin/churnctl}
DUCK=${DUCKPEER:-/tmp/duckpeer/duckpeer}
WORK=${BENCH_DIR:-/tmp/churnctl-bench-etl}
USERS=${BENCH_USERS:-$(BIN=$BIN "$(dirname "$0")/gen_users.sh" 3415984586 1)}
REPEAT=${REPEAT:-1}
mkdir -p "$WORK"
if [ -n "${BENCH_JSON:-}" ]; then
	JSON=$BENCH_JSON
	trap 'rm -rf "$WORK/lake" "$WORK/duck.parquet"' EXIT
else
	JSON=$WORK/events-$USERS.json
	trap 'rm -rf "$WORK/lake" "$WORK/duck.parquet" "$JSON"' EXIT
	echo "generating $JSON ($USERS users)..." >&2
	"$BIN" generate --users "$USERS" --days 60 --seed 1 --out "$JSON" --no-progress >/dev/null
fi
bytes=$(stat -c %s "$JSON")

if [ ! -x "$DUCK" ]; then
	echo "building duckpeer (a few minutes)..." >&2
	rm -rf "$(dirname "$DUCK")" && cp -r /work/shared/bench/duckpeer "$(dirname "$DUCK")"
	(cd "$(dirname "$DUCK")" && go build -o duckpeer .)
fi

# timed NAME CMD... : runs CMD, prints "wall_s peak_mib".
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		echo "$name failed:" >&2
		tail -5 "$WORK/$name.err" >&2
		tail -1 "$WORK/$name.out" >&2
		exit 1
	}
	awk '{ printf "%s %d\n", $1, $2 / 1024 }' "$WORK/$name.time"
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
maxi() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }

etl_w=999999 etl_r=0 duck_w=999999 duck_r=0 sg_w=999999 sg_r=0
pairs=""
for i in $(seq "$REPEAT"); do
	rm -f "$WORK/duck.parquet"
	read -r w r < <(DUCK_PRESERVE_ORDER=false timed duck "$DUCK" ingest "$JSON" "$WORK/duck.parquet")
	duck_w=$(best "$w" "$duck_w") duck_r=$(maxi "$r" "$duck_r")
	dw=$w
	rm -rf "$WORK/lake"
	read -r w r < <(timed etl "$BIN" etl --lake "$WORK/lake" --no-progress --log-format json "$JSON")
	etl_w=$(best "$w" "$etl_w") etl_r=$(maxi "$r" "$etl_r")
	# The ratio of each back-to-back pair: the machine's speed drifts less
	# within a pair than across the whole run.
	pairs="$pairs $(awk -v a="$w" -v b="$dw" 'BEGIN { printf "%.2f", a / b }')"
	read -r w r < <(timed silvergold "$BIN" etl --lake "$WORK/lake" --no-progress --log-format json)
	sg_w=$(best "$w" "$sg_w") sg_r=$(maxi "$r" "$sg_r")
done

# Gold fact_user_day against DuckDB computing the same daily aggregates
# straight from bronze (an independent reader and implementation).
L="$WORK/lake"
check=$("$DUCK" query "with b as (select user_id, cast(ts at time zone 'UTC' as date) d, count(*) n, count(distinct session_id) s,
	sum(case when page='NextSong' then length else 0 end) l, count(distinct case when page='NextSong' then artist end) a
	from (select distinct * exclude (source_file, line_number, ingest_run_id) from read_parquet('$L/bronze/events/*/*.parquet'))
	where user_id <> '' group by 1, 2),
	g as (select user_id, dt d, n_events n, n_sessions s, listen_seconds l, distinct_artists a
	from read_parquet('$L/gold/fact_user_day/*/*.parquet'))
	select count(*) || ' user-days, ' || sum(case when b.n = g.n and b.s = g.s and abs(b.l - g.l) < 1e-6 and b.a = g.a then 1 else 0 end) || ' equal'
	from b full join g using (user_id, d)" | tail -1)

ratio=$(awk -v a="$etl_w" -v b="$duck_w" 'BEGIN { printf "%.2f", a / b }')
echo "input: $JSON ($bytes bytes), best of $REPEAT"
echo "summary: $(tail -1 "$WORK/etl.out")"
grep -o '"msg":"\(bronze end\|silver end\|gold end\)"[^}]*"duration_ms":[0-9]*' "$WORK/etl.err" | sed 's/.*"msg":"\([a-z ]*\)".*"duration_ms":\([0-9]*\)/  \1: \2 ms/' || true
printf 'churnctl etl (bronze+silver+gold): %s s, peak RSS %s MiB\n' "$etl_w" "$etl_r"
printf 'churnctl silver+gold alone:        %s s, peak RSS %s MiB\n' "$sg_w" "$sg_r"
printf 'duckpeer ingest:                   %s s, peak RSS %s MiB\n' "$duck_w" "$duck_r"
printf 'ratio churnctl etl / duckpeer ingest: %s (bar <= 1.3); gold vs DuckDB: %s\n' "$ratio" "$check"
printf 'back-to-back pairs (etl / ingest):   %s\n' "$pairs"
status=0
if awk -v r="$ratio" 'BEGIN { exit !(r > 1.3) }'; then
	echo "FAIL: wall time ratio $ratio > 1.3" >&2
	status=1
fi
if [ "$etl_r" -ge 1024 ]; then
	echo "FAIL: peak RSS $etl_r MiB >= 1024 MiB" >&2
	status=1
fi
exit $status
