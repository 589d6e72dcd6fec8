#!/usr/bin/env bash
# Issue 25: what a hostile run directory, a failing disk and hostile names can do. Planted symbolic
# links are refused and nothing outside the run directory changes; every failed fsync, close or rename
# of a written file fails the run (no "completed" summary); pruning deletes COMPLETE first and a resumed
# or completed run finishes it; temp files of killed writers are cleaned; YAML bombs fail fast.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup durability fresh
grammar_corpus "$T/corpus.jsonl" 3 300
prep_corpus prep_for_durability

# run NAME DIR [yaml settings]: a tiny run into DIR; its exit status in $rc, its output in $T/NAME.out
run() {
    local name=$1 dir=$2; shift 2
    tiny_yaml "$@" >"$T/$name.yaml"
    "$BIN" train "$T/$name.yaml" --out "$dir" >"$T/$name.out" 2>&1; rc=$?
}
status_of() { sed -n 's/.*"status": "\([a-z]*\)".*/\1/p' "$1/summary.json" 2>/dev/null; }

# ---- 1. symbolic links planted in a run directory (the issue's reproduction) ----
V="$T/victim"; mkdir -p "$V/dir"; echo precious >"$V/dir/thesis.tex"; echo important >"$V/important.txt"
victim_intact() { [ "$(cat "$V/dir/thesis.tex" 2>/dev/null)" = precious ] && [ "$(cat "$V/important.txt")" = important ]; }
# plant NAME LINK TARGET: a fresh run directory $T/NAME with LINK -> TARGET, then train on it
plant() {
    local name=$1 link=$2 target=$3 d="$T/$1"
    rm -rf "$d"; mkdir -p "$(dirname "$d/$link")"
    ln -s "$target" "$d/$link"
    run "$name" "$d" steps=4 ckpt_every=2 keep=1
    if [ $rc -ne 0 ] && victim_intact && grep -q "$link: is a symbolic link" "$T/$name.out" &&
       [ "$(status_of "$d")" != completed ]; then ok "$name"
    else fail "$name" "rc $rc, victim $(ls "$V/dir" | tr '\n' ' ')/$(cat "$V/important.txt"): $(tail -1 "$T/$name.out")"; fi
}
plant symlink_step_tmp_refused checkpoint/step_00000099.tmp "$V/dir"
plant symlink_step_old_refused checkpoint/step_00000002.old "$V/dir"
plant symlink_step_dir_refused checkpoint/step_00000001 "$V/dir"
plant symlink_lock_refused .lock "$V/important.txt"
plant symlink_checkpoint_dir_refused checkpoint "$V/dir"
plant symlink_spectra_dir_refused spectra "$V/dir"
plant symlink_metrics_refused metrics.jsonl "$V/important.txt"
plant symlink_summary_refused summary.json "$V/important.txt"
# a link planted inside a checkpoint that pruning removes: the link goes, its target stays
d="$T/inner"; rm -rf "$d"
run inner1 "$d" steps=4 ckpt_every=2 keep=1 >/dev/null
rm -f "$d/summary.json"; ln -s "$V/important.txt" "$d/checkpoint/step_00000004/extra"
mkdir -p "$d/checkpoint/step_00000003"; ln -s "$V/dir" "$d/checkpoint/step_00000003/sub" # incomplete: removed
run inner2 "$d" steps=4 ckpt_every=2 keep=1
if [ $rc -eq 0 ] && victim_intact && [ ! -e "$d/checkpoint/step_00000003" ]; then ok symlink_inside_checkpoint_removed_as_link
else fail symlink_inside_checkpoint_removed_as_link "rc $rc: $(tail -1 "$T/inner2.out")"; fi

# the sweep launcher's train.log
printf 'name: sw\nbase: %s\ngrid:\n  train.seed: [5]\n' "$T/sw_base.yaml" >"$T/sw.yaml"
tiny_yaml steps=2 >"$T/sw_base.yaml"
rd="$T/swres/sw/seed=5"
mkdir -p "$rd"
if "$BIN" sweep list "$T/sw.yaml" --results "$T/swres" | grep -q '^seed=5 '; then
    ln -s "$V/important.txt" "$rd/train.log"
    "$BIN" sweep run "$T/sw.yaml" --results "$T/swres" >"$T/sw.out" 2>&1; rc=$?
    if [ $rc -ne 0 ] && victim_intact && grep -q "train.log: is a symbolic link" "$T/sw.out" "$rd/failed" 2>/dev/null; then
        ok symlink_train_log_refused
    else fail symlink_train_log_refused "rc $rc: $(tail -3 "$T/sw.out")"; fi
else fail symlink_train_log_refused "the run is not named seed=5: $("$BIN" sweep list "$T/sw.yaml" --results "$T/swres")"; fi

mkdir -p "$T/swres2/sw"; ln -s "$V/important.txt" "$T/swres2/sw/sweep.log"
"$BIN" sweep run "$T/sw.yaml" --results "$T/swres2" >"$T/sw2.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && victim_intact && grep -q "sweep.log: is a symbolic link" "$T/sw2.out"; then ok symlink_sweep_log_refused
else fail symlink_sweep_log_refused "rc $rc: $(tail -2 "$T/sw2.out")"; fi

# ---- 7. pruning: COMPLETE first; a resumed or completed run finishes it ----
d="$T/prune"; rm -rf "$d"
run prune1 "$d" steps=6 ckpt_every=2 keep=2
ls "$d/checkpoint" >"$T/prune.ref"
# as if killed between the final checkpoint and its pruning: an older complete checkpoint too many
cp -r "$d/checkpoint/step_00000006" "$d/checkpoint/step_00000002"
sed -i 's/^step 6$/step 2/' "$d/checkpoint/step_00000002/COMPLETE"
run prune2 "$d" steps=6 ckpt_every=2 keep=2
if [ $rc -eq 0 ] && ls "$d/checkpoint" | cmp -s - "$T/prune.ref"; then ok prune_finished_by_completed_run
else fail prune_finished_by_completed_run "rc $rc: $(ls "$d/checkpoint" | tr '\n' ' ')"; fi
cp -r "$d/checkpoint/step_00000006" "$d/checkpoint/step_00000002"
rm "$d/summary.json"
run prune3 "$d" steps=6 ckpt_every=2 keep=2
if [ $rc -eq 0 ] && ls "$d/checkpoint" | cmp -s - "$T/prune.ref"; then ok prune_finished_by_resumed_run
else fail prune_finished_by_resumed_run "rc $rc: $(ls "$d/checkpoint" | tr '\n' ' ')"; fi

# ---- smaller: temp files of killed writers are removed on the next open ----
d="$T/tmps"; rm -rf "$d"
run tmps1 "$d" steps=4 ckpt_every=2
rm "$d/summary.json"
touch "$d/summary.json.tmp.12345.0" "$d/metrics.jsonl.tmp.999.7" "$d/spectra/spectra_step2.bin.tmp.4.1" "$d/keep.tmp.x.1"
run tmps2 "$d" steps=4 ckpt_every=2
left=$(cd "$d" && ls -a . spectra | grep -c '\.tmp\.[0-9]*\.[0-9]*$')
if [ $rc -eq 0 ] && [ "$left" = 0 ] && [ -e "$d/keep.tmp.x.1" ]; then ok tmp_files_cleaned_on_open
else fail tmp_files_cleaned_on_open "rc $rc, $left left: $(ls "$d" | tr '\n' ' ')"; fi

# ---- 3. a failed fsync, close or rename of any written file fails the run (strace -e inject) ----
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
    d="$T/io_ref"; rm -rf "$d"
    tiny_yaml steps=6 ckpt_every=2 keep=2 >"$T/io.yaml"
    strace -f -o "$T/io.trace" -y -e trace=fsync,close,rename "$BIN" train "$T/io.yaml" --out "$d" >/dev/null 2>&1
    n_fsync=$(grep -c ' fsync(' "$T/io.trace")
    bad=""; tried=0
    # inject_run WHAT INJECT: a run with the fault, then the same command again without it, which must
    # end as the uninterrupted run did (metrics.jsonl equal up to its clock fields)
    inject_run() {
        local what=$1 inj=$2 d="$T/io_$1"
        rm -rf "$d"; tried=$((tried + 1))
        strace -f -o /dev/null -e trace="${inj%%:*}" -e inject="$inj" "$BIN" train "$T/io.yaml" --out "$d" >"$T/io_$what.out" 2>&1
        local r=$? st; st=$(status_of "$d")
        if [ $r -eq 0 ] || [ "$st" = completed ]; then bad="$bad $what(rc $r, $st)"; return; fi
        "$BIN" train "$T/io.yaml" --out "$d" >"$T/io_$what.out2" 2>&1
        if [ "$(status_of "$d")" != completed ] ||
           ! cmp -s <(sed 's/"tok_per_s.*//' "$T/io_ref/metrics.jsonl") <(sed 's/"tok_per_s.*//' "$d/metrics.jsonl"); then
            bad="$bad $what(rerun: $(tail -1 "$T/io_$what.out2"))"
        fi
    }
    for k in $(seq 1 "$n_fsync"); do inject_run "fsync$k" "fsync:error=EIO:when=$k"; done
    # the close of one JSON file, of one safetensors file, and a rename: their index in the main thread
    main=$(head -1 "$T/io.trace" | cut -d' ' -f1)
    nth() { awk -v p="$main" '$1 == p' "$T/io.trace" | grep " $1(" | grep -n -- "$2" | sed -n '$p' | cut -d: -f1; }
    for f in summary.json.tmp model.safetensors.tmp COMPLETE.tmp; do
        k=$(nth close "$f"); [ -n "$k" ] && inject_run "close_$f" "close:error=EIO:when=$k"
    done
    k=$(nth rename 'summary.json'); [ -n "$k" ] && inject_run rename_summary "rename:error=EIO:when=$k"
    if [ -z "$bad" ] && [ "$tried" -ge 20 ]; then ok "injected_io_errors_fail_the_run ($tried faults)"
    else fail injected_io_errors_fail_the_run "$tried faults, bad:$bad"; fi
else
    echo "skipped injected_io_errors_fail_the_run: strace is not installed or cannot trace here"
fi

# ---- 2. report plot: no text from a spec or a results tree runs a command through gnuplot ----
if command -v gnuplot >/dev/null; then
    G="$T/gp"; rm -rf "$G"; mkdir -p "$G/out"
    # mkrun DIR WD: a finished run with weight decay WD (a string: it reaches the x tick labels)
    mkrun() {
        mkdir -p "$1"
        printf 'version: "0.1.0"\ntrain:\n  seed: 1\n  optimizer: adamw\ndecay:\n  method: uniform\n  weight_decay: %s\n' "$2" >"$1/config.yaml"
        printf '{"step": 10, "tokens": 100, "loss": 4.5, "lr": 0.001, "elapsed_s": 1}\n{"step": 20, "tokens": 200, "loss": 4.0, "lr": 0.001, "elapsed_s": 2}\n' >"$1/metrics.jsonl"
        printf '{"step": 20, "loss": 4.0, "ppl": 54.6, "tokens": 100}\n' >"$1/eval.jsonl"
        printf '{"status": "completed", "final_val_loss": 4.0, "final_val_ppl": 54.6, "steps": 20, "tokens": 200, "wall_seconds": 2, "peak_rss_mb": 30}\n' >"$1/summary.json"
    }
    mkrun "$G/res/sw/ok1" 1e-5
    mkrun "$G/res/sw/a\$(touch PWNED2)b" 2e-5
    mkrun "$G/res/sw/x\`touch PWNED1\`y" 3e-5
    mkrun "$G/res/sw/n
l" 4e-5
    mkrun "$G/res/sw/wd" "'5e-5\`touch PWNED3\`'"
    mkrun "$G/loopres/sw/ok1" 1e-5
    ln -s .. "$G/loopres/sw/loop"   # a symbolic link loop: each run still listed once
    hostile='"T `touch PWNED4` $(touch PWNED5) it'"'"'s \"q\" \\ \n `touch PWNED6`"'
    lab='"L `touch PWNED7` '"'"'x'"'"' \"y\" $(touch PWNED8)\\nz"'
    printf 'figure: gp_curves\nkind: curves\ntitle: %s\nresults: res/sw\nallow_differ: [decay.weight_decay]\nseries:\n  - {label: %s, where: {decay.method: uniform}}\n' \
        "$hostile" "$lab" >"$G/c.yaml"
    printf 'figure: gp_wd\nkind: wd_sweep\ntitle: %s\nresults: res/sw\nx: decay.weight_decay\nallow_differ: [decay.weight_decay]\nlogx: 1\nseries:\n  - {label: %s, where: {train.optimizer: adamw}}\n' \
        "$hostile" "$lab" >"$G/w.yaml"
    printf 'figure: gp_bars\nkind: bars\ntitle: %s\nresults: res/sw\nmetric: val_ppl\nbars:\n  - {label: %s, where: {decay.weight_decay: 1e-5}}\n  - {label: B, where: {decay.weight_decay: 2e-5}}\npanels:\n  - {label: %s, where: {decay.method: uniform}}\n' \
        "$hostile" "$lab" "$lab" >"$G/b.yaml"
    bad=""
    for f in c w b; do
        (cd "$G" && "$BIN" report plot $f.yaml --root . --out-dir out >"$G/$f.out" 2>&1) || bad="$bad $f(rc $?: $(tail -1 "$G/$f.out"))"
    done
    (cd "$G" && "$BIN" report index res >"$G/index.out" 2>"$G/index.err")
    (cd "$G" && "$BIN" report index loopres >"$G/loop.out" 2>&1)
    pwned=$(find "$G" -name 'PWNED*' | wc -l)
    n_ok1=$(grep -c 'ok1' "$G/loop.out")
    if [ "$pwned" = 0 ] && [ -z "$bad" ] && [ "$n_ok1" = 1 ] && grep -q 'skipping .*x`touch PWNED1`y: the name contains a quote' "$G/index.err" &&
       grep -q 'the name contains a control character' "$G/index.err" && [ -s "$G/out/gp_curves.png" ] && [ -s "$G/out/gp_wd.png" ] && [ -s "$G/out/gp_bars.png" ]; then
        ok report_plot_hostile_text_runs_nothing
    else
        fail report_plot_hostile_text_runs_nothing "$pwned PWNED files, ok1 listed $n_ok1 times, failed:$bad; $(head -c 300 "$G/index.err")"
    fi
else
    echo "skipped report_plot_hostile_text_runs_nothing: gnuplot is not installed"
fi

# ---- 5. YAML bombs: a one-line error naming file and line, at once (timeout only guards a hang) ----
Y="$T/yaml"; rm -rf "$Y"; mkdir -p "$Y/res/sw/r1"
{   printf 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    p=a; for c in b c d e f g h i; do printf '%s: &%s [' $c $c; for k in 1 2 3 4 5 6 7 8; do printf '*%s,' $p; done; printf '*%s]\n' $p; p=$c; done
    printf 'train: {seed: 1}\n'; } >"$Y/res/sw/r1/config.yaml"
{ printf 'a: '; head -c 200000 /dev/zero | tr '\0' '['; head -c 200000 /dev/zero | tr '\0' ']'; echo; } >"$Y/deep.yaml"
tiny_yaml >"$Y/ok.yaml"
{ printf 'x: &x 1\nl: ['; for k in $(seq 1 1100); do printf '*x, '; done; printf '1]\n'; } >"$Y/aliases.yaml"
cp "$Y/res/sw/r1/config.yaml" "$Y/laughs.yaml"
{ printf 'name: bomb\ngrid:\n  train.seed: '; cat "$Y/deep.yaml" | sed 's/^a: //'; } >"$Y/sweep_deep.yaml"
bad=""
# bomb_case NAME PATTERN COMMAND...: fails within the guard, with PATTERN (FILE:LINE:COL: ...) in one line
bomb_case() {
    local name=$1 pat=$2; shift 2
    (cd "$Y" && timeout 300 "$@") >"$Y/$name.out" 2>&1; local r=$? # a hang guard, generous for a loaded machine
    if [ $r -eq 124 ] || ! grep -q -- "$pat" "$Y/$name.out"; then bad="$bad $name(rc $r: $(head -c 200 "$Y/$name.out"))"; fi
}
bomb_case index_laughs 'res/sw/r1/config.yaml:[0-9]*:[0-9]*: YAML aliases expand' "$BIN" report index res
bomb_case train_laughs 'laughs.yaml:[0-9]*:[0-9]*: YAML aliases expand' "$BIN" train laughs.yaml
bomb_case train_deep 'deep.yaml:1:[0-9]*: YAML nested deeper than' "$BIN" train deep.yaml
bomb_case train_aliases 'aliases.yaml:2:[0-9]*: more than 1000 YAML aliases' "$BIN" train aliases.yaml
bomb_case sweep_deep 'sweep_deep.yaml:3:[0-9]*: YAML nested deeper than' "$BIN" sweep list sweep_deep.yaml
bomb_case set_deep 'YAML nested deeper than' "$BIN" train ok.yaml --set "train.seed=$(head -c 300 "$Y/deep.yaml" | sed 's/^a: //')"
if [ -z "$bad" ]; then ok yaml_bombs_fail_fast; else fail yaml_bombs_fail_fast "$bad"; fi

# ---- 6. Slurm backend: a full results disk or an unwritable jobs file is an error, never "submitted"
# with an empty script (a stand-in sbatch on PATH records what it was given) ----
S="$T/slurm"; rm -rf "$S"; mkdir -p "$S/bin" "$S/disk"
printf '#!/bin/sh\nwc -c <"$2" >>"%s/sbatch.sizes"\necho 777\n' "$S" >"$S/bin/sbatch"
printf '#!/bin/sh\nexit 0\n' >"$S/bin/squeue"
chmod +x "$S/bin/sbatch" "$S/bin/squeue"
tiny_yaml steps=2 >"$S/base.yaml"
printf 'name: sl\nbase: %s\ngrid:\n  train.seed: [1, 2]\n' "$S/base.yaml" >"$S/sl.yaml"
if mount -t tmpfs -o size=64k tmpfs "$S/disk" 2>/dev/null; then
    # a first submission while there is space (writes sweep.json and submit-1), then the disk fills
    (cd "$S" && PATH="$S/bin:$PATH" "$BIN" sweep run sl.yaml --backend slurm --no-wait --results disk >first.out 2>&1)
    rm -f "$S/sbatch.sizes"
    dd if=/dev/zero of="$S/disk/fill" bs=1k count=200 >/dev/null 2>&1
    (cd "$S" && PATH="$S/bin:$PATH" "$BIN" sweep run sl.yaml --backend slurm --no-wait --results disk >full.out 2>&1); rc=$?
    umount "$S/disk"
    if grep -q 'submitted Slurm job 777' "$S/first.out" && [ $rc -ne 0 ] && ! grep -q submitted "$S/full.out" &&
       [ ! -e "$S/sbatch.sizes" ] && grep -q 'submit-2.sbatch.*No space' "$S/full.out"; then
        ok slurm_full_disk_refused
    else fail slurm_full_disk_refused "rc $rc, sbatch saw $(cat "$S/sbatch.sizes" 2>/dev/null) bytes: $(tail -2 "$S/full.out")"; fi
else
    echo "skipped slurm_full_disk_refused: cannot mount a tmpfs (not root)"
fi
mkdir -p "$S/res/sl/slurm"
ln -s "$S/outside_jobs" "$S/res/sl/slurm/jobs"   # the jobs append fails (a link is never followed)
(cd "$S" && PATH="$S/bin:$PATH" "$BIN" sweep run sl.yaml --backend slurm --no-wait --results res >jobs.out 2>&1); rc=$?
if [ $rc -ne 0 ] && [ ! -e "$S/outside_jobs" ] && grep -q 'cannot record submitted Slurm job 777' "$S/jobs.out"; then
    ok slurm_jobs_append_checked
else fail slurm_jobs_append_checked "rc $rc: $(tail -2 "$S/jobs.out")"; fi

# ---- smaller: weight_decay 1e308 names its real bound; an over-long --out is refused whole ----
tiny_yaml >"$T/small.yaml"
"$BIN" train "$T/small.yaml" --set decay.weight_decay=1e308 --out "$T/wd_big" >"$T/wd_big.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "decay.weight_decay: 1e308 out of range (must be at most 1e+300)" "$T/wd_big.out"; then ok weight_decay_1e308_message
else fail weight_decay_1e308_message "rc $rc: $(tail -1 "$T/wd_big.out")"; fi
long="$T/long"; for k in 1 2 3 4 5; do long="$long/$(printf "$k%.0s" $(seq 1 190))"; done
"$BIN" train "$T/small.yaml" --out "$long" >"$T/long.out" 2>&1; rc=$?
if [ $rc -eq 2 ] && [ ! -e "$T/long" ] && grep -q "the run directory path is [0-9]* bytes, over the limit of" "$T/long.out"; then
    ok out_path_over_limit_refused
else fail out_path_over_limit_refused "rc $rc, $(ls "$T/long" 2>&1 | head -c 100): $(tail -1 "$T/long.out" | head -c 300)"; fi
"$BIN" sweep run "$T/sw.yaml" --results "$long" >"$T/long2.out" 2>&1; rc=$?
if [ $rc -ne 0 ] && [ ! -e "$T/long" ] && grep -q "the run directory path is [0-9]* bytes, over the limit of" "$T/long2.out"; then
    ok sweep_results_path_over_limit_refused
else fail sweep_results_path_over_limit_refused "rc $rc, $(ls "$T/long" 2>&1 | head -c 100): $(tail -1 "$T/long2.out" | head -c 300)"; fi

# ---- smaller: esd --format csv quotes as RFC 4180 (a module name with a comma and a quote) ----
if command -v python3 >/dev/null; then
    one_tensor_safetensors "$T/csvname.safetensors" 'model.layers.0.a,"b".self_attn.q_proj.weight'
    "$BIN" esd "$T/csvname.safetensors" --format csv --threads 1 >"$T/esd.csv" 2>"$T/esd.err"; rc=$?
    if [ $rc -eq 0 ] && python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) == 2 and len(rows[1]) == len(rows[0]), rows
assert rows[1][0] == "model.layers.0.a,\"b\".self_attn.q_proj", rows[1][0]' "$T/esd.csv" 2>"$T/esd.py"; then
        ok esd_csv_rfc4180
    else fail esd_csv_rfc4180 "rc $rc: $(head -c 200 "$T/esd.err") $(tail -1 "$T/esd.py")"; fi
else
    echo "skipped esd_csv_rfc4180: python3 is not installed"
fi

exit $FAILED
