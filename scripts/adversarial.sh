#!/usr/bin/env bash
# scripts/adversarial.sh BIN [WORKDIR]: an adversarial rerun of the durability guarantees (README,
# "Guarantees"; issue 25), as root with strace: SIGKILL at sampled calls of unlink, rename, fsync, write,
# openat, mkdir (some also during the resume), full disks (tmpfs of 64 KiB to 2 MiB, then the directory
# moved to a big disk and resumed), EIO/ENOSPC injected into every fsync and sampled write, close and
# rename, symbolic links planted under every name of a run directory (fresh and mid-run), hostile sweep
# names, run names, config values and figure titles. Each case is "clean" when the run failed with a
# one-line error and no "completed" summary, or completed; and when the rerun ends identical to an
# uninterrupted run (logs up to their clock fields, checkpoints kept, spectra, no temp files), no file
# outside was touched and no command ran. Prints "category tried clean". Not part of `make test`
# (minutes of runs; sampled with a fixed seed).
set -u
export AD_BIN=${1:?usage: scripts/adversarial.sh BIN [WORKDIR]}; BIN=$AD_BIN
case $BIN in /*) ;; *) BIN=$PWD/$BIN; AD_BIN=$BIN ;; esac
W=${2:-/tmp/adversarial}/w; rm -rf "$W"; mkdir -p "$W"; cd "$(dirname "$0")/.."
export AD_TMP=${2:-/tmp/adversarial}/tmp; mkdir -p "$AD_TMP"
. tests/lib.sh; e2e_setup adv fresh
grammar_corpus "$T/corpus.jsonl" 3 300; prep_corpus adv
tiny_yaml steps=8 ckpt_every=2 keep=2 eval_every=4 "decay=method: alphadecay, weight_decay: 1.0e-5, update_every: 2" >"$W/c.yaml"
strip() { sed 's/"tok_per_s.*//; s/"elapsed_s.*//' "$1" 2>/dev/null; }
"$BIN" train "$W/c.yaml" --out "$W/ref" >/dev/null 2>&1 || { echo "reference run failed"; exit 1; }
ls "$W/ref/checkpoint" >"$W/ref.ck"
# clean DIR: completed and equal to the reference, keep respected, no temp files
clean() {
    local d=$1
    grep -q '"status": "completed"' "$d/summary.json" 2>/dev/null || { echo "not completed"; return 1; }
    cmp -s <(strip "$W/ref/metrics.jsonl") <(strip "$d/metrics.jsonl") || { echo "metrics differ"; return 1; }
    cmp -s "$W/ref/eval.jsonl" "$d/eval.jsonl" || { echo "eval differs"; return 1; }
    cmp -s <(strip "$W/ref/decay.jsonl") <(strip "$d/decay.jsonl") || { echo "decay differs"; return 1; }
    ls "$d/checkpoint" | cmp -s - "$W/ref.ck" || { echo "checkpoints: $(ls "$d/checkpoint" | tr '\n' ' ')"; return 1; }
    [ -z "$(find "$d" -name '*.tmp.*')" ] || { echo "temp files left"; return 1; }
    ls "$d/spectra" | cmp -s - <(ls "$W/ref/spectra") || { echo "spectra differ"; return 1; }
    return 0
}
strace -f -o "$W/ref.trace" -e trace=unlink,unlinkat,rename,renameat,fsync,write,openat,mkdir,mkdirat "$BIN" train "$W/c.yaml" --out "$W/ref2" >/dev/null 2>&1
declare -A tried okc
note() { tried[$1]=$(( ${tried[$1]:-0} + 1 )); if [ "$2" = 0 ]; then okc[$1]=$(( ${okc[$1]:-0} + 1 )); else echo "  NOT CLEAN [$1] $3"; fi; }

# 1. SIGKILL at the Nth call of a syscall, then resume (and in a second wave, a kill in the resume too)
RANDOM=25
for sc in unlink unlinkat rename fsync write openat mkdir; do
    total=$(grep -c " $sc(" "$W/ref.trace"); [ "$total" -gt 0 ] || continue
    for k in 1 2 3 4 5 6; do
        n=$(( (RANDOM % total) + 1 )); d="$W/kill_${sc}_$n"; rm -rf "$d"
        strace -f -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n "$BIN" train "$W/c.yaml" --out "$d" >/dev/null 2>&1
        if [ $k -le 2 ]; then  # kill the resume as well, at a random write
            strace -f -o /dev/null -e trace=write -e inject=write:signal=KILL:when=$(( (RANDOM % 40) + 1 )) "$BIN" train "$W/c.yaml" --out "$d" >/dev/null 2>&1
        fi
        "$BIN" train "$W/c.yaml" --out "$d" >"$d.log" 2>&1
        why=$(clean "$d"); note kill $? "$sc@$n: $why $(tail -1 "$d.log")"
    done
done

# 2. full disks: a tmpfs of S KiB; the run fails cleanly or completes; moved to a big disk it resumes identical
mkdir -p "$W/mnt"
for kb in 64 128 200 300 400 600 800 1000 1500 2000; do
    d="$W/mnt/run"
    mount -t tmpfs -o size=${kb}k tmpfs "$W/mnt" || { echo "no tmpfs"; break; }
    "$BIN" train "$W/c.yaml" --out "$d" >"$W/full_$kb.log" 2>&1; rc=$?
    st=$(grep -o '"status": "[a-z]*"' "$d/summary.json" 2>/dev/null)
    bad=""
    [ $rc -ne 0 ] && echo "$st" | grep -q completed && bad="exit $rc but completed"
    [ $rc -eq 0 ] && ! echo "$st" | grep -q completed && bad="exit 0 without completed"
    rm -rf "$W/full_$kb"; cp -a "$d" "$W/full_$kb" 2>/dev/null || mkdir -p "$W/full_$kb"
    umount "$W/mnt"
    rm -f "$W/full_$kb/summary.json" 2>/dev/null  # a failed summary: the rerun resumes
    grep -q '"status": "completed"' "$W/full_$kb/summary.json" 2>/dev/null || true
    "$BIN" train "$W/c.yaml" --out "$W/full_$kb" >"$W/full_$kb.log2" 2>&1
    why=$(clean "$W/full_$kb"); [ -n "$bad" ] && why="$bad $why"
    [ -z "$bad" ] && [ -z "$why" ]; note full $? "${kb}k rc $rc: $why $(tail -1 "$W/full_$kb.log")"
done

# 3. injected I/O errors: EIO at every fsync, ENOSPC at sampled writes, EIO at sampled close/rename
nf=$(grep -c ' fsync(' "$W/ref.trace")
for n in $(seq 1 "$nf"); do
    d="$W/io_fsync_$n"; strace -f -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when=$n "$BIN" train "$W/c.yaml" --out "$d" >"$d.log" 2>&1; rc=$?
    bad=""; [ $rc -eq 0 ] && bad="exit 0 after a failed fsync"; grep -q '"status": "completed"' "$d/summary.json" 2>/dev/null && bad="$bad completed"
    "$BIN" train "$W/c.yaml" --out "$d" >"$d.log2" 2>&1; why=$(clean "$d")
    [ -z "$bad" ] && [ -z "$why" ]; note fsync $? "fsync@$n: $bad $why"
done
nw=$(grep -c ' write(' "$W/ref.trace")
for k in $(seq 1 25); do
    n=$(( (RANDOM % nw) + 1 )); d="$W/io_write_$n"; rm -rf "$d"
    strace -f -o /dev/null -e trace=write -e inject=write:error=ENOSPC:when=$n "$BIN" train "$W/c.yaml" --out "$d" >"$d.log" 2>&1; rc=$?
    # a failed write to stderr is harmless; any other: exit != 0 and not completed
    st=$(grep -c '"status": "completed"' "$d/summary.json" 2>/dev/null)
    bad=""; [ $rc -ne 0 ] && [ "$st" = 1 ] && bad="exit $rc but completed"
    "$BIN" train "$W/c.yaml" --out "$d" >"$d.log2" 2>&1; why=$(clean "$d")
    [ -z "$bad" ] && [ -z "$why" ]; note write $? "write@$n rc $rc: $bad $why"
done
for sc in close rename; do
    nt=$(strace -f -o /dev/stdout -e trace=$sc "$BIN" train "$W/c.yaml" --out "$W/cnt_$sc" 2>/dev/null | grep -c " $sc(")
    for k in $(seq 1 10); do
        n=$(( (RANDOM % nt) + 1 )); d="$W/io_${sc}_$n"; rm -rf "$d"
        strace -f -o /dev/null -e trace=$sc -e inject=$sc:error=EIO:when=$n "$BIN" train "$W/c.yaml" --out "$d" >"$d.log" 2>&1; rc=$?
        st=$(grep -c '"status": "completed"' "$d/summary.json" 2>/dev/null)
        bad=""; [ $rc -ne 0 ] && [ "$st" = 1 ] && bad="exit $rc but completed"
        "$BIN" train "$W/c.yaml" --out "$d" >"$d.log2" 2>&1; why=$(clean "$d")
        [ -z "$bad" ] && [ -z "$why" ]; note $sc $? "$sc@$n rc $rc: $bad $why"
    done
done

# 4. planted symlinks (fresh and mid-run directories) pointing at a victim directory and file
V="$W/victim"; mkdir -p "$V/d"; echo precious >"$V/d/f"; echo important >"$V/file"
intact() { [ "$(cat "$V/d/f")" = precious ] && [ "$(cat "$V/file")" = important ] && [ "$(ls "$V/d")" = f ]; }
for name in .lock config.yaml metrics.jsonl eval.jsonl decay.jsonl summary.json spectra checkpoint train.log failed \
            checkpoint/step_00000004 checkpoint/step_00000004.tmp checkpoint/step_00000002.old checkpoint/step_00000099.tmp \
            spectra/spectra_step2.bin checkpoint/step_00000002/COMPLETE checkpoint/step_00000002/model.safetensors; do
    for target in "$V/d" "$V/file"; do
        for stage in fresh midrun; do
            d="$W/link_$(echo "$name" | tr '/.' '__')_$(basename "$target")_$stage"; rm -rf "$d"
            if [ $stage = midrun ]; then
                strace -f -o /dev/null -e trace=rename -e inject=rename:signal=KILL:when=12 "$BIN" train "$W/c.yaml" --out "$d" >/dev/null 2>&1
            fi
            mkdir -p "$(dirname "$d/$name")"; rm -rf "$d/$name"; ln -s "$target" "$d/$name"
            "$BIN" train "$W/c.yaml" --out "$d" >"$d.log" 2>&1; rc=$?
            ok=0; intact || ok=1
            # refused with the message, or (a link the harness removes as a link) completed cleanly
            if [ $ok = 0 ] && [ $rc -ne 0 ] && ! grep -q "is a symbolic link" "$d.log"; then ok=1; fi
            note link $ok "$name -> $target ($stage): rc $rc $(tail -1 "$d.log")"
        done
    done
done

# 5. hostile names: sweep names, grid values, run names on disk, spec titles and labels
H="$W/host"; mkdir -p "$H"
tiny_yaml steps=2 >"$H/base.yaml"
for nm in '$(touch PWN)' 'a`touch PWN`b' "it's" 'a"b' '..' '.hidden' 'x/y' 'tab	x' 'nl
x' ';touch PWN;' '|touch PWN' '&touch PWN&' '-rf' '@x' '\\x' "$(printf 'x%.0s' $(seq 1 300))"; do
    q=$(printf '%s' "$nm" | sed 's/\\/\\\\/g; s/"/\\"/g' | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { gsub(/\t/, "\\t"); print }')
    printf 'name: "%s"\nbase: %s\ngrid:\n  train.seed: [1]\n' "$q" "$H/base.yaml" >"$H/s.yaml"
    (cd "$H" && "$BIN" sweep run s.yaml --results res >"$H/s.out" 2>&1); rc=$?
    p=$(find "$W" -name 'PWN*' | wc -l)
    # clean: nothing ran through a shell, and a bad name is refused (a good one completes)
    [ "$p" = 0 ] && { [ $rc -eq 0 ] || grep -q "name" "$H/s.out"; }; note names $? "sweep name [$nm]: rc $rc $(tail -1 "$H/s.out")"
done
G="$W/gp"; mkdir -p "$G/res/sw"
for nm in 'a$(touch PWN)b' 'x`touch PWN`y' 'q'"'"'x' 'd"q' 'n
l' '%s%n' '{x}_^@&~' 'ok'; do
    r="$G/res/sw/$nm"; mkdir -p "$r"
    printf 'train:\n  seed: 1\ndecay:\n  method: uniform\n  weight_decay: "1e-5`touch PWN`"\n' >"$r/config.yaml"
    printf '{"step": 20, "tokens": 200, "loss": 4.0, "lr": 0.001, "elapsed_s": 2}\n' >"$r/metrics.jsonl"
    printf '{"step": 20, "loss": 4.0, "ppl": 54.6, "tokens": 100}\n' >"$r/eval.jsonl"
    printf '{"status": "completed", "final_val_loss": 4.0, "final_val_ppl": 54.6, "steps": 20, "tokens": 200, "wall_seconds": 2, "peak_rss_mb": 30}\n' >"$r/summary.json"
done
for t in '`touch PWN`' '$(touch PWN)' "it's" '\"q\"' 'a\nb' '@x' '%s%n%x'; do
    for kind in curves wd_sweep; do
        extra=""; [ $kind = wd_sweep ] && extra='x: decay.weight_decay\nallow_differ: [decay.weight_decay, train.seed]\n'
        printf "figure: f\nkind: $kind\ntitle: \"%s\"\nresults: res/sw\n${extra}series:\n  - {label: \"%s\", where: {decay.method: uniform}}\n" "$t" "$t" >"$G/f.yaml"
        (cd "$G" && "$BIN" report plot f.yaml --root . --out-dir out >"$G/f.out" 2>&1); rc=$?
        p=$(find "$W" -name 'PWN*' | wc -l)
        [ "$p" = 0 ]; note names $? "plot $kind title [$t]: rc $rc PWN $p $(tail -1 "$G/f.out")"
    done
done

echo "category tried clean"
for c in kill full fsync write close rename link names; do echo "$c ${tried[$c]:-0} ${okc[$c]:-0}"; done
