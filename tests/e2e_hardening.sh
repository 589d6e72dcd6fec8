#!/usr/bin/env bash
# Hostile inputs that used to crash, escape or pass silently (issue 13): each case must end in a clean
# result or a one-line error naming the file, never a crash, a write outside the output directory or
# a silently wrong run.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup hardening
ROOT=$(pwd)
have_py=1; command -v python3 >/dev/null || have_py=0

# ---- esd: a tensor name of 200+ characters with a quote and a backslash (was a heap use-after-free;
# --format json printed the name unescaped) ----
if [ $have_py = 1 ]; then
    one_tensor_safetensors "$T/longname.safetensors" "model.layers.0.$(printf '%0180d' 0 | tr 0 x)"'"q\uote".self_attn.q_proj.weight'
    "$BIN" esd "$T/longname.safetensors" --format json --threads 1 >"$T/esd.json" 2>"$T/esd.err"; rc=$?
    if [ $rc -eq 0 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = d["modules"][0]["module"]
assert m == "model.layers.0." + "x" * 180 + "\"q\\uote\".self_attn.q_proj", m' "$T/esd.json" 2>"$T/esd.py"; then
        ok esd_long_quoted_name_json
    else
        fail esd_long_quoted_name_json "rc $rc: $(head -c 300 "$T/esd.err") $(tail -1 "$T/esd.py")"
    fi
else
    echo "skipped esd_long_quoted_name_json: python3 is not installed"
fi

# ---- names that become paths: one rule (no '/', no leading '.', no quotes or control characters) ----
printf 'data: {train: t.bin, seq_len: 32}\ntrain: {batch_size: 4, steps: 10, warmup_steps: 1}\n' >"$T/exp.yaml"
mkdir -p "$T/names"
cp "$T/exp.yaml" "$T/names/..yaml"
printf 'name: esc\ngrid:\n  experiment: [%s]\n' "$T/names/..yaml" >"$T/names/runesc.yaml"
# dry_run_refused TEST FILE PATTERN1 PATTERN2: `sweep run --dry-run FILE` fails and says both
dry_run_refused() {
    local out="$T/names/$1.out" rc
    "$BIN" sweep run "$2" --dry-run --results "$T/names/res" >"$out" 2>&1; rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$3" "$out" && grep -q -- "$4" "$out"; then ok "$1"
    else fail "$1" "rc $rc: $(head -c 300 "$out")"; fi
}
dry_run_refused sweep_run_name_from_dotdot_yaml_rejected "$T/names/runesc.yaml" "runesc.yaml" "starts with '.'"
printf 'base: %s\n' "$T/exp.yaml" >"$T/names/...yaml"
dry_run_refused sweep_name_from_dotdotdot_yaml_rejected "$T/names/...yaml" '\.\.\.yaml' "name:"
# one finished run for the report commands
d="$T/rep/res/one/run1"; mkdir -p "$d" "$T/rep/out"
printf 'version: "0.1.0"\ntrain:\n  seed: 1\ndecay:\n  method: uniform\n  weight_decay: 1e-05\n' >"$d/config.yaml"
printf '{"step": 10, "tokens": 100, "loss": 4.5, "lr": 0.001, "elapsed_s": 1}\n{"step": 20, "tokens": 200, "loss": 4.0, "lr": 0.001, "elapsed_s": 2}\n' >"$d/metrics.jsonl"
printf '{"step": 20, "loss": 4.0, "ppl": 54.6, "tokens": 100}\n' >"$d/eval.jsonl"
printf '{"status": "completed", "final_val_loss": 4.0, "final_val_ppl": 54.6, "steps": 20, "tokens": 200, "wall_seconds": 2, "peak_rss_mb": 30}\n' >"$d/summary.json"
printf 'table: ../escaped\nresults: res/one\nrows:\n  - {label: A, where: {decay.method: uniform}}\ncolumns:\n  - {label: all}\n' >"$T/rep/t.yaml"
"$BIN" report table "$T/rep/t.yaml" --root "$T/rep" --out-dir "$T/rep/out" >"$T/rep/out1" 2>&1; rc=$?
if [ $rc -ne 0 ] && ! ls "$T/rep"/escaped* >/dev/null 2>&1 && grep -q "t.yaml:1:8: the name starts with '.'" "$T/rep/out1"; then
    ok report_table_name_escape_rejected
else
    fail report_table_name_escape_rejected "rc $rc: $(head -c 300 "$T/rep/out1")"
fi

# ---- report plot: gnuplot through an argument vector; a figure name with a quote runs nothing and an
# output directory with an apostrophe works ----
if command -v gnuplot >/dev/null; then
    printf "figure: \"a'; touch PWNED; '\"\nkind: curves\nresults: res/one\nseries:\n  - {label: A, where: {decay.method: uniform}}\n" >"$T/rep/f.yaml"
    (cd "$T/rep" && "$BIN" report plot f.yaml --root . --out-dir out >out2 2>&1); rc=$?
    if [ $rc -ne 0 ] && [ ! -e "$T/rep/PWNED" ] && [ ! -e "$T/rep/out/PWNED" ] && grep -q "f.yaml:1:9: the name contains a quote" "$T/rep/out2"; then
        ok report_plot_quote_in_name_rejected
    else
        fail report_plot_quote_in_name_rejected "rc $rc: $(head -c 300 "$T/rep/out2")"
    fi
    printf "figure: fig_ok\nkind: curves\nresults: res/one\nseries:\n  - {label: A, where: {decay.method: uniform}}\n" >"$T/rep/g.yaml"
    mkdir -p "$T/rep/it's here"
    "$BIN" report plot "$T/rep/g.yaml" --root "$T/rep" --out-dir "$T/rep/it's here" >"$T/rep/out3" 2>&1; rc=$?
    if [ $rc -eq 0 ] && [ -s "$T/rep/it's here/fig_ok.png" ]; then
        ok report_plot_apostrophe_out_dir
    else
        fail report_plot_apostrophe_out_dir "rc $rc: $(head -c 300 "$T/rep/out3")"
    fi
else
    echo "skipped report_plot_quote_in_name_rejected: gnuplot is not installed"
fi

# ---- Slurm backend: job ids and #SBATCH values validated, commands run without a shell (fake squeue
# and sbatch record their arguments) ----
mkdir -p "$T/slurm/bin"
printf '#!/bin/sh\necho "$@" >>"%s/squeue.args"\n' "$T/slurm" >"$T/slurm/bin/squeue"
printf '#!/bin/sh\necho "$@" >>"%s/sbatch.args"\necho 4242\n' "$T/slurm" >"$T/slurm/bin/sbatch"
chmod +x "$T/slurm/bin/squeue" "$T/slurm/bin/sbatch"
printf 'name: sl\nbase: %s\ngrid:\n  decay.method: [uniform]\n' "$T/exp.yaml" >"$T/slurm/sl.yaml"
mkdir -p "$T/slurm/res/sl/slurm"
"$BIN" sweep run "$T/slurm/sl.yaml" --dry-run --results "$T/slurm/res" >/dev/null 2>&1  # writes sweep.json
printf '1;touch${IFS}%s/PWNED\n' "$T/slurm" >"$T/slurm/res/sl/slurm/jobs"
(cd "$T/slurm" && PATH="$T/slurm/bin:$PATH" AD_SLURM_POLL=0.05 "$BIN" sweep run sl.yaml --backend slurm --results res >out1 2>&1); rc=$?
if [ $rc -ne 0 ] && [ ! -e "$T/slurm/PWNED" ] && grep -q "not a Slurm job id" "$T/slurm/out1"; then
    ok slurm_job_id_validated
else
    fail slurm_job_id_validated "rc $rc: $(head -c 300 "$T/slurm/out1")"
fi
rm -f "$T/slurm/res/sl/slurm/jobs"
(cd "$T/slurm" && PATH="$T/slurm/bin:$PATH" AD_SLURM_POLL=0.05 "$BIN" sweep run sl.yaml --backend slurm --results res \
    --partition 'debug
#SBATCH --wrap=true' >out2 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q -- "--partition" "$T/slurm/out2" && [ ! -e "$T/slurm/sbatch.args" ]; then
    ok slurm_partition_validated
else
    fail slurm_partition_validated "rc $rc: $(head -c 300 "$T/slurm/out2")"
fi
(cd "$T/slurm" && PATH="$T/slurm/bin:$PATH" AD_SLURM_POLL=0.05 "$BIN" sweep run sl.yaml --backend slurm --results res \
    --partition gpu-a,gpu_b --time 1-02:00:00 >out3 2>&1); rc=$?
sc=res/sl/slurm/submit-1.sbatch
if grep -q "submitted Slurm job 4242" "$T/slurm/out3" && grep -qx -- "--parsable $sc" "$T/slurm/sbatch.args" &&
   grep -qx -- "-h -r -j 4242 -o %T" "$T/slurm/squeue.args" && grep -qx "#SBATCH --partition=gpu-a,gpu_b" "$T/slurm/$sc"; then
    ok slurm_commands_as_argv
else
    fail slurm_commands_as_argv "rc $rc: $(head -c 300 "$T/slurm/out3") / $(cat "$T/slurm/sbatch.args" "$T/slurm/squeue.args" 2>&1 | head -3)"
fi

# ---- grid size cap: a 10^6-point grid is refused before anything is allocated; max_runs raises the cap ----
{ printf 'name: huge\nbase: %s\ngrid:\n' "$T/exp.yaml"
  for k in train.lr train.seed train.warmup_steps train.batch_size decay.weight_decay model.hidden_size; do
      printf '  %s: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n' $k; done; } >"$T/huge.yaml"
( case $BIN in *build-san*) ;; *) ulimit -v 4000000 ;; esac
  "$BIN" sweep list "$T/huge.yaml" >"$T/huge.out" 2>&1 ); rc=$?
# (the address-space limit, not a clock, shows nothing was built: a million resolved runs do not fit in it)
if [ $rc -eq 1 ] && grep -q "huge.yaml: the grid has 1000000 points" "$T/huge.out" && grep -q "max_runs" "$T/huge.out"; then
    ok sweep_grid_size_capped
else
    fail sweep_grid_size_capped "rc $rc: $(head -c 300 "$T/huge.out")"
fi
printf 'name: capped\nbase: %s\nmax_runs: 2\ngrid:\n  train.lr: [0.001, 0.002, 0.003]\n' "$T/exp.yaml" >"$T/capped.yaml"
"$BIN" sweep list "$T/capped.yaml" >"$T/capped.out" 2>&1; rc1=$?
sed -i 's/max_runs: 2/max_runs: 3/' "$T/capped.yaml"
"$BIN" sweep list "$T/capped.yaml" >"$T/capped2.out" 2>&1; rc2=$?
if [ $rc1 -eq 1 ] && grep -q "3 points .*max_runs 2" "$T/capped.out" && [ $rc2 -eq 0 ] && [ "$(grep -c lr= "$T/capped2.out")" -eq 3 ]; then
    ok sweep_max_runs_overrides_cap
else
    fail sweep_max_runs_overrides_cap "rc $rc1/$rc2: $(head -c 300 "$T/capped.out") / $(head -c 300 "$T/capped2.out")"
fi

# ---- no shell anywhere: no system() / popen() in the sources (commands run through run_argv) ----
hits=$(grep -rnE '(^|[^_a-zA-Z])(system|popen) *\(' "$ROOT"/engine "$ROOT"/analysis "$ROOT"/tests/*.c 2>/dev/null | grep -v '^\s*\*')
if [ -z "$hits" ]; then ok no_system_or_popen; else fail no_system_or_popen "$(echo "$hits" | head -3)"; fi

# ---- a trained tiny run for the checkpoint and silent-acceptance cases ----
grammar_corpus "$T/corpus.jsonl" 3 120
prep_corpus prep
tiny_yaml seq=16 batch=4 warmup=1 eval_tokens=500 ckpt_every=2 keep=3 >"$T/tiny.yaml"
"$BIN" train "$T/tiny.yaml" --out "$T/full" >"$T/full.log" 2>&1 || { fail train "$(tail -2 "$T/full.log")"; exit 1; }

# ---- checkpoints: one flipped byte in the newest model is found; resume falls back with a warning
# naming the file; eval, esd and sample refuse the damaged directory ----
# $T/run: the same run killed after step 6's logs but before its last checkpoint and summary
cp -r "$T/full" "$T/run"; rm -rf "$T/run/summary.json" "$T/run/checkpoint/step_00000006"
ck="$T/run/checkpoint/step_00000004"
printf "\x55" | dd of="$ck/model.safetensors" bs=1 seek=$(( $(stat -c %s "$ck/model.safetensors") - 100 )) conv=notrunc 2>/dev/null
cmp -s "$ck/model.safetensors" "$T/full/checkpoint/step_00000004/model.safetensors" && fail flip "byte not changed"
"$BIN" eval --checkpoint "$ck" --data "$T/data/val.bin" --seq-len 16 >"$T/ev.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "step_00000004/model.safetensors: CRC-32C .*corrupt" "$T/ev.out"; then ok eval_refuses_corrupt_checkpoint
else fail eval_refuses_corrupt_checkpoint "rc $rc: $(head -c 300 "$T/ev.out")"; fi
"$BIN" esd "$ck/model.safetensors" --threads 1 >"$T/esd2.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "model.safetensors: CRC-32C" "$T/esd2.out"; then ok esd_refuses_corrupt_checkpoint
else fail esd_refuses_corrupt_checkpoint "rc $rc: $(head -c 300 "$T/esd2.out")"; fi
"$BIN" sample --checkpoint "$ck" --tokenizer "$T/data/tokenizer.bin" --tokens 4 >"$T/sm.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "model.safetensors: CRC-32C" "$T/sm.out"; then ok sample_refuses_corrupt_checkpoint
else fail sample_refuses_corrupt_checkpoint "rc $rc: $(head -c 300 "$T/sm.out")"; fi
"$BIN" train "$T/tiny.yaml" --out "$T/run" >"$T/resume.log" 2>&1; rc=$?
# resumed from step 2: the run ends with the same weights and logs as the uninterrupted one
if [ $rc -eq 0 ] && grep -q "warning: .*step_00000004/model.safetensors: CRC-32C" "$T/resume.log" &&
   cmp -s "$T/run/checkpoint/step_00000006/model.safetensors" "$T/full/checkpoint/step_00000006/model.safetensors" &&
   cmp -s <(grep -o '"loss": [-0-9.e]*' "$T/run/metrics.jsonl") <(grep -o '"loss": [-0-9.e]*' "$T/full/metrics.jsonl"); then
    ok resume_falls_back_past_corrupt_checkpoint
else
    fail resume_falls_back_past_corrupt_checkpoint "rc $rc: $(grep -i 'warn\|error' "$T/resume.log" | head -3)"
fi

# ---- silent acceptance -> clear errors ----
"$BIN" train "$T/tiny.yaml" --set model.vocab_size=320 --out "$T/v" >"$T/v.log" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "vocabulary of 300 (prep.json)" "$T/v.log" && [ ! -e "$T/v/summary.json" ]; then ok vocab_differs_from_prep_json
else fail vocab_differs_from_prep_json "rc $rc: $(tail -1 "$T/v.log")"; fi
"$BIN" train "$T/tiny.yaml" --set 'decay.exclude=[model.layers.0.self_attn.q_proj, lm_head, model.layers.0.attn.k_proj]' \
    --out "$T/x" >"$T/x.log" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "decay.exclude: no module named 'model.layers.0.attn.k_proj'" "$T/x.log"; then ok decay_exclude_unknown_module
else fail decay_exclude_unknown_module "rc $rc: $(tail -1 "$T/x.log")"; fi
# config.json that declares fewer layers than the weights hold
mkdir -p "$T/trunc"; cp "$T/full/checkpoint/step_00000004/model.safetensors" "$T/trunc/"
sed 's/"num_hidden_layers": 2/"num_hidden_layers": 1/' "$T/full/checkpoint/step_00000004/config.json" >"$T/trunc/config.json"
"$BIN" eval --checkpoint "$T/trunc" --data "$T/data/val.bin" --seq-len 16 >"$T/tr.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "model.layers.1.* has no place" "$T/tr.out"; then ok config_fewer_layers_than_weights
else fail config_fewer_layers_than_weights "rc $rc: $(head -c 300 "$T/tr.out")"; fi
# pad mode on documents of one token each (nothing to predict)
if [ $have_py = 1 ]; then
    mkdir -p "$T/one"
    python3 -c '
import struct, sys
n = 500
hdr = [20240520, 1, n] + [0] * 253
open(sys.argv[1], "wb").write(struct.pack("<256i", *hdr) + struct.pack("<%dH" % n, *([299] * n)))' "$T/one/train.bin"
    "$BIN" train "$T/tiny.yaml" --set data.mode=pad --set "data.train=$T/one/train.bin" --set data.val= --out "$T/p" >"$T/p.log" 2>&1; rc=$?
    if [ $rc -ne 0 ] && grep -q "pad mode: every one of the 500 documents is a single token" "$T/p.log"; then ok pad_mode_nothing_to_predict
    else fail pad_mode_nothing_to_predict "rc $rc: $(tail -1 "$T/p.log")"; fi
fi

exit $FAILED
