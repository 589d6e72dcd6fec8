#!/usr/bin/env bash
# End-to-end training: a tiny model on a generated corpus. Loss falls; two identical runs are
# bit-identical; a run killed with SIGKILL (and one stopped by SIGTERM) and resumed ends with exactly
# the weights and losses of an uninterrupted run; eval and train.init work; bad input fails cleanly.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup train

# A corpus with structure to learn: sentences from a small grammar, deterministic.
grammar_corpus "$T/corpus.jsonl" 3 300 adverbs
prep_corpus prep_for_training

tiny_yaml steps=40 warmup=4 eval_every=20 ckpt_every=10 keep=2 >"$T/tiny.yaml"

losses() { grep -o '"loss": [-0-9.e]*' "$1/metrics.jsonl"; }

# 1. a run completes and learns
"$BIN" train "$T/tiny.yaml" --out "$T/a" >"$T/a.log" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '"status": "completed"' "$T/a/summary.json"; then ok train_completes; else fail train_completes "rc=$rc $(tail -2 "$T/a.log")"; fi
for f in config.yaml metrics.jsonl eval.jsonl decay.jsonl summary.json; do
    [ -s "$T/a/$f" ] || [ "$f" = decay.jsonl ] || fail "run_file_$f" "missing or empty"
done
[ "$(wc -l < "$T/a/metrics.jsonl")" -eq 40 ] && ok metrics_one_line_per_update || fail metrics_one_line_per_update "$(wc -l < "$T/a/metrics.jsonl") lines"
first=$(losses "$T/a" | head -3 | awk '{s+=$2} END {print s/3}'); last=$(losses "$T/a" | tail -3 | awk '{s+=$2} END {print s/3}')
awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 1.0) }' && ok loss_falls || fail loss_falls "first $first last $last"
ls -d "$T"/a/checkpoint/step_* 2>/dev/null | wc -l | grep -qx 2 && ok checkpoint_keep_2 || fail checkpoint_keep_2 "$(ls "$T/a/checkpoint")"

# 2. determinism
"$BIN" train "$T/tiny.yaml" --out "$T/b" >"$T/b.log" 2>&1
if cmp -s <(losses "$T/a") <(losses "$T/b") && cmp -s "$T/a/checkpoint/step_00000040/model.safetensors" "$T/b/checkpoint/step_00000040/model.safetensors"; then
    ok identical_runs_bit_identical; else fail identical_runs_bit_identical "losses or weights differ"; fi

# 3. SIGKILL mid-way, resume, compare with the uninterrupted run
cat "$T/tiny.yaml" > "$T/slow.yaml"
"$BIN" train "$T/tiny.yaml" --out "$T/k" >"$T/k.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ -e "$T/k/checkpoint/step_00000020/COMPLETE" ] && break; sleep 0.02; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
killed_at=$(ls "$T/k/checkpoint" 2>/dev/null | tr '\n' ' ')
"$BIN" train "$T/tiny.yaml" --out "$T/k" >>"$T/k.log" 2>&1; rc=$?
if [ $rc -eq 0 ] && cmp -s "$T/a/checkpoint/step_00000040/model.safetensors" "$T/k/checkpoint/step_00000040/model.safetensors" \
   && cmp -s <(losses "$T/a") <(losses "$T/k") && cmp -s "$T/a/eval.jsonl" "$T/k/eval.jsonl"; then
    ok sigkill_resume_identical; else fail sigkill_resume_identical "rc=$rc killed with [$killed_at]; weights or logs differ"; fi
grep -q "resuming" "$T/k.log" && ok resume_announced || fail resume_announced "no resume in log (killed too late? [$killed_at])"

# 4. SIGTERM writes a checkpoint and exits 130; the resumed run matches too
"$BIN" train "$T/tiny.yaml" --set checkpoint.every=1000 --out "$T/s" >"$T/s.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ -s "$T/s/metrics.jsonl" ] && break; sleep 0.02; done
kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && ls "$T/s/checkpoint" | grep -q step_ && [ ! -e "$T/s/summary.json" ]; then ok sigterm_checkpoints; else fail sigterm_checkpoints "rc=$rc"; fi
"$BIN" train "$T/tiny.yaml" --set checkpoint.every=1000 --out "$T/s" >>"$T/s.log" 2>&1
cmp -s "$T/a/checkpoint/step_00000040/model.safetensors" "$T/s/checkpoint/step_00000040/model.safetensors" \
    && ok sigterm_resume_identical || fail sigterm_resume_identical "weights differ"

# 4b. the decay methods' state survives a stop at an arbitrary update (AWD's EMA, AdaDecay's and
# AlphaDecay's last assignment between updates): stopped + resumed == uninterrupted, weights and decay log
for m in awd adadecay alphadecay; do
    args=(--set decay.method=$m --set decay.update_every=7 --set decay.eigs_thresh=8 --set checkpoint.every=1000)
    "$BIN" train "$T/tiny.yaml" "${args[@]}" --out "$T/u_$m" >"$T/u_$m.log" 2>&1
    "$BIN" train "$T/tiny.yaml" "${args[@]}" --out "$T/r_$m" >"$T/r_$m.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 400); do [ "$(cat "$T/r_$m/metrics.jsonl" 2>/dev/null | wc -l)" -ge 9 ] && break; sleep 0.01; done
    kill -TERM $pid; wait $pid; rc=$?
    "$BIN" train "$T/tiny.yaml" "${args[@]}" --out "$T/r_$m" >>"$T/r_$m.log" 2>&1
    stopped_at=$(grep -o 'after update [0-9]*' "$T/r_$m.log" | head -1)
    if [ $rc -eq 130 ] && cmp -s "$T/u_$m/checkpoint/step_00000040/model.safetensors" "$T/r_$m/checkpoint/step_00000040/model.safetensors" \
       && cmp -s <(sed 's/"fit_seconds": [0-9.e+-]*//' "$T/u_$m/decay.jsonl") <(sed 's/"fit_seconds": [0-9.e+-]*//' "$T/r_$m/decay.jsonl") \
       && cmp -s <(grep -o '"awd_lambda": [^,]*' "$T/u_$m/metrics.jsonl") <(grep -o '"awd_lambda": [^,]*' "$T/r_$m/metrics.jsonl"); then
        ok "resume_identical_$m"
    else fail "resume_identical_$m" "rc=$rc ($stopped_at): weights, decay.jsonl or awd_lambda differ"; fi
done

# 5. a completed run is not rerun; a different config in the same directory is refused
"$BIN" train "$T/tiny.yaml" --out "$T/a" >"$T/again.log" 2>&1 && grep -q "already completed" "$T/again.log" \
    && ok completed_not_rerun || fail completed_not_rerun "$(tail -1 "$T/again.log")"
rm -f "$T/k/summary.json"
"$BIN" train "$T/tiny.yaml" --set train.lr=0.001 --out "$T/k" >"$T/diff.log" 2>&1
[ $? -ne 0 ] && grep -q "different config" "$T/diff.log" && ok different_config_refused || fail different_config_refused "$(tail -1 "$T/diff.log")"

# 6. eval on the final checkpoint, and train.init from it
out=$("$BIN" eval --checkpoint "$T/a/checkpoint/step_00000040" --data "$T/data/val.bin" --seq-len 32 --batch 4 --tokens 1000 2>"$T/eval.err")
echo "$out" | grep -Eq '^\{"loss": [0-9.]+, "ppl": [0-9.]+, "tokens": [0-9]+\}$' && ok eval_prints_json || fail eval_prints_json "$out $(cat "$T/eval.err")"
"$BIN" train "$T/tiny.yaml" --set train.init="$T/a/checkpoint/step_00000040" --set train.steps=2 --set train.warmup_steps=0 --out "$T/init" >"$T/init.log" 2>&1
f1=$(losses "$T/init" | head -1 | awk '{print $2}')
awk -v f="$f1" -v l="$last" 'BEGIN { exit !(f < l + 0.5) }' && ok train_init_starts_trained || fail train_init_starts_trained "first loss $f1 vs trained $last"

# 7. divergence is recorded as such
"$BIN" train "$T/tiny.yaml" --set model.initializer_range=1e20 --set checkpoint.every=0 --out "$T/div" >"$T/div.log" 2>&1
grep -q '"status": "diverged"' "$T/div/summary.json" 2>/dev/null && ok divergence_recorded || fail divergence_recorded "$(tail -1 "$T/div.log")"

# 8. bad input: clear one-line errors, non-zero exit, nothing claiming completion
bad() { # name, expected message fragment, then train args
    local name=$1 frag=$2; shift 2
    "$BIN" train "$@" --out "$T/bad_$name" >"$T/bad_$name.log" 2>&1; local rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$frag" "$T/bad_$name.log" && [ ! -e "$T/bad_$name/summary.json" ]; then ok "bad_$name"; else fail "bad_$name" "rc=$rc: $(tail -1 "$T/bad_$name.log")"; fi
}
printf 'model: {hidden_size: 32}\ntrain:\n  lr: 0.01\n  bogus_key: 3\n' > "$T/unknown.yaml"
bad unknown_key "unknown.yaml:4" "$T/unknown.yaml"
printf 'train: {lr: fast}\n' > "$T/type.yaml"
bad wrong_type "type.yaml:1" "$T/type.yaml"
bad batch_divisible "multiple of" "$T/tiny.yaml" --set train.micro_batch_size=3
bad heads_divide "head" "$T/tiny.yaml" --set model.num_attention_heads=3
bad seq_too_long "seq_len" "$T/tiny.yaml" --set data.seq_len=5000
bad missing_shard "nope.bin" "$T/tiny.yaml" --set data.train=$T/nope.bin
head -c 2000 "$T/data/train.bin" > "$T/trunc.bin"
bad truncated_shard "trunc.bin" "$T/tiny.yaml" --set data.train=$T/trunc.bin
bad missing_config "missing.yaml" "$T/missing.yaml"
bad memory_guard "exceeds this machine" "$T/tiny.yaml" --set model.hidden_size=16384 --set model.intermediate_size=65536 --set model.num_hidden_layers=32 --set model.num_attention_heads=128
mkdir -p "$T/badckpt" && cp "$T/a/checkpoint/step_00000040/config.json" "$T/badckpt/" && head -c 5000 "$T/a/checkpoint/step_00000040/model.safetensors" > "$T/badckpt/model.safetensors"
bad corrupt_init "model.safetensors" "$T/tiny.yaml" --set train.init=$T/badckpt
"$BIN" train >/dev/null 2>&1; [ $? -eq 2 ] && ok usage_exit_2 || fail usage_exit_2 "no-argument call did not exit 2"
exit $FAILED
