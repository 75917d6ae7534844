#!/usr/bin/env bash
# The MBPP table of the README ("Measured figures"): tasks 11-60 of the test split, the packaged
# default model on the local sandbox, greedy / sample-filter / egcfg (the cfg grid) / beam /
# cfg+beam, with guide-tests `all` (the paper's setting) and `first` (held-out verdicts).
#
#   benchmarks/mbpp_table.sh [OUT_DIR] [IDS]      # default runs/mbpp50, 11-60
#
# The two guide-test settings run side by side (one process per core; the model uses one
# thread). Every task gets 60 wall seconds per method. Resumable: rerun the same command and
# finished tasks are skipped. About 2 h on a 2-core CPU; the report lands in OUT_DIR/report.
set -euo pipefail
out=${1:-runs/mbpp50}
ids=${2:-11-60}
bin=${BEADLINE:-.venv/bin/beadline}
mkdir -p "$out"

setting() {
    local guide=$1
    "$bin" bench run --ids "$ids" -m greedy -m egcfg -m sample-filter --guide-tests "$guide" \
        --sandbox local --task-time-budget 60 \
        --out "$out/main-$guide.jsonl" --records "$out/records-$guide"
    "$bin" bench run --ids "$ids" -m beam -m cfg+beam --guide-tests "$guide" \
        --sandbox local --time-budget 60 \
        --out "$out/beam-$guide.jsonl" --records "$out/records-beam-$guide"
}

setting all >"$out/all.log" 2>&1 &
all=$!
setting first >"$out/first.log" 2>&1 &
first=$!
wait "$all" || { echo "the 'all' run failed: see $out/all.log" >&2; exit 1; }
wait "$first" || { echo "the 'first' run failed: see $out/first.log" >&2; exit 1; }
"$bin" bench report "$out"/main-*.jsonl "$out"/beam-*.jsonl --out "$out/report"
cat "$out/report/report.md"
