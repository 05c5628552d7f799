#!/usr/bin/env bash
# make demo: the whole job end to end on the bundled sample (testdata/sample), no services needed.
set -euo pipefail
bin=${1:-bin/churnctl}
out=${2:-/tmp/churnctl-demo}
rm -rf "$out"
mkdir -p "$out"
lake="$out/lake"

echo "== churnctl run on testdata/sample (lake: $lake)"
"$bin" --log-level warn run --lake "$lake" --inputs testdata/sample --no-progress | tee "$out/run.jsonl"

echo
echo "== models"
"$bin" --log-level warn models list --registry "$lake/models" | sed '$d'

echo
echo "Where to look:"
echo "  run summary        $out/run.jsonl (last line) and $lake/runs/*.json"
for r in "$lake"/reports/as_of=*/report.md; do [ -f "$r" ] && echo "  evaluation report  $r"; done
for p in "$lake"/predictions/as_of=*/*.parquet; do [ -f "$p" ] && echo "  predictions        $p"; done
for f in "$lake"/features/as_of=*/part-0.parquet; do [ -f "$f" ] && echo "  features           $f"; done
echo "  the lake           $lake (bronze/ silver/ gold/ features/ models/ predictions/ runs/)"
