#!/usr/bin/env bash
# e2e_report_wd_steps.sh - the wd_steps figure (analysis/fig_wd.c) on synthetic runs whose decay is written here by
# hand: the whole-model curve is metrics.jsonl's wd_mean (mean and sample std over seeds at each logged update),
# its mean over the updates is the run's mean_wd as a mean_wd table reports it, the tuned-matrix curve is the
# size-weighted mean of decay.jsonl's modules per assignment (sizes h x h for attention, h x I for the MLP,
# written out here) drawn as a step function, Uniform (an empty decay.jsonl) is its constant in both panels, a
# series without runs and a results: directory not there are named, not fatal (and `report all` renders the spec),
# and a malformed decay.jsonl is one error naming FILE:LINE.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup report_wd_steps fresh

H=8; I=16
# run DIR METHOD SEED "WD_MEAN at 10 20 30 40" [DECAY_JSONL_TEXT] [FINAL_LOSS]
run() {
    local d="$T/res/$1"; mkdir -p "$d"
    printf 'model:\n  hidden_size: %s\n  intermediate_size: %s\n  num_attention_heads: 2\n  num_hidden_layers: 1\n  vocab_size: 32\n  max_position_embeddings: 64\ndata:\n  train: "data/x/train.bin"\ntrain:\n  seed: %s\ndecay:\n  method: %s\n  weight_decay: 2\n  mean_preserving: false\n' \
        $H $I "$3" "$2" >"$d/config.yaml"
    printf '{"status": "completed", "final_val_loss": %s, "final_val_ppl": 7, "steps": 40, "tokens": 100}\n' "${6:-2}" >"$d/summary.json"
    : >"$d/metrics.jsonl"; local k=0
    for v in $4; do k=$((k + 10)); printf '{"step": %d, "loss": 3, "wd_mean": %s}\n' $k "$v" >>"$d/metrics.jsonl"; done
    printf '%s' "${5:-}" >"$d/decay.jsonl"
}
# one decay.jsonl line: STEP MODULE WD
line() { printf '{"step": %s, "module": "model.layers.0.%s", "layer": 0, "type": "x", "alpha": 2, "wd": %s}\n' "$1" "$2" "$3"; }
for s in 0 1; do run "u$s" uniform $s "2 2 2 2"; done
# a collapsed run (final loss ln 32 - ln 2 or more: table.h run_collapsed) is left out of the curve as of the table
run a3 alphadecay 3 "9 9 9 9" "$(line 0 self_attn.k_proj 9)
" 4
# AlphaDecay seed s: at update 0 k = 1 + s, v = 2, up = 3; at update 20 k = 2, v = 2 + s, up = 4 - s / 2
WDM=("2.5 2.5 2.2 2.2" "2.6 2.6 2.4 2.4" "2.7 2.7 2.6 2.6")
for s in 0 1 2; do
    run "a$s" alphadecay $s "${WDM[s]}" "$(line 0 self_attn.k_proj $((1 + s)); line 0 self_attn.v_proj 2; line 0 mlp.up_proj 3
        line 20 self_attn.k_proj 2; line 20 self_attn.v_proj $((2 + s)); line 20 mlp.up_proj "$(awk -v s=$s 'BEGIN { print 4 - s / 2 }')")
"
done
cat >"$T/wd.yaml" <<'YAML'
figure: wd
kind: wd_steps
title: "wd_steps test"
results: [res, res_not_yet]
series:
  - {label: Uniform, where: {decay.method: uniform}}
  - {label: AlphaDecay, where: {decay.method: alphadecay}}
  - {label: Flat, where: {decay.method: adadecay}}
YAML
"$BIN" report plot "$T/wd.yaml" --root "$T" --out-dir "$T/out" --quiet 2>"$T/err"; rc=$?
# rows "x mean std" of a data file, comments dropped, numbers to 6 significant digits
rows() { awk '!/^#/ { printf "%.6g %.6g %.6g\n", $1, $2, $3 }' "$1" 2>/dev/null; }
# expected: the whole model, the metrics' mean and sample std over the three seeds at 10 .. 40
want_all=$(awk -v w="${WDM[*]}" 'BEGIN { n = split(w, a, " "); for (k = 1; k <= 4; k++) { m = 0; for (s = 0; s < 3; s++) m += a[4 * s + k] / 3
    v = 0; for (s = 0; s < 3; s++) v += (a[4 * s + k] - m) ^ 2; printf "%.6g %.6g %.6g\n", 10 * k, m, sqrt(v / 2) } }')
# expected: the tuned matrices, (h^2 k + h^2 v + h I up) / (2 h^2 + h I) per seed, each value at its update and again
# where the next assignment begins (20; the last held to the final logged update, 40)
want_tuned=$(awk -v h=$H -v I=$I 'function t(k, v, u) { return (h * h * k + h * h * v + h * I * u) / (2 * h * h + h * I) }
    function band(x, a0, a1, a2,   m, v) { m = (a0 + a1 + a2) / 3; v = (a0 - m) ^ 2 + (a1 - m) ^ 2 + (a2 - m) ^ 2
        printf "%.6g %.6g %.6g\n", x, m, sqrt(v / 2) }
    BEGIN { for (s = 0; s < 3; s++) { p[s] = t(1 + s, 2, 3); q[s] = t(2, 2 + s, 4 - s / 2) }
        band(0, p[0], p[1], p[2]); band(20, p[0], p[1], p[2]); band(20, q[0], q[1], q[2]); band(40, q[0], q[1], q[2]) }')
got_all=$(rows "$T/out/wd_s1_all.dat"); got_tuned=$(rows "$T/out/wd_s1_tuned.dat")
[ $rc -eq 0 ] && [ "$got_all" = "$want_all" ] && ok wd_steps_whole_model_band \
    || fail wd_steps_whole_model_band "rc $rc; want [$want_all] got [$got_all]: $(cat "$T/err")"
[ "$got_tuned" = "$want_tuned" ] && ok wd_steps_tuned_matrices_steps \
    || fail wd_steps_tuned_matrices_steps "want [$want_tuned] got [$got_tuned]"
# Uniform: its constant 2 in both panels (no module-wise decay: every tensor has the whole model's decay), std 0
uall=$(rows "$T/out/wd_s0_all.dat" | awk '$2 != 2 || $3 != 0 { bad++ } END { print NR, bad + 0 }')
utuned=$(rows "$T/out/wd_s0_tuned.dat" | awk '$2 != 2 || $3 != 0 { bad++ } END { print NR, bad + 0 }')
[ "$uall" = "4 0" ] && [ "$utuned" = "4 0" ] && ok wd_steps_uniform_constant \
    || fail wd_steps_uniform_constant "whole [$uall] tuned [$utuned] (rows, rows not 2 +- 0)"

# the curve's mean over the updates is mean_wd as a table of it reports it (per run, and the series' mean)
cat >"$T/mw.yaml" <<'YAML'
table: mw
results: res
metric: mean_wd
digits: 6
columns:
  - {label: "eta 2", where: {decay.weight_decay: 2}}
rows:
  - {label: AlphaDecay, where: {decay.method: alphadecay}}
  - {label: Uniform, where: {decay.method: uniform}}
YAML
"$BIN" report table "$T/mw.yaml" --root "$T" --out-dir "$T/out" --quiet 2>"$T/mw.err"; trc=$?
table_mean=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["row"] == "AlphaDecay" { print $c["mean"] }' "$T/out/mw.csv")
curve_mean=$(awk '!/^#/ { s += $2; n++ } END { printf "%.9g", s / n }' "$T/out/wd_s1_all.dat")
close=$(awk -v a="$table_mean" -v b="$curve_mean" 'BEGIN { d = a - b; if (d < 0) d = -d; print (a != "" && d < 1e-6) ? "yes" : "no" }')
[ $trc -eq 0 ] && [ "$close" = yes ] && grep -q "AlphaDecay (n = 3; mean over training $(printf '%.2f' "$curve_mean"))" "$T/out/wd.gp" \
    && ok wd_steps_average_is_mean_wd || fail wd_steps_average_is_mean_wd "rc $trc table [$table_mean] curve [$curve_mean]: $(cat "$T/mw.err")"

# a series without runs and a results: directory not there: named in the warnings and the caption's note
if grep -q "warning: wd: series Flat: no completed runs" "$T/err" && grep -q "not drawn: Flat (not committed yet: res\\\\_not\\\\_yet)" "$T/out/wd_note.tex" \
    && grep -q "no runs yet: Flat (not committed yet: res.*_not.*_yet)" "$T/out/wd.gp" && [ ! -e "$T/out/wd_s2_all.dat" ]; then ok wd_steps_empty_series_named
else fail wd_steps_empty_series_named "$(cat "$T/err") / $(cat "$T/out/wd_note.tex" 2>&1)"; fi
# report all renders it while one results: directory is missing (skips it only when all are)
mkdir -p "$T/specs"; cp "$T/wd.yaml" "$T/specs/"
"$BIN" report all --specs "$T/specs" --root "$T" --out-dir "$T/out_all" --quiet >/dev/null 2>"$T/all.err"
sed 's#^results: .*#results: [res_not_yet]#' "$T/wd.yaml" >"$T/specs/wd.yaml"; mkdir -p "$T/specs2"; mv "$T/specs/wd.yaml" "$T/specs2/"
"$BIN" report all --specs "$T/specs2" --root "$T" --out-dir "$T/out_none" --quiet >/dev/null 2>"$T/none.err"
[ -s "$T/out_all/wd.png" ] && grep -q "skipped .*wd.yaml: no results at .*res_not_yet" "$T/none.err" && [ ! -e "$T/out_none/wd.gp" ] \
    && ok wd_steps_report_all_partial || fail wd_steps_report_all_partial "$(cat "$T/all.err") / $(cat "$T/none.err")"

# malformed decay.jsonl: one line naming FILE:LINE, exit 1
bad() { # NAME LINE_TEXT EXPECTED: a2's decay.jsonl line 2 replaced by LINE_TEXT
    rm -rf "$T/bad"; cp -r "$T/res" "$T/bad"
    awk -v t="$2" 'NR == 2 { print t; next } { print }' "$T/res/a2/decay.jsonl" >"$T/bad/a2/decay.jsonl"
    sed 's#^results: .*#results: bad#' "$T/wd.yaml" >"$T/bad.yaml"
    "$BIN" report plot "$T/bad.yaml" --root "$T" --out-dir "$T/out_bad" --quiet >/dev/null 2>"$T/$1.err"; local rc=$?
    if [ $rc -eq 1 ] && [ "$(grep -vc '^warning' "$T/$1.err")" -eq 1 ] && grep -q "bad/a2/decay.jsonl:2:* .*$3" "$T/$1.err"; then ok "wd_steps_refuses_$1"
    else fail "wd_steps_refuses_$1" "rc $rc: $(cat "$T/$1.err")"; fi
}
bad truncated '{"step": 0, "module": "model.layers.0.self_attn.v_pr' ''
bad no_wd '{"step": 0, "module": "model.layers.0.self_attn.v_proj", "alpha": 2}' 'needs a numeric step, a module and a finite wd'
bad unknown_module '{"step": 0, "module": "model.layers.3.self_attn.v_proj", "wd": 2}' 'module model.layers.3.self_attn.v_proj is not a tensor'
bad step_back '{"step": -1, "module": "model.layers.0.self_attn.v_proj", "wd": 2}' 'step -1 after step 0'
exit $FAILED
