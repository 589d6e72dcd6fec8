#!/usr/bin/env bash
# One way to open a model (engine/io/model_open.h): eval, eval-tasks, sample, esd and train.init each
# accept a run directory (its newest complete checkpoint), a checkpoint/step_N directory and a
# .safetensors file, and give the same result for all three; anything else is an error naming the three
# forms. Every one of them refuses a checkpoint with a byte flipped mid-file (a CRC error naming the
# file), and eval-tasks and sample refuse a tokenizer of another vocabulary size than the model's.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup open fresh
FORMS="expected a run directory, a checkpoint/step_N directory or a .safetensors file"

grammar_corpus "$T/corpus.jsonl" 7 120
prep_corpus prep
"$BIN" prep --input "$T/corpus.jsonl" --out "$T/v280" --vocab-size 280 --val-fraction 0.1 --seed 1 --quiet \
    >"$T/prep280.log" 2>&1 || { fail prep280 "$(tail -1 "$T/prep280.log")"; exit 1; }
tiny_yaml ckpt_every=2 keep=2 >"$T/tiny.yaml"
"$BIN" train "$T/tiny.yaml" --out "$T/run" >"$T/train.log" 2>&1 || { fail train "$(tail -2 "$T/train.log")"; exit 1; }
ST="$T/run/checkpoint/step_00000006"
# a newer step directory without COMPLETE (a save killed half-way) is never opened
mkdir -p "$T/run/checkpoint/step_00000008"; printf 'garbage' >"$T/run/checkpoint/step_00000008/model.safetensors"
printf '{"context": "the cat", "choices": ["eats.", "dog the"], "gold": 0}\n{"context": "a model", "choices": ["fits well.", "bird"], "gold": 0}\n' >"$T/mc.jsonl"

# run_cmd CMD PATH: the command's output for the model at PATH (stdout and stderr), exit status in $rc
run_cmd() {
    case $1 in
    eval) "$BIN" eval --checkpoint "$2" --data "$T/data/val.bin" --seq-len 16 --tokens 400 ;;
    eval-tasks) "$BIN" eval-tasks --checkpoint "$2" --tokenizer "${TOK:-$T/data/tokenizer.bin}" --task "$T/mc.jsonl" --seq-len 16 ;;
    sample) "$BIN" sample --checkpoint "$2" --tokenizer "${TOK:-$T/data/tokenizer.bin}" --prompt "the cat" --tokens 8 --temperature 0 ;;
    esd) "$BIN" esd "$2" --format csv --threads 1 >"$T/raw" && cut -d, -f1-18 "$T/raw" ;;  # all but the seconds
    train.init) "$BIN" train "$T/tiny.yaml" --set train.steps=2 --set "train.init=$2" --out "$T/init_$3" &&
                od -An -tx1 "$T/init_$3/checkpoint/step_00000002/model.safetensors" | md5sum ;;
    esac >"$T/out" 2>"$T/err"
    rc=$?
}

# ---- every command, every form: the same result as the step directory itself ----
for cmd in eval eval-tasks sample esd train.init; do
    run_cmd "$cmd" "$ST" step; want=$(grep -v '"checkpoint"' "$T/out" | sed 's|"checkpoint": "[^"]*", ||'); rc0=$rc
    [ $rc0 -eq 0 ] && [ -n "$want" ] || { fail "open_${cmd}_step_dir" "rc $rc0: $(head -c 300 "$T/err")"; continue; }
    bad=""
    for form in run "$T/run" file "$ST/model.safetensors" ckdir "$T/run/checkpoint"; do
        case $form in run|file|ckdir) name=$form; continue ;; esac
        run_cmd "$cmd" "$form" "$name"
        got=$(grep -v '"checkpoint"' "$T/out" | sed 's|"checkpoint": "[^"]*", ||')
        [ $rc -eq 0 ] && [ "$got" = "$want" ] || bad="$bad $name(rc $rc: $(head -c 200 "$T/err"))"
    done
    [ -z "$bad" ] && ok "open_${cmd}_every_form" || fail "open_${cmd}_every_form" "$bad"
done
# the run directory is the newest complete checkpoint, not the older one
run_cmd eval "$T/run/checkpoint/step_00000004"; old=$(cat "$T/out"); run_cmd eval "$T/run"
[ $rc -eq 0 ] && [ "$(cat "$T/out")" != "$old" ] && ok open_run_dir_is_newest || fail open_run_dir_is_newest "run dir gave step 4's loss"

# ---- anything else: one line naming the three forms ----
mkdir -p "$T/empty"
for cmd in eval eval-tasks sample esd train.init; do
    bad=""
    for p in "$T/empty" "$T/missing"; do
        run_cmd "$cmd" "$p" other
        [ $rc -eq 1 ] && grep -q "$p: .*$FORMS" "$T/err" || bad="$bad $(basename "$p")(rc $rc: $(head -c 200 "$T/err"))"
    done
    [ -z "$bad" ] && ok "open_${cmd}_names_the_forms" || fail "open_${cmd}_names_the_forms" "$bad"
done

# ---- a byte flipped mid-file: every command refuses with a CRC error naming the file ----
cp -r "$T/run" "$T/bad"; rm -rf "$T/bad/checkpoint/step_00000008"
f="$T/bad/checkpoint/step_00000006/model.safetensors"
printf '\x7f' | dd of="$f" bs=1 seek=$(( $(stat -c %s "$f") / 2 )) conv=notrunc 2>/dev/null
cmp -s "$f" "$ST/model.safetensors" && fail open_flip "byte not changed"
for cmd in eval eval-tasks sample esd train.init; do
    bad=""
    for p in "$T/bad" "$T/bad/checkpoint/step_00000006" "$f"; do
        run_cmd "$cmd" "$p" corrupt
        [ $rc -eq 1 ] && grep -q "step_00000006/model.safetensors: CRC-32C .*corrupt" "$T/err" || bad="$bad $p(rc $rc: $(head -c 200 "$T/err"))"
    done
    [ -z "$bad" ] && ok "open_${cmd}_refuses_corrupt" || fail "open_${cmd}_refuses_corrupt" "$bad"
done

# ---- a tokenizer of 280 tokens with a 300-token model: eval-tasks and sample refuse it ----
for cmd in eval-tasks sample; do
    TOK="$T/v280/tokenizer.bin" run_cmd "$cmd" "$T/run"
    [ $rc -eq 1 ] && grep -q "v280/tokenizer.bin has vocab size 280 but the model in .*step_00000006 has 300" "$T/err" \
        && ok "open_${cmd}_refuses_other_tokenizer" || fail "open_${cmd}_refuses_other_tokenizer" "rc $rc: $(head -c 300 "$T/err")"
done
exit $FAILED
