#!/usr/bin/env bash
# End-to-end decay methods and `alphadecay esd`: a short training run per method from YAML; the
# alphadecay run's decay.jsonl wd values follow from its logged alphas by the linear formula; the
# AdaDecay run's from its logged gradnorms by the per-layer sigmoid; AWD's lambda is in metrics.jsonl;
# spectra files exist; `esd` reads the checkpoint in every format; bad input fails cleanly.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup decay

grammar_corpus "$T/corpus.jsonl" 5 200
prep_corpus decay_prep

run() { # name method [extra yaml decay keys]
    tiny_yaml hidden=64 inter=172 batch=4 steps=12 seed=3 eval_tokens=1000 \
        decay="method: $2, weight_decay: 1.0e-5, update_every: 5 $3" >"$T/$1.yaml"
    "$BIN" train "$T/$1.yaml" --out "$T/$1" >"$T/$1.log" 2>&1
}

for m in none uniform awd adadecay alphadecay; do
    if run "$m" "$m" ""; then ok "train_method_$m"; else fail "train_method_$m" "$(tail -1 "$T/$m.log")"; fi
done
run sqrt_gof alphadecay ", assign: sqrt, pl_fit: goodness-of-fit, exclude: [lm_head]" \
    && ok train_alphadecay_sqrt_gof || fail train_alphadecay_sqrt_gof "$(tail -1 "$T/sqrt_gof.log")"

# alphadecay: updates at steps 0, 4, 9; 13 modules each (14 Linear minus layer-0 q; lm_head excluded)
A=$T/alphadecay/decay.jsonl
steps=$(grep -o '"step": [0-9]*' "$A" | awk '{print $2}' | sort -n | uniq -c | awk '{printf "%s:%s ", $2, $1}')
[ "$steps" = "0:13 4:13 9:13 " ] && ok alphadecay_log_schedule || fail alphadecay_log_schedule "got '$steps'"
grep -q '"module": "model.layers.0.self_attn.q_proj"' "$A" && fail alphadecay_excludes_q0 "q0 logged" || ok alphadecay_excludes_q0
# wd = eta * ((a - amin)/(amax - amin) * (s2 - s1) + s1) per step, s1 0.6666, s2 3 (eta 1e-5, adam)
awk '{ match($0, /"step": [0-9]+/); s = substr($0, RSTART+8, RLENGTH-8);
       match($0, /"alpha": [-0-9.e]+/); a = substr($0, RSTART+9, RLENGTH-9) + 0;
       match($0, /"wd": [-0-9.e]+/); w = substr($0, RSTART+6, RLENGTH-6) + 0;
       n[s]++; A[s, n[s]] = a; W[s, n[s]] = w;
       if (!(s in lo) || a < lo[s]) lo[s] = a; if (!(s in hi) || a > hi[s]) hi[s] = a }
     END { bad = 0; for (s in n) for (i = 1; i <= n[s]; i++) {
             want = 1e-5 * ((A[s, i] - lo[s]) / (hi[s] - lo[s]) * (3 - 0.6666) + 0.6666);
             d = W[s, i] - want; if (d < 0) d = -d; if (d > 1e-6 * want) bad++ }
           exit bad > 0 }' "$A" && ok alphadecay_wd_follows_alpha || fail alphadecay_wd_follows_alpha "wd != linear map of alpha"

# adadecay: wd = eta * 2 / (1 + exp(-4 z)), z the per-layer z-score of gradnorm (population std)
awk '{ match($0, /"step": [0-9]+/); s = substr($0, RSTART+8, RLENGTH-8);
       match($0, /"layer": -?[0-9]+/); l = substr($0, RSTART+9, RLENGTH-9);
       match($0, /"gradnorm": [-0-9.e]+/); g = substr($0, RSTART+12, RLENGTH-12) + 0;
       match($0, /"wd": [-0-9.e]+/); w = substr($0, RSTART+6, RLENGTH-6) + 0;
       k = s SUBSEP l; n[k]++; G[k, n[k]] = g; W[k, n[k]] = w; sum[k] += g }
     END { bad = 0; for (k in n) { m = sum[k] / n[k]; v = 0; for (i = 1; i <= n[k]; i++) v += (G[k, i] - m)^2;
             sd = sqrt(v / n[k]) + 1e-8;
             for (i = 1; i <= n[k]; i++) { want = 1e-5 * 2 / (1 + exp(-4 * (G[k, i] - m) / sd));
               d = W[k, i] - want; if (d < 0) d = -d; if (d > 1e-6 * want) bad++ } }
           exit bad > 0 }' "$T/adadecay/decay.jsonl" && ok adadecay_wd_follows_gradnorm || fail adadecay_wd_follows_gradnorm "wd != sigmoid of z"

grep -q '"awd_lambda": [1-9]' "$T/awd/metrics.jsonl" && ok awd_lambda_logged || fail awd_lambda_logged "no positive awd_lambda"
[ -s "$T/uniform/spectra/spectra_step0.bin" ] && [ -s "$T/uniform/spectra/spectra_step12.bin" ] \
    && ok spectra_files_written || fail spectra_files_written "$(ls "$T/uniform/spectra" 2>&1)"

# esd on the final checkpoint
C=$(ls -d "$T"/alphadecay/checkpoint/step_* 2>/dev/null | tail -1)
if out=$("$BIN" esd "$C" 2>&1) && echo "$out" | grep -q '^gate ' && [ "$(echo "$out" | grep -c '^model.layers')" = 14 ]; then
    ok esd_table
else fail esd_table "$(echo "$out" | tail -3)"; fi
"$BIN" esd "$C/model.safetensors" --format json --fit fix-finger | grep -q '"summary": {"q"' && ok esd_json || fail esd_json "no summary"
[ "$("$BIN" esd "$C" --format csv --fit goodness-of-fit | wc -l)" = 16 ] && ok esd_csv || fail esd_csv "expected 16 lines"
"$BIN" esd "$C" --save-spectra "$T/sp" >/dev/null && [ -s "$T/sp/spectra.bin" ] && ok esd_save_spectra || fail esd_save_spectra "no file"
"$BIN" esd "$C" --fit bogus >/dev/null 2>&1; [ $? = 2 ] && ok esd_bad_fit_usage || fail esd_bad_fit_usage "exit not 2"
"$BIN" esd "$T/missing" >/dev/null 2>&1; [ $? = 1 ] && ok esd_missing_file || fail esd_missing_file "exit not 1"
# a safetensors file with only a norm vector: no Linear weights -> error
printf '{"model.norm.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' > "$T/h.json"
python3 - "$T/h.json" "$T/nolinear.safetensors" <<'PY' 2>/dev/null || perl -e 'open(H,$ARGV[0]);$h=<H>;open(O,">",$ARGV[1]);binmode O;print O pack("Q<",length $h),$h,pack("f<f<",1,1)' "$T/h.json" "$T/nolinear.safetensors"
import struct, sys
h = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<ff", 1, 1))
PY
err=$("$BIN" esd "$T/nolinear.safetensors" 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && echo "$err" | grep -q "no Linear" && ok esd_no_linear_weights || fail esd_no_linear_weights "rc $rc: $err"
exit $FAILED
