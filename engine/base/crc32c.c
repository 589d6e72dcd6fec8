/* crc32c.c - CRC-32C with the SSE4.2 instruction when the CPU has it, a table otherwise; see crc32c.h. */
#include "crc32c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define HAVE_X86 1
#endif

#define POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t table[256];

static void table_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc_table(uint32_t c, const unsigned char *p, size_t n) {
    if (!table[1]) table_init(); /* idempotent: racing threads write the same values */
    while (n--) c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c;
}

#ifdef HAVE_X86
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const unsigned char *p, size_t n) {
    uint64_t x = c;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        x = _mm_crc32_u64(x, v);
    }
    uint32_t y = (uint32_t)x;
    while (n--) y = _mm_crc32_u8(y, *p++);
    return y;
}
#endif

uint32_t crc32c_update(uint32_t crc, const void *data, size_t n) {
    uint32_t c = ~crc;
#ifdef HAVE_X86
    if (__builtin_cpu_supports("sse4.2")) return ~crc_sse42(c, data, n);
#endif
    return ~crc_table(c, data, n);
}

int crc32c_file(const char *path, uint32_t *crc, uint64_t *size, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1u << 20, k;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return err_set(e, "%s: out of memory", path);
    }
    uint32_t c = 0;
    uint64_t total = 0;
    while ((k = fread(buf, 1, cap, f)) > 0) {
        c = crc32c_update(c, buf, k);
        total += k;
    }
    int bad = ferror(f);
    free(buf);
    fclose(f);
    if (bad) return err_set(e, "%s: read error", path);
    *crc = c;
    *size = total;
    return 0;
}
