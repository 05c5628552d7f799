#!/usr/bin/env bash
# equiv.sh [REV_A [REV_B]]: the whole pipeline at two revisions gives the same bytes.
#
# Builds churnctl at REV_A (default: BASE below, the last commit before the one-core refactor of issue 16)
# and REV_B (default: the working tree), both with the same -ldflags version stamp, and runs
# `churnctl run` with load into a private PostgreSQL 15 (initdb in a temp dir, unix socket only) on
#   - the bundled sample (testdata/sample), and
#   - a generated log (`churnctl generate --users $USERS --seed 5`, 1,000 users by default, made once by REV_A).
# Then compares, per input:
#   - every file of the lake and the model registry (LAKE/models), byte for byte (sha256), except the
#     volatile ones: LAKE/runs/* (run records: run ids, timestamps, durations), LAKE/_state/* (the
#     planner's state: run ids, timestamps), lock files;
#   - the predictions (part of the lake: predictions/...);
#   - every table of schema churn in PostgreSQL, sorted, minus volatile columns ($VOLATILE_COLS: load
#     and run timestamps, run ids, durations, the fit_seconds metric).
# Prints OK or each differing file/table and exits 1 on a difference (2: could not run).
#
#   scripts/equiv.sh                      # BASE vs working tree
#   scripts/equiv.sh 85e3690 HEAD
#   make equiv
# Env: USERS (1000), KEEP=1 keeps the temp dir, PLANT=path (test hook: appends a byte to that lake-relative
# file of REV_B's sample lake before comparing, to show the script catches a difference).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=85e3690
A=${1:-$BASE}
B=${2:-}
USERS=${USERS:-1000}
VOLATILE_COLS=${VOLATILE_COLS:-loaded_at started_at finished_at duration_ms run_id created_at evaluated_at updated_at applied_at}
W=$(mktemp -d /tmp/churnctl-equiv.XXXXXX)
chmod 755 "$W"
PG=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
PGPORT=54391
cleanup() {
  [ -f "$W/pg/data/postmaster.pid" ] && su postgres -c "$PG/pg_ctl -D $W/pg/data -m immediate -w stop" >/dev/null 2>&1 || true
  for t in "$W"/src-*; do [ -d "$t" ] && git worktree remove --force "$t" >/dev/null 2>&1 || true; done
  [ "${KEEP:-0}" = 1 ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT

build() { # build REV OUT: REV "" is the working tree
  local rev=$1 out=$2 src=.
  if [ -n "$rev" ]; then
    src=$W/src-$(basename "$out")
    git worktree add --detach -q "$src" "$rev"
  fi
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=equiv -X main.revision=equiv' -o "$out" ./cmd/churnctl)
}
echo "equiv: building ${A} and ${B:-the working tree}" >&2
build "$A" "$W/a" || exit 2
build "$B" "$W/b" || exit 2
go build -o "$W/pqdump" ./scripts/pqdump || exit 2

# A private PostgreSQL (initdb refuses root: run it as postgres).
mkdir -p "$W/pg" && chown postgres "$W/pg"
su postgres -c "$PG/initdb -D $W/pg/data -U postgres -A trust -E UTF8 --no-locale --no-sync" >/dev/null || exit 2
su postgres -c "$PG/pg_ctl -D $W/pg/data -l $W/pg/log -w -o \"-c listen_addresses='' -c unix_socket_directories=$W/pg -c port=$PGPORT -c fsync=off\" start" >/dev/null || exit 2
psqlc() { psql -X -q -v ON_ERROR_STOP=1 "host=$W/pg port=$PGPORT user=postgres dbname=$1" "${@:2}"; }

"$W/a" generate --users "$USERS" --seed 5 --out "$W/gen.json" --log-level warn >/dev/null 2>&1 || exit 2
declare -A INPUT=([sample]=testdata/sample [gen]="$W/gen.json")

fail=0
for name in sample gen; do
  for side in a b; do
    # Same lake path and database name on both sides: paths and names are part of manifests and records.
    db=equiv_$name
    psqlc postgres -c "drop database if exists $db" -c "create database $db" || exit 2
    rm -rf "$W/lake"
    if ! "$W/$side" run --lake "$W/lake" --inputs "${INPUT[$name]}" \
        --dsn "host=$W/pg port=$PGPORT user=postgres dbname=$db" --log-level warn >"$W/$side-$name.out" 2>"$W/$side-$name.err"; then
      echo "equiv: $side ($name) run failed:" >&2; tail -5 "$W/$side-$name.err" >&2; exit 2
    fi
    mv "$W/lake" "$W/$side-$name"
    if [ "$side" = b ] && [ "$name" = sample ] && [ -n "${PLANT:-}" ]; then printf x >>"$W/b-sample/$PLANT"; fi
    : >"$W/$side-$name.pg"
    for t in $(psqlc "$db" -At -c "select table_name from information_schema.tables where table_schema='churn' and table_type='BASE TABLE' order by 1"); do
      cols=$(psqlc "$db" -At -c "select string_agg(quote_ident(column_name), ',' order by ordinal_position) from information_schema.columns
        where table_schema='churn' and table_name='$t' and column_name <> all (string_to_array('$VOLATILE_COLS', ' '))")
      echo "== churn.$t ($cols)" >>"$W/$side-$name.pg"
      where=""; [ "$t" = model_metric ] && where="where metric <> 'fit_seconds'" # wall time of the fit
      psqlc "$db" -At -c "select $cols from churn.$t $where order by $cols" >>"$W/$side-$name.pg"
    done
  done
  "${PY:-python3}" - "$W/a-$name" "$W/b-$name" "$W/pqdump" "$name" <<'PYEOF' || fail=1
import hashlib, json, os, subprocess, sys
a, b, pqdump, name = sys.argv[1:5]
# Volatile by design: run records and the planner's state (run ids, times), lock files, and the keys below
# inside JSON files (run ids, wall-clock times); an input's "hash" in a manifest fingerprints the upstream
# manifest, which holds its run_id, so inputs are compared by path, rows and bytes, not by hash.
SKIP_DIRS = ("runs/", "bronze/_runs/")
SKIP_FILES = {".run-state.json", ".lock", ".run.lock"}
VOLATILE = {"run_id", "created_at", "evaluated_at", "started_at", "finished_at", "duration_ms", "fit_seconds"}
def files(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            r = os.path.relpath(os.path.join(d, f), root)
            if not r.startswith(SKIP_DIRS) and r not in SKIP_FILES and not r.endswith(".lock"):
                out[r] = os.path.join(d, f)
    return out
def norm(v, key=""):
    # A manifest's files[].sha256 is left out too: every file it names is compared itself, below.
    if isinstance(v, dict):
        return {k: norm(x, k) for k, x in v.items()
                if k not in VOLATILE and not (key == "inputs" and k == "hash") and not (key == "files" and k == "sha256")}
    if isinstance(v, list):
        v = [norm(x, key) for x in v]
        return sorted(v, key=lambda x: json.dumps(x, sort_keys=True)) if key == "inputs" else v
    return v
fa, fb = files(a), files(b)
bad = [f"only in {side}: {r}" for side, x, y in (("A", fa, fb), ("B", fb, fa)) for r in sorted(set(x) - set(y))]
same = lineage = 0
for r in sorted(set(fa) & set(fb)):
    x, y = open(fa[r], "rb").read(), open(fb[r], "rb").read()
    if x == y:
        same += 1
    elif r.endswith(".json") and norm(json.loads(x)) == norm(json.loads(y)):
        same += 1
    elif r.endswith(".parquet") and subprocess.run([pqdump, fa[r]], capture_output=True, check=True).stdout == \
            subprocess.run([pqdump, fb[r]], capture_output=True, check=True).stdout:
        lineage += 1
        print(f"equiv: {name}: {r}: same rows, differs only in its run_id column (lineage)")
    else:
        bad.append(f"differs: {r}")
parquet = sum(r.endswith(".parquet") for r in fa)
models = sum(r.startswith("models/") for r in fa)
if bad:
    print(f"equiv: {name}: lake/registry differ:"); [print("  " + m) for m in bad[:40]]
    sys.exit(1)
print(f"equiv: {name}: {same + lineage} lake and registry files equal ({parquet} Parquet, {models} under models/; "
      f"{same} byte for byte once run ids and times are left out of JSON, {lineage} Parquet equal row for row but their run_id column)")
PYEOF
  rows=$(grep -vc '^== ' "$W/a-$name.pg" || true); tables=$(grep -c '^== ' "$W/a-$name.pg" || true)
  if ! diff "$W/a-$name.pg" "$W/b-$name.pg" >"$W/$name.pg.diff"; then
    fail=1; echo "equiv: $name: PostgreSQL rows differ:"; head -20 "$W/$name.pg.diff" | sed 's/^/  /' || true
  else
    echo "equiv: $name: $tables PostgreSQL tables, $rows rows identical"
  fi
done
if [ "$fail" = 0 ]; then echo OK; else echo DIFFERENT; exit 1; fi
