#!/usr/bin/env bash
# bench_scale.sh — issue 15 §3: churnctl etl must not slow down or grow in
# memory as the input grows. Generates ~1 GB, ~3.4 GB and ~11.8 GB logs
# (`churnctl generate --seed 11`, 60 days, --users chosen by
# scripts/gen_users.sh for 1.07, 3.42 and 11.8 GB; the last is the size of
# the full Sparkify dataset, and about its 22,278 users), times `churnctl etl`
# on each with /usr/bin/time -v, and prints seconds per GB and peak RSS with
# their ratios to the smallest input. Bars (largest vs smallest): seconds
# per GB within 1.15x, peak RSS within 1.25x. With FULL_RUN=1 it then times
# the whole `churnctl run` on the largest input (a fresh lake) and prints
# its wall time, peak RSS and the model's held-out metrics. Inputs and
# lakes are deleted afterwards, also on failure or interrupt.
#
# Env: BIN (default bin/churnctl), BENCH_DIR (default a new directory under
# /tmp), SIZES (--users per input, smallest first; default
# those of about 1.07, 3.42 and 11.8 GB; e.g. SIZES="40 80" for a smoke run), FULL_RUN=1,
# MIN_FREE_GB (default: 2.5 x the largest input's size).
set -euo pipefail

BIN=${BIN:-bin/churnctl}
[ -x "$BIN" ] || { echo "bench_scale: $BIN not found (make build)" >&2; exit 2; }
if [ -z "${SIZES:-}" ]; then
	SIZES=""
	for b in 1073225472 3415984586 11794478679; do SIZES="$SIZES $(BIN=$BIN "$(dirname "$0")/gen_users.sh" $b 11)"; done
fi
[ -x /usr/bin/time ] || { echo "bench_scale: /usr/bin/time is needed (apt-get install -y time)" >&2; exit 2; }
if [ -n "${BENCH_DIR:-}" ]; then
	WORK=$BENCH_DIR
	mkdir -p "$WORK"
	trap 'rm -rf "$WORK"/events-*.json "$WORK"/lake-* "$WORK"/run-lake' EXIT
else
	WORK=$(mktemp -d /tmp/churnctl-bench-scale.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM

# Disk: an input is about 540 KB per user (11.8 GB at about 22,000); each is
# deleted after its run, so the largest counts: its input, its lake (about
# a quarter of it), with FULL_RUN the lake of the whole run too, and room
# to spare: 2.5 x the largest input (30 GB at the default sizes).
largest=0
for u in $SIZES; do [ "$u" -gt "$largest" ] && largest=$u; done
need_gb=$(((largest * 540 * 5 / 2 + 1048575) / 1048576))
need_gb=${MIN_FREE_GB:-$need_gb}
free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
free_gb=$((free_kb / 1048576))
echo "bench_scale: $WORK: $free_gb GB free, needs about $need_gb GB" >&2
if [ "$free_gb" -lt "$need_gb" ]; then
	echo "bench_scale: not enough free disk in $WORK ($free_gb GB < $need_gb GB): free some or set BENCH_DIR" >&2
	exit 2
fi

# timed NAME CMD...: runs CMD under /usr/bin/time -v; sets wall (s) and rss (MiB).
timed() {
	local name=$1
	shift
	if ! /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
		echo "bench_scale: $name failed:" >&2
		tail -5 "$WORK/$name.err" >&2
		tail -1 "$WORK/$name.out" >&2
		exit 1
	fi
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$WORK/$name.time")
	rss=$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$WORK/$name.time")
}

printf '%-8s %9s %10s %9s %9s %9s %10s %9s %s\n' users bytes events etl_s s_per_GB ratio rss_MiB ratio reprocessed_days
base_spg="" base_rss="" status=0
for u in $SIZES; do
	json=$WORK/events-$u.json
	"$BIN" generate --users "$u" --days 60 --seed 11 --out "$json" --no-progress >"$WORK/gen-$u.out" 2>/dev/null
	bytes=$(stat -c %s "$json")
	events=$(tail -1 "$WORK/gen-$u.out" | grep -o '"events":[0-9]*' | cut -d: -f2)
	timed "etl-$u" "$BIN" etl --lake "$WORK/lake-$u" --no-progress --log-format json "$json"
	spg=$(awk -v w="$wall" -v b="$bytes" 'BEGIN { printf "%.2f", w / (b / 1e9) }')
	# "day processed again from bronze" must never appear: a day in pieces
	# is cleaned from memory.
	again=$(grep -c 'processed again from bronze' "$WORK/etl-$u.err" || true)
	if [ -z "$base_spg" ]; then base_spg=$spg base_rss=$rss; fi
	r1=$(awk -v a="$spg" -v b="$base_spg" 'BEGIN { printf "%.2f", a / b }')
	r2=$(awk -v a="$rss" -v b="$base_rss" 'BEGIN { printf "%.2f", a / b }')
	printf '%-8s %9s %10s %9s %9s %9s %10s %9s %s\n' "$u" "$bytes" "$events" "$wall" "$spg" "$r1" "$rss" "$r2" "$again"
	[ "$again" -eq 0 ] || { echo "FAIL: $u users: $again days processed again from bronze" >&2; status=1; }
	rm -rf "$WORK/lake-$u"
	if [ -z "${FULL_RUN:-}" ] || [ "$u" != "${SIZES##* }" ]; then rm -f "$json"; fi
done
if awk -v r="$r1" 'BEGIN { exit !(r > 1.15) }'; then
	echo "FAIL: seconds per GB at the largest input $r1 x the smallest's (bar 1.15)" >&2
	status=1
fi
if awk -v r="$r2" 'BEGIN { exit !(r > 1.25) }'; then
	echo "FAIL: peak RSS at the largest input $r2 x the smallest's (bar 1.25)" >&2
	status=1
fi

if [ -n "${FULL_RUN:-}" ]; then
	u=${SIZES##* }
	json=$WORK/events-$u.json
	timed "run-$u" "$BIN" run --lake "$WORK/run-lake" --inputs "$json" --no-progress --log-format json
	echo "churnctl run, $u users: $wall s, peak RSS $rss MiB"
	# The held-out figures (evaluate on the users train left out).
	tail -1 "$WORK/run-$u.out" | python3 -c '
import json, sys
s = json.loads(sys.stdin.readline())
keys = ["status", "etl_lines_read", "etl_users", "etl_user_days", "features_users", "features_positives",
        "train_rows", "train_cv_f1", "train_cv_f1_tuned", "train_cv_roc_auc",
        "evaluate_rows", "evaluate_f1", "evaluate_precision", "evaluate_recall", "evaluate_roc_auc", "evaluate_pr_auc"]
fmt = lambda v: "%.3f" % v if isinstance(v, float) else str(v)
print("  held out (evaluate): " + ", ".join("%s=%s" % (k, fmt(s[k])) for k in keys if k in s))
'
	rm -f "$json"
fi
exit $status
