#!/usr/bin/env bash
# gen_users.sh BYTES [SEED] [DAYS]: prints the --users whose `churnctl generate --seed SEED --days DAYS`
# log is about BYTES of JSON. Benchmarks size their inputs by bytes, not users: a generated user writes
# about 540 kB over 60 days (as in the full Sparkify dataset, 12 GB for 22,278 users), and that figure
# moves whenever the generator's model does. It generates a 1,000-user probe (about 540 MB, a second or two) and
# scales it; the size grows linearly in users (guests are a fixed share).
# Env: BIN (churnctl, default bin/churnctl).
set -euo pipefail
BIN=${BIN:-bin/churnctl}
[ $# -ge 1 ] || { echo "usage: gen_users.sh BYTES [SEED] [DAYS]" >&2; exit 2; }
probe=1000
b=$("$BIN" generate --users "$probe" --days "${3:-60}" --seed "${2:-1}" --out - --no-progress 2>/dev/null | wc -c)
awk -v t="$1" -v b="$b" -v p="$probe" 'BEGIN { u = int(t * p / b + 0.5); if (u < 1) u = 1; print u }'
