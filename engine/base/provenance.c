/* provenance.c - see provenance.h. build_commit and build_flags are in the generated build_info.c. */
#include "provenance.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int flag_listed(const char *flags, const char *word) {
    size_t n = strlen(word);
    for (const char *p = flags; (p = strstr(p, word)); p += n)
        if ((p == flags || isspace((unsigned char)p[-1])) && (!p[n] || isspace((unsigned char)p[n]))) return 1;
    return 0;
}

const char *isa_class(const char *flags) {
    if (flag_listed(flags, "avx512_bf16")) return "avx512_bf16";
    if (flag_listed(flags, "avx512f")) return "avx512f";
    if (flag_listed(flags, "avx2")) return "avx2";
    return "other";
}

/* The value of a "key<tabs> : value" line when it names key; NULL otherwise. */
static char *field_value(char *line, const char *key) {
    size_t n = strlen(key);
    if (strncmp(line, key, n)) return NULL;
    char *p = line + n;
    while (*p == ' ' || *p == '\t') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ' || *p == '\t') p++;
    size_t len = strlen(p);
    while (len && isspace((unsigned char)p[len - 1])) p[--len] = 0;
    return p;
}

void cpu_identify(CpuId *c) {
    snprintf(c->cpu, sizeof c->cpu, "unknown");
    c->isa = "other";
    c->amx_bf16 = 0;
    const char *path = getenv("AD_CPUINFO");
    FILE *f = fopen(path && *path ? path : "/proc/cpuinfo", "r");
    if (!f) return;
    char *line = NULL, *v;
    size_t cap = 0;
    int have_name = 0, have_flags = 0;
    /* the first processor's block: up to the first blank line */
    for (int any = 0; (!have_name || !have_flags) && getline(&line, &cap, f) > 0;) {
        if (line[strspn(line, " \t\r\n")] == 0) {
            if (any) break;
            continue;
        }
        any = 1;
        if (!have_name && (v = field_value(line, "model name")) && *v) {
            snprintf(c->cpu, sizeof c->cpu, "%s", v);
            have_name = 1;
        } else if (!have_flags && (v = field_value(line, "flags"))) {
            c->isa = isa_class(v);
            c->amx_bf16 = flag_listed(v, "amx_bf16");
            have_flags = 1;
        }
    }
    free(line);
    fclose(f);
}
