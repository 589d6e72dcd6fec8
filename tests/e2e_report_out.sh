#!/usr/bin/env bash
# e2e_report_out.sh - where `report table/plot` write without --out-dir: the paper's specs (in
# ROOT/analysis/specs/) into ROOT/paper/generated, any other spec beside the runs it reads
# (RESULTS/report/), so a user's own spec never lands among the paper's artifacts; --out-dir wins.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup report_out fresh
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac # one test runs from another directory

# two completed runs under $T/results/mine
for m in uniform alphadecay; do
    d="$T/results/mine/$m"; mkdir -p "$d"
    printf 'model:\n  hidden_size: 64\ntrain:\n  seed: 0\ndecay:\n  method: %s\n  weight_decay: 1\n' "$m" >"$d/config.yaml"
    printf '{"status": "completed", "final_val_loss": 3.5, "final_val_ppl": 33.1, "steps": 40, "tokens": 10240}\n' >"$d/summary.json"
done
spec() { printf 'table: %s\nresults: results/mine\nmetric: val_ppl\nrows:\n  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AlphaDecay, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: eta 1, where: {decay.weight_decay: 1}}\n' "$1"; }
mkdir -p "$T/analysis/specs" "$T/elsewhere"
spec mine >"$T/elsewhere/mine.yaml"
spec papers >"$T/analysis/specs/papers.yaml"

"$BIN" report table "$T/elsewhere/mine.yaml" --root "$T" >/dev/null 2>"$T/err1"; rc=$?
[ $rc -eq 0 ] && [ -s "$T/results/mine/report/mine.md" ] && [ -s "$T/results/mine/report/mine.csv" ] && [ ! -e "$T/paper" ] &&
  grep -q "report: wrote $T/results/mine/report/mine.md" "$T/err1" && ok user_spec_writes_beside_its_runs ||
  fail user_spec_writes_beside_its_runs "rc $rc: $(ls -R "$T" | tr '\n' ' ')"
"$BIN" report table "$T/analysis/specs/papers.yaml" --root "$T" --quiet >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && [ -s "$T/paper/generated/papers.md" ] && [ ! -e "$T/results/mine/report/papers.md" ] &&
  ok paper_spec_writes_to_paper_generated || fail paper_spec_writes_to_paper_generated "rc $rc"
# the same file reached by another spelling of the path is still the paper's
rm -rf "$T/paper"
(cd "$T/analysis" && "$BIN" report table ./specs/../specs/papers.yaml --root .. --quiet >/dev/null 2>&1) &&
  [ -s "$T/paper/generated/papers.md" ] && ok paper_spec_any_spelling || fail paper_spec_any_spelling "not in paper/generated"
"$BIN" report table "$T/elsewhere/mine.yaml" --root "$T" --out-dir "$T/chosen" --quiet >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && [ -s "$T/chosen/mine.md" ] && ok out_dir_wins || fail out_dir_wins "rc $rc"
# --results moves the default with the runs read
cp -r "$T/results/mine" "$T/results/other"
"$BIN" report table "$T/elsewhere/mine.yaml" --root "$T" --results results/other --quiet >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && [ -s "$T/results/other/report/mine.md" ] && ok default_follows_results || fail default_follows_results "rc $rc"
exit $FAILED
