#!/usr/bin/env bash
# Installs the Debian packages the harness needs, when they are missing and we are root.
set -e
PKGS="build-essential libopenblas-dev liblapacke-dev libyaml-dev libgsl-dev zlib1g-dev gnuplot-nox pkg-config
      libdnnl-dev libopenmpi-dev openmpi-bin libsentencepiece-dev sentencepiece libjansson-dev strace
      clang-format"
# The report's PDF (make paper, tests/e2e_paper.sh): the smallest set that builds paper/main.tex (found
# with latexmk -recorder: every file it reads is in these or their dependencies). Installed without
# recommended packages (latexmk's would bring a PDF viewer and X).
TEX_PKGS="latexmk texlive-latex-base texlive-latex-recommended lmodern"
# Optional: only the Slurm end-to-end test (tests/e2e_slurm.sh) needs these; CI installs them, a
# missing one makes that test print "skipped", never fail.
OPTIONAL_PKGS="slurm-wlm munge"
missing=""; optional=""; tex=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
for p in $TEX_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || tex="$tex $p"; done
for p in $OPTIONAL_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || optional="$optional $p"; done
if [ -z "$missing$tex" ] && { [ -z "$optional" ] || [ "$(id -u)" != 0 ]; }; then exit 0; fi
if [ -n "$missing$tex" ] && [ "$(id -u)" != 0 ]; then echo "deps: missing:$missing$tex (run 'sudo make deps')" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ -z "$missing" ] || apt-get install -y -qq $missing
[ -z "$tex" ] || apt-get install -y -qq --no-install-recommends $tex
[ -z "$optional" ] || apt-get install -y -qq $optional || echo "deps: optional packages$optional not installed (the Slurm test will be skipped)" >&2
