#!/usr/bin/env bash
# run_main.sh - the body of `make run`: prepare the default corpus if needed, run the quick sweep
# (the five weight-decay methods in the data-constrained regime, 2 runs at a time), then regenerate its table and
# figures and print them. Interrupt and rerun at will: finished runs are skipped, the others resume.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/alphadecay
[ -f data/sotu/prep.json ] || bash scripts/fetch_data.sh
echo "== quick sweep: sweeps/quick.yaml (results/quick/)"
$BIN sweep run sweeps/quick.yaml -j 2
echo "== table and figures"
$BIN report table analysis/specs/quick.yaml --results results/quick --out-dir results/quick/report --quiet
$BIN report plot analysis/specs/quick_curves.yaml --results results/quick --out-dir results/quick/report \
    || echo "(figures skipped: see the message above)"
echo
cat results/quick/report/quick.md
echo
echo "table:   results/quick/report/quick.md (also .tex, .csv)"
ls results/quick/report/*.png 2>/dev/null | sed 's/^/figure:  /'
