/* shard.c - llm.c token shard reading and writing; see shard.h. */
#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER_INTS 256

int shard_read(Shard *s, const char *path, Err *e) {
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open shard: %s", path, strerror(errno));
    int32_t hdr[HEADER_INTS];
    if (fread(hdr, sizeof(int32_t), HEADER_INTS, f) != HEADER_INTS) {
        fclose(f);
        return err_set(e, "%s: not a token shard (file shorter than the 1024-byte header)", path);
    }
    int wide;
    if (hdr[0] == SHARD_MAGIC16 && hdr[1] == 1) wide = 0;
    else if (hdr[0] == SHARD_MAGIC32 && hdr[1] == 7) wide = 1;
    else {
        fclose(f);
        return err_set(e, "%s: bad shard header (magic %d, version %d; expected %d/1 or %d/7)", path, hdr[0], hdr[1],
                       SHARD_MAGIC16, SHARD_MAGIC32);
    }
    if (hdr[2] < 0) {
        fclose(f);
        return err_set(e, "%s: negative token count in header", path);
    }
    size_t n = (size_t)(uint32_t)hdr[2], width = wide ? 4 : 2;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (size_t)st.st_size != HEADER_INTS * 4 + n * width) {
        fclose(f);
        return err_set(e, "%s: file size %lld does not match the header's %zu tokens of %zu bytes (truncated?)", path,
                       (long long)st.st_size, n, width);
    }
    s->tokens = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!s->tokens) {
        fclose(f);
        return err_set(e, "%s: out of memory for %zu tokens", path, n);
    }
    size_t got;
    if (wide) got = fread(s->tokens, 4, n, f);
    else {
        uint16_t *tmp = malloc((n ? n : 1) * 2);
        got = tmp ? fread(tmp, 2, n, f) : 0;
        for (size_t i = 0; i < got; i++) s->tokens[i] = tmp[i];
        free(tmp);
    }
    fclose(f);
    if (got != n) {
        shard_free(s);
        return err_set(e, "%s: short read", path);
    }
    s->n_tokens = n;
    s->wide = wide;
    return 0;
}

void shard_free(Shard *s) {
    free(s->tokens);
    s->tokens = NULL;
    s->n_tokens = 0;
}

int shard_write(const char *path, const uint32_t *tokens, size_t n, int wide, Err *e) {
    if (n > INT32_MAX) return err_set(e, "%s: %zu tokens exceed the format's int32 count", path, n);
    size_t width = wide ? 4 : 2, bytes = HEADER_INTS * 4 + n * width;
    unsigned char *buf = calloc(bytes, 1);
    if (!buf) return err_set(e, "%s: out of memory", path);
    int32_t *hdr = (int32_t *)buf;
    hdr[0] = wide ? SHARD_MAGIC32 : SHARD_MAGIC16;
    hdr[1] = wide ? 7 : 1;
    hdr[2] = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        if (!wide && tokens[i] > 65535) {
            free(buf);
            return err_set(e, "%s: token %u does not fit uint16", path, tokens[i]);
        }
        if (wide) memcpy(buf + HEADER_INTS * 4 + i * 4, &tokens[i], 4);
        else {
            uint16_t t = (uint16_t)tokens[i];
            memcpy(buf + HEADER_INTS * 4 + i * 2, &t, 2);
        }
    }
    int rc = write_file_atomic(path, buf, bytes, e);
    free(buf);
    return rc;
}
