/* test_common.c - RNG determinism and range, atomic writes, shard round trip and bad shards. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "common.h"
#include "shard.h"
#include "testutil.h"

static void test_rng(void) {
    Rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= rng_u64(&a) == rng_u64(&b);
    CHECK(same, "rng_same_seed_same_stream", "streams differ");
    rng_seed(&b, 43);
    CHECK(rng_u64(&a) != rng_u64(&b), "rng_different_seed", "seeds 42 and 43 collide");
    double sum = 0, sum2 = 0;
    int n = 200000, below_ok = 1;
    for (int i = 0; i < n; i++) {
        double z = rng_normal(&a);
        sum += z;
        sum2 += z * z;
        if (rng_below(&a, 7) >= 7) below_ok = 0;
    }
    CHECK(fabs(sum / n) < 0.01, "rng_normal_mean", "mean %g", sum / n);
    CHECK(fabs(sum2 / n - 1) < 0.02, "rng_normal_var", "var %g", sum2 / n);
    CHECK(below_ok, "rng_below_range", "value out of range");
}

static void test_shard(const char *dir) {
    char path[512];
    Err e;
    uint32_t toks[5] = {0, 1, 65535, 7, 300};
    snprintf(path, sizeof path, "%s/s16.bin", dir);
    Shard s;
    int ok = shard_write(path, toks, 5, 0, &e) == 0 && shard_read(&s, path, &e) == 0;
    CHECK(ok && s.n_tokens == 5 && !s.wide && !memcmp(s.tokens, toks, sizeof toks), "shard16_round_trip", "%s", e.msg);
    if (ok) shard_free(&s);
    uint32_t wide[3] = {70000, 1, 2};
    snprintf(path, sizeof path, "%s/s32.bin", dir);
    ok = shard_write(path, wide, 3, 1, &e) == 0 && shard_read(&s, path, &e) == 0;
    CHECK(ok && s.n_tokens == 3 && s.wide && s.tokens[0] == 70000, "shard32_round_trip", "%s", e.msg);
    if (ok) shard_free(&s);
    CHECK(shard_write(path, wide, 3, 0, &e) != 0, "shard16_rejects_wide_token", "accepted 70000 as uint16");
    /* truncated file */
    snprintf(path, sizeof path, "%s/s16.bin", dir);
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    if (truncate(path, sz - 1) == 0) {}
    CHECK(shard_read(&s, path, &e) != 0 && strstr(e.msg, "s16.bin"), "shard_truncated_rejected", "got: %s", e.msg);
    /* bad magic */
    snprintf(path, sizeof path, "%s/bad.bin", dir);
    char junk[2048] = "not a shard";
    write_file_atomic(path, junk, sizeof junk, &e);
    CHECK(shard_read(&s, path, &e) != 0 && strstr(e.msg, "bad shard header"), "shard_bad_magic_rejected", "got: %s",
          e.msg);
    CHECK(shard_read(&s, "/nonexistent/x.bin", &e) != 0, "shard_missing_rejected", "opened a missing file");
}

/* Two processes replacing the same file at once (two sweep launchers writing sweep.json): every
 * write succeeds, and the file always holds one writer's whole text. With one fixed temp name the
 * two would rename each other's temp file away and fail. */
static void test_atomic_concurrent(const char *dir) {
    char path[256], a[4096], b[4096];
    snprintf(path, sizeof path, "%s/shared.json", dir);
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    const int rounds = 300;
    pid_t child = fork();
    if (child < 0) {
        SKIP("atomic_write_concurrent", "fork failed");
        return;
    }
    if (child == 0) {
        Err e;
        int bad = 0;
        for (int i = 0; i < rounds; i++) bad += write_file_atomic(path, b, sizeof b, &e) != 0;
        _exit(bad ? 1 : 0);
    }
    Err e = {{0}};
    int bad = 0, torn = 0;
    for (int i = 0; i < rounds; i++) {
        bad += write_file_atomic(path, a, sizeof a, &e) != 0;
        char *t = NULL;
        size_t n = 0;
        if (read_file(path, &t, &n, &e) == 0) torn += n != sizeof a || (memcmp(t, a, n) && memcmp(t, b, n));
        free(t);
    }
    int st = 0;
    waitpid(child, &st, 0);
    CHECK(bad == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && torn == 0, "atomic_write_concurrent",
          "%d failed writes here (last: %s), child status %d, %d torn reads", bad, e.msg, st, torn);
}

int main(void) {
    char dir[256];
    if (!scratch_dir(dir, sizeof dir, NULL, "test_common")) return check_summary();
    test_rng();
    test_shard(dir);
    test_atomic_concurrent(dir);
    scratch_remove(dir);
    return check_summary();
}
