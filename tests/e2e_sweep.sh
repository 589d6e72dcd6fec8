#!/usr/bin/env bash
# e2e_sweep.sh - the sweep launcher end to end with a fake train (AD_TRAIN_CMD): 4 runs with -j 2,
# skip on rerun, SIGKILL of the launcher mid-way then rerun (each run completed exactly once, same
# final numbers as an uninterrupted sweep), a failing run does not stop the others (exit 1, rerun
# only with --retry-failed), status output, bad input launches nothing, and the committed sweep files
# load. The fake train resumes from its own "checkpoint" like the real one.
set -u
BIN=${AD_BIN:-bin/alphadecay}
T=$(mktemp -d "${AD_TMP:-/tmp}/e2e_sweep.XXXXXX")
fail=0
ok() { echo "ok $1"; }
bad() { echo "FAIL $1: $2"; fail=1; }

cat >"$T/fake_train.sh" <<'EOF'
#!/bin/bash
# CONFIG [--set k=v]... --out DIR: 'steps' updates of FAKE_SLEEP s, a checkpoint after each, resumes.
cfg=$1; shift; out=""; sets=()
while [ $# -gt 0 ]; do
  case $1 in --set) sets+=("$2"); shift 2;; --out) out=$2; shift 2;; *) echo "bad arg $1" >&2; exit 2;; esac
done
[ -n "$out" ] || exit 2
mkdir -p "$out"; name=$(basename "$out")
steps=4
for s in "${sets[@]}"; do case $s in train.steps=*) steps=${s#*=};; esac; done
for s in "${sets[@]}"; do
  if [ -n "${FAKE_FAIL:-}" ] && [ "$s" = "$FAKE_FAIL" ]; then echo "fake failure for $s" >&2; exit 1; fi
done
echo "start $name" >>"$FAKE_LOG"
trap 'exit 130' INT TERM
step=0; [ -f "$out/ckpt" ] && step=$(cat "$out/ckpt")
# like train: on resume the log is cut back to the checkpoint's step (a kill may fall between the two)
[ -f "$out/metrics.jsonl" ] && { head -n "$step" "$out/metrics.jsonl" >"$out/m.tmp"; mv "$out/m.tmp" "$out/metrics.jsonl"; }
h=$(printf '%s\n' "$cfg" "${sets[@]}" | grep -v threads | cksum | cut -d' ' -f1)
while [ "$step" -lt "$steps" ]; do
  sleep "${FAKE_SLEEP:-0.02}"; step=$((step + 1))
  echo "{\"step\": $step, \"loss\": $((h % 1000)).$step}" >>"$out/metrics.jsonl"
  echo $step >"$out/ckpt.tmp"; mv "$out/ckpt.tmp" "$out/ckpt"
  # FAKE_GATE: after update 2, wait until that file exists (the tests kill at a known point, not a time)
  if [ -n "${FAKE_GATE:-}" ] && [ "$step" -eq 2 ] && [ ! -e "$FAKE_GATE" ]; then
    echo $$ >"$out/at_gate"; while [ ! -e "$FAKE_GATE" ]; do sleep 0.05; done; rm -f "$out/at_gate"
  fi
done
echo "{\"step\": $steps, \"loss\": 1, \"ppl\": $((h % 97)).5, \"tokens\": 10}" >>"$out/eval.jsonl"
printf '{"status": "completed", "final_val_loss": 1.0, "final_val_ppl": %s.5, "steps": %s}\n' $((h % 97)) "$steps" >"$out/summary.json.tmp"
mv "$out/summary.json.tmp" "$out/summary.json"
echo "done $name" >>"$FAKE_LOG"
EOF
chmod +x "$T/fake_train.sh"
export AD_TRAIN_CMD="$T/fake_train.sh" FAKE_LOG="$T/log"

printf 'data: {train: t.bin, seq_len: 32}\ntrain: {batch_size: 4, steps: 100, warmup_steps: 1}\n' >"$T/exp.yaml"
# four_yaml METHODS: the sweep "four", METHODS x two weight decays over exp.yaml
four_yaml() {
    printf 'name: four\nbase: %s\nset: {train.steps: 6}\ngrid:\n  decay.method: [%s]\n  decay.weight_decay: [1e-5, 5e-6]\n' \
        "$T/exp.yaml" "$1"
}
four_yaml "uniform, alphadecay" >"$T/four.yaml"

# finals: "name ppl" of every completed run, sorted
finals() { for d in "$1"/*/; do [ -f "$d/summary.json" ] && echo "$(basename "$d") $(grep -o '"final_val_ppl": [0-9.]*' "$d/summary.json")"; done | sort; }

# --- 1. four runs, -j 2, all complete; a rerun skips them
"$BIN" sweep run "$T/four.yaml" -j 2 --results "$T/ref" >"$T/out1" 2>&1; rc=$?
n_done=$(grep -c '"completed"' "$T"/ref/four/*/summary.json 2>/dev/null | grep -c ':1$')
if [ $rc -eq 0 ] && [ "$n_done" -eq 4 ] && grep -q "4 completed, 0 failed" "$T/out1"; then ok sweep_four_runs_j2
else bad sweep_four_runs_j2 "rc $rc, $n_done completed"; sed 's/^/    /' "$T/out1"; fi
grep -q -- "decay.weight_decay=5e-06 --out $T/ref/four/alphadecay-wd=5e-06" <("$BIN" sweep list "$T/four.yaml" -v --results "$T/ref") &&
  grep -q "^4 runs" <("$BIN" sweep list "$T/four.yaml") &&
  ok sweep_list || bad sweep_list "no threads override or count"
starts_before=$(grep -c '^start' "$FAKE_LOG")
"$BIN" sweep run "$T/four.yaml" -j 2 --results "$T/ref" >"$T/out2" 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '^start' "$FAKE_LOG")" -eq "$starts_before" ] && grep -q "4 skipped" "$T/out2" &&
  ok sweep_rerun_skips_completed || bad sweep_rerun_skips_completed "rc $rc"
"$BIN" sweep status "$T/four.yaml" --results "$T/ref" >"$T/st" 2>&1
[ "$(grep -c '^completed  *6/6 ' "$T/st")" -eq 4 ] && grep -q "total 4: 4 completed" "$T/st" &&
  ok sweep_status_completed || { bad sweep_status_completed "unexpected status"; sed 's/^/    /' "$T/st"; }
finals "$T/ref/four" >"$T/ref.finals"

# wait_gate DIR PID: until both runs of -j 2 wait at FAKE_GATE (update 2) under DIR, or PID ended; an event, with
# a 10-minute guard against a hang, not a time the work must beat
wait_gate() { for _ in $(seq 12000); do [ "$(ls "$1"/*/at_gate 2>/dev/null | wc -l)" -ge 2 ] || ! kill -0 $2 2>/dev/null && break; sleep 0.05; done; }

# --- 2. SIGKILL the launcher mid-way (both running runs held after update 2); rerun; every run completed
# exactly once, same numbers
: >"$FAKE_LOG"
FAKE_GATE="$T/gate2" "$BIN" sweep run "$T/four.yaml" -j 2 --results "$T/kill" >"$T/out3" 2>&1 &
lp=$!
wait_gate "$T/kill/four" $lp
kill -KILL $lp; wait $lp 2>/dev/null
"$BIN" sweep status "$T/four.yaml" --results "$T/kill" >"$T/st2" 2>&1
grep -q '^running ' "$T/st2" && ok sweep_status_running_after_kill || { bad sweep_status_running_after_kill "no running run"; sed 's/^/    /' "$T/st2"; }
# release the orphaned runs and let them end (their pids are in at_gate) before the rerun
orphans=$(cat "$T"/kill/four/*/at_gate 2>/dev/null); : >"$T/gate2"
for p in $orphans; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
FAKE_SLEEP=0.15 "$BIN" sweep run "$T/four.yaml" -j 2 --results "$T/kill" >"$T/out4" 2>&1; rc=$?
dups=$(grep '^done' "$FAKE_LOG" | sort | uniq -d | wc -l); ndone=$(grep -c '^done' "$FAKE_LOG")
finals "$T/kill/four" >"$T/kill.finals"
if [ $rc -eq 0 ] && [ "$dups" -eq 0 ] && [ "$ndone" -eq 4 ] && cmp -s "$T/ref.finals" "$T/kill.finals"; then ok sweep_sigkill_resume_exactly_once
else bad sweep_sigkill_resume_exactly_once "rc $rc, $ndone completions, $dups duplicated"; sed 's/^/    /' "$T/out4"; fi

# --- 3. kill launcher and children (whole group): interrupted runs resume from their checkpoint
: >"$FAKE_LOG"
setsid bash -c "FAKE_GATE='$T/gate3' exec '$BIN' sweep run '$T/four.yaml' -j 2 --results '$T/grp'" >"$T/out5" 2>&1 &
sp=$!
wait_gate "$T/grp/four" $sp
kill -KILL -- -$sp 2>/dev/null; wait $sp 2>/dev/null
rm -f "$T"/grp/four/*/at_gate
"$BIN" sweep status "$T/four.yaml" --results "$T/grp" >"$T/st3"
ni=$(grep -c '^interrupted' "$T/st3")
"$BIN" sweep run "$T/four.yaml" -j 2 --results "$T/grp" >"$T/out6" 2>&1; rc=$?
finals "$T/grp/four" >"$T/grp.finals"
nlines=$(cat "$T"/grp/four/*/metrics.jsonl | wc -l)
if [ $rc -eq 0 ] && [ "$ni" -ge 1 ] && [ "$nlines" -eq 24 ] && cmp -s "$T/ref.finals" "$T/grp.finals"; then ok sweep_group_kill_resumes
else bad sweep_group_kill_resumes "rc $rc, $ni interrupted, $nlines metric lines (want 24)"; fi

# --- 4. a failing run is reported at once, the others go on, exit 1; rerun only with --retry-failed
: >"$FAKE_LOG"
FAKE_FAIL=decay.weight_decay=5e-06 "$BIN" sweep run "$T/four.yaml" -j 1 --results "$T/fail" >"$T/out7" 2>&1; rc=$?
nf=$(grep -c '^FAILED' "$T/out7"); nc=$(grep -c '^done ' "$FAKE_LOG")
if [ $rc -eq 1 ] && [ "$nf" -eq 2 ] && [ "$nc" -eq 2 ] && grep -q "2 completed, 2 failed" "$T/out7"; then ok sweep_failure_others_go_on
else bad sweep_failure_others_go_on "rc $rc, $nf FAILED lines, $nc completed"; sed 's/^/    /' "$T/out7"; fi
"$BIN" sweep status "$T/four.yaml" --results "$T/fail" | grep -q "2 failed" && ok sweep_status_failed || bad sweep_status_failed "no failed count"
"$BIN" sweep run "$T/four.yaml" --results "$T/fail" >"$T/out8" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(grep -c '^start' "$FAKE_LOG")" -eq 2 ] && ok sweep_failed_not_rerun_without_flag ||
  bad sweep_failed_not_rerun_without_flag "rc $rc"
"$BIN" sweep run "$T/four.yaml" --retry-failed --results "$T/fail" >"$T/out9" 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '^done' "$FAKE_LOG")" -eq 4 ] && ok sweep_retry_failed || { bad sweep_retry_failed "rc $rc"; sed 's/^/    /' "$T/out9"; }

# --- 5. bad input: clear error naming file and line, nothing launched
: >"$FAKE_LOG"
check_bad() { # name, yaml text, expected message part
  printf '%s\n' "$2" >"$T/bad.yaml"
  "$BIN" sweep run "$T/bad.yaml" -j 2 --results "$T/badres" >"$T/bout" 2>&1; local rc=$?
  if [ $rc -eq 1 ] && grep -q -- "$3" "$T/bout" && [ ! -s "$FAKE_LOG" ]; then ok "$1"
  else bad "$1" "rc $rc: $(head -2 "$T/bout")"; fi
}
check_bad sweep_bad_yaml_syntax "base: $T/exp.yaml
grid:
  decay.method: [uniform" "bad.yaml:4:1: YAML syntax error"
check_bad sweep_bad_unknown_key "base: $T/exp.yaml
grid:
  decay.metod: [uniform]" "bad.yaml:3:3: unknown key 'decay.metod'"
check_bad sweep_bad_empty_axis "base: $T/exp.yaml
grid:
  decay.method: []" "bad.yaml:3:17: .*no values"
check_bad sweep_bad_unknown_experiment "base: $T/nope.yaml" "bad.yaml:1:7: unknown experiment file"
check_bad sweep_bad_duplicate_points "base: $T/exp.yaml
grid:
  decay.method: [uniform, none]
extra:
  - {decay.method: uniform}" "bad.yaml:5:.*duplicate point"
four_yaml "uniform, awd" >"$T/four_changed.yaml"
"$BIN" sweep run "$T/four_changed.yaml" --results "$T/ref" >"$T/bout" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "different grid" "$T/bout" && [ ! -s "$FAKE_LOG" ] && [ ! -d "$T/ref/four/awd-wd=1e-05" ] &&
  ok sweep_bad_different_grid_same_name || bad sweep_bad_different_grid_same_name "rc $rc: $(head -1 "$T/bout")"
"$BIN" sweep run "$T/four.yaml" -j 0 >/dev/null 2>&1; [ $? -eq 2 ] && ok sweep_bad_usage_exit_2 || bad sweep_bad_usage_exit_2 "-j 0 accepted"
"$BIN" sweep --help | grep -q "retry-failed" && ok sweep_help || bad sweep_help "no help"

# --- 6. dry run lists without running or creating anything
"$BIN" sweep run "$T/four.yaml" --dry-run --results "$T/dry" >"$T/dout" 2>&1; rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '^run ' "$T/dout")" -eq 4 ] && [ ! -e "$T/dry" ] && ok sweep_dry_run || bad sweep_dry_run "rc $rc"

# --- 7. every committed sweep file loads and expands (from the repository root)
if [ -d sweeps ]; then
  nfiles=0; nbad=0
  for f in sweeps/*.yaml sweeps/small/*.yaml; do
    [ -f "$f" ] || continue
    nfiles=$((nfiles + 1))
    "$BIN" sweep list "$f" >"$T/l" 2>&1 || { nbad=$((nbad + 1)); echo "    $f: $(tail -1 "$T/l")"; }
  done
  [ $nfiles -gt 0 ] && [ $nbad -eq 0 ] && ok "sweep_files_load ($nfiles files)" || bad sweep_files_load "$nbad of $nfiles failed"
fi

# --- 8. Ctrl-C: the summary counts runs as status does, with the checkpoint step. Deterministic: the
# runs named in FAKE_BLOCK stop after update 3 (checkpoint 3, last metrics line 2) and wait; when both
# wait, one sends SIGINT to the launcher (its parent), as Ctrl-C would. uniform completes first.
cat >"$T/fake_block.sh" <<'EOF'
#!/bin/bash
cfg=$1; shift; out=""
while [ $# -gt 0 ]; do case $1 in --set) shift 2;; --out) out=$2; shift 2;; *) shift;; esac; done
mkdir -p "$out"; name=$(basename "$out")
trap 'exit 130' INT TERM
step=0; [ -f "$out/ckpt" ] && step=$(cat "$out/ckpt")
while [ "$step" -lt 6 ]; do
  step=$((step + 1))
  [ $((step % 2)) -eq 0 ] && echo "{\"step\": $step, \"loss\": 2.$step, \"elapsed_s\": $((2 * step))}" >>"$out/metrics.jsonl"
  mkdir -p "$out/checkpoint/step_0000000$step"; : >"$out/checkpoint/step_0000000$step/COMPLETE"; echo $step >"$out/ckpt"
  if [ "$step" -eq 3 ] && [ -n "${FAKE_BLOCK:-}" ] && [[ $name =~ $FAKE_BLOCK ]]; then
    : >"$FAKE_DIR/blocked.$name"
    [ "$(ls "$FAKE_DIR" | grep -c '^blocked\.')" -eq 2 ] && kill -INT $PPID
    while :; do sleep 0.05; done
  fi
done
printf '{"status": "completed", "final_val_loss": 1.0, "final_val_ppl": 9.5, "steps": 6, "wall_seconds": 12}\n' >"$out/summary.json"
EOF
chmod +x "$T/fake_block.sh"
printf 'name: five\nbase: %s\nset: {train.steps: 6}\ngrid:\n  decay.method: [uniform, awd, adadecay, alphadecay, none]\n' "$T/exp.yaml" >"$T/five.yaml"
mkdir -p "$T/blk"
AD_TRAIN_CMD="$T/fake_block.sh" FAKE_DIR="$T/blk" FAKE_BLOCK='^(awd|adadecay)$' \
  "$BIN" sweep run "$T/five.yaml" -j 2 --results "$T/int" >"$T/iout" 2>&1; rc=$?
"$BIN" sweep status "$T/five.yaml" --results "$T/int" >"$T/ist" 2>&1
summary=$(grep '^sweep five: .* completed' "$T/iout")
if [ $rc -eq 130 ] && echo "$summary" | grep -q "1 completed, 0 failed, 0 diverged, 2 interrupted, 2 pending" &&
   grep -q "total 5: 1 completed, 0 running, 2 pending, 2 interrupted" "$T/ist" &&
   [ "$(grep -c 'resumes from its checkpoint at step 3$' "$T/iout")" -eq 2 ] &&
   [ "$(grep -c '^interrupted  *3/6 ' "$T/ist")" -eq 2 ]; then ok sweep_sigint_summary_counts_like_status
else bad sweep_sigint_summary_counts_like_status "rc $rc"; sed 's/^/    /' "$T/iout" "$T/ist"; fi
# ETA: uniform took 12 s for 6 updates (2 s each); left: 2 x 3 + 2 x 6 = 18 updates at -j 2 -> 18 s
grep -q "^eta: 18 s for 18 updates left at 2 s per update (completed runs' mean) and -j 2" "$T/ist" &&
  grep -q '^completed .* 12 s  *uniform' "$T/ist" &&
  ok sweep_status_eta || { bad sweep_status_eta "no or wrong eta"; sed 's/^/    /' "$T/ist"; }
# the sweep log holds what the launcher said, time-stamped
grep -q '^20[0-9-]*T[0-9:]*Z sweep five: 1 completed' "$T/int/five/sweep.log" &&
  grep -q 'Z sweep: stopping (signal 2)' "$T/int/five/sweep.log" &&
  ok sweep_log_written || { bad sweep_log_written "sweep.log"; sed 's/^/    /' "$T/int/five/sweep.log"; }
AD_TRAIN_CMD="$T/fake_block.sh" "$BIN" sweep run "$T/five.yaml" -j 2 --results "$T/int" >"$T/iout2" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^sweep five: 5 completed, 0 failed, 0 diverged, 0 interrupted, 0 pending" "$T/iout2" &&
  [ "$(grep -c '"step": 4,' "$T/int/five/awd/metrics.jsonl")" -eq 1 ] &&
  ok sweep_sigint_then_resume || { bad sweep_sigint_then_resume "rc $rc"; sed 's/^/    /' "$T/iout2"; }

# --- 9. --detach: returns at once naming the log; the launcher runs in its own session to the end
AD_TRAIN_CMD="$T/fake_block.sh" "$BIN" sweep run "$T/five.yaml" -j 2 --detach --results "$T/det" >"$T/dout" 2>&1; rc=$?
dpid=$(sed -n 's/.*launcher pid \([0-9]*\);.*/\1/p' "$T/dout")
for _ in $(seq 12000); do grep -q "sweep five: 5 completed" "$T/det/five/sweep.log" 2>/dev/null && break; sleep 0.05; done # an event; 10-minute guard
if [ $rc -eq 0 ] && grep -q "log: $T/det/five/sweep.log" "$T/dout" && [ -n "$dpid" ] &&
   grep -q "sweep five: 5 completed" "$T/det/five/sweep.log"; then ok sweep_detach
else bad sweep_detach "rc $rc"; sed 's/^/    /' "$T/dout"; fi

# --- 10. multirun: the command line expands exactly as the equivalent sweep file (same runs, same
# overrides, same grid fingerprint), runs and records like it, and writes that file into the results
"$BIN" sweep list "$T/four.yaml" -v --results "$T/mr" >"$T/mr_file" 2>&1
"$BIN" sweep list --base "$T/exp.yaml" -m decay.method=uniform,alphadecay decay.weight_decay=1e-5,5e-6 \
  --set train.steps=6 --name four -v --results "$T/mr" >"$T/mr_cli" 2>&1; rc=$?
[ $rc -eq 0 ] && cmp -s "$T/mr_file" "$T/mr_cli" && grep -q '^4 runs' "$T/mr_cli" && ok sweep_multirun_equals_file ||
  { bad sweep_multirun_equals_file "rc $rc"; diff "$T/mr_file" "$T/mr_cli" | sed 's/^/    /'; }
# with seeds, an extra point and a fixed -m value; the default name is stable across invocations
printf 'name: fifteen\nbase: %s\nset:\n  decay.s2: 3\n  train.steps: 6\ngrid:\n  decay.method: [uniform, alphadecay]\n  decay.weight_decay: [1, 2]\nextra:\n  - {decay.method: none}\nseeds: [0, 1, 2]\n' \
  "$T/exp.yaml" >"$T/fifteen.yaml"
mr15() { "$BIN" sweep "$1" --base "$T/exp.yaml" -m decay.method=uniform,alphadecay decay.weight_decay=1,2 decay.s2=3 \
  --set train.steps=6 --extra decay.method=none --seeds 0-2 "${@:2}"; }
"$BIN" sweep list "$T/fifteen.yaml" -v --results "$T/mr" >"$T/mr15_file" 2>&1
mr15 list --name fifteen -v --results "$T/mr" >"$T/mr15_cli" 2>&1; rc=$?
[ $rc -eq 0 ] && cmp -s "$T/mr15_file" "$T/mr15_cli" && grep -q '^15 runs' "$T/mr15_cli" && ok sweep_multirun_seeds_extra_equal_file ||
  { bad sweep_multirun_seeds_extra_equal_file "rc $rc"; diff "$T/mr15_file" "$T/mr15_cli" | sed 's/^/    /'; }
mr15 run -j 2 --results "$T/mr" >"$T/mr15_run" 2>&1; rc=$?
f15=$(sed -n 's/.*its sweep file: \(.*sweep\.yaml\) .*/\1/p' "$T/mr15_run")
if [ $rc -eq 0 ] && [ -n "$f15" ] && [ -f "$f15" ] && grep -q "15 completed, 0 failed" "$T/mr15_run" &&
   [ "$(basename "$(dirname "$f15")")" = "$(mr15 list | sed -n 's/.*(sweep \([^,]*\),.*/\1/p')" ]; then ok sweep_multirun_runs_and_writes_file
else bad sweep_multirun_runs_and_writes_file "rc $rc, file '$f15'"; sed 's/^/    /' "$T/mr15_run"; fi
# the written file is the grid: run and status from it see the same runs (skipped: already completed)
"$BIN" sweep run "$f15" --results "$T/mr" >"$T/mr15_again" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "15 skipped" "$T/mr15_again" && "$BIN" sweep status "$f15" --results "$T/mr" | grep -q "total 15: 15 completed" &&
  ok sweep_multirun_file_reruns || { bad sweep_multirun_file_reruns "rc $rc"; sed 's/^/    /' "$T/mr15_again"; }
"$BIN" sweep list --base "$T/exp.yaml" -m decay.method >/dev/null 2>&1; r1=$?
"$BIN" sweep list --base "$T/exp.yaml" -m decay.method=uniform,awd --seeds 2-1 >/dev/null 2>&1; r2=$?
"$BIN" sweep list --base "$T/exp.yaml" -m decay.metod=uniform,awd >"$T/mrbad" 2>&1; r3=$?
[ $r1 -eq 2 ] && [ $r2 -eq 2 ] && [ $r3 -eq 1 ] && grep -q "unknown key 'decay.metod'" "$T/mrbad" && ok sweep_multirun_bad_usage ||
  bad sweep_multirun_bad_usage "exit $r1 $r2 $r3"

rm -rf "$T"
exit $fail
