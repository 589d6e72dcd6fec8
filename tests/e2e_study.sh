#!/usr/bin/env bash
# The switches of Study 2 (docs/study.md) end to end on a generated corpus:
#   mean_preserving   AlphaDecay and AdaDecay with decay.mean_preserving: every metrics.jsonl wd_mean is eta
#                     (the default AlphaDecay's is not); AWD with it is refused
#   flat              AlphaDecay and AdaDecay with decay.flat: one decay per update for the tuned modules, the
#                     default's wd_mean at step 0; a stopped and resumed flat run equals the uninterrupted one;
#                     AWD with it is refused
#   test set          eval.test_tokens: every eval.jsonl line and summary.json carry the test set's numbers,
#                     which differ from the selection set's; a selection set using every row is refused
#   data order        data.follow_train_seed: the order is data.seed + train.seed (seed 3 following = seed 3 with
#                     data.seed 45 fixed, bit for bit; differs from seed 3 with the fixed order; seed 0 unchanged);
#                     a stopped and resumed run equals the uninterrupted one
#   interval          a wd_sweep spec's `interval:` is std or ci95 (anything else, or on another kind, refused)
#   prep --brown      Brown word/TAG files become plain text (byte-level vocabulary: the shard's tokens are the
#                     text's bytes, compared with the hand-written expectation); a file without tags is refused
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup study fresh

grammar_corpus "$T/corpus.jsonl" 7 300 adverbs
prep_corpus prep_for_study

tiny_yaml steps=30 warmup=3 eval_every=10 eval_tokens=600 ckpt_every=10 keep=1 \
    decay="method: alphadecay, weight_decay: 0.5, update_every: 5, eigs_thresh: 8" >"$T/s.yaml"
run() { local out=$1; shift; "$BIN" train "$T/s.yaml" --set train.optimizer=adamw "$@" --out "$T/$out" >"$T/$out.log" 2>&1; }
wd_means() { grep -o '"wd_mean": [-0-9.e+]*' "$1/metrics.jsonl" | awk '{print $2}'; }
losses() { grep -o '"loss": [-0-9.e]*' "$1/metrics.jsonl"; }

# ---- mean-preserving allocation ----
for m in alphadecay adadecay; do
    run "mp_$m" --set decay.method=$m --set decay.mean_preserving=true; rc=$?
    n=$(wd_means "$T/mp_$m" | wc -l)
    # eta = 0.5; the mean is a size-weighted sum over a few tensors: a relative 1e-12 is thousands of ulps
    bad=$(wd_means "$T/mp_$m" | awk '{ d = $1 - 0.5; if (d < 0) d = -d; if (d > 0.5e-12) print }' | wc -l)
    [ $rc -eq 0 ] && [ "$n" -eq 30 ] && [ "$bad" -eq 0 ] && ok "mean_preserving_wd_mean_is_eta_$m" \
        || fail "mean_preserving_wd_mean_is_eta_$m" "rc=$rc, $n lines, $bad off eta: $(wd_means "$T/mp_$m" | sort -u | head -3 | tr '\n' ' ')"
done
run default --set decay.method=alphadecay
off=$(wd_means "$T/default" | awk '{ d = $1 - 0.5; if (d < 0) d = -d; if (d > 1e-3) print }' | wc -l)
[ "$off" -gt 0 ] && ok default_alphadecay_mean_not_eta || fail default_alphadecay_mean_not_eta "every wd_mean is 0.5: the test cannot tell"
# the allocation is kept: the step-0 decays are the default's times one factor (decay.jsonl prints 9 digits: 1e-8)
ratio() { grep '"step": 0,' "$1/decay.jsonl" | grep -o '"wd": [-0-9.e+]*' | awk '{print $2}'; }
paste <(ratio "$T/default") <(ratio "$T/mp_alphadecay") | awk 'NR == 1 { f = $2 / $1 } { r = $2 / $1 - f; if (r < 0) r = -r; if (r > 1e-8 * f) bad++ } END { exit !(NR > 2 && !bad && (f < 0.999 || f > 1.001)) }' \
    && ok mean_preserving_keeps_ratios || fail mean_preserving_keeps_ratios "the step-0 decays are not one factor times the default's"
# ---- flat: the method's strength schedule without its allocation ----
for m in alphadecay adadecay; do
    run "flat_$m" --set decay.method=$m --set decay.flat=true; rc=$?
    # every decay.jsonl update gives its tuned modules one decay (9 printed digits: equal as text)
    spread=$(awk -F'"wd": ' '{ split($1, a, "\"step\": "); split(a[2], b, ","); split($2, w, ","); s = b[1]
        if (!(s in v)) v[s] = w[1]; else if (v[s] != w[1]) bad++; n++ } END { print (n > 0 ? bad + 0 : -1) }' "$T/flat_$m/decay.jsonl")
    [ $rc -eq 0 ] && [ "$spread" = 0 ] && ok "flat_one_decay_per_update_$m" \
        || fail "flat_one_decay_per_update_$m" "rc=$rc, $spread lines off their update's decay"
done
# the strength is the default's: at step 0 (the same random weights) the model's wd_mean is the default's;
# the allocation is gone where the default's step-0 decays differ
[ "$(wd_means "$T/flat_alphadecay" | head -1)" = "$(wd_means "$T/default" | head -1)" ] \
    && [ "$(ratio "$T/default" | sort -u | wc -l)" -gt 1 ] && ok flat_step0_strength_is_default \
    || fail flat_step0_strength_is_default "step-0 wd_mean $(wd_means "$T/flat_alphadecay" | head -1) vs the default's $(wd_means "$T/default" | head -1)"
# stopped after update 12 (checkpoint 10, decays last assigned at step 9) and resumed = uninterrupted
run flat_rr --set decay.method=alphadecay --set decay.flat=true --stop-after 12; rc=$?
"$BIN" train "$T/s.yaml" --set train.optimizer=adamw --set decay.method=alphadecay --set decay.flat=true --out "$T/flat_rr" \
    >>"$T/flat_rr.log" 2>&1
nofit() { sed 's/"fit_seconds": [-0-9.e+]*//' "$1/decay.jsonl"; }
if [ $rc -eq 130 ] && cmp -s <(losses "$T/flat_alphadecay") <(losses "$T/flat_rr") \
   && cmp -s <(nofit "$T/flat_alphadecay") <(nofit "$T/flat_rr") \
   && cmp -s "$T/flat_alphadecay/checkpoint/step_00000030/model.safetensors" "$T/flat_rr/checkpoint/step_00000030/model.safetensors"; then
    ok flat_resume_identical
else fail flat_resume_identical "rc=$rc: losses, decays or weights differ"; fi
run flat_awd --set decay.method=awd --set decay.flat=true; rc=$?
[ $rc -ne 0 ] && grep -q "decay.flat applies to the module-wise methods" "$T/flat_awd.log" && ok flat_awd_refused \
    || fail flat_awd_refused "rc=$rc $(tail -1 "$T/flat_awd.log")"
run mp_awd --set decay.method=awd --set decay.mean_preserving=true; rc=$?
[ $rc -ne 0 ] && grep -q "module-wise methods" "$T/mp_awd.log" && ok mean_preserving_awd_refused \
    || fail mean_preserving_awd_refused "rc=$rc $(tail -1 "$T/mp_awd.log")"

# ---- the held-out test set ----
run test --set eval.test_tokens=500; rc=$?
lines=$(wc -l < "$T/test/eval.jsonl"); with=$(grep -c '"test_ppl": [0-9]' "$T/test/eval.jsonl")
[ $rc -eq 0 ] && [ "$lines" -eq 3 ] && [ "$with" -eq 3 ] && ok test_set_every_eval_line || fail test_set_every_eval_line "rc=$rc, $with of $lines lines"
tt=$(grep -o '"test_tokens": [0-9]*' "$T/test/eval.jsonl" | head -1 | awk '{print $2}')
[ "${tt:-0}" -ge 500 ] && ok test_set_token_count || fail test_set_token_count "test_tokens $tt"
last=$(tail -1 "$T/test/eval.jsonl")
fin=$(grep -o '"final_test_ppl": [0-9.e+]*' "$T/test/summary.json" | awk '{print $2}')
lt=$(echo "$last" | grep -o '"test_ppl": [0-9.e+]*' | awk '{print $2}'); lv=$(echo "$last" | grep -o '"ppl": [0-9.e+]*' | awk '{print $2}')
awk -v a="$fin" -v b="$lt" 'BEGIN { exit !(a != "" && (a - b < 1e-5 * b) && (b - a < 1e-5 * b)) }' \
    && ok summary_final_test_ppl || fail summary_final_test_ppl "summary $fin, last eval line $lt"
[ -n "$lt" ] && [ "$lt" != "$lv" ] && ok test_differs_from_selection || fail test_differs_from_selection "test $lt selection $lv"
# the selection set's numbers do not move when a test set is added (the same rows, the same run)
cmp -s <(grep -o '"ppl": [0-9.]*' "$T/default/eval.jsonl") <(grep -o '"ppl": [0-9.]*' "$T/test/eval.jsonl") \
    && ok selection_unchanged_by_test_set || fail selection_unchanged_by_test_set "eval ppl differs"
run test_all --set eval.test_tokens=500 --set eval.tokens=100000000; rc=$?
[ $rc -ne 0 ] && grep -q "leaving none for the test set" "$T/test_all.log" && ok test_set_needs_rows \
    || fail test_set_needs_rows "rc=$rc $(tail -1 "$T/test_all.log")"

# ---- the data order follows the seed ----
u=(--set decay.method=uniform --set train.seed=3)
run f3 "${u[@]}" --set data.follow_train_seed=true
run d45 "${u[@]}" --set data.seed=45
run fixed3 "${u[@]}"
cmp -s <(losses "$T/f3") <(losses "$T/d45") && ok follow_seed_is_data_seed_plus_train_seed \
    || fail follow_seed_is_data_seed_plus_train_seed "seed 3 following differs from data.seed 45"
cmp -s <(losses "$T/f3") <(losses "$T/fixed3") && fail follow_seed_changes_order "the same losses as the fixed order" \
    || ok follow_seed_changes_order
run f0 --set decay.method=uniform --set train.seed=0 --set data.follow_train_seed=true
run fixed0 --set decay.method=uniform --set train.seed=0
cmp -s <(losses "$T/f0") <(losses "$T/fixed0") && ok follow_seed_0_keeps_order || fail follow_seed_0_keeps_order "seed 0 differs"
run f3b "${u[@]}" --set data.follow_train_seed=true
cmp -s <(losses "$T/f3") <(losses "$T/f3b") && ok follow_seed_deterministic || fail follow_seed_deterministic "two runs differ"
# stopped mid-way (train --stop-after 5, as a signal would; no checkpoint before then) and resumed = uninterrupted
tiny_yaml steps=60 warmup=3 eval_every=0 ckpt_every=1000 keep=1 decay="method: uniform, weight_decay: 0.5" >"$T/r.yaml"
args=(--set train.optimizer=adamw --set train.seed=3 --set data.follow_train_seed=true)
"$BIN" train "$T/r.yaml" "${args[@]}" --out "$T/ru" >"$T/ru.log" 2>&1
"$BIN" train "$T/r.yaml" "${args[@]}" --out "$T/rr" --stop-after 5 >"$T/rr.log" 2>&1; rc=$?
"$BIN" train "$T/r.yaml" "${args[@]}" --out "$T/rr" >>"$T/rr.log" 2>&1
if [ $rc -eq 130 ] && cmp -s <(losses "$T/ru") <(losses "$T/rr") \
   && cmp -s "$T/ru/checkpoint/step_00000060/model.safetensors" "$T/rr/checkpoint/step_00000060/model.safetensors"; then
    ok follow_seed_resume_identical
else fail follow_seed_resume_identical "rc=$rc ($(grep -o 'after update [0-9]*' "$T/rr.log" | head -1)): losses or weights differ"; fi

# ---- spec key interval ----
mkdir -p "$T/specs"
printf 'figure: f\nkind: wd_sweep\nresults: %s\nx: decay.weight_decay\ninterval: ci90\nseries:\n  - {label: a, where: {}}\n' "$T" >"$T/specs/bad.yaml"
"$BIN" report plot "$T/specs/bad.yaml" --out-dir "$T/specs" >"$T/specs/bad.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "bad.yaml:5:.*interval must be std or ci95" "$T/specs/bad.log" && ok spec_interval_checked \
    || fail spec_interval_checked "rc=$rc $(tail -1 "$T/specs/bad.log")"
printf 'table: t\nresults: %s\ninterval: ci95\nrows:\n  - {label: a, where: {}}\ncolumns:\n  - {label: b, where: {}}\n' "$T" >"$T/specs/badkind.yaml"
"$BIN" report table "$T/specs/badkind.yaml" --out-dir "$T/specs" >"$T/specs/badkind.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "interval applies to wd_sweep" "$T/specs/badkind.log" && ok spec_interval_wd_sweep_only \
    || fail spec_interval_wd_sweep_only "rc=$rc $(tail -1 "$T/specs/badkind.log")"

# ---- prep --brown ----
mkdir -p "$T/brown"
printf '\n\n\tThe/at jury/nn said/vbd ``/`` yes/rb '"''"'/'"''"' ,/, and/cc left/vbd ./.\nIt/pps was/bedz (/( hot/jj )/) ./.\n\n\n\tHe/pps said/vbd '"'"'/'"'"' no/rb '"'"'/'"'"' --/-- fine/jj ?/.\n' >"$T/brown/ca01.txt"
printf '\tA/at 1/2/cd cup/nn ;/. get/vb '"'"'em/ppo !/.\n' >"$T/brown/cb01.txt"
# 257 = 256 bytes + end-of-text: no merges, so the shard's tokens are the text's bytes, then EOS (256), per file
"$BIN" prep --brown --input "$T/brown" --out "$T/brown_out" --vocab-size 257 --val-fraction 0 --quiet >"$T/brown.log" 2>&1; rc=$?
want=$(printf 'The jury said "yes", and left. It was (hot).\n\nHe said '"'"'no'"'"' -- fine?' | od -An -tu1 -v | tr -s ' \n' '\n\n' | grep .; echo 256
       printf 'A 1/2 cup; get '"'"'em!' | od -An -tu1 -v | tr -s ' \n' '\n\n' | grep .; echo 256)
got=$(tail -c +1025 "$T/brown_out/train.bin" 2>/dev/null | od -An -tu2 -v | tr -s ' \n' '\n\n' | grep .)
[ $rc -eq 0 ] && [ "$got" = "$want" ] && ok prep_brown_plain_text || fail prep_brown_plain_text "rc=$rc $(tail -1 "$T/brown.log"); tokens differ"
printf '\tno tags here\n' >"$T/brown/cc01.txt"
"$BIN" prep --brown --input "$T/brown" --out "$T/brown_bad" --vocab-size 257 --val-fraction 0 --quiet >"$T/brown_bad.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "cc01.txt: line 1: 'no' is not Brown word/TAG text" "$T/brown_bad.log" && [ ! -e "$T/brown_bad/prep.json" ] \
    && ok prep_brown_untagged_refused || fail prep_brown_untagged_refused "rc=$rc $(tail -1 "$T/brown_bad.log")"

exit $FAILED
