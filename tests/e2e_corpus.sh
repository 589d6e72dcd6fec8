#!/usr/bin/env bash
# e2e_corpus.sh - a new corpus from local files, the first-hour path: prep names the extensions a
# directory walk takes when it finds nothing and takes others with --ext (or every file with --ext '*');
# exact-duplicate documents are dropped before the split and counted (--keep-duplicates keeps them);
# `data.dir: DIR` switches train to a prepared corpus in one key (shards and vocabulary from prep.json),
# a key given after it wins, and a directory prep did not write is an error naming it.
set -u
BIN=${AD_BIN:-bin/alphadecay}; T=${AD_TMP:-/tmp}/corpus.$$; rm -rf "$T"; mkdir -p "$T"
fails=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

# 40 distinct documents of pseudo-words (fixed seed), one per file, in $T/in/doc*.txt
mkdir -p "$T/in"
awk 'BEGIN { srand(11); split("the of and to in re con pro ment tion er ing al ex st ab ov gr ity ous", s, " ");
  for (d = 0; d < 40; d++) { line = "";
    for (w = 0; w < 120; w++) line = line (w ? " " : "") s[1 + int(rand() * 20)] s[1 + int(rand() * 20)];
    f = sprintf("'"$T"'/in/doc%02d.txt", d); printf "%s\n", line > f; close(f) } }'
# duplicates: a licence text in 5 files (4 repeats), doc07 copied 3 times (3 repeats) -> 7 dropped, 2 groups
for i in 1 2 3 4 5; do printf 'Permission is hereby granted, free of charge, to any person.\n' >"$T/in/lic$i.txt"; done
for i in 1 2 3; do cp "$T/in/doc07.txt" "$T/in/zcopy$i.txt"; done
# 1. dedup by default
"$BIN" prep --input "$T/in" --out "$T/a" --vocab-size 300 --val-fraction 0.1 --seed 5 2>"$T/a.err"; rc=$?
if [ $rc -eq 0 ] && grep -q '"duplicates_dropped": 7, "duplicate_groups": 2, "deduplicated": true' "$T/a/prep.json" &&
   grep -q '"train": 37, "val": 4,' "$T/a/prep.json" && grep -q "dropped 7 exact-duplicate documents (2 distinct texts" "$T/a.err"
then ok prep_dedup_default
else fail prep_dedup_default "rc $rc: $(grep -o '"documents": {[^}]*}' "$T/a/prep.json" 2>/dev/null) $(tail -1 "$T/a.err")"; fi
"$BIN" prep --quiet --input "$T/in" --out "$T/k" --vocab-size 300 --val-fraction 0.1 --seed 5 --keep-duplicates; rc=$?
[ $rc -eq 0 ] && grep -q '"train": 43, "val": 5, .*"duplicates_dropped": 0, "duplicate_groups": 0, "deduplicated": false' "$T/k/prep.json" &&
  ok prep_keep_duplicates || fail prep_keep_duplicates "rc $rc: $(grep -o '"documents": {[^}]*}' "$T/k/prep.json" 2>/dev/null)"
# the same corpus without the copies gives the same shards as the deduplicated one
mkdir -p "$T/uniq"; cp "$T"/in/doc*.txt "$T/in/lic1.txt" "$T/uniq/"
"$BIN" prep --quiet --input "$T/uniq" --out "$T/u" --vocab-size 300 --val-fraction 0.1 --seed 5
cmp -s "$T/u/train.bin" "$T/a/train.bin" && cmp -s "$T/u/val.bin" "$T/a/val.bin" && ok prep_dedup_equals_unique_corpus ||
  fail prep_dedup_equals_unique_corpus "shards differ from the corpus without copies"

# 2. extensions: files without a corpus extension are named in the error; --ext takes them
mkdir -p "$T/raw"
for d in 00 01 02 03; do cp "$T/in/doc$d.txt" "$T/raw/LICENSE_$d"; done
cp "$T/in/doc04.txt" "$T/raw/notes.md"; cp "$T/in/doc05.txt" "$T/raw/notes2.md"
"$BIN" prep --quiet --input "$T/raw" --out "$T/x" --vocab-size 257 2>"$T/x.err"; rc=$?
[ $rc -eq 1 ] && grep -q "walked for files named .txt, .jsonl, .json (each also .gz) only, and 6 other files were skipped (e.g. $T/raw/LICENSE_00); --ext md,txt" "$T/x.err" &&
  [ ! -e "$T/x/prep.json" ] && ok prep_no_files_names_extensions || fail prep_no_files_names_extensions "rc $rc: $(cat "$T/x.err")"
"$BIN" prep --quiet --input "$T/raw" --out "$T/md" --vocab-size 257 --ext md; rc=$?
[ $rc -eq 0 ] && grep -q '"n_files": 2,' "$T/md/prep.json" && ok prep_ext_list || fail prep_ext_list "rc $rc"
"$BIN" prep --quiet --input "$T/raw" --out "$T/all" --vocab-size 257 --ext '*'; rc=$?
[ $rc -eq 0 ] && grep -q '"n_files": 6,' "$T/all/prep.json" && ok prep_ext_all_files || fail prep_ext_all_files "rc $rc"
"$BIN" prep --input "$T/raw" --out "$T/bad" --ext 'm*d' >/dev/null 2>&1; [ $? -eq 2 ] && ok prep_ext_bad_usage || fail prep_ext_bad_usage "accepted m*d"

# 3. data.dir: one key switches corpus; shards and model.vocab_size (300, not the file's 4096) from prep.json
if [ -f experiments/tiny_test.yaml ]; then
  short=(--set train.steps=1 --set train.warmup_steps=0 --set eval.every=1 --set eval.tokens=256 --set checkpoint.every=0
         --set decay.method=none --set data.seq_len=32)
  "$BIN" train experiments/tiny_test.yaml --set data.dir="$T/a" "${short[@]}" --out "$T/run" >"$T/run.log" 2>&1; rc=$?
  if [ $rc -eq 0 ] && grep -q "^  dir: \"$T/a\"" "$T/run/config.yaml" && grep -q "^  train: \"$T/a/train.bin\"" "$T/run/config.yaml" &&
     grep -q "^  val: \"$T/a/val.bin\"" "$T/run/config.yaml" && grep -q '^  vocab_size: 300$' "$T/run/config.yaml" &&
     grep -q '"status": "completed"' "$T/run/summary.json"; then ok data_dir_one_key
  else fail data_dir_one_key "rc $rc: $(tail -2 "$T/run.log")"; fi
  # a key given after data.dir wins: the explicit vocabulary (train then refuses the mismatch) and shard
  "$BIN" train experiments/tiny_test.yaml --set data.dir="$T/a" --set model.vocab_size=280 "${short[@]}" --out "$T/r2" >"$T/r2.log" 2>&1; rc=$?
  [ $rc -eq 1 ] && grep -q "model.vocab_size is 280 but $T/a/train.bin was prepared with a vocabulary of 300" "$T/r2.log" &&
    ok data_dir_explicit_vocab_wins || fail data_dir_explicit_vocab_wins "rc $rc: $(tail -1 "$T/r2.log")"
  "$BIN" train experiments/tiny_test.yaml --set data.dir="$T/a" --set data.train="$T/nope.bin" "${short[@]}" --out "$T/r3" >"$T/r3.log" 2>&1; rc=$?
  [ $rc -eq 1 ] && grep -q "$T/nope.bin" "$T/r3.log" && ok data_dir_explicit_train_wins || fail data_dir_explicit_train_wins "rc $rc: $(tail -1 "$T/r3.log")"
  "$BIN" train experiments/tiny_test.yaml --set data.dir="$T/raw" "${short[@]}" --out "$T/r4" >"$T/r4.log" 2>&1; rc=$?
  [ $rc -eq 1 ] && grep -q "data.dir $T/raw: no $T/raw/prep.json (expected a directory written by alphadecay prep)" "$T/r4.log" &&
    [ ! -e "$T/r4/config.yaml" ] && ok data_dir_not_prepared || fail data_dir_not_prepared "rc $rc: $(tail -1 "$T/r4.log")"
  # in a file: data.dir with model.vocab_size given in the same file keeps the file's value (explicit)
  printf 'model: {hidden_size: 64, intermediate_size: 172, num_attention_heads: 4, num_hidden_layers: 2}\ndata: {dir: %s, seq_len: 32}\ntrain: {batch_size: 4, steps: 1, warmup_steps: 0, threads: 1}\neval: {every: 1, tokens: 256}\ndecay: {method: none}\n' "$T/a" >"$T/exp.yaml"
  "$BIN" train "$T/exp.yaml" --out "$T/r5" >"$T/r5.log" 2>&1; rc=$?
  [ $rc -eq 0 ] && grep -q '^  vocab_size: 300$' "$T/r5/config.yaml" && ok data_dir_in_file ||
    fail data_dir_in_file "rc $rc: $(tail -1 "$T/r5.log")"
else
  fail data_dir_one_key "experiments/tiny_test.yaml missing (run from the repository root)"
fi
rm -rf "$T"
[ $fails -eq 0 ]
