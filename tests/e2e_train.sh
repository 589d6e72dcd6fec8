#!/usr/bin/env bash
# End-to-end training: a tiny model on a generated corpus. Loss falls; two identical runs are
# bit-identical; a run that died between checkpoints, and runs of every decay method stopped at chosen
# updates (train --stop-after), resume to exactly the weights, moments and logs of an uninterrupted run;
# SIGTERM stops as --stop-after does; eval and train.init work; bad input fails cleanly. No verdict
# depends on timing.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup train fresh

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

# Run files without what the clock decides (throughput, elapsed and fit seconds): the rest must match bit for bit.
untimed() { sed -E 's/"[a-z_]*(_s|_seconds|per_s)": [-0-9.e+]*,? ?//g' "$@"; }
# same_run REF RUN STEP: RUN's checkpoint STEP (weights, Adam moments, state) and logs equal REF's; prints what differs
same_run() {
    local c=checkpoint/step_$(printf %08d "$3") f
    for f in $c/model.safetensors $c/optimizer.safetensors; do cmp -s "$1/$f" "$2/$f" || echo "$f"; done
    cmp -s <(untimed "$1/$c/state.json") <(untimed "$2/$c/state.json") || echo "$c/state.json"
    for f in metrics.jsonl eval.jsonl decay.jsonl; do cmp -s <(untimed "$1/$f" 2>/dev/null) <(untimed "$2/$f" 2>/dev/null) || echo "$f"; done
}

# 3. a run that died (SIGKILL) between checkpoints, deterministically: stopped after update 25 with its newest
# checkpoint (25) torn, unfinished (no COMPLETE), and a torn last log line. The resume starts from checkpoint 20,
# drops the logs past it and ends with exactly the uninterrupted run's weights, moments and logs.
"$BIN" train "$T/tiny.yaml" --out "$T/k" --stop-after 25 >"$T/k.log" 2>&1
rm -f "$T/k/checkpoint/step_00000025/COMPLETE" && head -c 100 "$T/k/checkpoint/step_00000025/model.safetensors" > "$T/k/m" \
    && mv "$T/k/m" "$T/k/checkpoint/step_00000025/model.safetensors"
printf '{"step": 26, "tokens": 66' >> "$T/k/metrics.jsonl"
"$BIN" train "$T/tiny.yaml" --out "$T/k" >>"$T/k.log" 2>&1; rc=$?
d=$(same_run "$T/a" "$T/k" 40)
[ $rc -eq 0 ] && [ -z "$d" ] && ok sigkill_resume_identical || fail sigkill_resume_identical "rc=$rc; differ: $d"
grep -q "resuming at step 20 " "$T/k.log" && ok resume_from_last_complete_checkpoint \
    || fail resume_from_last_complete_checkpoint "$(grep -h 'train: ' "$T/k.log" | tr '\n' ' ')"

# 4. a real signal: SIGTERM writes a checkpoint and exits 130, and stops exactly as --stop-after does at the
# same update. The run is far too long to end before the signal (100000 updates); whenever the signal lands,
# the verdict is the same. The wait is for an event (the first metrics line), not a race with the work.
tiny_yaml steps=100000 warmup=4 >"$T/long.yaml"
"$BIN" train "$T/long.yaml" --out "$T/s" >"$T/s.log" 2>&1 &
pid=$!
for _ in $(seq 1 6000); do [ -s "$T/s/metrics.jsonl" ] || ! kill -0 $pid 2>/dev/null && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
n=$(grep -o 'stopped by signal 15 after update [0-9]*' "$T/s.log" | grep -o '[0-9]*$')
if [ $rc -eq 130 ] && [ -n "$n" ] && [ -e "$T/s/checkpoint/step_$(printf %08d "$n")/COMPLETE" ] && [ ! -e "$T/s/summary.json" ]; then
    ok sigterm_checkpoints; else fail sigterm_checkpoints "rc=$rc: $(tail -1 "$T/s.log")"; fi
"$BIN" train "$T/long.yaml" --out "$T/s2" --stop-after "${n:-1}" >"$T/s2.log" 2>&1; rc=$?
d=$(same_run "$T/s" "$T/s2" "${n:-1}")
[ $rc -eq 130 ] && [ -n "$n" ] && [ -z "$d" ] && grep -q "stopped by --stop-after after update $n;" "$T/s2.log" \
    && ok stop_after_equals_signal || fail stop_after_equals_signal "rc=$rc at update $n; differ: $d"

# 4b. every decay method's state survives a stop at chosen updates (AWD's EMA, AdaDecay's and AlphaDecay's
# last assignment between updates): one run stopped and resumed at each of them ends equal to the
# uninterrupted run, weights, moments and logs. Refits come before updates 7, 14, 21, 28, 35
# (update_every 7); eval after 20; checkpoints after 10, 20, 30; the run ends after 40. Stops: before and
# after the refit of update 7 (6, 7), around the eval and checkpoint of 20 (19, 20, and 21, itself a
# refit), around the checkpoint of 30 (29, 30), and before the last update (39). Each stopped part must
# also match the uninterrupted run's logs up to its stop.
stops="6 7 19 20 21 29 30 39"
for m in none uniform awd adadecay alphadecay; do
    args=(--set decay.method=$m --set decay.update_every=7 --set decay.eigs_thresh=8)
    "$BIN" train "$T/tiny.yaml" "${args[@]}" --out "$T/u_$m" >"$T/u_$m.log" 2>&1
    bad_stop=
    for n in $stops; do
        "$BIN" train "$T/tiny.yaml" "${args[@]}" --out "$T/r_$m" --stop-after $n >>"$T/r_$m.log" 2>&1; rc=$?
        [ $rc -eq 130 ] && [ -e "$T/r_$m/checkpoint/step_$(printf %08d $n)/COMPLETE" ] \
            && cmp -s <(untimed "$T/r_$m/metrics.jsonl") <(untimed "$T/u_$m/metrics.jsonl" | head -$n) \
            || { bad_stop="stop after $n: rc $rc or logs differ"; break; }
    done
    "$BIN" train "$T/tiny.yaml" "${args[@]}" --out "$T/r_$m" >>"$T/r_$m.log" 2>&1; rc=$?
    d=$(same_run "$T/u_$m" "$T/r_$m" 40)
    [ $rc -eq 0 ] && [ -z "$bad_stop$d" ] && ok "resume_identical_$m" || fail "resume_identical_$m" "rc=$rc $bad_stop; differ: $d"
done
# a stop after the last update is no stop: the run completes, as a signal in the last update lets it
"$BIN" train "$T/tiny.yaml" --out "$T/last" --stop-after 40 >"$T/last.log" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q '"status": "completed"' "$T/last/summary.json" && [ -z "$(same_run "$T/a" "$T/last" 40)" ] \
    && ok stop_after_last_update_completes || fail stop_after_last_update_completes "rc=$rc"

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
bad stop_after_not_a_number "--stop-after needs an update number" "$T/tiny.yaml" --stop-after 0x
bad stop_after_zero "--stop-after needs an update number" "$T/tiny.yaml" --stop-after 0
"$BIN" train >/dev/null 2>&1; [ $? -eq 2 ] && ok usage_exit_2 || fail usage_exit_2 "no-argument call did not exit 2"
exit $FAILED
