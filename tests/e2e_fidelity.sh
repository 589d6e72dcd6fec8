#!/usr/bin/env bash
# e2e_fidelity.sh - the places where the harness follows the authors' code rather than its own habits:
# the paper's Figure 9 grid, the data order fixed by data.seed (train.seed seeds the initialisation
# only), gradient clipping before the decay hook, and the authors' evaluation convention.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup fidelity

# --- 1. Figure 9: exactly the paper's (s1, s2) pairs on LLaMA-135M, mirrored by the small twin
pairs() { "$BIN" sweep list "$1" | grep -o 'decay.s1=[0-9.]* decay.s2=[0-9.]*' | sort -u | tr '\n' ' '; }
want="decay.s1=0.3333 decay.s2=1.5 decay.s1=0.6666 decay.s2=1.5 decay.s1=0.6666 decay.s2=3 decay.s1=0.6666 decay.s2=5 "
got=$(pairs sweeps/fig9.yaml); got_small=$(pairs sweeps/small/fig9.yaml)
if [ "$got" = "$want" ] && [ "$got_small" = "$want" ] && grep -q '^base: experiments/llama_135m.yaml' sweeps/fig9.yaml; then
    ok fig9_paper_grid
else fail fig9_paper_grid "paper-scale [$got] small [$got_small] base $(grep '^base' sweeps/fig9.yaml)"; fi

# a corpus with structure to learn (as e2e_train.sh)
grammar_corpus "$T/corpus.jsonl" 3 300 adverbs
prep_corpus prep --quiet
tiny_yaml >"$T/tiny.yaml"
losses() { grep -o '"loss": [-0-9.e]*' "$1/metrics.jsonl"; }
final() { echo "$1"/checkpoint/step_*/model.safetensors; }

# --- 2. train.seed seeds the initialisation only: from the same train.init, two seeds are identical
"$BIN" train "$T/tiny.yaml" --out "$T/base" >"$T/base.log" 2>&1 || fail base_run "$(tail -1 "$T/base.log")"
init=$(dirname "$(final "$T/base")")
for s in 1 2; do
    "$BIN" train "$T/tiny.yaml" --set train.init="$init" --set train.seed=$s --out "$T/seed$s" >"$T/seed$s.log" 2>&1
done
if [ -s "$T/seed1/metrics.jsonl" ] && cmp -s <(losses "$T/seed1") <(losses "$T/seed2") && cmp -s "$(final "$T/seed1")" "$(final "$T/seed2")"; then
    ok train_seed_leaves_data_order
else fail train_seed_leaves_data_order "runs from the same init with train.seed 1 and 2 differ"; fi
"$BIN" train "$T/tiny.yaml" --set train.init="$init" --set train.seed=1 --set data.seed=7 --out "$T/dseed7" >"$T/dseed7.log" 2>&1
if [ -s "$T/dseed7/metrics.jsonl" ] && ! cmp -s <(losses "$T/seed1") <(losses "$T/dseed7"); then ok data_seed_reorders
else fail data_seed_reorders "data.seed 7 gave the same losses as the default 42"; fi
grep -q '^  seed: 42$' "$T/seed1/config.yaml" && ok data_seed_default_42 || fail data_seed_default_42 "$(grep -n seed "$T/seed1/config.yaml")"

# --- 4. clipping comes before the decay hook: AWD's lambda at update 1 scales with the clip norm
#     (lam = 0.9 * awd_scale * eta * ||clipped g|| / ||w||, the same weights in both runs)
for c in 0.001 0.002; do
    "$BIN" train "$T/tiny.yaml" --set decay.method=awd --set train.grad_clip=$c --set train.steps=1 --set train.warmup_steps=0 --out "$T/clip$c" >"$T/clip$c.log" 2>&1
done
l1=$(grep -o '"awd_lambda": [0-9.e+-]*' "$T/clip0.001/metrics.jsonl" | awk '{print $2}')
l2=$(grep -o '"awd_lambda": [0-9.e+-]*' "$T/clip0.002/metrics.jsonl" | awk '{print $2}')
g1=$(grep -o '"grad_norm": [0-9.e+-]*' "$T/clip0.001/metrics.jsonl" | awk '{print $2}')
if [ -n "$l1" ] && [ -n "$l2" ] && awk -v a="$l1" -v b="$l2" -v g="$g1" 'BEGIN { exit !(g > 0.01 && a > 0 && (b / a - 2) ^ 2 < 1e-10) }'; then
    ok awd_sees_clipped_gradients
else fail awd_sees_clipped_gradients "lambda $l1 (clip 1e-3) vs $l2 (clip 2e-3), grad norm $g1: want ratio 2"; fi

# --- 5. eval.convention: authors = sum of batch means / (n_batches + 1), stopping once more than
#     N tokens were seen: with N = 2 batches it evaluates 3 full batches, so in pack mode (equal
#     batches) its loss is 3/4 of the token mean over the same 3 batches
ck=$(dirname "$(final "$T/base")")
tok3=$("$BIN" eval --checkpoint "$ck" --data "$T/data/train.bin" --seq-len 32 --batch 4 --tokens 384 2>&1)
auth=$("$BIN" eval --checkpoint "$ck" --data "$T/data/train.bin" --seq-len 32 --batch 4 --tokens 256 --convention authors 2>&1)
a=$(echo "$auth" | grep -o '"loss": [0-9.]*' | awk '{print $2}'); t=$(echo "$tok3" | grep -o '"loss": [0-9.]*' | awk '{print $2}')
if [ -n "$a" ] && [ -n "$t" ] && echo "$auth" | grep -q '"tokens": 384' && echo "$auth" | grep -q '"convention": "authors"' \
   && awk -v a="$a" -v t="$t" 'BEGIN { exit !((a - 0.75 * t) ^ 2 < 1e-10) }'; then
    ok eval_authors_convention
else fail eval_authors_convention "authors [$auth] token over 3 batches [$tok3]"; fi
"$BIN" eval --checkpoint "$ck" --data "$T/data/val.bin" --convention bogus >/dev/null 2>&1; [ $? -eq 2 ] \
    && ok eval_convention_bad_value || fail eval_convention_bad_value "not a usage error"
"$BIN" train "$T/tiny.yaml" --set eval.convention=authors --out "$T/authors" >"$T/authors.log" 2>&1
tl=$(grep -o '"loss": [0-9.]*' "$T/authors/eval.jsonl" | tail -1 | awk '{print $2}')
cl=$("$BIN" eval --checkpoint "$(dirname "$(final "$T/authors")")" --data "$T/data/val.bin" --seq-len 32 --batch 4 --tokens 2000 --convention authors 2>&1 | grep -o '"loss": [0-9.]*' | awk '{print $2}')
[ -n "$tl" ] && [ "$tl" = "$cl" ] && ok train_eval_uses_convention || fail train_eval_uses_convention "train's eval $tl vs eval --convention authors $cl"

# --- 3. generated tables carry every number the paper prints in Tables 2, 10, 11 and 13 (mean, std,
#     p-value), from the committed results, with paper-only columns where we have no run of that size
if [ -d results/committed ]; then
    for tab in table2 table10 table11 table13; do
        "$BIN" report table analysis/specs/$tab.yaml --out-dir "$T/tabs" --quiet >/dev/null 2>"$T/tabs.err" \
            || { fail "paper_numbers_$tab" "$(tail -1 "$T/tabs.err")"; continue; }
        missing=$(awk -F, -v tab=$tab '
            FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i; next }
            FILENAME ~ /paper_tables/ { if ($1 == tab) want[++n] = $8 + 0; next }
            { for (k = 1; k <= 3; k++) { name = k == 1 ? "paper" : k == 2 ? "paper_std" : "paper_p_value"
                  i = col[FILENAME, name]; if (i && $i != "") have[$i + 0] = 1 } }
            END { m = 0; for (j = 1; j <= n; j++) { f = 0
                      for (h in have) if ((h - want[j]) ^ 2 <= (1e-9 * want[j]) ^ 2) { f = 1; break }
                      if (!f) { m++; if (m <= 3) printf "%s ", want[j] } }
                  print m " of " n }' "$T/tabs/$tab.csv" analysis/reported/paper_tables.csv)
        case $missing in "0 of "*) ok "paper_numbers_$tab ($missing missing)";; *) fail "paper_numbers_$tab" "missing: $missing";; esac
    done
    grep -q "350M 1e-5 (paper)" "$T/tabs/table2.md" && grep -q "1B 1e-6 (paper)" "$T/tabs/table2.md" \
        && ok table2_paper_only_columns || fail table2_paper_only_columns "$(sed -n 3p "$T/tabs/table2.md")"
    grep -q "ESD per module type, wd 5e-6" analysis/specs/fig3.yaml && grep -q "decay.weight_decay: 5e-6" analysis/specs/fig3.yaml \
        && ok fig3_at_5e-6 || fail fig3_at_5e-6 "$(grep where analysis/specs/fig3.yaml)"
fi

# --- 5b. table notes say which evaluation convention each column used
mkdir -p "$T/conv/res" && cp -r "$T/authors" "$T/seed1" "$T/conv/res/"
cat > "$T/conv/spec.yaml" <<YAML
table: conv
results: res
metric: val_loss
rows: [{label: run, where: {}}]
columns:
  - {label: A, where: {run.name: authors}}
  - {label: B, where: {run.name: seed1}}
YAML
"$BIN" report table "$T/conv/spec.yaml" --root "$T/conv" --out-dir "$T/conv/out" --quiet >/dev/null 2>"$T/conv.err"
grep -q "Evaluation per column: A authors; B token" "$T/conv/out/conv.md" 2>/dev/null \
    && ok table_notes_name_convention || fail table_notes_name_convention "$(tail -1 "$T/conv/out/conv.md" 2>/dev/null) $(cat "$T/conv.err")"

# --- 6. prep --tokenizer spm:MODEL: shards hold exactly spm_encode's ids, EOS appended per document;
#     prep.json records EOS and pad ids, and train uses them (T5 layout: pad 0, EOS 1, unk 2)
if command -v spm_train >/dev/null && command -v spm_encode >/dev/null; then
    sed 's/^{"text": "//; s/"}$//' "$T/corpus.jsonl" > "$T/spm.txt"
    printf '{"text": "Caf\\u00e9 na\\u00efve, THE Model: 42 layers!"}\n' >> "$T/corpus.jsonl.spm"
    spm_train --input="$T/spm.txt" --model_prefix="$T/spm" --vocab_size=60 --hard_vocab_limit=false --model_type=unigram \
        --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --minloglevel=2 >/dev/null 2>&1
    cat "$T/corpus.jsonl" "$T/corpus.jsonl.spm" > "$T/spmcorpus.jsonl"
    printf 'Café naïve, THE Model: 42 layers!\n' >> "$T/spm.txt"
    "$BIN" prep --input "$T/spmcorpus.jsonl" --out "$T/spmdata" --tokenizer "spm:$T/spm.model" --val-fraction 0 --quiet \
        >"$T/spmprep.log" 2>&1 || fail spm_prep "$(tail -1 "$T/spmprep.log")"
    spm_encode --model="$T/spm.model" --output_format=id < "$T/spm.txt" | sed 's/$/ 1/' | tr ' ' '\n' | grep -v '^$' > "$T/spm.want"
    od -An -tu2 -v -j1024 "$T/spmdata/train.bin" | tr -s ' ' '\n' | grep -v '^$' > "$T/spm.got"
    [ -s "$T/spm.want" ] && cmp -s "$T/spm.want" "$T/spm.got" && ok spm_shards_equal_spm_encode \
        || fail spm_shards_equal_spm_encode "$(wc -l < "$T/spm.want") ids from spm_encode, $(wc -l < "$T/spm.got") in the shard"
    grep -q '"eos_id": 1' "$T/spmdata/prep.json" && grep -q '"pad_id": 0' "$T/spmdata/prep.json" \
        && grep -q '"keep_eos_on_truncate": true' "$T/spmdata/prep.json" && ok spm_prep_json_ids || fail spm_prep_json_ids "$(grep -E 'eos|pad' "$T/spmdata/prep.json")"
    sv=$(grep -o '"vocab_size": [0-9]*' "$T/spmdata/prep.json" | grep -o '[0-9]*$')
    "$BIN" train "$T/tiny.yaml" --set data.train="$T/spmdata/train.bin" --set data.val="$T/spmdata/train.bin" \
        --set data.mode=pad --set model.vocab_size="$sv" --set data.seq_len=16 --out "$T/spmrun" >"$T/spmrun.log" 2>&1
    grep -q '"status": "completed"' "$T/spmrun/summary.json" 2>/dev/null && grep -q 'EOS id 1, pad id 0' "$T/spmrun.log" \
        && ok spm_train_uses_ids || fail spm_train_uses_ids "$(tail -1 "$T/spmrun.log")"
else
    echo "skipped spm: spm_train / spm_encode not installed (Debian package sentencepiece)"
fi

# --- 7. eval-tasks: lm-eval-harness multiple choice. Each choice's log-likelihood equals what `eval`
#     gives for the same text: loglik(cont | ctx) = -(loss(ctx+cont) * targets - loss(ctx) * targets)
ck=$(dirname "$(final "$T/base")")
cat > "$T/mc.jsonl" <<'JSONL'
{"context": "the cat eats slowly. a dog", "choices": ["sees quickly.", "matrix layer the", "eats"], "gold": 0}
{"context": "every model", "choices": ["fits well.", "bird bird bird bird"], "gold": 1}

{"contexts": ["the cat", "one matrix"], "continuation": "learns today.", "gold": 1}
{"context": "", "choices": ["the cat eats.", "zzzz qqq"], "gold": 0, "delimiter": ""}
JSONL
"$BIN" eval-tasks --checkpoint "$ck" --tokenizer "$T/data/tokenizer.bin" --task "$T/mc.jsonl" --details "$T/mc.det" \
    --seq-len 32 --out "$T/mc.json" 2>"$T/mc.err" || fail eval_tasks_runs "$(tail -1 "$T/mc.err")"
for d in "the cat eats slowly. a dog sees quickly." "the cat eats slowly. a dog"; do
    n=$(printf '%s' "$d" | wc -c); printf '{"text": "%s"}\n' "$d" > "$T/doc$n.jsonl"
    "$BIN" prep --input "$T/doc$n.jsonl" --out "$T/sh$n" --tokenizer "$T/data/tokenizer.bin" --val-fraction 0 --quiet
    k=$(grep -o '"tokens": {"train": [0-9]*' "$T/sh$n/prep.json" | grep -o '[0-9]*$')  # document tokens + EOS
    l=$("$BIN" eval --checkpoint "$ck" --data "$T/sh$n/train.bin" --seq-len $((k - 2)) --batch 1 | grep -o '"loss": [0-9.]*' | awk '{print $2}')
    echo "$((k - 2)) $l"
done > "$T/mc.eval"
ll=$(head -1 "$T/mc.det" | grep -o '"loglik": \[[^,]*' | grep -o '[-0-9.e]*$')
want=$(awk 'NR == 1 { a = $1 * $2 } NR == 2 { b = $1 * $2 } END { printf "%.6f", -(a - b) }' "$T/mc.eval")
awk -v a="$ll" -v b="$want" 'BEGIN { exit !(a != "" && (a - b) ^ 2 < 1e-6) }' && ok eval_tasks_loglik_matches_eval \
    || fail eval_tasks_loglik_matches_eval "eval-tasks $ll, from eval $want ($(tr '\n' ' ' < "$T/mc.eval"))"
# acc and acc_norm recomputed from the per-choice details: argmax of loglik, and of loglik / characters
exp=$(awk '{ match($0, /"gold": [0-9]+/); g = substr($0, RSTART + 8, RLENGTH - 8) + 0
             match($0, /"loglik": \[[^]]*\]/); split(substr($0, RSTART + 11, RLENGTH - 12), L, ", ")
             match($0, /"chars": \[[^]]*\]/); split(substr($0, RSTART + 10, RLENGTH - 11), C, ", ")
             b = 1; bn = 1; for (i = 2; i in L; i++) { if (L[i] + 0 > L[b] + 0) b = i; if (L[i] / C[i] > L[bn] / C[bn]) bn = i }
             n++; a += (b - 1 == g); an += (bn - 1 == g) } END { printf "%d %.4f %.4f", n, a / n, an / n }' "$T/mc.det")
got=$(grep -o '"n": [0-9]*, "acc": [0-9.e-]*, "acc_stderr": [^,]*, "acc_norm": [0-9.e-]*' "$T/mc.json" \
      | awk -F'[:,]' '{ printf "%d %.4f %.4f", $2, $4, $8 }')
[ -n "$got" ] && [ "$got" = "$exp" ] && ok eval_tasks_acc_acc_norm || fail eval_tasks_acc_acc_norm "json [$got] from details [$exp]"
grep -q '"chars": \[13, 16, 4\]' "$T/mc.det" && ok eval_tasks_norm_by_choice_characters || fail eval_tasks_norm_by_choice_characters "$(head -1 "$T/mc.det")"
printf '{"context": "a", "choices": ["b"], "gold": 0}\n' > "$T/bad.jsonl"
"$BIN" eval-tasks --checkpoint "$ck" --tokenizer "$T/data/tokenizer.bin" --task "$T/bad.jsonl" >/dev/null 2>"$T/bad.err"
[ $? -eq 1 ] && grep -q 'bad.jsonl:1: "choices" must be a list of at least 2' "$T/bad.err" && ok eval_tasks_bad_line_named \
    || fail eval_tasks_bad_line_named "$(cat "$T/bad.err")"

exit $FAILED
