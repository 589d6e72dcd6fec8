#!/usr/bin/env bash
# End-to-end prose and layout of the report (docs/analysis.md, "Numbers and claims in prose"):
#   - the committed prose (findings.tex, main.tex, the README template) cites every number and claim
#     and types none; the README's results section is the filled template;
#   - paper/generated/numbers.md and claims.md are what the committed runs give today (regenerated);
#   - the checker catches a typed number, an undefined number, a comparative sentence without a claim,
#     and `report all` fails on a claim the data do not support;
#   - layout: every generated table has a caption and the label tab:NAME, none is shrunk with
#     \resizebox, titles name the paper's numbering "paper Table N"; with TeX installed, the report
#     builds and no table's type is scaled below 7 pt (the scale \adfit logs).
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup prose fresh
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GEN=paper/generated
PROSE="paper/findings.tex paper/main.tex paper/readme_results.md"

# 1. the committed prose is clean against the committed numbers
out=$(perl scripts/prose.pl check "$GEN" $PROSE 2>&1); rc=$?
[ $rc -eq 0 ] && ok prose_cites_every_number || fail prose_cites_every_number "$(echo "$out" | head -3 | tr '\n' ' ')"

# 2. the README's results section is the filled template
perl scripts/prose.pl fill "$GEN" paper/readme_results.md > "$T/filled.md" 2>"$T/fill.err"
sed -n '/^<!-- BEGIN generated: paper\/readme_results.md/,/^<!-- END generated -->/p' README.md | sed '1d;$d' > "$T/readme_part.md"
if [ -s "$T/readme_part.md" ] && cmp -s "$T/filled.md" "$T/readme_part.md"; then ok readme_results_generated
else fail readme_results_generated "README.md between the markers differs from paper/readme_results.md filled (run make paper): $(diff "$T/filled.md" "$T/readme_part.md" | head -3 | tr '\n' ' ')"; fi

# 3. the committed numbers and claims are what the committed runs give
if "$BIN" report all --out-dir "$T/gen" --quiet >/dev/null 2>"$T/all.err"; then
    for f in numbers.md claims.md; do
        grep -v '^| `setup\.' "$GEN/$f" > "$T/committed_$f"
        if cmp -s "$T/gen/$f" "$T/committed_$f"; then ok "generated_${f%.md}_current"
        else fail "generated_${f%.md}_current" "$GEN/$f is stale (run make paper): $(diff "$T/gen/$f" "$T/committed_$f" | head -3 | tr '\n' ' ')"; fi
    done
else
    fail generated_numbers_current "report all failed: $(grep -v '^warning' "$T/all.err" | tail -3 | tr '\n' ' ')"
fi

# 4. the checker fails on each kind of defect, naming file and line
cp paper/findings.tex "$T/typed.tex"; echo 'AlphaDecay ends at 171.3 here.' >> "$T/typed.tex"
out=$(perl scripts/prose.pl check "$GEN" "$T/typed.tex" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "typed.tex:$(wc -l < "$T/typed.tex"): typed number \"171.3\"" && ok prose_rejects_typed_number \
    || fail prose_rejects_typed_number "rc $rc: $out"
printf 'It ends at \\val{cpu_compare.no_such_number}.\n' > "$T/undef.tex"
out=$(perl scripts/prose.pl check "$GEN" "$T/undef.tex" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q 'undef.tex:1: \\val{cpu_compare.no_such_number} is not in' && ok prose_rejects_undefined_number \
    || fail prose_rejects_undefined_number "rc $rc: $out"
printf 'AlphaDecay beats Uniform at every \\val{cpu_compare.alpha_best_at}.\n' > "$T/unclaimed.tex"
out=$(perl scripts/prose.pl check "$GEN" "$T/unclaimed.tex" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q 'unclaimed.tex:1: a comparative sentence ("beats") without' && ok prose_rejects_unclaimed_comparison \
    || fail prose_rejects_unclaimed_comparison "rc $rc: $out"
printf 'AlphaDecay ends below Uniform\\claimed{cpu_compare.alpha_below_uniform}.\n' > "$T/claimed.tex"
perl scripts/prose.pl check "$GEN" "$T/claimed.tex" >/dev/null 2>&1 && ok prose_accepts_claimed_comparison \
    || fail prose_accepts_claimed_comparison "$(perl scripts/prose.pl check "$GEN" "$T/claimed.tex" 2>&1)"

# 5. a claim the data do not support fails the build (report all and report table), naming the cells
mkdir -p "$T/specs"
sed 's/holds: "mean < mean\[WD=0\]"/holds: "mean > mean[WD=0]"/' analysis/specs/quick.yaml > "$T/specs/quick.yaml"
grep -q 'mean > mean\[WD=0\]' "$T/specs/quick.yaml" || fail claim_fails_build "the fixture edit did not apply (quick.yaml's claim changed?)"
"$BIN" report all --specs "$T/specs" --out-dir "$T/bad" --quiet >/dev/null 2>"$T/bad.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'claim quick.decay_below_wd0 no longer holds: "mean > mean\[WD=0\]" fails at (Uniform, final val ppl)' "$T/bad.err" \
    && grep -q '| `quick.decay_below_wd0` | \*\*NO\*\* |' "$T/bad/claims.md" && ok claim_fails_build \
    || fail claim_fails_build "rc $rc: $(grep -v '^warning' "$T/bad.err" | tail -2 | tr '\n' ' ')"
"$BIN" report table "$T/specs/quick.yaml" --out-dir "$T/bad2" --quiet >/dev/null 2>&1
[ $? -eq 1 ] && ok claim_fails_report_table || fail claim_fails_report_table "report table exited 0 with a failing claim"

# 6. layout of the generated tables
bad=""
for f in "$GEN"/*.tex; do
    # not tables: the prose's facts, the setup, and a figure's caption note (NAME_note.tex, kind scaling)
    case $f in */numbers.tex|*/claims.tex|*/setup.tex|*/machine.tex|*_note.tex) continue ;; esac
    n=$(basename "$f" .tex)
    grep -q '\\caption{' "$f" && grep -q "\\\\label{tab:$n}" "$f" || bad="$bad $n(caption/label)"
    grep -q '\\resizebox' "$f" && bad="$bad $n(resizebox)"
done
[ -z "$bad" ] && ok tables_captioned_labelled_unshrunk || fail tables_captioned_labelled_unshrunk "$bad"
t=$(grep -lE '^title: "(Table|Figure) [0-9]' analysis/specs/*.yaml)
[ -z "$t" ] && ok titles_name_paper_numbering || fail titles_name_paper_numbering "titles say 'Table N' for the paper's: $t"
n=$(grep -cE '\\genfig(opt)?\{[a-z0-9_]*\}\{[^}]' paper/main.tex); m=$(grep -cE '\\genfig(opt)?\{' paper/main.tex)
[ "$n" -eq "$m" ] && [ "$m" -gt 0 ] && ok figures_captioned || fail figures_captioned "$n of $m \\genfig calls have a caption"

# 7. with TeX: the report builds, and no table is scaled below 7 pt
if command -v latexmk >/dev/null 2>&1 && command -v pdflatex >/dev/null 2>&1; then
    mkdir -p "$T/paper"; cp -r paper/main.tex paper/findings.tex "$GEN" "$T/paper/"
    mkdir -p "$T/paper/generated"; cp "$GEN"/* "$T/paper/generated/" 2>/dev/null
    (cd "$T/paper" && latexmk -pdf -interaction=nonstopmode -halt-on-error main.tex >/dev/null 2>&1); rc=$?
    if [ $rc -ne 0 ]; then fail report_builds "latexmk failed: $(grep -m2 '^!' "$T/paper/main.log" | tr '\n' ' ')"
    else
        ok report_builds
        small=$(awk '/^report-table-scale:/ { size = $5; sub(/pt/, "", size); if ($3 * size / 1000 < 7) print $2 " " $3 "/1000 of " $5 }' "$T/paper/main.log")
        [ -z "$small" ] && ok no_table_below_7pt || fail no_table_below_7pt "$small"
    fi
else
    echo "skipped report_builds: TeX not installed"
    echo "skipped no_table_below_7pt: TeX not installed"
fi
exit $FAILED
