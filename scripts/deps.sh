#!/usr/bin/env bash
# Installs the Debian packages the harness needs, when they are missing and we are root.
set -e
PKGS="build-essential libopenblas-dev liblapacke-dev libyaml-dev libgsl-dev zlib1g-dev gnuplot-nox pkg-config"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -z "$missing" ]; then echo "deps: all packages present"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "deps: missing:$missing (run 'sudo make deps')" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing
