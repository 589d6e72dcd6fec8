# tests/lib.sh - the set-up the end-to-end scripts share. Sourced (not run: tests/run_all.sh runs only
# tests/e2e_*.sh) right after `set -u`:
#     . "$(dirname "$0")/lib.sh"; e2e_setup NAME [fresh]
# BIN is the alphadecay binary, T this script's scratch directory $AD_TMP/NAME (emptied first with
# `fresh`); ok/fail print the lines tests/run_all.sh counts, and fail sets FAILED, the exit status.

e2e_setup() {
    BIN=${AD_BIN:?}
    T=${AD_TMP:?}/$1
    if [ "${2:-}" = fresh ]; then rm -rf "$T"; fi
    mkdir -p "$T"
    FAILED=0
}
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }

# grammar_corpus FILE SEED DOCS [adverbs]: DOCS JSON lines of four sentences each from a small grammar
# (determiner noun verb, and an adverb with `adverbs`): text with structure a tiny model learns within
# a few dozen updates, the same for a SEED on every machine.
grammar_corpus() {
    awk -v seed="$2" -v docs="$3" -v adverbs="${4:+1}" 'BEGIN {
        srand(seed); split("the a one every some", D); split("cat dog bird model matrix layer", N);
        split("eats sees trains decays fits learns", V); split("slowly quickly well badly today", A);
        for (d = 0; d < docs; d++) { s = "";
            for (k = 0; k < 4; k++) {
                s = s D[int(rand()*5)+1] " " N[int(rand()*6)+1] " " V[int(rand()*6)+1]
                if (adverbs) s = s " " A[int(rand()*5)+1]
                s = s ". " }
            print "{\"text\": \"" s "\"}" } }' > "$1"
}

# prep_corpus NAME [prep options]: tokenises $T/corpus.jsonl into $T/data (a 300-token vocabulary, a
# tenth held out for validation). When prep fails: FAIL NAME and the script ends, as nothing after
# it can run.
prep_corpus() {
    local name=$1; shift
    "$BIN" prep --input "$T/corpus.jsonl" --out "$T/data" --vocab-size 300 --val-fraction 0.1 --seed 1 "$@" \
        >"$T/prep.log" 2>&1 || { fail "$name" "$(tail -1 "$T/prep.log")"; exit 1; }
}

# one_tensor_safetensors FILE NAME: writes FILE, a safetensors file of one 64 x 64 fp32 tensor NAME
# (Gaussian, std 0.02, seed 3): the input through which the esd output tests pass awkward module names.
# Needs python3.
one_tensor_safetensors() {
    python3 - "$1" "$2" <<'PY'
import json, random, struct, sys
random.seed(3)
name = sys.argv[2]
vals = [random.gauss(0.0, 0.02) for _ in range(64 * 64)]
blob = struct.pack('<%df' % len(vals), *vals)
h = json.dumps({name: {"dtype": "F32", "shape": [64, 64], "data_offsets": [0, len(blob)]}}).encode()
open(sys.argv[1], "wb").write(struct.pack('<Q', len(h)) + h + blob)
PY
}

# tiny_yaml [NAME=VALUE ...]: prints an experiment on $T/data: a 2-layer LLaMA of width 32, 8 sequences
# of 32 tokens an update (micro-batches of 4), uniform weight decay 1e-5, no evaluation or checkpoint
# during the run. Each NAME=VALUE changes one of the defaults below; `decay` is the whole decay mapping.
tiny_yaml() {
    local hidden=32 inter=88 heads=2 seq=32 lr=0.005 batch=8 micro=4 steps=6 warmup=2 seed=5 \
          decay="method: uniform, weight_decay: 1.0e-5" eval_every=0 eval_tokens=2000 ckpt_every=0 keep=1 a
    for a in "$@"; do
        case ${a%%=*} in
            hidden|inter|heads|seq|lr|batch|micro|steps|warmup|seed|decay|eval_every|eval_tokens|ckpt_every|keep)
                local "$a" ;;
            *) echo "tiny_yaml: unknown setting '$a'" >&2; return 1 ;;
        esac
    done
    cat <<YAML
model: {hidden_size: $hidden, intermediate_size: $inter, num_attention_heads: $heads, num_hidden_layers: 2, vocab_size: 300}
data: {train: $T/data/train.bin, val: $T/data/val.bin, seq_len: $seq}
train: {lr: $lr, batch_size: $batch, micro_batch_size: $micro, steps: $steps, warmup_steps: $warmup, seed: $seed, threads: 1}
decay: {$decay}
eval: {every: $eval_every, tokens: $eval_tokens}
checkpoint: {every: $ckpt_every, keep: $keep}
YAML
}
