#!/usr/bin/env bash
# Hostile inputs that used to crash, escape or pass silently (issue 13): each case must end in a clean
# result or a one-line error naming the file, never a crash, a write outside the output directory or
# a silently wrong run.
set -u
BIN=${AD_BIN:?}; T=${AD_TMP:?}/hardening; mkdir -p "$T"
ROOT=$(pwd)
FAILED=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }
have_py=1; command -v python3 >/dev/null || have_py=0

# ---- esd: a tensor name of 200+ characters with a quote and a backslash (was a heap use-after-free;
# --format json printed the name unescaped) ----
if [ $have_py = 1 ]; then
python3 - "$T/longname.safetensors" <<'PY'
import json, random, struct, sys
random.seed(3)
name = "model.layers.0." + "x" * 180 + '"q\\uote".self_attn.q_proj.weight'
vals = [random.gauss(0.0, 0.02) for _ in range(64 * 64)]
blob = struct.pack('<%df' % len(vals), *vals)
h = json.dumps({name: {"dtype": "F32", "shape": [64, 64], "data_offsets": [0, len(blob)]}}).encode()
open(sys.argv[1], "wb").write(struct.pack('<Q', len(h)) + h + blob)
PY
    "$BIN" esd "$T/longname.safetensors" --format json --threads 1 >"$T/esd.json" 2>"$T/esd.err"; rc=$?
    if [ $rc -eq 0 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = d["modules"][0]["module"]
assert m == "model.layers.0." + "x" * 180 + "\"q\\uote\".self_attn.q_proj", m' "$T/esd.json" 2>"$T/esd.py"; then
        ok esd_long_quoted_name_json
    else
        fail esd_long_quoted_name_json "rc $rc: $(head -c 300 "$T/esd.err") $(tail -1 "$T/esd.py")"
    fi
else
    echo "skipped esd_long_quoted_name_json: python3 is not installed"
fi

exit $FAILED
