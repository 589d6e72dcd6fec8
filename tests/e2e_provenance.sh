#!/usr/bin/env bash
# e2e_provenance.sh - which build and machine made a run (docs/formats.md#summaryjson): a tiny run's
# summary.json records the build's commit (that of this source tree, "-dirty" exactly when git shows
# changes to the compiled sources), the CPU's instruction-set class as /proc/cpuinfo's flags give it,
# OpenBLAS's core and, for bf16 runs only, the bf16 back end; train.log's start names them. A CPU name
# with a quote and a backslash (AD_CPUINFO, the test-only stand-in for /proc/cpuinfo) stays valid JSON,
# and each class comes from its flag. The analysis: the index's provenance columns, a table's note on
# runs from two builds and two CPU kinds with their counts, and no note for runs that recorded nothing.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup provenance fresh
SRC=$(cd "$(dirname "$0")/.." && pwd)

grammar_corpus "$T/corpus.jsonl" 3 60
prep_corpus prep_for_provenance
tiny_yaml steps=3 warmup=1 >"$T/tiny.yaml"

# json FILE EXPR: a Python expression over the parsed summary `s` (prints its value; exit 1 on bad JSON)
json() { python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1; }

# 1. a run on this machine, from this build
"$BIN" train "$T/tiny.yaml" --out "$T/a" >"$T/a.log" 2>&1 || fail train_runs "$(tail -1 "$T/a.log")"
S=$T/a/summary.json
want=unknown
if git -C "$SRC" rev-parse --short=12 HEAD >/dev/null 2>&1; then
    want=$(git -C "$SRC" rev-parse --short=12 HEAD)
    # the sources compiled into the binary: the list scripts/build_info.sh uses
    [ -n "$(cd "$SRC" && git status --porcelain --untracked-files=no -- engine analysis Makefile scripts/build_info.sh)" ] \
        && want=$want-dirty
fi
got=$(json "$S" 's["build"]["commit"]')
[ "$got" = "$want" ] && ok commit_is_the_source_tree || fail commit_is_the_source_tree "summary $got, git $want"
flags=$(json "$S" 's["build"]["flags"]')
case "$flags" in *-march=native*"(native: "*) ok flags_name_the_isa_options ;; *)
    # a build without -march=native records its -m options as given (possibly none)
    [ "$flags" != "${flags#-m}" ] || [ -z "$flags" ] && ok flags_name_the_isa_options || fail flags_name_the_isa_options "$flags" ;; esac
# the class from /proc/cpuinfo's first flags line, as the rule in docs/formats.md says
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo | sed 's/^[^:]*://') "
case "$cpu_flags" in *" avx512_bf16 "*) isa=avx512_bf16 ;; *" avx512f "*) isa=avx512f ;; *" avx2 "*) isa=avx2 ;; *) isa=other ;; esac
got=$(json "$S" 's["machine"]["isa"]')
[ "$got" = "$isa" ] && ok isa_agrees_with_cpuinfo || fail isa_agrees_with_cpuinfo "summary $got, cpuinfo $isa"
name=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*:[ \t]*//; s/[ \t]*$//'); [ -n "$name" ] || name=unknown
got=$(json "$S" 's["machine"]["cpu"]')
[ "$got" = "$name" ] && ok cpu_is_the_model_name || fail cpu_is_the_model_name "summary '$got', cpuinfo '$name'"
blas=$(json "$S" 's["machine"]["blas"]')
[ -n "$blas" ] && [ "$blas" != unknown ] && ok blas_core_recorded || fail blas_core_recorded "'$blas'"
[ "$(json "$S" 's["machine"]["bf16_products"]')" = None ] && [ "$(json "$S" 's["version"]')" = 0.1.0 ] \
    && ok fp32_run_no_bf16_backend || fail fp32_run_no_bf16_backend "$(cat "$S")"
line=$(grep -m1 '^train: build ' "$T/a.log")
case "$line" in "train: build $want ("*"), cpu $name ($isa"*"), blas $blas") ok log_line_names_them ;;
    *) fail log_line_names_them "'$line'" ;; esac
"$BIN" train "$T/tiny.yaml" --set train.dtype=bf16 --out "$T/b" >"$T/b.log" 2>&1
got=$(json "$T/b/summary.json" 's["machine"]["bf16_products"]')
case "$got" in onednn|fallback) grep -q "^train: build .*, bf16 products $got\$" "$T/b.log" && ok bf16_run_records_backend \
    || fail bf16_run_records_backend "log: $(grep -m1 '^train: build' "$T/b.log")" ;;
    *) fail bf16_run_records_backend "'$got'" ;; esac

# 2. AD_CPUINFO: an awkward name stays one JSON string; each class comes from its own flag word
fake() { # fake NAME FLAGS -> $T/cpuinfo.<n>
    { echo "processor	: 0"; [ -n "$1" ] && printf 'model name\t: %s\n' "$1"; echo "flags		: $2"; echo
      echo "processor	: 1"; echo "model name	: second cpu"; echo "flags		: avx512_bf16"; } >"$T/cpuinfo"
}
check_cpu() { # check_cpu TEST NAME FLAGS WANT_CPU WANT_ISA WANT_AMX
    fake "$2" "$3"
    rm -rf "$T/c"
    AD_CPUINFO=$T/cpuinfo "$BIN" train "$T/tiny.yaml" --out "$T/c" >"$T/c.log" 2>&1
    local got; got=$(json "$T/c/summary.json" 's["machine"]["cpu"] + "|" + s["machine"]["isa"] + "|" + str(s["machine"]["amx_bf16"])')
    [ "$got" = "$4|$5|$6" ] && ok "$1" || fail "$1" "got '$got', want '$4|$5|$6'"
}
check_cpu cpu_name_quote_backslash 'Odd "Q" \ CPU\n @ 2GHz' 'fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile' \
    'Odd "Q" \ CPU\n @ 2GHz' avx512_bf16 True
check_cpu isa_avx512f 'X' 'sse2 avx2 avx512f avx512_vnni' X avx512f False
check_cpu isa_avx2 'X' 'sse2 avx avx2 fma' X avx2 False
check_cpu isa_other_whole_words_only 'X' 'sse2 xavx2 avx2x avx512fx' X other False
# the first processor's block only (the second's name and flags are not this one's)
check_cpu no_model_name_unknown '' 'avx2' unknown avx2 False
AD_CPUINFO=$T/does-not-exist "$BIN" train "$T/tiny.yaml" --out "$T/d" >"$T/d.log" 2>&1
[ "$(json "$T/d/summary.json" 's["machine"]["cpu"] + "|" + s["machine"]["isa"]')" = "unknown|other" ] \
    && ok unreadable_cpuinfo_unknown || fail unreadable_cpuinfo_unknown "$(cat "$T/d/summary.json")"

# 3. the analysis: synthetic runs (run NAME METHOD SEED PPL [COMMIT ISA])
run() {
    local d="$T/res/$1/$2"; mkdir -p "$d"
    printf 'model:\n  vocab_size: 4096\ntrain:\n  seed: %s\ndecay:\n  method: %s\n' "$4" "$3" >"$d/config.yaml"
    local prov=""
    [ $# -ge 7 ] && prov=$(printf ', "build": {"commit": "%s", "flags": "-march=native"}, "machine": {"cpu": "c", "isa": "%s", "amx_bf16": false, "blas": "%s", "bf16_products": null}' "$6" "$7" "${8:-Zen}")
    printf '{"status": "completed", "final_val_loss": 4, "final_val_ppl": %s, "steps": 40, "tokens": 100, "version": "0.1.0"%s}\n' "$5" "$prov" >"$d/summary.json"
}
spec() { # spec NAME RESULTS
    cat >"$T/$1.yaml" <<YAML
table: $1
results: res/$2
metric: val_ppl
better: lower
compare: {vs: Uniform}
rows:
  - {label: Uniform, where: {decay.method: uniform}}
  - {label: AlphaDecay, where: {decay.method: alphadecay}}
columns:
  - {label: final}
YAML
    "$BIN" report table "$T/$1.yaml" --root "$T" --out-dir "$T/out" --quiet 2>"$T/$1.err"
}
# mixed: 5 runs of build aaa on avx512_bf16, 3 of bbb on avx2 (one uniform run on bbb/avx512_bf16), 2 unrecorded
for s in 0 1 2 3 4; do
    if [ $s -lt 3 ]; then run mix u$s uniform $s $((200 + s)) aaa111 avx512_bf16; else run mix u$s uniform $s $((200 + s)) bbb222 avx512_bf16; fi
done
run mix a0 alphadecay 0 190 aaa111 avx512_bf16 Cooperlake
run mix a1 alphadecay 1 191 aaa111 avx512_bf16 Cooperlake
run mix a2 alphadecay 2 193 bbb222 avx2
run mix a3 alphadecay 3 192
run mix a4 alphadecay 4 195
spec mixed mix; rc=$?
note="Runs from 2 builds (aaa111: 5, bbb222: 3) and 2 CPU kinds (avx512_bf16: 7, avx2: 1); 2 runs unrecorded."
grep -qF "$note" "$T/out/mixed.md" && [ $rc -eq 0 ] && ok note_counts_builds_and_kinds \
    || fail note_counts_builds_and_kinds "rc $rc: $(grep -o 'Runs from[^.]*\.' "$T/out/mixed.md"; cat "$T/mixed.err")"
grep -qF 'CPU kinds (avx512\_bf16: 7, avx2: 1)' "$T/out/mixed.tex" && ok note_in_latex_escaped \
    || fail note_in_latex_escaped "$(grep -o 'Runs from[^.]*\.' "$T/out/mixed.tex")"
# all unrecorded: exactly the table of the same runs without provenance fields (no note)
for s in 0 1 2; do run old u$s uniform $s $((200 + s)); run old a$s alphadecay $s $((190 + s)); done
spec old old
mkdir -p "$T/res/rec"; cp -r "$T/res/old/." "$T/res/rec/"
for s in 0 1 2; do run rec u$s uniform $s $((200 + s)) aaa111 avx2; run rec a$s alphadecay $s $((190 + s)) aaa111 avx2; done
spec rec rec
if ! grep -q 'Runs from' "$T/out/old.md" "$T/out/old.tex" && grep -q 'Seeds used per cell: 3' "$T/out/old.md"; then
    ok unrecorded_no_note; else fail unrecorded_no_note "$(grep -o 'Runs from[^.]*\.' "$T/out/old.md")"; fi
# one build on one CPU kind is no mix either: the same text as unrecorded runs
if cmp -s <(sed 's/rec/old/g' "$T/out/rec.md") "$T/out/old.md"; then ok one_build_one_kind_no_note
else fail one_build_one_kind_no_note "$(diff <(sed 's/rec/old/g' "$T/out/rec.md") "$T/out/old.md" | head -4)"; fi
# the index: provenance columns by name, empty when unrecorded
"$BIN" report index "$T/res/mix" --out "$T/index.csv" 2>"$T/index.err"
cols=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { printf "%s=%s/%s/%s ", $c["name"], $c["build_commit"], $c["cpu_isa"], $c["blas_core"] }' "$T/index.csv")
[ "$cols" = "a0=aaa111/avx512_bf16/Cooperlake a1=aaa111/avx512_bf16/Cooperlake a2=bbb222/avx2/Zen a3=// a4=// u0=aaa111/avx512_bf16/Zen u1=aaa111/avx512_bf16/Zen u2=aaa111/avx512_bf16/Zen u3=bbb222/avx512_bf16/Zen u4=bbb222/avx512_bf16/Zen " ] \
    && ok index_provenance_columns || fail index_provenance_columns "$cols"
# a malformed provenance field: the run is unreadable, named, not silently unrecorded
mkdir -p "$T/res/bad/r"; printf 'train:\n  seed: 1\n' >"$T/res/bad/r/config.yaml"
printf '{"status": "completed", "final_val_loss": 4, "final_val_ppl": 50, "steps": 1, "tokens": 1, "build": {"commit": 7}}\n' >"$T/res/bad/r/summary.json"
"$BIN" report index "$T/res/bad" --out "$T/bad.csv" 2>"$T/bad.err"
grep -q '^r,bad,r,unreadable,.*summary.json: build.commit is not a string' "$T/bad.csv" && ok malformed_provenance_unreadable \
    || fail malformed_provenance_unreadable "$(cat "$T/bad.csv" "$T/bad.err")"
exit $FAILED
