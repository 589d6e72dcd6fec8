#!/usr/bin/env bash
# run_main.sh - the body of `make run`: prepare the default corpus if needed, run the quick sweep
# (the five weight-decay methods in the data-constrained regime at the study's eta, one seed, 2 runs at
# a time), regenerate its table and figures and print them; then print the study's multi-seed comparison
# from the committed runs, which is what one seed cannot show, and name the study's main figure.
# Interrupt and rerun at will: finished runs are skipped, the others resume.
#   bash scripts/run_main.sh --study-only   prints the study's comparison alone (no data, no training)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${AD_BIN:-bin/alphadecay}
OUT=${RUN_MAIN_OUT:-results/quick/report}
# The study's table and main figure: any table spec (built from its committed results) and any figure.
# Switch these two when a newer study's table and figure are committed.
STUDY_SPEC=${STUDY_SPEC:-analysis/specs/cpu_compare.yaml}
STUDY_FIGURE=${STUDY_FIGURE:-paper/generated/cpu_compare_applied.png}

quick() {
    [ -f data/sotu/prep.json ] || bash scripts/fetch_data.sh
    echo "== quick sweep: sweeps/quick.yaml (results/quick/)"
    $BIN sweep run sweeps/quick.yaml -j 2
    echo "== table and figures"
    $BIN report table analysis/specs/quick.yaml --results results/quick --out-dir "$OUT" --quiet
    $BIN report plot analysis/specs/quick_curves.yaml --results results/quick --out-dir "$OUT" \
        || echo "(figures skipped: see the message above)"
    echo
    cat "$OUT/quick.md"
    echo
    echo "table:   $OUT/quick.md (also .tex, .csv)"
    ls "$OUT"/*.png 2>/dev/null | sed 's/^/figure:  /'
}

# The table spec's name is its output's base name; the build's warnings (runs left out as collapsed,
# say) are kept beside it, since the table's own notes already say so.
study() {
    [ -f "$STUDY_SPEC" ] || { echo "run_main: STUDY_SPEC $STUDY_SPEC: no such spec" >&2; exit 1; }
    [ -f "$STUDY_FIGURE" ] || { echo "run_main: STUDY_FIGURE $STUDY_FIGURE: no such figure" >&2; exit 1; }
    local name out="$OUT/study"
    name=$(sed -n 's/^table:[[:space:]]*//p' "$STUDY_SPEC" | tr -d "\"'" | head -1)
    [ -n "$name" ] || { echo "run_main: $STUDY_SPEC is not a table spec" >&2; exit 1; }
    mkdir -p "$out"
    echo
    echo "== one seed cannot rank the methods; the study's multi-seed comparison ($STUDY_SPEC, committed runs)"
    if ! $BIN report table "$STUDY_SPEC" --out-dir "$out" --quiet 2>"$out/$name.warnings"; then
        cat "$out/$name.warnings" >&2
        exit 1
    fi
    echo
    cat "$out/$name.md"
    echo
    echo "table:   $out/$name.md (also .tex, .csv; build warnings in $out/$name.warnings)"
    echo "the study's main figure: $STUDY_FIGURE (docs/study.md says what it shows)"
}

[ "${1:-}" = --study-only ] || quick
study
