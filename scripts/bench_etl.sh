#!/usr/bin/env bash
# bench_etl.sh — times `churnctl etl` (bronze → silver → gold) against
# DuckDB's `duckpeer ingest` (JSON → Parquet) on the same generated file, in
# the same run, and checks the bar of issue 4: churnctl's wall time at most
# 1.3× DuckDB's, peak RSS under 1 GiB.
#
# Env: BIN (churnctl binary, default bin/churnctl), DUCKPEER (default
# /tmp/duckpeer/duckpeer, see ../shared/bench/README.md), BENCH_DIR (work
# dir, default /tmp/churnctl-bench-etl), BENCH_USERS (default 32000: about
# 3.4 GB), BENCH_JSON (use this file instead of generating one).
set -euo pipefail

BIN=${BIN:-bin/churnctl}
DUCK=${DUCKPEER:-/tmp/duckpeer/duckpeer}
WORK=${BENCH_DIR:-/tmp/churnctl-bench-etl}
USERS=${BENCH_USERS:-32000}
JSON=${BENCH_JSON:-$WORK/events-$USERS.json}
mkdir -p "$WORK"

if [ ! -s "$JSON" ]; then
	echo "generating $JSON ($USERS users)..." >&2
	"$BIN" generate --users "$USERS" --out "$JSON" --no-progress >/dev/null
fi
bytes=$(stat -c %s "$JSON")

# timed NAME CMD... : runs CMD, records "wall_s peak_kib" in $WORK/NAME.time.
timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		local rc=$?
		echo "$name failed (exit $rc):" >&2
		tail -5 "$WORK/$name.err" >&2
		tail -1 "$WORK/$name.out" >&2
		return $rc
	}
}
wall() { cut -d' ' -f1 "$WORK/$1.time"; }
rss_mib() { echo $(($(cut -d' ' -f2 "$WORK/$1.time") / 1024)); }

# DuckDB: JSON → Parquet, its fastest setting.
duck_wall=NA
if [ -x "$DUCK" ]; then
	rm -f "$WORK/duck.parquet"
	DUCK_PRESERVE_ORDER=false timed duck "$DUCK" ingest "$JSON" "$WORK/duck.parquet"
	duck_wall=$(wall duck)
	rm -f "$WORK/duck.parquet"
else
	echo "no DuckDB peer at $DUCK (build it: see ../shared/bench/README.md); ratios skipped" >&2
fi

# churnctl: the whole chain in one process.
rm -rf "$WORK/lake"
if timed etl "$BIN" etl --lake "$WORK/lake" --no-progress --log-format json "$JSON"; then
	etl_wall=$(wall etl)
	etl_rss=$(rss_mib etl)
	mode="one process"
else
	# `etl INPUT` not wired to bronze in this build: bronze, then silver+gold.
	rm -rf "$WORK/lake"
	timed bronze "$BIN" etl bronze --lake "$WORK/lake" --no-progress --log-format json "$JSON"
	timed etl "$BIN" etl --lake "$WORK/lake" --no-progress --log-format json
	etl_wall=$(echo "$(wall bronze) + $(wall etl)" | bc)
	etl_rss=$(( $(rss_mib bronze) > $(rss_mib etl) ? $(rss_mib bronze) : $(rss_mib etl) ))
	mode="etl bronze + etl (silver+gold)"
fi
# silver+gold alone, re-run on the lake just built.
timed silvergold "$BIN" etl --lake "$WORK/lake" --no-progress --log-format json

# Cross-check gold against DuckDB computing the same daily aggregates
# straight from bronze (an independent reader and implementation).
check=skipped
if [ -x "$DUCK" ]; then
	L="$WORK/lake"
	check=$("$DUCK" query "with b as (select user_id, cast(ts at time zone 'UTC' as date) d, count(*) n, count(distinct session_id) s,
		sum(case when page='NextSong' then length else 0 end) l, count(distinct case when page='NextSong' then artist end) a
		from (select distinct * exclude (source_file, line_number, ingest_run_id) from read_parquet('$L/bronze/events/*/*.parquet'))
		where user_id <> '' group by 1, 2),
		g as (select user_id, dt d, n_events n, n_sessions s, listen_seconds l, distinct_artists a
		from read_parquet('$L/gold/fact_user_day/*/*.parquet'))
		select count(*) || ' user-days, ' || sum(case when b.n = g.n and b.s = g.s and abs(b.l - g.l) < 1e-6 and b.a = g.a then 1 else 0 end) || ' equal'
		from b full join g using (user_id, d)" | tail -1)
fi

echo "input: $JSON ($bytes bytes)"
echo "gold fact_user_day vs DuckDB on bronze: $check"
echo "summary: $(tail -1 "$WORK/etl.out")"
printf 'churnctl etl (%s): %s s, peak RSS %s MiB\n' "$mode" "$etl_wall" "$etl_rss"
printf 'churnctl silver+gold alone (re-run): %s s, peak RSS %s MiB\n' "$(wall silvergold)" "$(rss_mib silvergold)"
status=0
if [ "$duck_wall" != NA ]; then
	ratio=$(echo "scale=3; $etl_wall / $duck_wall" | bc)
	printf 'duckpeer ingest: %s s, peak RSS %s MiB\n' "$duck_wall" "$(rss_mib duck)"
	printf 'ratio churnctl/duckdb: %s (bar <= 1.3)\n' "$ratio"
	if [ "$(echo "$ratio > 1.3" | bc)" = 1 ]; then
		echo "FAIL: wall time bar" >&2
		status=1
	fi
fi
if [ "$etl_rss" -ge 1024 ]; then
	echo "FAIL: peak RSS $etl_rss MiB >= 1024 MiB" >&2
	status=1
fi
exit $status
