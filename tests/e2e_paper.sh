#!/usr/bin/env bash
# The report builds: every table and figure re-rendered from results/committed/ (as make paper does) into a
# copy of paper/, then paper/main.tex compiled with latexmk, whenever latexmk and pdflatex are installed
# (`make deps` installs them; without them: skipped). A TeX error in anything the renderer writes (a
# \label, an escape, a table layout) fails here. The repository's paper/ is not touched.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup paper fresh
cd "$(dirname "$0")/.."
if ! command -v latexmk >/dev/null 2>&1 || ! command -v pdflatex >/dev/null 2>&1; then
    echo "skipped paper_pdf_builds: latexmk or pdflatex not installed (make deps installs them)"; exit 0
fi
cp -r paper "$T/paper"
rm -f "$T"/paper/main.{aux,log,fls,fdb_latexmk,out,pdf}
"$BIN" report all --out-dir "$T/paper/generated" --quiet >"$T/report.log" 2>&1 \
    && ok paper_tables_render || fail paper_tables_render "$(tail -2 "$T/report.log")"
(cd "$T/paper" && latexmk -pdf -interaction=nonstopmode -halt-on-error main.tex >"$T/latexmk.log" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -s "$T/paper/main.pdf" ] && ! grep -q '^! ' "$T/paper/main.log"; then ok paper_pdf_builds
else fail paper_pdf_builds "rc $rc: $(grep -m2 -A2 '^! ' "$T/paper/main.log" 2>/dev/null | tr '\n' ' ')"; fi
# the test can fail: a \label the renderer used to write (tab:cpu\_scan) stops the build
printf '\\documentclass{article}\\begin{document}\\begin{table}\\caption{x}\\label{tab:a\\_b}\\end{table}\\end{document}\n' > "$T/bad.tex"
(cd "$T" && latexmk -pdf -interaction=nonstopmode -halt-on-error bad.tex >/dev/null 2>&1) \
    && fail paper_build_catches_escaped_label "an escaped label compiled" || ok paper_build_catches_escaped_label
exit $FAILED
