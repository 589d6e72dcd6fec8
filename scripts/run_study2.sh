#!/usr/bin/env bash
# run_study2.sh [SWEEP...] - Study 2's grids (docs/study.md, "Study 2"), one after another, each with the sweep
# launcher (`sweep run sweeps/cpu/NAME.yaml -j 2`) under `nice -n 10`, so that other work on the machine gets the
# CPU first. Default order: the flat-allocation control (s2_tiny_flat: needs a binary with decay.flat), the two
# regime scans (hidden 256 done; hidden 384, whose outcome decides the ladder's last grid and the budget), the
# rest of the decisive tiny grid (s2_tiny: seeds 6-9 and two interrupted runs), the hidden-256 comparison grid,
# the Brown corpus grid, then the hidden-384 comparison grid (docs/study.md, "Budget"). Always -j 2 on the 2-core
# machine: -j 1 would give each run both cores, and at hidden 256 and up the thread count changes a run's bits.
# Rerunning skips finished runs and resumes interrupted ones from their checkpoints, so the script can be stopped
# (kill its process group) and started again at any time. AD_WAIT_PID=PID first waits for that process (a launcher already running) to end. Committing finished
# runs to results/committed/NAME/ is done by hand (sweeps/README.md, "Study 2").
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${AD_BIN:-bin/alphadecay}
SWEEPS=("$@")
[ ${#SWEEPS[@]} -gt 0 ] || SWEEPS=(s2_tiny_flat s2_h256_scan s2_h384_scan s2_tiny s2_h256 s2_brown s2_h384)
if [ -n "${AD_WAIT_PID:-}" ]; then
    echo "== $(date -u +%FT%TZ) waiting for process $AD_WAIT_PID"
    while kill -0 "$AD_WAIT_PID" 2>/dev/null; do sleep 60; done
fi
for s in "${SWEEPS[@]}"; do
    start=$SECONDS
    echo "== $(date -u +%FT%TZ) sweeps/cpu/$s.yaml"
    nice -n 10 "$BIN" sweep run "sweeps/cpu/$s.yaml" -j 2 || echo "(sweep $s had failures; see above)"
    echo "== $(date -u +%FT%TZ) $s: $((SECONDS - start)) s wall"
done
