#!/usr/bin/env bash
# e2e_commit_runs.sh - scripts/commit_runs.sh on a fake grid: completed and diverged runs are copied without
# checkpoint/ and .lock, runs in progress and failed ones are not, a committed run is never overwritten (a rerun
# whose summary differs is named and kept), sweep.json follows, provenance.tsv gets one row per copied run with
# this machine's CPU, and a second call copies nothing.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup commit_runs fresh
cd "$(dirname "$0")/.."

G="$T/grid/results/g"; D="$T/committed/g"
mkrun() { # name status|- (no summary)
    mkdir -p "$G/$1/checkpoint/step_5" && echo ck >"$G/$1/checkpoint/step_5/model.safetensors" && echo 123 >"$G/$1/.lock"
    echo "{\"step\": 5}" >"$G/$1/eval.jsonl"
    [ "$2" = - ] || echo "{\"status\": \"$2\", \"final_val_ppl\": 1}" >"$G/$1/summary.json"
}
mkrun done completed; mkrun div diverged; mkrun bad failed; mkrun running -
echo '{"name": "g"}' >"$G/sweep.json"
mkdir -p "$D/old" && echo '{"status": "completed", "final_val_ppl": 2}' >"$D/old/summary.json"
mkrun old completed   # the grid's rerun of a committed run, with another summary

bash scripts/commit_runs.sh "$G" "$D" >"$T/out1" 2>&1; rc=$?
[ $rc -eq 0 ] && [ -f "$D/done/eval.jsonl" ] && [ -f "$D/div/summary.json" ] && [ ! -e "$D/bad" ] && [ ! -e "$D/running" ] \
    && [ ! -e "$D/done/checkpoint" ] && [ ! -e "$D/done/.lock" ] && ok copies_finished_runs_only \
    || fail copies_finished_runs_only "rc $rc: $(cat "$T/out1"; ls -a "$D" "$D/done" 2>&1)"
grep -q '"final_val_ppl": 2' "$D/old/summary.json" && grep -q '^kept     old' "$T/out1" && ok committed_run_not_overwritten \
    || fail committed_run_not_overwritten "$(cat "$D/old/summary.json" "$T/out1")"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
rows=$(tail -n +2 "$D/provenance.tsv" | cut -f1 | sort | tr '\n' ' ')
[ "$rows" = "div done " ] && [ "$(head -1 "$D/provenance.tsv")" = "$(printf 'run\tcpu\tisa\tgrid_commit\tcommitted')" ] \
    && awk -F'\t' -v c="${cpu:-unknown}" 'NR > 1 && ($2 != c || $3 !~ /^(other|avx2|avx512f|avx512_bf16)$/) { bad = 1 } END { exit bad }' "$D/provenance.tsv" \
    && cmp -s "$G/sweep.json" "$D/sweep.json" && ok provenance_and_sweep_json || fail provenance_and_sweep_json "$(cat "$D/provenance.tsv")"
bash scripts/commit_runs.sh "$G" "$D" >"$T/out2" 2>&1
grep -q '^commit_runs: 0 copied, 1 kept as committed; 3 runs in' "$T/out2" && [ "$(wc -l <"$D/provenance.tsv")" -eq 3 ] \
    && ok second_call_copies_nothing || fail second_call_copies_nothing "$(cat "$T/out2")"
bash scripts/commit_runs.sh "$T/nope" "$D" >/dev/null 2>"$T/e3"; rc=$?
[ $rc -eq 1 ] && grep -q "commit_runs: $T/nope: no such directory" "$T/e3" && ok missing_grid_refused \
    || fail missing_grid_refused "rc $rc: $(cat "$T/e3")"
exit $FAILED
