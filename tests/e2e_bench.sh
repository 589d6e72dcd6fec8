#!/usr/bin/env bash
# e2e_bench: `alphadecay bench` smoke test: --help, bad usage, and a --quick run on tiny_test that must
# write a bench.json with a sgemm peak, the OpenBLAS kernel and one training result. No timing checks.
set -u
fail=0
ok() { echo "ok $1"; }
bad() { echo "FAIL $1: $2"; fail=1; }

"$AD_BIN" bench --help >/dev/null 2>&1 && ok bench_help || bad bench_help "--help did not exit 0"
"$AD_BIN" bench --steps x >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok bench_bad_usage || bad bench_bad_usage "exit $rc, expected 2"

out="$AD_TMP/bench.json"
if "$AD_BIN" bench --quick --threads 1 --config experiments/tiny_test.yaml --out "$out" >"$AD_TMP/bench.out" 2>&1; then
    ok bench_quick_runs
else
    bad bench_quick_runs "$(tail -1 "$AD_TMP/bench.out")"
fi
if [ -f "$out" ] && grep -q '"peak_gflops"' "$out" && grep -q '"openblas_kernel"' "$out" && grep -q '"tok_s": [0-9]' "$out" \
   && grep -q '"peak_rss_mb": [0-9]' "$out"; then
    ok bench_json_fields
else
    bad bench_json_fields "bench.json lacks peak_gflops / openblas_kernel / tok_s / peak_rss_mb"
fi
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["training"][0]["n_params"] > 0' "$out" 2>/dev/null \
        && ok bench_json_valid || bad bench_json_valid "python3 cannot load $out"
else
    echo "skipped bench_json_valid: no python3"
fi
grep -q 'tiny_test' "$AD_TMP/bench.out" && ok bench_table || bad bench_table "no table row for tiny_test"
exit $fail
