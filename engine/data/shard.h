/* shard.h - llm.c token shards (docs/formats.md, "Token shards"): a 256 x int32 header (magic 20240520, version 1,
 * token count, rest 0) then uint16 tokens; or magic 20240801, version 7, uint32 tokens for
 * vocabularies above 65535. Loaders check magic, version and file size. */
#ifndef SHARD_H
#define SHARD_H

#include "common.h"

#define SHARD_MAGIC16 20240520
#define SHARD_MAGIC32 20240801

typedef struct {
    char path[AD_PATH_MAX];
    uint32_t *tokens; /* widened to uint32 in memory */
    size_t n_tokens;
    int wide; /* file used uint32 tokens */
} Shard;

int shard_read(Shard *s, const char *path, Err *e);
void shard_free(Shard *s);
/* Writes path atomically (write_file_atomic: a temp name of this process's, then rename); wide selects
 * the uint32 format. */
int shard_write(const char *path, const uint32_t *tokens, size_t n, int wide, Err *e);

#endif
