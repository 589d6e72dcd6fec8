#!/usr/bin/env bash
# End-to-end report: synthetic run directories (written here) -> results index, a table that must match
# tests/data/report/expected_table.md byte for byte, failed / partial / unreadable runs shown as such,
# refusals of bad specs and mixed cells, and figures rendered to non-empty PNG/PDF when gnuplot exists.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup report fresh
HERE=$(cd "$(dirname "$0")" && pwd)

# run NAME METHOD WD SEED STATUS PPL   (STATUS "-" = no summary.json yet)
run() {
    local d="$T/res/fx/$1"; mkdir -p "$d"
    printf 'version: "0.1.0"\nmodel:\n  hidden_size: 64\n  num_hidden_layers: 2\ntrain:\n  optimizer: adam\n  seed: %s\n  threads: 1\ndecay:\n  method: %s\n  weight_decay: %s\n' \
        "$4" "$2" "$3" > "$d/config.yaml"
    local l=$(awk -v p="$6" 'BEGIN { printf "%.6f", log(p) }')
    for s in 10 20 30 40; do
        printf '{"step": %d, "tokens": %d, "loss": %s, "lr": 0.001, "elapsed_s": %s}\n' $s $((s * 256)) \
            $(awk -v s=$s -v l="$l" 'BEGIN { printf "%.4f %.2f", l + 2.0 / s, s / 10 }') >> "$d/metrics.jsonl"
    done
    printf '{"step": 20, "loss": %s, "ppl": %s, "tokens": 1000}\n{"step": 40, "loss": %s, "ppl": %s, "tokens": 1000}\n' \
        $(awk -v l="$l" 'BEGIN { printf "%.6f %.6f", l + 0.2, exp(l + 0.2) }') "$l" "$6" > "$d/eval.jsonl"
    [ "$5" = "-" ] && return
    printf '{"status": "%s", "final_val_loss": %s, "final_val_ppl": %s, "steps": 40, "tokens": 10240, "wall_seconds": 12.5, "peak_rss_mb": 30}\n' \
        "$5" "$l" "$6" > "$d/summary.json"
}
run none_s1        none       0     1 completed 40.0
run uni_1e-5_s1    uniform    1e-05 1 completed 35.1
run uni_1e-5_s2    uniform    1e-05 2 completed 35.3
run alpha_1e-5_s1  alphadecay 1e-05 1 completed 34.5
run alpha_1e-5_s2  alphadecay 1e-05 2 completed 34.9
run alpha_5e-6_s1  alphadecay 5e-06 1 failed    99.0
run alpha_5e-6_s2  alphadecay 5e-06 2 completed 34.8
run uni_5e-6_s1    uniform    5e-06 1 -         36.0
run awd_1e-5_s1    awd        1e-05 1 -         37.0
printf '{"step": 50, "tokens": 12800, "lo' >> "$T/res/fx/awd_1e-5_s1/metrics.jsonl"   # killed mid-line

mkdir -p "$T/analysis/reported"; cp "$HERE/../analysis/reported/paper_tables.csv" "$T/analysis/reported/"
cat > "$T/table.yaml" <<'YAML'
table: fixture
title: Fixture table
results: res/fx
metric: val_ppl
better: lower
ttest: {vs: AlphaDecay}
reported: {mode: beside, table: table2, model: 60M, optimizer: adam, metric: val_ppl}
rows:
  - {label: WD=0, where: {decay.method: none}, any: [decay.weight_decay], reported: {method: none, weight_decay: 0}}
  - {label: Uniform, where: {decay.method: uniform}, reported: {method: uniform}}
  - {label: AWD, where: {decay.method: awd}, reported: {method: awd}}
  - {label: AlphaDecay, where: {decay.method: alphadecay}, reported: {method: alphadecay}}
columns:
  - {label: 1e-5, where: {decay.weight_decay: 1e-5}, reported: {weight_decay: 1e-5}}
  - {label: 5e-6, where: {decay.weight_decay: 5e-6}, reported: {weight_decay: 5e-6}}
  - {label: 1e-6, where: {decay.weight_decay: 1e-6}, reported: {weight_decay: 1e-6}}
YAML

# 1. index: every run, with its status
"$BIN" report index "$T/res" --out "$T/index.csv" 2>"$T/index.err"; rc=$?
[ $rc -eq 0 ] && [ $(($(wc -l < "$T/index.csv") - 1)) -eq 9 ] && ok index_lists_every_run || fail index_lists_every_run "rc $rc, $(wc -l < "$T/index.csv") lines"
grep -q '^fx/uni_5e-6_s1,fx,uni_5e-6_s1,partial,' "$T/index.csv" && grep -q '^fx/alpha_5e-6_s1,fx,alpha_5e-6_s1,failed,' "$T/index.csv" \
    && grep -q '^fx/awd_1e-5_s1,fx,awd_1e-5_s1,unreadable,.*metrics.jsonl:5' "$T/index.csv" \
    && ok index_statuses || fail index_statuses "$(cut -d, -f1-4 "$T/index.csv" | tr '\n' ' ')"
grep -q '^fx/uni_1e-5_s2,.*,uniform,1e-05,.*,2,3.5[0-9]*,35.3,40,10240,12.5,30,,,,$' "$T/index.csv" && ok index_row_values \
    || fail index_row_values "$(grep uni_1e-5_s2 "$T/index.csv")"
grep -q 'warning: .*awd_1e-5_s1: unreadable' "$T/index.err" && ok index_warns_naming_run || fail index_warns_naming_run "$(cat "$T/index.err")"

# 2. the table, byte for byte, in the three formats
"$BIN" report table "$T/table.yaml" --root "$T" --out-dir "$T/out" --quiet 2>"$T/table.err"; rc=$?
if [ $rc -eq 0 ] && cmp -s "$T/out/fixture.md" "$HERE/data/report/expected_table.md"; then ok table_matches_expected_markdown
else fail table_matches_expected_markdown "rc $rc; $(diff "$T/out/fixture.md" "$HERE/data/report/expected_table.md" | head -5 | tr '\n' ' ')"; fi
grep -q 'alpha_5e-6_s1 is failed' "$T/table.err" && grep -q 'awd_1e-5_s1 is unreadable: .*metrics.jsonl:5' "$T/table.err" \
    && ok table_warns_naming_runs || fail table_warns_naming_runs "$(cat "$T/table.err")"
grep -q '\\textbf{34.70 $\\pm$ 0.28} (n=2)' "$T/out/fixture.tex" && grep -q '\\toprule' "$T/out/fixture.tex" \
    && ok latex_booktabs || fail latex_booktabs "$(sed -n 10,14p "$T/out/fixture.tex")"
# a \label is a control-sequence name, not text: tab:NAME as it is, never TeX-escaped ("tab:fix\_ture" stops
# latexmk with "Missing \endcsname")
sed 's/^table: fixture$/table: fix_ture/' "$T/table.yaml" > "$T/fix_ture.yaml"
"$BIN" report table "$T/fix_ture.yaml" --root "$T" --out-dir "$T/o1" --quiet 2>/dev/null
grep -qx '\\label{tab:fix_ture}' "$T/o1/fix_ture.tex" && ok latex_label_plain_identifier \
    || fail latex_label_plain_identifier "$(grep -s label "$T/o1/fix_ture.tex")"
grep -q '^AlphaDecay,,5e-6,val_ppl,2,1,34.8,,34.8,34.8,1 failed,1,,31.58,alpha_5e-6_s1;alpha_5e-6_s2$' "$T/out/fixture.csv" \
    && ok csv_long_format || fail csv_long_format "$(grep '^AlphaDecay,,5e-6' "$T/out/fixture.csv")"
cp -r "$T/out" "$T/out1"
"$BIN" report table "$T/table.yaml" --root "$T" --out-dir "$T/out" --quiet 2>/dev/null
diff -r "$T/out" "$T/out1" >/dev/null && ok table_regenerates_identically || fail table_regenerates_identically "outputs differ"

# 3. refusals
sed 's/metric: val_ppl/metric: val_pp/' "$T/table.yaml" > "$T/badmetric.yaml"
"$BIN" report table "$T/badmetric.yaml" --root "$T" --out-dir "$T/o2" >/dev/null 2>"$T/bm.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'badmetric.yaml:4:9: unknown metric "val_pp"' "$T/bm.err" && ok unknown_metric_refused || fail unknown_metric_refused "rc $rc: $(cat "$T/bm.err")"
printf 'table: mixed\nresults: res/fx\nrows:\n  - {label: A, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: all}\n' > "$T/mixed.yaml"
"$BIN" report table "$T/mixed.yaml" --root "$T" --out-dir "$T/o3" >/dev/null 2>"$T/mx.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'differ in decay.weight_decay' "$T/mx.err" && [ ! -e "$T/o3/mixed.md" ] && ok mixed_cell_refused || fail mixed_cell_refused "rc $rc: $(cat "$T/mx.err")"
# best_of: each row at its best column (by the spec's better), compared by seed with the baseline's best
printf 'table: bo\nresults: res/fx\nmetric: val_ppl\nbetter: lower\ncompare: {vs: Uniform}\nrows:\n  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AlphaDecay, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: 1e-5, where: {decay.weight_decay: 1e-5}}\n  - {label: 5e-6, where: {decay.weight_decay: 5e-6}}\n  - {label: best, best_of: [1e-5, 5e-6]}\n' > "$T/bo.yaml"
"$BIN" report table "$T/bo.yaml" --root "$T" --out-dir "$T/o4" --quiet 2>/dev/null; rc=$?
[ $rc -eq 0 ] && grep -q '| AlphaDecay | \*\*34.70 ± 0.28\*\* (n=2) | 34.80 (+1 failed) | \*\*34.70 ± 0.28\*\* (n=2) at 1e-5 |' "$T/o4/bo.md" \
    && grep -q '| AlphaDecay | best | 2 | -0.50 \[' "$T/o4/bo.md" && grep -q '^AlphaDecay,,best,.*,1e-5$' "$T/o4/bo.csv" \
    && grep -q 'best: each row at its best mean among 1e-5 and 5e-6' "$T/o4/bo.md" \
    && ok best_of_lower_picks_best_mean || fail best_of_lower_picks_best_mean "rc $rc: $(grep -e AlphaDecay "$T/o4/bo.md" 2>&1 | head -3)"
sed 's/better: lower/better: higher/' "$T/bo.yaml" > "$T/bohi.yaml"
"$BIN" report table "$T/bohi.yaml" --root "$T" --out-dir "$T/o5" --quiet 2>/dev/null; rc=$?
[ $rc -eq 0 ] && grep -q '| AlphaDecay | .* | 34.80 at 5e-6 (+1 failed) |$' "$T/o5/bo.md" && grep -q '^Uniform,,best,.*,1e-5$' "$T/o5/bo.csv" \
    && ok best_of_higher_picks_other_column || fail best_of_higher_picks_other_column "rc $rc: $(grep -e AlphaDecay -e Uniform "$T/o5/bo.md" 2>&1 | head -3)"
sed 's/best_of: \[1e-5, 5e-6\]/best_of: [1e-5, 1e-6]/' "$T/bo.yaml" > "$T/bobad.yaml"
"$BIN" report table "$T/bobad.yaml" --root "$T" --out-dir "$T/o6" >/dev/null 2>"$T/bobad.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'bobad.yaml:12:.*best_of: "1e-6" is not a column defined before this one' "$T/bobad.err" && [ ! -e "$T/o6/bo.md" ] \
    && ok best_of_unknown_column_refused || fail best_of_unknown_column_refused "rc $rc: $(cat "$T/bobad.err")"
sed 's/{label: best, best_of/{label: best, where: {decay.method: uniform}, best_of/' "$T/bo.yaml" > "$T/bowhere.yaml"
"$BIN" report table "$T/bowhere.yaml" --root "$T" --out-dir "$T/o7" >/dev/null 2>"$T/bowhere.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'bowhere.yaml:12:.*a best_of column takes its runs from the columns it names' "$T/bowhere.err" \
    && ok best_of_with_where_refused || fail best_of_with_where_refused "rc $rc: $(cat "$T/bowhere.err")"
# mean_wd: metrics.jsonl's wd_mean averaged over the logged updates (1, 2 and 4.5: 2.5); a run whose
# metrics carry no wd_mean is refused with its file named
run wd_a uniform 1 1 completed 50.0
printf '{"step": 10, "loss": 3, "wd_mean": 1}\n{"step": 20, "loss": 3, "wd_mean": 2}\n{"step": 30, "loss": 3, "wd_mean": 4.5}\n' > "$T/res/fx/wd_a/metrics.jsonl"
printf 'table: mw\nresults: res/fx\nmetric: mean_wd\nbetter: none\ndigits: 3\nwhere: {decay.weight_decay: 1}\nrows:\n  - {label: U, where: {decay.method: uniform}}\ncolumns:\n  - {label: applied}\n' > "$T/mw.yaml"
"$BIN" report table "$T/mw.yaml" --root "$T" --out-dir "$T/o8" --quiet 2>"$T/mw.err"; rc=$?
[ $rc -eq 0 ] && grep -q '^| U | 2.500 |$' "$T/o8/mw.md" && ! grep -q 'best per column' "$T/o8/mw.md" && ok mean_wd_metric || fail mean_wd_metric "rc $rc: $(cat "$T/mw.err"; grep '| U' "$T/o8/mw.md" 2>&1)"
printf '{"step": 10, "loss": 3}\n' > "$T/res/fx/wd_a/metrics.jsonl"
"$BIN" report table "$T/mw.yaml" --root "$T" --out-dir "$T/o9" --quiet 2>"$T/mw2.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'wd_a/metrics.jsonl: no wd_mean values' "$T/mw2.err" && ok mean_wd_missing_refused || fail mean_wd_missing_refused "rc $rc: $(cat "$T/mw2.err")"
rm -rf "$T/res/fx/wd_a"
# a column with no better direction is shown but not compared: its cells stay out of the paired table
# and the Holm family (AlphaDecay pairs with Uniform at 1e-5 only: one comparison; the cost would be a second)
sed -e 's/  - {label: best, best_of: \[1e-5, 5e-6\]}/  - {label: cost, where: {decay.weight_decay: 1e-5}, metric: wall_seconds, better: none}/' "$T/bo.yaml" > "$T/bocost.yaml"
"$BIN" report table "$T/bocost.yaml" --root "$T" --out-dir "$T/o11" --quiet 2>/dev/null; rc=$?
[ $rc -eq 0 ] && grep -q '^| AlphaDecay | cost |' "$T/o11/bo.md" && fail no_direction_column_not_compared "cost compared" \
    || { [ $rc -eq 0 ] && grep -q '^| AlphaDecay | 1e-5 | 2 |' "$T/o11/bo.md" && grep -q "Holm-Bonferroni over the table's 1 comparison;" "$T/o11/bo.md" \
        && ok no_direction_column_not_compared || fail no_direction_column_not_compared "rc $rc: $(grep -e '^| AlphaDecay' -e Holm "$T/o11/bo.md" 2>&1 | head -4)"; }
# a Holm family declared by two specs in one directory (compare.family): the report of one counts the
# other's comparisons, the same test (AlphaDecay vs Uniform at 1e-5, final ppl) once: 2 distinct tests
mkdir -p "$T/fam"
printf 'table: fa\nresults: res/fx\ncompare: {vs: U, family: claims}\nwhere: {decay.weight_decay: 1e-5}\nrows:\n  - {label: U, where: {decay.method: uniform}}\n  - {label: A, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: final}\n' > "$T/fam/fa.yaml"
printf 'table: fb\nresults: res/fx\ncompare: {vs: U, family: claims}\nwhere: {decay.weight_decay: 1e-5}\nrows:\n  - {label: U, where: {decay.method: uniform}}\n  - {label: A, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: final}\n  - {label: best, metric: best_val_ppl}\n' > "$T/fam/fb.yaml"
"$BIN" report table "$T/fam/fa.yaml" --root "$T" --out-dir "$T/o12" --quiet 2>"$T/fam.err"; rc=$?
[ $rc -eq 0 ] && grep -q "Holm-Bonferroni over the family claims's 2 distinct comparisons (tables fa, fb);" "$T/o12/fa.md" \
    && [ "$(grep -c '^A,,final,' "$T/o12/fa.csv")" = 1 ] \
    && awk -F, '/^A,,final,/ { exit !($21 + 0 > $20 + 0) }' "$T/o12/fa.csv" \
    && ok holm_family_across_specs || fail holm_family_across_specs "rc $rc: $(cat "$T/fam.err"; grep Holm "$T/o12/fa.md" 2>&1 | cut -c1-400)"
sed 's/family: claims/family: "a\/b"/' "$T/fam/fa.yaml" > "$T/famslash.yaml"
"$BIN" report table "$T/famslash.yaml" --root "$T" --out-dir "$T/o13" --quiet 2>"$T/famslash.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'famslash.yaml:3:.*compare.family must be a plain name' "$T/famslash.err" \
    && ok holm_family_name_checked || fail holm_family_name_checked "rc $rc: $(cat "$T/famslash.err")"
# results: a list of directories read as one set of runs: Uniform's runs in one, AlphaDecay's in another give
# the table of both in one (the same CSV, byte for byte); a listed directory that does not exist skips the spec
# in `report all` and adds no comparisons to its Holm family
mkdir -p "$T/res/fu" "$T/res/fa2" "$T/lst/one" "$T/lst/two" "$T/lst/fam"
cp -r "$T/res/fx/uni_1e-5_s1" "$T/res/fx/uni_1e-5_s2" "$T/res/fu/"; cp -r "$T/res/fx/alpha_1e-5_s1" "$T/res/fx/alpha_1e-5_s2" "$T/res/fa2/"
lst='table: fc\nresults: %s\ncompare: {vs: U}\nwhere: {decay.weight_decay: 1e-5}\nrows:\n  - {label: U, where: {decay.method: uniform}}\n  - {label: A, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: final}\n'
printf "$lst" res/fx > "$T/lst/one/fc.yaml"; printf "$lst" "[res/fu, res/fa2]" > "$T/lst/two/fc.yaml"
"$BIN" report table "$T/lst/one/fc.yaml" --root "$T" --out-dir "$T/o14" --quiet 2>"$T/lst.err" \
    && "$BIN" report table "$T/lst/two/fc.yaml" --root "$T" --out-dir "$T/o15" --quiet 2>>"$T/lst.err"; rc=$?
[ $rc -eq 0 ] && grep -q '^A,,final,' "$T/o15/fc.csv" && cmp -s "$T/o14/fc.csv" "$T/o15/fc.csv" \
    && ok results_list_one_set || fail results_list_one_set "rc $rc: $(cat "$T/lst.err"; diff "$T/o14/fc.csv" "$T/o15/fc.csv" 2>&1 | head -4)"
sed 's/compare: {vs: U}/compare: {vs: U, family: claims}/' "$T/lst/one/fc.yaml" > "$T/lst/fam/fa.yaml"
sed -e 's/table: fc/table: fz/' -e 's/compare: {vs: U}/compare: {vs: U, family: claims}/' -e 's/\[res\/fu, res\/fa2\]/[res\/fu, res\/absent]/' \
    "$T/lst/two/fc.yaml" > "$T/lst/fam/fz.yaml"
"$BIN" report all --specs "$T/lst/fam" --root "$T" --out-dir "$T/o16" --quiet >/dev/null 2>"$T/lstfam.err"; rc=$?
[ $rc -eq 0 ] && grep -q "skipped $T/lst/fam/fz.yaml: no results at $T/res/absent" "$T/lstfam.err" && [ ! -e "$T/o16/fz.md" ] \
    && grep -q "Holm-Bonferroni over the family claims's 1 distinct comparison (tables fc);" "$T/o16/fc.md" \
    && ok results_list_missing_skipped || fail results_list_missing_skipped "rc $rc: $(cat "$T/lstfam.err"; grep -o 'Holm[^;]*' "$T/o16/fc.md" 2>&1)"
sed 's/better: lower/better: none/' "$T/bo.yaml" > "$T/bonone.yaml"
"$BIN" report table "$T/bonone.yaml" --root "$T" --out-dir "$T/o10" >/dev/null 2>"$T/bonone.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'bonone.yaml:12:.*best_of needs better: lower or higher' "$T/bonone.err" && ok best_of_needs_direction || fail best_of_needs_direction "rc $rc: $(cat "$T/bonone.err")"
"$BIN" report >/dev/null 2>&1; [ $? -eq 2 ] && ok usage_exit_2 || fail usage_exit_2 "no verb did not exit 2"
"$BIN" report table --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok bad_option_exit_2 || fail bad_option_exit_2 "exit not 2"
"$BIN" report --help | grep -q 'report index' && ok help || fail help "no usage text"

# 4. figures
cat > "$T/curves.yaml" <<'YAML'
figure: fx_curves
kind: curves
results: res/fx
where: {decay.weight_decay: 1e-5}
series:
  - {label: Uniform, where: {decay.method: uniform}}
  - {label: AlphaDecay, where: {decay.method: alphadecay}}
YAML
cat > "$T/bars.yaml" <<'YAML'
figure: fx_bars
kind: bars
results: res/fx
y2_metric: wall_seconds
bars:
  - {label: Uniform, where: {decay.method: uniform}}
  - {label: AlphaDecay, where: {decay.method: alphadecay}}
panels:
  - {label: "wd 1e-5", where: {decay.weight_decay: 1e-5}}
  - {label: "wd 5e-6", where: {decay.weight_decay: 5e-6}}
YAML
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "skipped figures_render: gnuplot not installed (Debian package gnuplot-nox)"
    "$BIN" report plot "$T/curves.yaml" --root "$T" --out-dir "$T/fig" 2>"$T/fig.err" >/dev/null
    grep -q 'gnuplot not found' "$T/fig.err" && ok figures_warn_without_gnuplot || fail figures_warn_without_gnuplot "$(cat "$T/fig.err")"
else
    "$BIN" report plot "$T/curves.yaml" "$T/bars.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/fig.err"; rc=$?
    for f in fx_curves fx_bars; do
        [ $rc -eq 0 ] && [ -s "$T/fig/$f.png" ] && head -c 4 "$T/fig/$f.png" | grep -q PNG && ok "figure_png_$f" || fail "figure_png_$f" "rc $rc: $(cat "$T/fig.err")"
        if gnuplot -e 'set terminal' 2>&1 | grep -q pdfcairo; then
            [ -s "$T/fig/$f.pdf" ] && ok "figure_pdf_$f" || fail "figure_pdf_$f" "no PDF"
        else echo "skipped figure_pdf_$f: gnuplot has no pdfcairo"; fi
    done
    # the bar labels: leftmost bar's value, then the difference to it (AlphaDecay 34.70 - Uniform 35.20)
    grep -q '"35.20"' "$T/fig/fx_bars_panel0.dat" && grep -q '"-0.50"' "$T/fig/fx_bars_panel0.dat" \
        && ok bars_difference_labels || fail bars_difference_labels "$(cat "$T/fig/fx_bars_panel0.dat")"
    # error bars: Uniform at 1e-5 is 35.1 and 35.3 (mean 35.2, sample std 0.1414, n 2), drawn only where n > 1
    grep -q '^0 35.2 0.14142135[0-9]* 2 ' "$T/fig/fx_bars_panel0.dat" && grep -q 'using 1:(\$4 > 1 ? \$2 : NaN):3 with yerrorbars' "$T/fig/fx_bars.gp" \
        && ok bars_error_bars_mean_std_n || fail bars_error_bars_mean_std_n "$(head -1 "$T/fig/fx_bars_panel0.dat")"
    # 34.5..35.35 on an axis from ~34 says so; the key is drawn below the panels, none inside them
    grep -q 'y axis does not start at 0' "$T/fig/fx_bars.gp" && ok bars_cut_axis_marked || fail bars_cut_axis_marked "no note"
    for f in fx_curves fx_bars; do
        grep -q '^set key at screen [0-9.]*,[0-9.]* center bottom' "$T/fig/$f.gp" && ! grep -Eq '^set key (top|bottom|left|right|inside|below|above)' "$T/fig/$f.gp" \
            && ok "key_below_panels_$f" || fail "key_below_panels_$f" "$(grep '^set key' "$T/fig/$f.gp" | head -3 | tr '\n' ' ')"
    done
    # curves of several seeds: "step mean std"; val ppl of Uniform at step 40 is mean(35.1, 35.3) with its std band
    grep -q '^40 35.2 0.14142135' "$T/fig/fx_curves_val0.dat" && grep -q 'using 1:(\$2-\$3):(\$2+\$3) with filledcurves' "$T/fig/fx_curves.gp" \
        && grep -q "title 'Uniform (mean, n = 2)'" "$T/fig/fx_curves.gp" \
        && ok curves_mean_std_band || fail curves_mean_std_band "$(tail -1 "$T/fig/fx_curves_val0.dat")"
    # WD=0 on a log x axis: a dashed reference line at its mean (40) across the range, not a dropped point
    printf 'figure: fx_wd\nkind: wd_sweep\nresults: res/fx\nlogx: 1\nallow_differ: [decay.weight_decay, decay.method]\nseries:\n  - {label: U, where: {decay.method: [none, uniform]}}\n' > "$T/wdref.yaml"
    "$BIN" report plot "$T/wdref.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/wdref.err"; rc=$?
    [ $rc -eq 0 ] && [ "$(awk '$2 == 40 && $4 == 1' "$T/fig/fx_wd_ppl0_ref.dat" 2>/dev/null | wc -l)" -eq 2 ] \
        && ! grep -q '^0 ' "$T/fig/fx_wd_ppl0.dat" && grep -q '"fx_wd_ppl0_ref.dat" using 1:2 with lines lw 2 dt 2' "$T/fig/fx_wd.gp" \
        && grep -q "title 'WD=0'" "$T/fig/fx_wd.gp" \
        && ok wd_sweep_wd0_reference_line || fail wd_sweep_wd0_reference_line "rc $rc: $(cat "$T/wdref.err" "$T/fig/fx_wd_ppl0_ref.dat" 2>&1 | head -3)"
    # two series with a WD=0 line each: each line names its series
    printf '  - {label: A, where: {decay.method: [none, alphadecay]}}\n' | cat "$T/wdref.yaml" - > "$T/wdref2.yaml"
    "$BIN" report plot "$T/wdref2.yaml" --root "$T" --out-dir "$T/fig2" >/dev/null 2>"$T/wdref2.err" \
        && grep -q "title 'U: WD=0'" "$T/fig2/fx_wd.gp" && grep -q "title 'A: WD=0'" "$T/fig2/fx_wd.gp" \
        && ok wd_sweep_wd0_lines_named_per_series || fail wd_sweep_wd0_lines_named_per_series "$(cat "$T/wdref2.err"; grep -o "title '[^']*WD=0[^']*'" "$T/fig2/fx_wd.gp" 2>&1)"
    # logy puts the metric panel (only) on a log axis: set before the perplexity plot, unset before alpha's
    ! grep -q 'logscale y' "$T/fig/fx_wd.gp" && sed 's/^logx: 1$/logx: 1\nlogy: 1/' "$T/wdref.yaml" > "$T/wdlogy.yaml" \
        && "$BIN" report plot "$T/wdlogy.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/wdlogy.err" \
        && [ "$(grep -n -e '^set logscale y' -e '^plot ' -e '^unset logscale y' "$T/fig/fx_wd.gp" | head -3 | cut -d' ' -f1 | tr -d '0-9:' | tr '\n' ' ')" = "set plot unset " ] \
        && ok wd_sweep_logy_left_panel_only || fail wd_sweep_logy_left_panel_only "$(cat "$T/wdlogy.err"; grep -n 'logscale\|^plot' "$T/fig/fx_wd.gp" | head -4)"
    # x_metric: a point at its cell's mean of a metric (mean_wd, the decay applied) with that metric's std
    # as a horizontal bar. AWD at nominal 1 applied 1.5 and 2.5 over its two seeds (mean 2, std 0.7071),
    # perplexity 30 and 32; with three series the alpha panel (two styles) is left out
    xm_run() { # NAME METHOD WD SEED PPL WD_MEAN1 WD_MEAN2
        local d="$T/res/xm/$1"; mkdir -p "$d"
        printf 'version: "0.1.0"\ntrain:\n  seed: %s\ndecay:\n  method: %s\n  weight_decay: %s\n' "$4" "$2" "$3" > "$d/config.yaml"
        printf '{"step": 10, "loss": 3, "wd_mean": %s}\n{"step": 20, "loss": 3, "wd_mean": %s}\n' "$6" "$7" > "$d/metrics.jsonl"
        printf '{"step": 20, "loss": 3.4, "ppl": %s, "tokens": 100}\n' "$5" > "$d/eval.jsonl"
        printf '{"status": "completed", "final_val_loss": 3.4, "final_val_ppl": %s, "steps": 20, "tokens": 100, "wall_seconds": 1, "peak_rss_mb": 1}\n' "$5" > "$d/summary.json"
    }
    xm_run a1 awd 1 1 30 1 2; xm_run a2 awd 1 2 32 2 3; xm_run u1 uniform 1 1 40 1 1; xm_run n1 none 0 1 50 0 0
    printf 'figure: xm\nkind: wd_sweep\nresults: res/xm\nx_metric: mean_wd\nlogx: 1\nseries:\n  - {label: U, where: {decay.method: uniform}}\n  - {label: A, where: {decay.method: awd}}\n  - {label: N, where: {decay.method: none}}\n' > "$T/xm.yaml"
    "$BIN" report plot "$T/xm.yaml" --root "$T" --out-dir "$T/figxm" >/dev/null 2>"$T/xm.err"; rc=$?
    [ $rc -eq 0 ] && [ -s "$T/figxm/xm.png" ] && grep -q '^2 31 1.41421356[0-9]* 2 0.70710678[0-9]*$' "$T/figxm/xm_ppl1.dat" \
        && grep -q '^1 40 0 1 0$' "$T/figxm/xm_ppl0.dat" && [ "$(awk '$2 == 50' "$T/figxm/xm_ppl2_ref.dat" | wc -l)" -eq 2 ] \
        && grep -q '"xm_ppl1.dat" using 1:2:5:(\$4 > 1 ? \$3 : 0) with xyerrorbars' "$T/figxm/xm.gp" \
        && grep -q "^set xlabel 'weight decay applied (mean over training)'" "$T/figxm/xm.gp" && ! grep -q 'mean alpha' "$T/figxm/xm.gp" \
        && ok wd_sweep_x_metric_points_at_applied_decay || fail wd_sweep_x_metric_points_at_applied_decay "rc $rc: $(cat "$T/xm.err" "$T/figxm/xm_ppl1.dat" 2>&1 | head -3)"
    # a series over several x values without allow_differ naming x: the selection's own error, not "no runs"
    xm_run a4 awd 2 1 35 4 4
    "$BIN" report plot "$T/xm.yaml" --root "$T" --out-dir "$T/figxm2" >/dev/null 2>"$T/xm2.err"; rc=$?
    [ $rc -eq 1 ] && grep -q 'differ in decay.weight_decay' "$T/xm2.err" && ok wd_sweep_series_mixing_x_says_why \
        || fail wd_sweep_series_mixing_x_says_why "rc $rc: $(cat "$T/xm2.err")"
    rm -rf "$T/res/xm/a4"
    # the x range covers the horizontal bars: 1 to 2.707 padded, not the nominal 1
    grep -m1 '^set xrange' "$T/figxm/xm.gp" | tr '[:]' '   ' | awk '{ exit !($3 < 1 && $4 > 2.7071 && $4 < 4) }' && ok wd_sweep_x_metric_range_covers_bars \
        || fail wd_sweep_x_metric_range_covers_bars "$(grep '^set xrange' "$T/figxm/xm.gp")"
fi
printf 'figure: xmc\nkind: curves\nresults: res/fx\nx_metric: mean_wd\nseries:\n  - {label: U, where: {decay.method: uniform}}\n' > "$T/xmc.yaml"
"$BIN" report plot "$T/xmc.yaml" --root "$T" --out-dir "$T/figxmc" >/dev/null 2>"$T/xmc.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'xmc.yaml:4:.*x_metric applies to wd_sweep figures, not curves' "$T/xmc.err" && ok x_metric_only_wd_sweep \
    || fail x_metric_only_wd_sweep "rc $rc: $(cat "$T/xmc.err")"
# 5. figures from real runs (spectra files, decay.jsonl): a tiny Uniform and AlphaDecay run each
if command -v gnuplot >/dev/null 2>&1; then
    grammar_corpus "$T/corpus.jsonl" 7 200
    prep_corpus report_prep
    tiny_yaml hidden=64 inter=172 steps=20 seed=1 decay="method: uniform, weight_decay: 1.0e-5, update_every: 10" \
        eval_every=10 eval_tokens=1000 >"$T/tiny.yaml"
    for m in uniform alphadecay; do
        "$BIN" train "$T/tiny.yaml" --set decay.method=$m --out "$T/real/tw/$m" >"$T/train_$m.log" 2>&1 || fail "train_$m" "$(tail -1 "$T/train_$m.log")"
    done
    printf 'figure: r_esd\nkind: esd\nresults: real\nlayer: 1\nseries:\n  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AlphaDecay, where: {decay.method: alphadecay}}\n' > "$T/esd.yaml"
    printf 'figure: r_mwd\nkind: module_wd\nresults: real\nwhere: {decay.method: alphadecay}\n' > "$T/mwd.yaml"
    printf 'figure: r_wd\nkind: wd_sweep\nresults: real\nlogx: 1\nseries:\n  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AlphaDecay, where: {decay.method: alphadecay}}\n' > "$T/wd.yaml"
    for f in esd mwd wd; do
        "$BIN" report plot "$T/$f.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/$f.err"; rc=$?
        [ $rc -eq 0 ] && [ -s "$T/fig/r_$f.png" ] && ok "figure_png_real_$f" || fail "figure_png_real_$f" "rc $rc: $(cat "$T/$f.err")"
    done
    # each ESD panel's title carries the alphas of the final spectra; Figure 1b's dashed line is eta
    grep -q "^set title 'q'\\.\"\\\\n\"\\.'{/\\*0.8 alpha [0-9.]* / [0-9.]*}'" "$T/fig/r_esd.gp" && ok esd_title_has_alpha || fail esd_title_has_alpha "$(grep 'set title' "$T/fig/r_esd.gp" | head -2)"
    grep -q 'first 1e-05 ' "$T/fig/r_mwd.gp" && ok module_wd_uniform_line || fail module_wd_uniform_line "$(grep arrow "$T/fig/r_mwd.gp")"
    # layer: 1 draws that layer only: one bar per module type, labelled layer 1, its wd from decay.jsonl
    printf 'figure: r_mwd1\nkind: module_wd\nresults: real\nlayer: 1\nwhere: {decay.method: alphadecay}\n' > "$T/mwd1.yaml"
    "$BIN" report plot "$T/mwd1.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/mwd1.err"; rc=$?
    wq=$(awk -F'[:,]' '{ for (i = 1; i < NF; i++) { gsub(/[" {}]/, "", $i); v[$i] = $(i + 1) } gsub(/[" ]/, "", v["type"]) }
                       v["type"] == "q" && v["layer"] + 0 == 1 { w = v["wd"] + 0 } END { printf "%.6g", w }' "$T/real/tw/alphadecay/decay.jsonl")
    nlines=$(cat "$T"/fig/r_mwd1_*.dat 2>/dev/null | wc -l); ntypes=$(ls "$T"/fig/r_mwd1_*.dat 2>/dev/null | wc -l)
    if [ $rc -eq 0 ] && grep -q 'set xtics ("layer 1" ' "$T/fig/r_mwd1.gp" && ! grep -q '"layer 0"' "$T/fig/r_mwd1.gp" &&
       [ "$ntypes" -ge 2 ] && [ "$nlines" -eq "$ntypes" ] && [ "$(awk '{ printf "%.6g", $2 }' "$T/fig/r_mwd1_q.dat")" = "$wq" ]; then
        ok module_wd_layer_draws_that_layer
    else fail module_wd_layer_draws_that_layer "rc $rc, $nlines lines in $ntypes files, q wd $wq: $(cat "$T/mwd1.err")"; fi
    printf 'figure: r_mwd9\nkind: module_wd\nresults: real\nlayer: 9\nwhere: {decay.method: alphadecay}\n' > "$T/mwd9.yaml"
    "$BIN" report plot "$T/mwd9.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/mwd9.err"; rc=$?
    [ $rc -eq 1 ] && grep -q 'layer: 9, but .*decay.jsonl has layers 0..1' "$T/mwd9.err" && ok module_wd_layer_out_of_range ||
        fail module_wd_layer_out_of_range "rc $rc: $(cat "$T/mwd9.err")"
    # alpha_steps: AlphaDecay from decay.jsonl (its q mean at step 0 recomputed here), Uniform from its
    # first and final spectra (two rows, dashed); a missing results directory is skipped by report all
    printf 'figure: r_alpha\nkind: alpha_steps\nresults: real\nseries:\n  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AlphaDecay, where: {decay.method: alphadecay}}\n' > "$T/alpha.yaml"
    "$BIN" report plot "$T/alpha.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/alpha.err"; rc=$?
    want=$(awk -F'[:,]' '{ for (i = 1; i < NF; i++) { gsub(/[" {}]/, "", $i); v[$i] = $(i + 1) } gsub(/[" ]/, "", v["type"]) }
                         v["step"] + 0 == 0 && v["type"] == "q" && v["alpha"] + 0 > 0 { s += v["alpha"]; n++ } END { printf "%.6f", s / n }' "$T/real/tw/alphadecay/decay.jsonl")
    got=$(awk '$1 == 0 { printf "%.6f", $2 }' "$T/fig/r_alpha_s1.dat" 2>/dev/null)
    [ $rc -eq 0 ] && [ -s "$T/fig/r_alpha.png" ] && [ -n "$want" ] && [ "$got" = "$want" ] && [ "$(awk 'NF == 16' "$T/fig/r_alpha_s1.dat" | wc -l)" -ge 2 ] \
        && ok alpha_steps_from_decay_log || fail alpha_steps_from_decay_log "rc $rc, q at 0: $got vs $want; $(cat "$T/alpha.err")"
    [ "$(grep -vc '^#' "$T/fig/r_alpha_s0.dat")" -eq 2 ] && grep -q 'first and final spectra only' "$T/fig/r_alpha.gp" && grep -q 'dt 2 lc rgb' "$T/fig/r_alpha.gp" \
        && ok alpha_steps_spectra_fallback || fail alpha_steps_spectra_fallback "$(cat "$T/fig/r_alpha_s0.dat")"
    # wd_steps on the engine's own files: at each assignment the tuned matrices' value (right panel), with every
    # other tensor at eta, gives back the wd_mean the engine logged for the next update (sizes written out: embedding
    # and lm_head V h, per layer 4 h^2 + 3 h I + 2 h, final norm h), and the left panel is wd_mean itself
    sed 's/^kind: alpha_steps/kind: wd_steps/; s/^figure: r_alpha/figure: r_wd/' "$T/alpha.yaml" > "$T/wd.yaml"
    "$BIN" report plot "$T/wd.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/wd.err"; rc=$?
    d="$T/real/tw/alphadecay"
    eta=$(awk '$1 == "weight_decay:" { print $2 }' "$d/config.yaml")
    back=$(awk -v eta="$eta" -v cfg="$d/config.yaml" -v met="$d/metrics.jsonl" -v dec="$d/decay.jsonl" 'function num(line, key,   m) {
            if (match(line, "\"" key "\": [-0-9.e+]+")) { m = substr(line, RSTART, RLENGTH); sub(/.*: /, "", m); return m + 0 } return "" }
        function str(line, key,   m) { if (match(line, "\"" key "\": \"[^\"]*\"")) { m = substr(line, RSTART, RLENGTH); sub(/.*: "/, "", m); sub(/"$/, "", m); return m } return "" }
        BEGIN { while ((getline l < cfg) > 0) { split(l, a, ": "); gsub(/ /, "", a[1]); c[a[1]] = a[2] + 0 }
            h = c["hidden_size"]; I = c["intermediate_size"]; L = c["num_hidden_layers"]; V = c["vocab_size"]
            total = 2 * V * h + L * (4 * h * h + 3 * h * I + 2 * h) + h
            while ((getline l < met) > 0) wdm[num(l, "step")] = num(l, "wd_mean")
            while ((getline l < dec) > 0) { t = str(l, "type"); st = num(l, "step"); ts[st] += (t ~ /^(q|k|v|o)$/) ? h * h : h * I }
            # an assignment is the last row at its update (the row before it, at a later assignment, holds the previous)
            while ((getline l < "'"$T/fig/r_wd_s1_tuned.dat"'") > 0) { if (l ~ /^#/) continue; split(l, a, " "); val[a[1] + 0] = a[2] }
            for (st in ts) { n++; whole = (val[st] * ts[st] + eta * (total - ts[st])) / total; e = whole - wdm[st + 1]; if (e < 0) e = -e
                if (!(st in val) || !(st + 1 in wdm) || e > 1e-6 * wdm[st + 1]) bad++ }
            print n, bad + 0 }')
    left=$(awk '!/^#/' "$T/fig/r_wd_s1_all.dat" 2>/dev/null | wc -l); logged=$(wc -l < "$d/metrics.jsonl")
    [ $rc -eq 0 ] && [ -s "$T/fig/r_wd.png" ] && [ "${back#* }" = 0 ] && [ "${back% *}" -ge 2 ] && [ "$left" -eq "$logged" ] \
        && ok wd_steps_gives_back_wd_mean || fail wd_steps_gives_back_wd_mean "rc $rc; assignments, mismatches: $back; rows $left of $logged: $(cat "$T/wd.err")"
    mkdir -p "$T/specs_missing"; sed 's/^results: real/results: nowhere/' "$T/alpha.yaml" > "$T/specs_missing/r_alpha.yaml"
    "$BIN" report all --specs "$T/specs_missing" --root "$T" --out-dir "$T/fig_missing" --quiet >/dev/null 2>"$T/missing.err"; rc=$?
    [ $rc -eq 0 ] && grep -q 'skipped .*r_alpha.yaml: no results' "$T/missing.err" && ok alpha_steps_missing_results_skipped \
        || fail alpha_steps_missing_results_skipped "rc $rc: $(cat "$T/missing.err")"
    rm -rf "$T/real/tw/uniform/spectra"
    "$BIN" report plot "$T/esd.yaml" --root "$T" --out-dir "$T/fig" >/dev/null 2>"$T/esd2.err"
    grep -q 'series Uniform: .*uniform: no spectra directory' "$T/esd2.err" && ok missing_spectra_warned || fail missing_spectra_warned "$(cat "$T/esd2.err")"
else
    echo "skipped figures_from_real_runs: gnuplot not installed"
fi
# report compare / report curves: the spec machinery without a spec (report_adhoc.c)
"$BIN" report compare "$T/res/fx" --by decay.method --baseline uniform --where decay.weight_decay=1e-05 --out "$T/cmp.csv" \
    >"$T/cmp.md" 2>"$T/cmp.err"; rc=$?
# alphadecay (34.5, 34.9) against uniform (35.1, 35.3) paired by seed: d = -0.6, -0.4; mean -0.5, sd 0.1414,
# t(0.975, 1) = 12.706: interval -0.5 -/+ 1.2706
[ $rc -eq 0 ] && grep -q '^| alphadecay | \*\*34.70 ± 0.28\*\* (n=2) |$' "$T/cmp.md" && grep -q '^| uniform | 35.20 ± 0.14 (n=2) |$' "$T/cmp.md" \
    && grep -q '^| alphadecay | val_ppl | 2 | -0.50 \[-1.77, +0.77\] |' "$T/cmp.md" && ok compare_console_stats \
    || fail compare_console_stats "rc $rc: $(grep '^| alpha' "$T/cmp.md" | tr '\n' ' ') $(cat "$T/cmp.err")"
grep -q '^alphadecay,,val_ppl,val_ppl,2,2,34.7,' "$T/cmp.csv" && grep -q ',2,-0.5,-1.770' "$T/cmp.csv" && ok compare_csv || fail compare_csv "$(cat "$T/cmp.csv")"
# the same numbers as a spec with compare: (no second statistics code)
printf 'table: same\nresults: res/fx\nwhere: {decay.weight_decay: 1e-05}\ncompare: {vs: uniform}\nrows:\n  - {label: alphadecay, where: {decay.method: alphadecay}}\n  - {label: uniform, where: {decay.method: uniform}}\ncolumns:\n  - {label: val_ppl}\n' > "$T/same.yaml"
"$BIN" report table "$T/same.yaml" --root "$T" --out-dir "$T/same" --quiet 2>/dev/null
[ "$(grep '^alphadecay' "$T/same/same.csv" | cut -d, -f16-)" = "$(grep '^alphadecay' "$T/cmp.csv" | cut -d, -f16-)" ] && ok compare_equals_spec_table \
    || fail compare_equals_spec_table "$(grep '^alphadecay' "$T/same/same.csv") vs $(grep '^alphadecay' "$T/cmp.csv")"
"$BIN" report compare "$T/res/fx" --by decay.method >/dev/null 2>"$T/cmp2.err"; rc=$?
[ $rc -eq 2 ] && grep -q 'baseline VALUE are required' "$T/cmp2.err" && ok compare_bad_usage || fail compare_bad_usage "rc $rc: $(cat "$T/cmp2.err")"
"$BIN" report compare "$T/res/fx" --by decay.method --baseline adamw >/dev/null 2>"$T/cmp3.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'no run under .* has decay.method = adamw (values: alphadecay awd none uniform)' "$T/cmp3.err" && ok compare_unknown_baseline \
    || fail compare_unknown_baseline "rc $rc: $(cat "$T/cmp3.err")"
"$BIN" report compare "$T/res/fx" --by decay.method --baseline uniform >/dev/null 2>"$T/cmp4.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'differ in decay.weight_decay' "$T/cmp4.err" && grep -q 'narrow the runs with --where' "$T/cmp4.err" && ok compare_refuses_mixed_cells || fail compare_refuses_mixed_cells "rc $rc: $(cat "$T/cmp4.err")"
"$BIN" report curves "$T/res/fx/uni_1e-5_s1" --out "$T/curves/c.svg" >/dev/null 2>"$T/cur.err"; rc=$?
[ $rc -eq 2 ] && ok curves_bad_usage || fail curves_bad_usage "rc $rc: $(cat "$T/cur.err")"
if command -v gnuplot >/dev/null 2>&1 && gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
    "$BIN" report curves "$T/res/fx/uni_1e-5_s1" "$T/res/fx/alpha_1e-5_s1" --out "$T/curves/c.png" >/dev/null 2>"$T/cur.err"; rc=$?
    [ $rc -eq 0 ] && [ -s "$T/curves/c.png" ] && grep -q 'set ylabel "validation perplexity"' "$T/curves/c.gp" && grep -q 'alpha.*1e-5.*s1 (n = 1)' "$T/curves/c.gp" \
        && ok curves_any_runs || fail curves_any_runs "rc $rc: $(cat "$T/cur.err")"
    "$BIN" report curves "$T/res/fx/uni_1e-5_s1" --metric loss --out "$T/curves/l.png" >/dev/null 2>"$T/cur.err"; rc=$?
    [ $rc -eq 0 ] && grep -q 'training loss' "$T/curves/l.gp" && ! grep -q 'validation perplexity' "$T/curves/l.gp" && ok curves_metric_one_panel \
        || fail curves_metric_one_panel "rc $rc: $(cat "$T/cur.err")"
    # run directories whose paths are longer than a selection value (47 characters) or a legend label (95):
    # each is still its own series (the filter once built from the path was dropped, so both runs fell into
    # one series and were refused as a mixed cell)
    long="$T/a_results_directory_whose_path_is_long/$(printf 'nested%.0s' $(seq 1 16))"
    mkdir -p "$long" && cp -r "$T/res/fx/uni_1e-5_s1" "$T/res/fx/alpha_1e-5_s1" "$long/"
    "$BIN" report curves "$long/uni_1e-5_s1" "$long/alpha_1e-5_s1" --out "$T/curves/long.png" >/dev/null 2>"$T/cur.err"; rc=$?
    [ $rc -eq 0 ] && [ -s "$T/curves/long.png" ] && grep -q "title '\.\.\..*nested/uni" "$T/curves/long.gp" \
        && grep -q "title '\.\.\..*nested/alpha" "$T/curves/long.gp" && ok curves_long_paths \
        || fail curves_long_paths "rc $rc: $(cat "$T/cur.err")"
else
    echo "skipped curves_any_runs: gnuplot with cairo not installed"
fi
exit $FAILED
