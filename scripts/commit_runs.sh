#!/usr/bin/env bash
# commit_runs.sh GRID_RESULTS_DIR COMMITTED_DIR - copy a grid's finished runs into the committed results while the
# grid may still be running (sweeps/README.md, "Study 2: how the grids run"). Run it on the machine the grid runs on.
#   - a run is copied when its summary.json says completed or diverged (a diverged run is a result the tables report
#     as such); runs in progress (no summary), failed ones and checkpoint/ and .lock are left out
#   - a run already in COMMITTED_DIR is never overwritten: if its summary.json differs (a rerun, say) it is named
#     and kept as committed
#   - sweep.json is copied (the grid as it is now)
#   - COMMITTED_DIR/provenance.tsv gets one row per newly copied run: the CPU and instruction-set class of this
#     machine and the source commit of the grid's checkout (runs of builds before provenance was recorded in
#     summary.json carry no such record of their own)
# Prints one line per copied or kept run and a count; exit 1 on a usage error or a missing GRID_RESULTS_DIR.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: scripts/commit_runs.sh GRID_RESULTS_DIR COMMITTED_DIR" >&2; exit 1; }
src=${1%/} dst=${2%/}
[ -d "$src" ] || { echo "commit_runs: $src: no such directory" >&2; exit 1; }
mkdir -p "$dst"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
isa=other
for i in avx2 avx512f avx512_bf16; do case $flags in *" $i "*) isa=$i ;; esac; done
commit=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
n=0 kept=0
for d in "$src"/*/; do
    r=$(basename "$d")
    grep -qE '"status": "(completed|diverged)"' "$d/summary.json" 2>/dev/null || continue
    if [ -e "$dst/$r" ]; then
        if ! cmp -s "$d/summary.json" "$dst/$r/summary.json"; then
            echo "kept     $r (committed run differs from the grid's; not overwritten)"
            kept=$((kept + 1))
        fi
        continue
    fi
    mkdir -p "$dst/$r.tmp"
    tar -C "$d" --exclude=./checkpoint --exclude=./.lock -cf - . | tar -C "$dst/$r.tmp" -xf -
    mv "$dst/$r.tmp" "$dst/$r"
    [ -f "$dst/provenance.tsv" ] || printf 'run\tcpu\tisa\tgrid_commit\tcommitted\n' >"$dst/provenance.tsv"
    printf '%s\t%s\t%s\t%s\t%s\n' "$r" "${cpu:-unknown}" "$isa" "$commit" "$(date -u +%F)" >>"$dst/provenance.tsv"
    echo "copied   $r ($(grep -oE '"status": "[a-z]+"' "$d/summary.json" | cut -d'"' -f4))"
    n=$((n + 1))
done
[ -f "$src/sweep.json" ] && cp "$src/sweep.json" "$dst/sweep.json"
echo "commit_runs: $n copied, $kept kept as committed; $(find "$dst" -mindepth 1 -maxdepth 1 -type d | wc -l) runs in $dst"
