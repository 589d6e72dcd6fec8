#!/usr/bin/env bash
# make bench: sgemm peak, training tok/s and fraction of peak (60M at seq 256 / micro-batch 8 and the
# tiny configs), ESD seconds per pass at the 60M and 135M shapes, peak memory per config, OpenBLAS
# kernel. Table on stdout; JSON in results/bench/bench.json. Extra arguments go to `alphadecay bench`
# (e.g. `make bench BENCH_ARGS="--threads 1"`). Takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p results/bench
exec bin/alphadecay bench --out results/bench/bench.json ${BENCH_ARGS:-} "$@"
