#!/usr/bin/env bash
# bench_scale.sh — does churnctl etl stay linear in time and flat in memory as the input grows?
# Generates ~1 GB, ~3.4 GB and ~11.8 GB logs (the full Sparkify size), times `churnctl etl` on each
# with a fresh lake (/usr/bin/time: wall seconds, peak RSS), prints seconds per GB and peak RSS with
# their ratios to the smallest size, and checks the bars of issue 15: s/GB at the largest size within
# 1.15x of the smallest, peak RSS within 1.25x. Each input and lake is deleted after its step.
# With FULL_RUN=1 it then times the whole `churnctl run` (etl, features, train, evaluate, score) on
# the largest input and prints its summary line (held-out metrics included).
#
# Env: BIN (default bin/churnctl), BENCH_DIR (default /tmp/churnctl-bench-scale), USERS (the
# --users of each size, default "9400 32000 110000": ~1.0, ~3.4 and ~11.8 GB), FULL_RUN (0).
set -euo pipefail

BIN=${BIN:-bin/churnctl}
WORK=${BENCH_DIR:-/tmp/churnctl-bench-scale}
read -r -a SIZES <<<"${USERS:-9400 32000 110000}"
FULL_RUN=${FULL_RUN:-0}
mkdir -p "$WORK"
trap 'rm -rf "$WORK/events.json" "$WORK/lake" "$WORK/runlake"' EXIT

largest=${SIZES[${#SIZES[@]}-1]}
need_gb=$((largest * 107 / 1000000 * 3 + 2)) # input + bronze/silver/gold lake, with room
free_gb=$(df -Pk "$WORK" | awk 'NR == 2 { print int($4 / 1048576) }')
if [ "$free_gb" -lt "$need_gb" ]; then
	echo "bench_scale: $WORK has $free_gb GB free, the largest size needs about $need_gb GB" >&2
	exit 1
fi

timed() { # NAME CMD...: runs CMD, prints "wall_s peak_mib"
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		echo "$name failed:" >&2
		tail -5 "$WORK/$name.err" >&2
		exit 1
	}
	awk '{ printf "%s %d\n", $1, $2 / 1024 }' "$WORK/$name.time"
}

printf '%-8s %8s %10s %8s %8s %9s %9s\n' users GB events wall_s s/GB rss_MiB warnings
base_spg="" base_rss="" spg="" rss=""
for u in "${SIZES[@]}"; do
	rm -f "$WORK/events.json"
	"$BIN" generate --users "$u" --seed 11 --out "$WORK/events.json" --no-progress >/dev/null 2>"$WORK/gen.err"
	bytes=$(stat -c %s "$WORK/events.json")
	rm -rf "$WORK/lake"
	read -r w rss < <(timed etl "$BIN" etl --lake "$WORK/lake" --no-progress --log-format json "$WORK/events.json")
	gb=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1e9 }')
	spg=$(awk -v w="$w" -v b="$bytes" 'BEGIN { printf "%.3f", w / (b / 1e9) }')
	events=$(tail -1 "$WORK/etl.out" | grep -o '"bronze_rows":[0-9]*' | cut -d: -f2 || true)
	warns=$(grep -c '"level":"WARN"' "$WORK/etl.err" || true)
	printf '%-8s %8s %10s %8s %8s %9s %9s\n' "$u" "$gb" "${events:-?}" "$w" "$spg" "$rss" "$warns"
	[ -z "$base_spg" ] && base_spg=$spg base_rss=$rss
	if [ "$FULL_RUN" = 1 ] && [ "$u" = "$largest" ]; then
		rm -rf "$WORK/lake" # keep the input for the whole run
		read -r rw rr < <(timed run "$BIN" run --lake "$WORK/runlake" --inputs "$WORK/events.json" --no-progress --log-format json)
		echo "full run on $gb GB: wall ${rw} s, peak RSS ${rr} MiB; summary:"
		tail -1 "$WORK/run.out"
	fi
	rm -rf "$WORK/lake" "$WORK/runlake" "$WORK/events.json"
done

awk -v a="$spg" -v b="$base_spg" -v r="$rss" -v rb="$base_rss" 'BEGIN {
	t = a / b; m = r / rb
	printf "largest vs smallest: s/GB %.2fx (bar <= 1.15), peak RSS %.2fx (bar <= 1.25)\n", t, m
	exit !(t <= 1.15 && m <= 1.25)
}'
