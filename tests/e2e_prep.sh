#!/usr/bin/env bash
# e2e_prep.sh - `alphadecay prep` (and `sample`) from the command line, on generated text only:
# usage errors exit 2; a run writes valid shard headers and sizes, a tokenizer and prep.json; the
# same inputs and seed give byte-identical files; every bad input exits 1 with a message naming the
# file and leaves no shard under its final name; the engine trains on the result; sample generates.
set -u
BIN=${AD_BIN:?}; T=${AD_TMP:?}/prep; rm -rf "$T"; mkdir -p "$T/in"
fails=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

# Generated corpus: 30 text files and 30 JSON lines of pseudo-words (awk's rand with a fixed seed).
awk 'BEGIN { srand(7); split("the of and to in re con pro ment tion er ing al ex st ab ov gr ity ous", s, " ");
  for (d = 0; d < 60; d++) { line = "";
    for (w = 0; w < 150; w++) { k = 1 + int(rand() * rand() * 20); j = 1 + int(rand() * 20);
      line = line (w ? (rand() < 0.1 ? ". " : " ") : "") s[k] s[j] }
    if (d < 30) { f = sprintf("'"$T"'/in/doc%02d.txt", d); printf "%s\n", line > f; close(f) }
    else printf "{\"id\": %d, \"text\": \"%s\\n\"}\n", d, line > "'"$T"'/in/lines.jsonl" } }'

# shard_ok FILE: magic 20240520, version 1, token count N, size 1024 + 2N
shard_ok() {
    local h; h=($(od -An -t d4 -N 12 "$1")) || return 1
    [ "${h[0]}" = 20240520 ] && [ "${h[1]}" = 1 ] && [ "$(stat -c %s "$1")" = $((1024 + 2 * h[2])) ] && [ "${h[2]}" -gt 0 ]
}

# usage errors: exit 2 with a one-line reason
usage() { # NAME EXPECT ARGS...
    local name=$1 expect=$2; shift 2
    "$BIN" prep "$@" >"$T/u.out" 2>"$T/u.err"; local rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$expect" "$T/u.err" && [ "$(wc -l <"$T/u.err")" -eq 1 ]; then ok "usage_$name"
    else fail "usage_$name" "exit $rc, stderr: $(head -2 "$T/u.err")"; fi
}
usage no_args "required"
usage no_out "required" --input "$T/in"
usage small_vocab "257" --input "$T/in" --out "$T/x" --vocab-size 100
usage bad_vocab "vocab-size" --input "$T/in" --out "$T/x" --vocab-size 12abc
usage bad_fraction "val-fraction" --input "$T/in" --out "$T/x" --val-fraction 1.5
usage unknown_option "unknown" --input "$T/in" --out "$T/x" --bogus
"$BIN" prep --help >"$T/h.out" 2>&1 && grep -q "usage: alphadecay prep" "$T/h.out" && ok help || fail help "no usage text"

# a good run
if "$BIN" prep --input "$T/in" --out "$T/a" --vocab-size 300 --val-fraction 0.1 --seed 5 2>"$T/a.err"; then
    if shard_ok "$T/a/train.bin" && shard_ok "$T/a/val.bin"; then ok prep_shard_headers
    else fail prep_shard_headers "bad header or size: $(od -An -t d4 -N 12 "$T/a/train.bin")"; fi
    [ "$(head -c 8 "$T/a/tokenizer.bin")" = ADBPETOK ] && [ "$(stat -c %s "$T/a/tokenizer.bin")" = $((32 + 8 * 43)) ] \
        && ok prep_tokenizer_file || fail prep_tokenizer_file "bad magic or size"
    grep -q '"vocab_size": 300' "$T/a/prep.json" && grep -q '"train": 54, "val": 6' "$T/a/prep.json" \
        && ok prep_json || fail prep_json "$(grep -E 'vocab|documents' "$T/a/prep.json")"
    grep -q "BPE merges" "$T/a.err" && ok prep_progress || fail prep_progress "no progress on stderr"
    ntr=$(od -An -t d4 -j 8 -N 4 "$T/a/train.bin" | tr -d ' ')
    grep -q "\"tokens\": {\"train\": $ntr," "$T/a/prep.json" && ok prep_json_token_count || fail prep_json_token_count "header says $ntr"
else
    fail prep_runs "exit status $?: $(tail -1 "$T/a.err")"
fi

# deterministic: the same run again, inputs given as a glob and a file this time
"$BIN" prep --quiet --input "$T/in/*.txt" "$T/in/lines.jsonl" --out "$T/b" --vocab-size 300 --val-fraction 0.1 --seed 5
same=1; for f in tokenizer.bin train.bin val.bin; do cmp -s "$T/a/$f" "$T/b/$f" || same=0; done
[ $same = 1 ] && ok prep_deterministic || fail prep_deterministic "files differ between identical runs"
"$BIN" prep --quiet --input "$T/in" --out "$T/c" --vocab-size 300 --val-fraction 0.1 --seed 6
cmp -s "$T/a/val.bin" "$T/c/val.bin" && fail prep_seed_changes_split "seed 5 and 6 gave the same val.bin" || ok prep_seed_changes_split
"$BIN" prep --quiet --input "$T/in" --out "$T/d" --tokenizer "$T/a/tokenizer.bin" --val-fraction 0.1 --seed 5
cmp -s "$T/a/train.bin" "$T/d/train.bin" && ok prep_reuse_tokenizer || fail prep_reuse_tokenizer "train.bin differs"

# bad input: exit 1, a message naming the problem, nothing under the final names
bad() { # NAME EXPECT ARGS...
    local name=$1 expect=$2; shift 2
    rm -rf "$T/bad"
    "$BIN" prep --quiet "$@" --out "$T/bad" >"$T/b.out" 2>"$T/b.err"; local rc=$?
    if [ $rc -ne 1 ]; then fail "bad_$name" "exit $rc (want 1): $(head -1 "$T/b.err")"
    elif ! grep -q -- "$expect" "$T/b.err"; then fail "bad_$name" "message lacks '$expect': $(head -1 "$T/b.err")"
    elif [ -e "$T/bad/train.bin" ] || [ -e "$T/bad/val.bin" ] || [ -e "$T/bad/prep.json" ]; then fail "bad_$name" "left output files"
    else ok "bad_$name"; fi
}
printf '{"text": "fine"}\n{"text": "broken\n' >"$T/badline.jsonl"
printf '{"text": "fine"}\n{"title": "no text"}\n' >"$T/notext.jsonl"
gzip -c "$T/in/lines.jsonl" | head -c 2000 >"$T/trunc.jsonl.gz"
cp "$T/in/lines.jsonl" "$T/notgz.jsonl.gz"
: >"$T/empty.txt"
printf 'NOTATOKENIZERFILE_AT_ALL_0123456789' >"$T/badtok.bin"
bad missing_input "nope.txt" --input "$T/nope.txt"
bad bad_json_line "badline.jsonl:2:" --input "$T/badline.jsonl"
bad missing_text "notext.jsonl:2:.*text" --input "$T/notext.jsonl"
bad truncated_gzip "trunc.jsonl.gz.*gzip" --input "$T/trunc.jsonl.gz"
bad not_gzip "notgz.jsonl.gz.*not a gzip" --input "$T/notgz.jsonl.gz"
bad empty_corpus "empty corpus" --input "$T/empty.txt"
bad vocab_too_large "supplies only" --input "$T/in" --vocab-size 60000
bad bad_tokenizer "badtok.bin.*not a tokenizer" --input "$T/in" --tokenizer "$T/badtok.bin"
bad tokenizer_vocab_mismatch "vocab size" --input "$T/in" --tokenizer "$T/a/tokenizer.bin" --vocab-size 400
bad no_glob_match "no file matches" --input "$T/in/*.xyz"

# a failed run into an existing prepared directory leaves the earlier files intact
cp -r "$T/a" "$T/keep"
"$BIN" prep --quiet --input "$T/in" --out "$T/keep" --vocab-size 60000 2>/dev/null
cmp -s "$T/a/train.bin" "$T/keep/train.bin" && cmp -s "$T/a/prep.json" "$T/keep/prep.json" && ok prep_failure_keeps_old \
    || fail prep_failure_keeps_old "existing files changed"

"$BIN" prep --quiet --input "$T/notext.jsonl" "$T/in" --out "$T/skip" --vocab-size 300 --skip-bad-lines
grep -q '"bad_lines_skipped": 1' "$T/skip/prep.json" 2>/dev/null && ok prep_skip_bad_lines || fail prep_skip_bad_lines "not counted"

# the engine trains on the result, and sample generates from the checkpoint
if [ -f experiments/tiny_test.yaml ]; then
    if "$BIN" train experiments/tiny_test.yaml --set data.train="$T/a/train.bin" --set data.val="$T/a/val.bin" \
        --set model.vocab_size=300 --set train.steps=3 --set train.warmup_steps=1 --set eval.every=3 --set eval.tokens=512 \
        --set checkpoint.every=3 --set log.every=1 --set decay.method=none --out "$T/run" >"$T/train.log" 2>&1; then
        ok train_on_prepared
        ck=$(ls -d "$T"/run/checkpoint/step_* 2>/dev/null | tail -1)
        if "$BIN" sample --checkpoint "$ck" --tokenizer "$T/a/tokenizer.bin" --prompt "the con" --tokens 20 \
            --seed 3 >"$T/s1.out" 2>"$T/s1.err" \
            && "$BIN" sample --checkpoint "$ck" --tokenizer "$T/a/tokenizer.bin" --prompt "the con" --tokens 20 \
            --seed 3 >"$T/s2.out" 2>&1 && [ -s "$T/s1.out" ] && grep -q "^the con" "$T/s1.out" && cmp -s "$T/s1.out" "$T/s2.out"
        then ok sample_generates
        else fail sample_generates "$(tail -1 "$T/s1.err")"; fi
        "$BIN" sample --checkpoint "$ck" --tokenizer "$T/badtok.bin" >/dev/null 2>"$T/s3.err"
        [ $? -eq 1 ] && grep -q "badtok.bin" "$T/s3.err" && ok sample_bad_tokenizer || fail sample_bad_tokenizer "$(head -1 "$T/s3.err")"
        "$BIN" prep --quiet --input "$T/in" --out "$T/v280" --vocab-size 280
        "$BIN" sample --checkpoint "$ck" --tokenizer "$T/v280/tokenizer.bin" --tokens 5 >/dev/null 2>"$T/s4.err"
        [ $? -eq 1 ] && grep -q "280" "$T/s4.err" && ok sample_vocab_mismatch || fail sample_vocab_mismatch "$(head -1 "$T/s4.err")"
    else
        fail train_on_prepared "$(tail -2 "$T/train.log")"
    fi
else
    fail train_on_prepared "experiments/tiny_test.yaml missing (make test runs this from the repository root)"
fi
[ $fails -eq 0 ]
