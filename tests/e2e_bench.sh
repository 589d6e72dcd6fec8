#!/usr/bin/env bash
# e2e_bench: `alphadecay bench` smoke test: --help, bad usage, and a --quick run on tiny_test that must
# write a bench.json with a sgemm peak, the OpenBLAS kernel, one training result and the scaling row
# (1 and 2 ranks); the --scaling-model table against its formula computed here. No timing checks.
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

# Where the time goes (issue 28) and a fraction of peak that cannot exceed 1 on a noisy machine (issue 24):
# every row has every phase, the phases add up to the row's time per token, the fraction of peak is at most
# 1, and each peak was probed more than once (interleaved with the training runs), with its spread.
if command -v python3 >/dev/null 2>&1; then
    if python3 - "$out" <<'PY' >"$AD_TMP/bench_phases.out" 2>&1; then ok bench_phases_and_peak; else bad bench_phases_and_peak "$(tail -1 "$AD_TMP/bench_phases.out")"; fi
import json, sys
d = json.load(open(sys.argv[1]))
names = ["mm_fwd_fp32", "mm_bwd_data_fp32", "mm_bwd_weights_fp32", "mm_fwd_bf16", "mm_bwd_data_bf16", "mm_bwd_weights_bf16",
         "attention_products", "attention_softmax", "convert", "rmsnorm", "rope", "swiglu", "cross_entropy", "embedding",
         "optimizer", "other"]
rows = d["training"]
assert len(rows) == 3, "expected the three dtypes of tiny_test"
for r in rows:
    ph = r["phases"]
    assert sorted(ph) == sorted(names), "phases %s" % sorted(ph)
    total = sum(p["us_per_token"] for p in ph.values())
    assert abs(total - 1e6 / r["tok_s"]) <= 0.01 * 1e6 / r["tok_s"] + 0.01, "%s: phases add to %g us, 1/tok_s is %g" % (r["dtype"], total, 1e6 / r["tok_s"])
    assert abs(sum(p["share"] for p in ph.values()) - 1) < 0.01, "shares do not add to 1"
    assert 0 < r["fraction_of_peak"] <= 1, "%s: fraction of peak %g" % (r["dtype"], r["fraction_of_peak"])
    if r["dtype"] == "fp32":
        assert ph["convert"]["us_per_token"] == 0 and ph["mm_fwd_bf16"]["us_per_token"] == 0, "fp32 row converts"
    else: # every product shape of a bf16 row, with the path it took
        sh = r["shapes"]
        assert len(sh) >= 15 and all(x["path"] in ("oneDNN", "fallback") and x["M"] > 0 for x in sh), "shapes %s" % sh[:2]
probes = d["peak_probes"]
assert {p["product"] for p in probes} == {"sgemm", "bf16"}, "probes %s" % probes
for p in probes:
    assert p["probes"] >= 2 and 0 <= p["spread"] < 1 and p["worst_gflops"] <= p["best_gflops"], "probe %s" % p
PY
    grep -q '^where the time goes' "$AD_TMP/bench.out" && grep -q 'peak at 1 thread: best .* probes' "$AD_TMP/bench.out" &&
        grep -q '^tiny_test bf16_pure: 15 product shapes' "$AD_TMP/bench.out" &&
        ok bench_breakdown_table || bad bench_breakdown_table "no breakdown table or probe line in the output"
else
    echo "skipped bench_phases_and_peak: no python3"
fi

# The scaling row: four measurements, the 2-rank ones through mpirun (skipped without it).
if command -v mpirun >/dev/null 2>&1; then
    grep -q '"parallel_efficiency": [0-9]' "$out" && grep -q '"zero": true, "micro": 2, "tok_s": [0-9]' "$out" &&
        grep -q '2 x 1 (zero)' "$AD_TMP/bench.out" && ok bench_scaling_row ||
        bad bench_scaling_row "no 2-rank results in bench.json / the table: $(grep -m1 -A5 '^scaling' "$AD_TMP/bench.out")"
else
    echo "skipped bench_scaling_row: mpirun not installed"
fi

# The scaling model against the formula worked out here: tiny_test (8 x 64 tokens per update, 40 steps),
# one node at 1000 tok/s, no Adam time, no latency: t(N) = 0.512 / N + 2 (N-1)/N x 4 params / (G/8 1e9).
np=$(grep -o '"n_params": [0-9]*' "$out" | head -1 | awk '{print $2}')
"$AD_BIN" bench --scaling-model --config experiments/tiny_test.yaml --node-tok-s 1000 --adam-s 0 --latency-us 0 \
    --out "$AD_TMP/scaling.md" >"$AD_TMP/scaling.out" 2>&1
want=$(awk -v p="$np" 'BEGIN { for (n = 2; n <= 64; n *= 2) { line = "| tiny_test | " n;
    split("10 25 100", g, " "); for (k = 1; k <= 3; k++) { c = 2 * (n - 1) / n * 4 * p / (g[k] * 1e9 / 8); t = 0.512 / n + c;
    line = line sprintf(" | %.0f | %.2f | %.1f", 512 / t, 0.512 / (n * t), 40 * 512 / (512 / t) / 86400) } print line " |" } }')
if [ -n "$np" ] && [ "$(grep '^| tiny_test | [0-9]' "$AD_TMP/scaling.md")" = "$want" ] && grep -q '^| tiny_test (1M) | 1 | 1000 |' "$AD_TMP/scaling.md"; then
    ok bench_scaling_model_formula
else
    bad bench_scaling_model_formula "table differs from the formula: $(grep -m2 '^| tiny_test' "$AD_TMP/scaling.md") vs $(echo "$want" | head -1)"
fi
"$AD_BIN" bench --scaling-model --latency-us -1 >/dev/null 2>&1; [ $? -eq 2 ] && ok bench_scaling_model_bad_usage ||
    bad bench_scaling_model_bad_usage "a negative latency was accepted"
exit $fail
