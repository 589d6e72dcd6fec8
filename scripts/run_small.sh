#!/usr/bin/env bash
# run_small.sh [SWEEP...] - run the small-scale twins of the paper's grids on this machine (2 runs at a
# time, one thread each) and copy each finished sweep, without checkpoints, to results/committed/<name>/
# where `make paper` reads it. Default order: quick, then the twins by cost. Rerunning resumes.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${AD_BIN:-bin/alphadecay}
[ -f data/sotu/prep.json ] || bash scripts/fetch_data.sh
SWEEPS=("$@")
[ ${#SWEEPS[@]} -gt 0 ] || SWEEPS=(quick small/table2 small/table8 small/table9 small/table10 small/table11
                                   small/table12 small/table7 small/fig9 small/fig9_extra small/table13)
for s in "${SWEEPS[@]}"; do
    file=sweeps/$s.yaml
    name=$(awk '/^name:/ {print $2; exit}' "$file")
    start=$SECONDS
    echo "== $file -> results/$name"
    "$BIN" sweep run "$file" -j 2 || echo "(sweep $name had failures; see above)"
    echo "== $name: $((SECONDS - start)) s wall"
    mkdir -p results/committed
    rm -rf "results/committed/$name"
    rsync -a --exclude checkpoint --exclude .lock "results/$name/" "results/committed/$name/" 2>/dev/null \
        || { cp -r "results/$name" "results/committed/$name" && find "results/committed/$name" -name checkpoint -type d -prune -exec rm -rf {} +; find "results/committed/$name" -name .lock -delete; }
done
