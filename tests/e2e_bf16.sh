#!/usr/bin/env bash
# bf16 training end to end (train.dtype, checkpoint.dtype) on a generated corpus:
#  - 200 updates of a small model: bf16 (mixed precision) ends within 1% of fp32's final validation loss;
#    bf16_pure within 10% (measured 5.5% here: it loses updates smaller than half a bf16 step);
#  - both bf16 modes (20 updates) are deterministic and resume after SIGKILL to exactly the uninterrupted run (bf16 with
#    BF16 checkpoints, whose exact fp32 weights travel in optimizer.safetensors; bf16_pure with F32 ones);
#  - esd of a checkpoint written with checkpoint.dtype: bf16 gives the fp32 checkpoint's alphas to bf16
#    rounding (relative 2^-8: each weight moves by at most 2^-9 relative, an eigenvalue of W^T W by about
#    twice that; measured 7e-4);
#  - the dtype is recorded in config.yaml and summary.json; a bad dtype is refused.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup bf16

grammar_corpus "$T/corpus.jsonl" 3 300 adverbs
prep_corpus prep_for_bf16
tiny_yaml hidden=64 inter=172 heads=4 lr=0.003 steps=200 warmup=10 eval_tokens=4000 >"$T/small.yaml"
val_loss() { grep -o '"final_val_loss": [0-9.e+-]*' "$1/summary.json" | awk '{print $2}'; }

# 1. final loss gaps after 200 updates
for d in fp32 bf16 bf16_pure; do
    "$BIN" train "$T/small.yaml" --set train.dtype=$d --out "$T/l_$d" >"$T/l_$d.log" 2>&1 || fail "train_$d" "$(tail -1 "$T/l_$d.log")"
done
f=$(val_loss "$T/l_fp32"); b=$(val_loss "$T/l_bf16"); p=$(val_loss "$T/l_bf16_pure")
echo "# final val loss after 200 updates: fp32 $f, bf16 $b, bf16_pure $p"
awk -v f="$f" -v b="$b" 'BEGIN { d = (b - f) / f; exit !(f > 0 && d < 0.01 && d > -0.01) }' \
    && ok bf16_loss_within_1pct_of_fp32 || fail bf16_loss_within_1pct_of_fp32 "fp32 $f bf16 $b"
awk -v f="$f" -v p="$p" 'BEGIN { d = (p - f) / f; exit !(f > 0 && d < 0.10 && d > -0.10) }' \
    && ok bf16_pure_loss_within_10pct_of_fp32 || fail bf16_pure_loss_within_10pct_of_fp32 "fp32 $f bf16_pure $p"
grep -q '"dtype": "bf16"' "$T/l_bf16/summary.json" && grep -q 'dtype: bf16$' "$T/l_bf16/config.yaml" \
    && grep -q '"dtype": "float32"' "$T/l_fp32/summary.json" && grep -q 'dtype: fp32$' "$T/l_fp32/config.yaml" \
    && ok dtype_recorded || fail dtype_recorded "config.yaml / summary.json lack the dtype"

# 2. determinism and exact resume after SIGKILL, both bf16 modes
short=(--set train.steps=20 --set checkpoint.every=5 --set checkpoint.keep=2)
for d in bf16 bf16_pure; do
    ck=$([ $d = bf16 ] && echo bf16 || echo f32)
    args=("${short[@]}" --set train.dtype=$d --set checkpoint.dtype=$ck)
    "$BIN" train "$T/small.yaml" "${args[@]}" --out "$T/a_$d" >"$T/a_$d.log" 2>&1
    "$BIN" train "$T/small.yaml" "${args[@]}" --out "$T/b_$d" >"$T/b_$d.log" 2>&1
    fin=checkpoint/step_00000020
    same() { cmp -s "$1/$fin/model.safetensors" "$2/$fin/model.safetensors" && cmp -s "$1/$fin/optimizer.safetensors" "$2/$fin/optimizer.safetensors" \
             && cmp -s <(grep -o '"loss": [^,]*' "$1/metrics.jsonl") <(grep -o '"loss": [^,]*' "$2/metrics.jsonl"); }
    [ -s "$T/a_$d/$fin/model.safetensors" ] && same "$T/a_$d" "$T/b_$d" && ok "${d}_deterministic" || fail "${d}_deterministic" "two runs differ"
    # the state a SIGKILL after update 12 leaves, deterministically (train --stop-after): checkpoint 12 torn
    # (no COMPLETE), logs past checkpoint 10
    "$BIN" train "$T/small.yaml" "${args[@]}" --out "$T/k_$d" --stop-after 12 >"$T/k_$d.log" 2>&1
    rm -f "$T/k_$d/checkpoint/step_00000012/COMPLETE"
    "$BIN" train "$T/small.yaml" "${args[@]}" --out "$T/k_$d" >>"$T/k_$d.log" 2>&1; rc=$?
    if [ $rc -eq 0 ] && grep -q resuming "$T/k_$d.log" && same "$T/a_$d" "$T/k_$d"; then ok "${d}_sigkill_resume_identical"
    else fail "${d}_sigkill_resume_identical" "rc=$rc; $(grep -c resuming "$T/k_$d.log") resumes; weights, moments or losses differ"; fi
done
grep -q '"dtype":"BF16"' "$T/a_bf16/checkpoint/step_00000020/model.safetensors" && grep -q '"master.lm_head.weight"' "$T/a_bf16/checkpoint/step_00000020/optimizer.safetensors" \
    && grep -q '"torch_dtype": "bfloat16"' "$T/a_bf16/checkpoint/step_00000020/config.json" \
    && ok bf16_checkpoint_layout || fail bf16_checkpoint_layout "no BF16 tensors, no master weights or wrong torch_dtype"

# 3. esd of a BF16 checkpoint = the F32 one's alphas to bf16 rounding (same fp32 training, two checkpoint dtypes)
"$BIN" train "$T/small.yaml" --set train.steps=20 --out "$T/e_f32" >"$T/e_f32.log" 2>&1
"$BIN" train "$T/small.yaml" --set train.steps=20 --set checkpoint.dtype=bf16 --out "$T/e_bf16" >"$T/e_bf16.log" 2>&1
"$BIN" esd "$T/e_f32/checkpoint/step_00000020" --format csv --threads 1 > "$T/esd_f32.csv" 2>"$T/esd.err"
"$BIN" esd "$T/e_bf16/checkpoint/step_00000020" --format csv --threads 1 > "$T/esd_bf16.csv" 2>>"$T/esd.err"
cmp -s "$T/e_f32/checkpoint/step_00000020/model.safetensors" "$T/e_bf16/checkpoint/step_00000020/model.safetensors" \
    && fail esd_bf16_checkpoint "the two checkpoints are the same file"
worst=$(paste -d, <(cut -d, -f1,7 "$T/esd_f32.csv") <(cut -d, -f1,7 "$T/esd_bf16.csv") | awk -F, '
    NR == 1 { next } $1 != $3 || $2 + 0 <= 0 { bad = 1 } { d = ($4 - $2) / $2; d = d < 0 ? -d : d; if (d > w) w = d; n++ }
    END { if (bad || n < 15) print "bad"; else printf "%.3g", w }')
awk -v w="$worst" 'BEGIN { exit !(w != "bad" && w + 0 <= 2^-8) }' \
    && ok esd_bf16_checkpoint_alphas_equal_f32 || fail esd_bf16_checkpoint_alphas_equal_f32 "worst relative alpha difference $worst $(head -c 200 "$T/esd.err")"

# 4. a bad dtype is refused
"$BIN" train "$T/small.yaml" --set train.dtype=fp16 --out "$T/bad" >"$T/bad.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "fp16" "$T/bad.log" && [ ! -e "$T/bad/summary.json" ] && ok bad_dtype_refused || fail bad_dtype_refused "rc=$rc $(tail -1 "$T/bad.log")"
exit $FAILED
