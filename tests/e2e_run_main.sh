#!/usr/bin/env bash
# e2e_run_main.sh - what `make run` prints beside its one-seed quick sweep (scripts/run_main.sh
# --study-only, no training): the study's multi-seed comparison, built from the committed runs with its
# paired statistics (strength-matched, then the allocation alone), and the name of the study's main figure, which must exist. A spec or figure that
# does not exist (the lead switching to a Study 2 table that is not committed yet) is an error naming it.
# The quick sweep runs at the eta the study compares (the comparison's eta-2 column, seed 0).
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup run_main fresh
cd "$(dirname "$0")/.."

RUN_MAIN_OUT="$T/out" bash scripts/run_main.sh --study-only >"$T/stdout" 2>"$T/stderr"; rc=$?
fig=$(sed -n "s/^the study's main figure: \([^ ]*\) .*/\1/p" "$T/stdout")
if [ $rc -eq 0 ] && grep -q '^#### Paired comparisons against Uniform at the same mean_wd' "$T/stdout" \
   && grep -q '| p (sign) |' "$T/stdout" && grep -q 'Seeds used per cell: [0-9]' "$T/stdout" \
   && grep -q '^### Study 2, tiny LLaMA: the allocation alone' "$T/stdout" \
   && [ -s "$T/out/study/s2_tiny_matched.csv" ] && [ -s "$T/out/study/s2_tiny_alloc.csv" ] && [ -n "$fig" ] && [ -s "$fig" ]; then
    ok study_table_and_figure_printed
else fail study_table_and_figure_printed "rc $rc fig [$fig]: $(head -c 600 "$T/stderr"; tail -3 "$T/stdout")"; fi

# what the tables claim, in words: every claim of the printed specs, each evaluated on the runs
specs=$(sed -n 's/.*the study.s multi-seed comparison (\(.*\), committed runs)$/\1/p' "$T/stdout")
# shellcheck disable=SC2086 # the printed spec list, split on purpose
nclaims=$(cat $specs | grep -c '^    says:')
nprinted=$(sed -n '/^What these tables claim/,/^the study/p' "$T/stdout" | grep -c '^  - ')
[ "$nclaims" -gt 0 ] && [ "$nprinted" = "$nclaims" ] && grep -q '^  - the default AlphaDecay ends below Uniform' "$T/stdout" \
    && ok claims_printed_in_words || fail claims_printed_in_words "$nprinted printed of $nclaims"
# a claim the data do not support stops make run with the claim named (the same check as make paper's)
sed 's/holds: "hi < 0 and p_holm < 0.05"/holds: "hi < -1000"/' analysis/specs/s2_tiny_alloc.yaml >"$T/bad_alloc.yaml"
STUDY_SPEC="$T/bad_alloc.yaml" RUN_MAIN_OUT="$T/o5" bash scripts/run_main.sh --study-only >"$T/o5.out" 2>"$T/e5"; rc=$?
[ $rc -eq 1 ] && grep -q 'adamp_below' "$T/e5" && ! grep -q '^What these tables claim' "$T/o5.out" \
    && ok unsupported_claim_stops_run || fail unsupported_claim_stops_run "rc $rc: $(head -c 400 "$T/e5")"
"$BIN" report plot analysis/specs/s2_tiny_applied.yaml --claims "$T/x.md" >/dev/null 2>"$T/e6"; rc=$?
[ $rc -eq 2 ] && grep -q -- '--claims is for report table' "$T/e6" && [ ! -e "$T/x.md" ] \
    && ok claims_option_table_only || fail claims_option_table_only "rc $rc: $(cat "$T/e6")"

STUDY_SPEC=analysis/specs/nope.yaml RUN_MAIN_OUT="$T/o2" bash scripts/run_main.sh --study-only >/dev/null 2>"$T/e2"; rc=$?
[ $rc -eq 1 ] && grep -q 'STUDY_SPEC analysis/specs/nope.yaml: no such spec' "$T/e2" && ok missing_study_spec_refused \
    || fail missing_study_spec_refused "rc $rc: $(cat "$T/e2")"
STUDY_FIGURE=paper/generated/nope.png RUN_MAIN_OUT="$T/o3" bash scripts/run_main.sh --study-only >/dev/null 2>"$T/e3"; rc=$?
[ $rc -eq 1 ] && grep -q 'STUDY_FIGURE paper/generated/nope.png: no such figure' "$T/e3" && ok missing_study_figure_refused \
    || fail missing_study_figure_refused "rc $rc: $(cat "$T/e3")"
STUDY_SPEC=analysis/specs/cpu_curves.yaml RUN_MAIN_OUT="$T/o4" bash scripts/run_main.sh --study-only >/dev/null 2>"$T/e4"; rc=$?
[ $rc -eq 1 ] && grep -q 'cpu_curves.yaml is not a table spec' "$T/e4" && ok figure_spec_as_study_table_refused \
    || fail figure_spec_as_study_table_refused "rc $rc: $(cat "$T/e4")"

# the quick sweep's decayed runs use the eta the study's comparison is made at (eta 2: Uniform's choice on
# the selection set, and the eta of the module-wise methods' cells)
qeta=$(sed -n 's/.*else: {decay.weight_decay: \([0-9.e-]*\)}.*/\1/p' sweeps/quick.yaml)
grep -q "weight_decay: \[$qeta, 0\]" analysis/specs/quick.yaml \
    && grep -q "^where: {decay.weight_decay: $qeta}" analysis/specs/s2_tiny_matched.yaml \
    && [ "$qeta" = 2 ] && ok quick_sweep_at_the_study_eta || fail quick_sweep_at_the_study_eta "quick eta [$qeta]"
exit $FAILED
