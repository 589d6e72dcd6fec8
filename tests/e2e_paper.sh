#!/usr/bin/env bash
# The report builds: scripts/make_paper.sh (what make paper runs) re-renders every table and figure from
# results/committed/ into a copy of paper/ and compiles its main.tex with latexmk, whenever latexmk and pdflatex are installed
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
# the same script as `make paper` (the setup numbers the prose cites are written there), into the copy
AD_BIN="$BIN" AD_PAPER="$T/paper" AD_README=- bash scripts/make_paper.sh >"$T/report.log" 2>&1; rc=$?
if [ -s "$T/paper/generated/numbers.tex" ] && grep -q 'adval@setup.runs' "$T/paper/generated/numbers.tex"; then
    ok paper_tables_render
else fail paper_tables_render "$(tail -2 "$T/report.log")"; fi
if [ $rc -eq 0 ] && [ -s "$T/paper/main.pdf" ] && ! grep -q '^! ' "$T/paper/main.log"; then ok paper_pdf_builds
else fail paper_pdf_builds "rc $rc: $(tail -2 "$T/report.log" | tr '\n' ' ') $(grep -m2 -A2 '^! ' "$T/paper/main.log" 2>/dev/null | tr '\n' ' ')"; fi
# the test can fail: a \label the renderer used to write (tab:cpu\_scan) stops the build
printf '\\documentclass{article}\\begin{document}\\begin{table}\\caption{x}\\label{tab:a\\_b}\\end{table}\\end{document}\n' > "$T/bad.tex"
(cd "$T" && latexmk -pdf -interaction=nonstopmode -halt-on-error bad.tex >/dev/null 2>&1) \
    && fail paper_build_catches_escaped_label "an escaped label compiled" || ok paper_build_catches_escaped_label
exit $FAILED
