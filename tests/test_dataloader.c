/* test_dataloader.c - pack and pad rows against hand-laid shards, shuffling determinism and
 * coverage, resuming from (epoch, pos), and out-of-vocabulary tokens rejected. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dataloader.h"
#include "evaluate.h"
#include "testutil.h"

static char dir[256];

static void write_shard(const char *name, const uint32_t *tok, size_t n, char *path) {
    Err e;
    sprintf(path, "%s/%s", dir, name);
    if (shard_write(path, tok, n, 0, &e)) CHECK(0, "write_shard", "%s", e.msg);
}

/* The tokens 0, 1, ..., 20: each row shows by its values where in the stream it starts. */
static void write_ramp(const char *name, char *path) {
    uint32_t tok[21];
    for (int i = 0; i < 21; i++) tok[i] = (uint32_t)i;
    write_shard(name, tok, 21, path);
}

static void test_pack(void) {
    char path[256];
    write_ramp("pack.bin", path);
    DataLoader dl;
    Err e;
    CHECK(loader_open(&dl, path, DATA_PACK, 4, 64, 0, 0, &e) == 0, "pack_open", "%s", e.msg);
    CHECK(dl.n_rows == 5, "pack_row_count", "got %zu rows, expected (21-1)/4 = 5", dl.n_rows);
    int in[8], tg[8];
    int valid = loader_next(&dl, in, tg, 2);
    int want_in[8] = {0, 1, 2, 3, 4, 5, 6, 7}, want_tg[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(valid == 8 && !memcmp(in, want_in, sizeof in) && !memcmp(tg, want_tg, sizeof tg), "pack_llmc_rows",
          "rows differ from the llm.c convention");
    loader_next(&dl, in, tg, 2);
    loader_next(&dl, in, tg, 2); /* rows 4 then wraps to epoch 1 row 0 */
    CHECK(in[0] == 16 && tg[3] == 20 && in[4] == 0 && dl.epoch == 1, "pack_wraps_epoch", "in0 %d in4 %d epoch %lu",
          in[0], in[4], (unsigned long)dl.epoch);
    loader_close(&dl);
}

/* eval.test_tokens: the selection evaluation of 10 targets in batches of 2 rows x 4 reads rows 0-3 (8 targets
 * after one batch, 16 after two); the test set starts at row 4, whose targets (17..20) are none of the selection
 * rows' targets (1..16). A test set of 4 targets from there reads row 4 only (one batch; the shard ends). */
static void test_eval_split(void) {
    char path[256];
    write_ramp("split.bin", path);
    DataLoader dl;
    Err e;
    CHECK(loader_open(&dl, path, DATA_PACK, 4, 64, 0, 0, &e) == 0, "split_open", "%s", e.msg);
    size_t k = evaluate_rows_used(&dl, 2, 10, EVAL_TOKEN);
    CHECK(k == 4, "split_selection_rows", "selection reads %zu rows, expected 4", k);
    int seen[21] = {0}, in[4], tg[4], overlap = 0;
    for (size_t r = 0; r < k; r++) {
        loader_row(&dl, r, in, tg);
        for (int i = 0; i < 4; i++) seen[tg[i]] = 1;
    }
    double sums[4];
    evaluate_part_from(NULL, &dl, 2, k, 4, EVAL_TOKEN, 0, 1, sums);
    CHECK(sums[1] == 0, "split_no_forward_without_model", "%g targets", sums[1]);
    for (size_t r = k; r < dl.n_rows; r++) {
        loader_row(&dl, r, in, tg);
        for (int i = 0; i < 4; i++) overlap += seen[tg[i]];
    }
    CHECK(overlap == 0 && k < dl.n_rows, "split_test_targets_disjoint", "%d shared targets", overlap);
    CHECK(evaluate_rows_used(&dl, 2, 1000, EVAL_TOKEN) == dl.n_rows, "split_selection_all_rows",
          "a selection larger than the shard reads every row");
    loader_close(&dl);
}

static void test_pad(void) {
    /* vocab 10 -> end-of-text id 9. Documents: [1 2 3 9] [4 9] [5 6 7 8 1 2 9] */
    uint32_t tok[] = {1, 2, 3, 9, 4, 9, 5, 6, 7, 8, 1, 2, 9};
    char path[256];
    write_shard("pad.bin", tok, sizeof tok / 4, path);
    DataLoader dl;
    Err e;
    CHECK(loader_open(&dl, path, DATA_PAD, 5, 10, 0, 0, &e) == 0 && dl.n_rows == 3, "pad_three_documents", "%s", e.msg);
    int in[15], tg[15];
    int valid = loader_next(&dl, in, tg, 3);
    int want_in[15] = {1, 2, 3, 9, 9, /**/ 4, 9, 9, 9, 9, /**/ 5, 6, 7, 8, 1};
    int want_tg[15] = {2, 3, 9, -1, -1, /**/ 9, -1, -1, -1, -1, /**/ 6, 7, 8, 1, -1};
    CHECK(!memcmp(in, want_in, sizeof in), "pad_inputs_truncated_and_padded", "inputs differ");
    CHECK(!memcmp(tg, want_tg, sizeof tg), "pad_targets_ignore_pads", "targets differ");
    CHECK(valid == 3 + 1 + 4, "pad_valid_count", "got %d", valid);
    loader_close(&dl);
}

/* T5's SentencePiece conventions: EOS 1 ends each document, rows are padded with 0 (ignored by the
 * loss), and a truncated document keeps its EOS last; ids read from prep.json beside the shard. */
static void test_pad_t5_ids(void) {
    /* vocab 10, EOS 1, pad 0. Documents: [5 6 1] [7 1] [2 3 4 5 6 7 8 1] */
    uint32_t tok[] = {5, 6, 1, 7, 1, 2, 3, 4, 5, 6, 7, 8, 1};
    char path[256], json[300];
    write_shard("t5.bin", tok, sizeof tok / 4, path);
    Err e;
    TokenIds ids = {.eos = 9, .pad = 9, .keep_eos = 0, .vocab = 0};
    CHECK(prep_read_ids(path, &ids, &e) == 1 && ids.eos == 9, "prep_ids_absent_keeps_default", "eos %d", ids.eos);
    snprintf(json, sizeof json, "%s/prep.json", dir);
    const char *txt = "{\"eos_id\": 1, \"pad_id\": 0, \"keep_eos_on_truncate\": true}";
    if (write_file_atomic(json, txt, strlen(txt), &e)) printf("FAIL write %s\n", e.msg);
    CHECK(prep_read_ids(path, &ids, &e) == 0 && ids.eos == 1 && ids.pad == 0 && ids.keep_eos == 1, "prep_ids_read",
          "eos %d pad %d keep %d", ids.eos, ids.pad, ids.keep_eos);
    DataLoader dl;
    CHECK(loader_open_ids(&dl, path, DATA_PAD, 5, 10, 0, 0, ids, &e) == 0 && dl.n_rows == 3, "t5_three_documents", "%s",
          e.msg);
    int in[15], tg[15];
    int valid = loader_next(&dl, in, tg, 3);
    int want_in[15] = {5, 6, 1, 0, 0, /**/ 7, 1, 0, 0, 0, /**/ 2, 3, 4, 5, 1};
    int want_tg[15] = {6, 1, -1, -1, -1, /**/ 1, -1, -1, -1, -1, /**/ 3, 4, 5, 1, -1};
    CHECK(!memcmp(in, want_in, sizeof in), "t5_pad_0_and_eos_kept_on_truncation", "inputs differ");
    CHECK(!memcmp(tg, want_tg, sizeof tg) && valid == 2 + 1 + 4, "t5_pads_out_of_the_loss", "targets differ (%d)",
          valid);
    loader_close(&dl);
    unlink(json);
    const char *bad = "{\"eos_id\": -1, \"pad_id\": 0}";
    if (write_file_atomic(json, bad, strlen(bad), &e)) printf("FAIL write %s\n", e.msg);
    CHECK(prep_read_ids(path, &ids, &e) == -1 && strstr(e.msg, "prep.json"), "prep_ids_bad_rejected", "%s", e.msg);
    unlink(json);
}

static void test_shuffle(void) {
    uint32_t tok[401];
    for (int i = 0; i < 401; i++) tok[i] = (uint32_t)(i % 50);
    char path[256];
    write_shard("shuf.bin", tok, 401, path);
    DataLoader a, b;
    Err e;
    loader_open(&a, path, DATA_PACK, 4, 64, 1, 7, &e);
    loader_open(&b, path, DATA_PACK, 4, 64, 1, 7, &e);
    int ia[400], ta[400], ib[400], tb[400], seen[100] = {0}, same, in_order = 1;
    loader_next(&a, ia, ta, 100);
    loader_next(&b, ib, tb, 100);
    for (int r = 0; r < 100; r++) {
        int row = (int)a.perm[r];
        seen[row]++;
        in_order &= row == r;
    }
    same = !memcmp(ia, ib, sizeof ia) && !memcmp(ta, tb, sizeof ta);
    int cover = 1;
    for (int r = 0; r < 100; r++) cover &= seen[r] == 1;
    CHECK(same, "shuffle_same_seed_same_order", "two loaders with seed 7 differ");
    CHECK(cover && !in_order, "shuffle_is_a_permutation", "cover %d in_order %d", cover, in_order);
    /* Resume: a loader restored to (epoch, pos) continues exactly like the original. */
    int ra[40], rt[40], sa[40], st[40];
    loader_next(&a, ra, rt, 10); /* epoch 1 starts */
    DataLoader c;
    loader_open(&c, path, DATA_PACK, 4, 64, 1, 7, &e);
    c.epoch = 1;
    c.pos = 0;
    loader_next(&c, sa, st, 10);
    CHECK(!memcmp(ra, sa, sizeof ra) && !memcmp(rt, st, sizeof rt), "resume_from_epoch_pos", "resumed rows differ");
    loader_close(&a);
    loader_close(&b);
    loader_close(&c);
}

/* data.train_tokens: only rows inside the first N tokens, in both modes, and every epoch stays inside. */
static void test_limit(void) {
    char path[256];
    write_ramp("limit.bin", path);
    DataLoader dl;
    Err e;
    loader_open(&dl, path, DATA_PACK, 4, 64, 1, 3, &e);
    CHECK(loader_limit(&dl, 13, &e) == 0 && dl.n_rows == 3, "limit_pack_rows", "rows %zu, expected (13-1)/4 = 3",
          dl.n_rows);
    int in[4], tg[4], max_tg = 0;
    for (int k = 0; k < 12; k++) { /* four epochs of three rows */
        loader_next(&dl, in, tg, 1);
        for (int t = 0; t < 4; t++) max_tg = tg[t] > max_tg ? tg[t] : max_tg;
    }
    CHECK(max_tg == 12 && dl.epoch == 3, "limit_pack_stays_inside", "largest target %d (want 12), epoch %lu", max_tg,
          (unsigned long)dl.epoch);
    CHECK(loader_limit(&dl, 4, &e) != 0 && strstr(e.msg, "limit.bin"), "limit_too_small_refused", "%s", e.msg);
    loader_close(&dl);
    /* pad: documents [1 2 3 9] [4 9] [5 6 7 8 1 2 9]; 7 tokens hold the first two only */
    uint32_t docs[13] = {1, 2, 3, 9, 4, 9, 5, 6, 7, 8, 1, 2, 9};
    write_shard("limitpad.bin", docs, 13, path);
    loader_open(&dl, path, DATA_PAD, 5, 10, 0, 0, &e);
    CHECK(loader_limit(&dl, 7, &e) == 0 && dl.n_rows == 2, "limit_pad_whole_documents", "rows %zu", dl.n_rows);
    CHECK(loader_limit(&dl, 1000, &e) == 0 && dl.n_rows == 2, "limit_beyond_shard_no_change", "rows %zu", dl.n_rows);
    loader_close(&dl);
}

static void test_bad(void) {
    uint32_t tok[9] = {1, 2, 3, 70, 1, 2, 3, 4, 5};
    char path[256];
    write_shard("oov.bin", tok, 9, path);
    DataLoader dl;
    Err e;
    CHECK(loader_open(&dl, path, DATA_PACK, 4, 64, 0, 0, &e) != 0 && strstr(e.msg, "oov.bin") &&
              strstr(e.msg, "vocabulary"),
          "out_of_vocab_rejected", "got: %s", e.msg);
    write_shard("short.bin", tok, 3, path);
    CHECK(loader_open(&dl, path, DATA_PACK, 4, 128, 0, 0, &e) != 0 && strstr(e.msg, "too few"), "too_short_rejected",
          "got: %s", e.msg);
}

int main(void) {
    if (!scratch_dir(dir, sizeof dir, NULL, "test_dataloader")) return check_summary();
    test_pack();
    test_eval_split();
    test_pad();
    test_pad_t5_ids();
    test_shuffle();
    test_limit();
    test_bad();
    scratch_remove(dir);
    return check_summary();
}
