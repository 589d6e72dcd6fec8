/* strbuf.c - the string builder of strbuf.h. */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

StrBuf sb_alloc(size_t cap) {
    StrBuf b = {0};
    if (cap) sb_reserve(&b, cap);
    return b;
}

void sb_free(StrBuf *b) {
    free(b->p);
    *b = (StrBuf){0};
}

/* Doubling from 256, so n appends cost O(total length). */
void sb_reserve(StrBuf *b, size_t extra) {
    if (b->p && b->len + extra + 1 <= b->cap) return;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
        fprintf(stderr, "alphadecay: out of memory\n");
        abort();
    }
    if (!b->p) np[0] = 0;
    b->p = np;
    b->cap = nc;
}

void sb_vprintf(StrBuf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    char probe[1];
    int n = vsnprintf(probe, sizeof probe, fmt, ap); /* the length first: one formatting when it fits */
    if (n < 0) {
        b->failed = 1;
    } else {
        sb_reserve(b, (size_t)n);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void sb_printf(StrBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

void sb_append(StrBuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sb_putc(StrBuf *b, char c) {
    if (!b->p || b->len + 2 > b->cap) sb_reserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}

const char *sb_str(const StrBuf *b) { return b->p ? b->p : ""; }

int sb_failed(const StrBuf *b) { return b->failed; }

int sb_copy(const StrBuf *b, char *dst, size_t cap) {
    if (!cap) return -1;
    if (b->failed || b->len >= cap) {
        dst[0] = 0;
        return -1;
    }
    memcpy(dst, sb_str(b), b->len + 1);
    return 0;
}
