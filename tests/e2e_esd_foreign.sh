#!/usr/bin/env bash
# `alphadecay esd` and `eval`-side loading on safetensors files the engine did not write: a Hugging Face
# style file built here byte by byte (BF16 weights, tensors in reverse order, an extra rotary inv_freq
# tensor, extra metadata). Gaussian weights must give the Marchenko-Pastur-shaped alphas of docs/method.md
# section 6 (square ~2.1, aspect ratio 2.69 ~3.0), identical to the same weights stored as F32.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup esdforeign
if ! command -v python3 >/dev/null; then echo "skipped esd_foreign_files: python3 is not installed"; exit 0; fi

python3 - "$T" <<'PY'
import json, random, struct, sys
out = sys.argv[1]
random.seed(11)
H, I, L = 256, 688, 2          # q/k/v/o 256x256 (Q=1), gate/up/down 688x256 (Q=2.69)
def gauss(rows, cols):
    return [random.gauss(0.0, 0.02) for _ in range(rows * cols)]
def bf16(vals):                # round-to-nearest-even truncation of float32 to its top 16 bits
    out = bytearray()
    for v in vals:
        u = struct.unpack('<I', struct.pack('<f', v))[0]
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        out += struct.pack('<H', u)
    return bytes(out)
def f32_of_bf16(vals):
    b = bf16(vals)
    return [struct.unpack('<f', struct.pack('<I', struct.unpack('<H', b[i:i+2])[0] << 16))[0] for i in range(0, len(b), 2)]
tensors = []
for l in range(L):
    p = f"model.layers.{l}."
    for n in "qkvo":
        tensors.append((p + f"self_attn.{n}_proj.weight", (H, H), gauss(H, H)))
    for n in ("gate", "up"):
        tensors.append((p + f"mlp.{n}_proj.weight", (I, H), gauss(I, H)))
    tensors.append((p + "mlp.down_proj.weight", (H, I), gauss(H, I)))
    tensors.append((p + "input_layernorm.weight", (H,), [1.0] * H))
    tensors.append((p + "self_attn.rotary_emb.inv_freq", (32,), [1.0] * 32))
def write(path, dtype):
    header, blobs, off = {"__metadata__": {"format": "pt", "producer": "not-alphadecay"}}, [], 0
    for name, shape, vals in reversed(tensors):        # reverse order on purpose
        if dtype == "BF16" and "inv_freq" not in name:
            blob, dt = bf16(vals), "BF16"
        else:
            v = f32_of_bf16(vals) if "inv_freq" not in name else vals
            blob, dt = struct.pack('<%df' % len(v), *v), "F32"
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob); off += len(blob)
    h = json.dumps(header).encode()                     # no padding: the spec does not require it
    with open(path, "wb") as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)
write(out + "/bf16.safetensors", "BF16")
write(out + "/f32.safetensors", "F32")
PY
[ -s "$T/bf16.safetensors" ] || { fail esd_foreign_fixture "python did not write the file"; exit 1; }

if "$BIN" esd "$T/bf16.safetensors" --format csv > "$T/bf16.csv" 2>"$T/err"; then ok esd_reads_hf_bf16; else fail esd_reads_hf_bf16 "$(cat "$T/err")"; fi
"$BIN" esd "$T/f32.safetensors" --format csv > "$T/f32.csv" 2>/dev/null
[ "$(grep -c '^model.layers' "$T/bf16.csv")" = 14 ] && ok esd_all_linear_modules_found || fail esd_all_linear_modules_found "$(grep -c '^model.layers' "$T/bf16.csv") modules"
# every column but the timing one must agree
strip_time() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i } { $c = ""; print }' OFS=, "$1"; }
cmp -s <(strip_time "$T/bf16.csv") <(strip_time "$T/f32.csv") && ok esd_bf16_equals_f32 || fail esd_bf16_equals_f32 "BF16 and F32 copies of the same weights disagree"
# alpha column by header name; mean over square (q,k,v,o) and over MLP modules
read sq mlp < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "alpha") a = i; if ($i == "type") t = i } next }
    { if ($t ~ /^(q|k|v|o)$/) { s += $a; n++ } else if ($t ~ /^(gate|up|down)$/) { m += $a; k++ } }
    END { printf "%.4f %.4f\n", s / n, m / k }' "$T/bf16.csv")
awk -v a="$sq" 'BEGIN { exit !(a > 1.9 && a < 2.35) }' && ok esd_square_gaussian_alpha || fail esd_square_gaussian_alpha "mean $sq, expected ~2.12"
awk -v a="$mlp" 'BEGIN { exit !(a > 2.75 && a < 3.25) }' && ok esd_aspect_2_69_alpha || fail esd_aspect_2_69_alpha "mean $mlp, expected ~2.99"
exit $FAILED
