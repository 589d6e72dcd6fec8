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
# Study 2's decisive comparison (held-out test set, seeds varying the data order): each default method against
# Uniform at the decay it actually applied; the mean-preserving forms (the allocation at Uniform's strength)
# against Uniform at the same eta; each default against its flat form (the rule's strength schedule without the
# allocation); the flat forms against Uniform at their applied decay. Its figure: test perplexity against the
# decay applied.
S=analysis/specs
STUDY_SPEC=${STUDY_SPEC:-"$S/s2_tiny_matched.yaml $S/s2_tiny_alloc.yaml $S/s2_tiny_flat.yaml $S/s2_tiny_schedule.yaml"}
STUDY_FIGURE=${STUDY_FIGURE:-paper/generated/s2_tiny_applied.png}

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

# STUDY_SPEC: one or more table specs, space-separated, printed in order. A spec's name is its output's base
# name; the build's warnings (runs left out as collapsed, say) are kept beside it, since the table's own
# notes already say so.
spec_name() {
    local name
    name=$(sed -n 's/^table:[[:space:]]*//p' "$1" | tr -d "\"'" | head -1)
    [ -n "$name" ] || { echo "run_main: $1 is not a table spec" >&2; exit 1; }
    echo "$name"
}

# The tables, then what their claims say: each claim is evaluated on the runs by `report table`, which fails
# when one no longer holds, so the sentences printed are the ones the data support.
study() {
    local spec name names=() out="$OUT/study"
    for spec in $STUDY_SPEC; do
        [ -f "$spec" ] || { echo "run_main: STUDY_SPEC $spec: no such spec" >&2; exit 1; }
        names+=("$(spec_name "$spec")")
    done
    [ -f "$STUDY_FIGURE" ] || { echo "run_main: STUDY_FIGURE $STUDY_FIGURE: no such figure" >&2; exit 1; }
    mkdir -p "$out"
    echo
    echo "== one seed cannot rank the methods; the study's multi-seed comparison ($STUDY_SPEC, committed runs)"
    # shellcheck disable=SC2086 # the spec list is split on purpose
    if ! $BIN report table $STUDY_SPEC --out-dir "$out" --quiet --claims "$out/claims.md" 2>"$out/warnings"; then
        cat "$out/warnings" >&2
        exit 1
    fi
    for name in "${names[@]}"; do
        echo
        cat "$out/$name.md"
        echo
        echo "table:   $out/$name.md (also .tex, .csv)"
    done
    echo "build warnings: $out/warnings"
    echo
    echo "What these tables claim (each claim checked on the committed runs; $out/claims.md):"
    sed -n 's/^| `[^`]*` | yes | .* | \(.*\) |$/  - \1/p' "$out/claims.md"
    echo "the study's main figure: $STUDY_FIGURE (docs/study.md says what it shows)"
}

[ "${1:-}" = --study-only ] || quick
study
