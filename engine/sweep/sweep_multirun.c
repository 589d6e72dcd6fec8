/* sweep_multirun.c - a sweep file from the command line, like Hydra's -m (contract: sweep.h, "multirun").
 * The command line only ever becomes YAML text, which the ordinary loader reads: the grid it runs is
 * by construction the grid of the file written next to its results. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

/* KEY=VALUE with a dotted key of letters, digits and '_': the split point, or NULL. */
static const char *split_kv(const char *a, char *key, size_t n) {
    const char *eq = strchr(a, '=');
    if (!eq || eq == a || (size_t)(eq - a) >= n) return NULL;
    for (const char *q = a; q < eq; q++)
        if (!isalnum((unsigned char)*q) && *q != '_' && *q != '.') return NULL;
    memcpy(key, a, (size_t)(eq - a));
    key[eq - a] = 0;
    return eq + 1;
}

/* One value as YAML: plain when it is a word or a number, else double-quoted. */
static void put_value(StrBuf *b, const char *v, size_t len) {
    int plain = len > 0 && !strchr("?:,[]{}#&*!|>'\"%@`~ ", v[0]);
    for (size_t i = 0; i < len && plain; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("._/+-", v[i])) plain = 0;
    if (plain && (len == 4 && (!strncmp(v, "null", 4) || !strncmp(v, "true", 4)))) plain = 0;
    if (plain) {
        sb_append(b, v, len);
        return;
    }
    sb_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '"' || v[i] == '\\') sb_putc(b, '\\');
        sb_putc(b, v[i]);
    }
    sb_putc(b, '"');
}

/* "0-2" or "0,3,7": the seeds as a YAML list. */
static int put_seeds(StrBuf *b, const char *s, Err *e) {
    char *end;
    if (strspn(s, "0123456789-,") != strlen(s) || !*s) goto bad;
    const char *dash = strchr(s, '-');
    if (dash && !strchr(s, ',')) {
        unsigned long a = strtoul(s, &end, 10), z;
        if (end != dash || !dash[1]) goto bad;
        z = strtoul(dash + 1, &end, 10);
        if (*end || z < a || z - a >= 10000) goto bad;
        sb_printf(b, "seeds: [");
        for (unsigned long i = a; i <= z; i++) sb_printf(b, "%s%lu", i > a ? ", " : "", i);
        sb_printf(b, "]\n");
        return 0;
    }
    if (dash) goto bad;
    sb_printf(b, "seeds: [");
    for (const char *q = s; *q;) {
        unsigned long v = strtoul(q, &end, 10);
        if (end == q || (*end && *end != ',')) goto bad;
        sb_printf(b, "%s%lu", q > s ? ", " : "", v);
        q = *end ? end + 1 : end;
        if (*end && !*q) goto bad;
    }
    sb_printf(b, "]\n");
    return 0;
bad:
    return err_set(e, "--seeds: expected A-B or A,B,C (non-negative integers), got '%s'", s);
}

/* FNV-1a of the text: the default sweep name's suffix, so the same command line names the same sweep. */
static unsigned long long fnv(const char *s) {
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

int multirun_yaml(const Multirun *m, StrBuf *out, Err *e) {
    char key[96], seen[3 * SWEEP_MAX_KV][96];
    int n_seen = 0;
    if (!m->base) return err_set(e, "multirun needs --base EXPERIMENT.yaml");
    if (!m->n_m) return err_set(e, "multirun needs -m KEY=V1,V2 (at least one key)");
    StrBuf body = {0}, sets = {0}, grid = {0};
    /* -m and --set: a comma makes an axis; one value is a fixed override. No key twice. */
    for (int i = 0; i < m->n_m + m->n_set; i++) {
        int is_m = i < m->n_m;
        const char *a = is_m ? m->m[i] : m->set[i - m->n_m];
        const char *v = split_kv(a, key, sizeof key);
        if (!v) {
            err_set(e, "%s: expected KEY=VALUE%s (KEY like decay.method), got '%s'", is_m ? "-m" : "--set",
                    is_m ? "[,VALUE...]" : "", a);
            goto fail;
        }
        for (int k = 0; k < n_seen; k++)
            if (!strcmp(seen[k], key)) {
                err_set(e, "%s: key '%s' given twice", is_m ? "-m" : "--set", key);
                goto fail;
            }
        snprintf(seen[n_seen++], sizeof seen[0], "%s", key);
        if (is_m && strchr(v, ',')) {
            sb_printf(&grid, "  %s: [", key);
            for (const char *q = v;;) {
                const char *c = strchr(q, ',');
                size_t len = c ? (size_t)(c - q) : strlen(q);
                if (!len) {
                    err_set(e, "-m %s: an empty value between commas", a);
                    goto fail;
                }
                if (q > v) sb_printf(&grid, ", ");
                put_value(&grid, q, len);
                if (!c) break;
                q = c + 1;
            }
            sb_printf(&grid, "]\n");
        } else {
            sb_printf(&sets, "  %s: ", key);
            put_value(&sets, v, strlen(v));
            sb_putc(&sets, '\n');
        }
    }
    sb_printf(&body, "base: ");
    put_value(&body, m->base, strlen(m->base));
    sb_putc(&body, '\n');
    if (sets.len) sb_printf(&body, "set:\n%s", sb_str(&sets));
    if (grid.len) sb_printf(&body, "grid:\n%s", sb_str(&grid));
    for (int i = 0; i < m->n_extra; i++) {
        const char *v = split_kv(m->extra[i], key, sizeof key);
        if (!v) {
            err_set(e, "--extra: expected KEY=VALUE, got '%s'", m->extra[i]);
            goto fail;
        }
        int first = i == 0 || m->extra_group[i] != m->extra_group[i - 1];
        int last = i + 1 == m->n_extra || m->extra_group[i + 1] != m->extra_group[i];
        if (i == 0) sb_printf(&body, "extra:\n");
        sb_printf(&body, "%s%s: ", first ? "  - {" : ", ", key);
        put_value(&body, v, strlen(v));
        if (last) sb_printf(&body, "}\n");
    }
    if (m->seeds && put_seeds(&body, m->seeds, e)) goto fail;
    if (m->name) {
        sb_printf(out, "name: ");
        put_value(out, m->name, strlen(m->name));
        sb_putc(out, '\n');
    } else {
        const char *b = strrchr(m->base, '/');
        b = b ? b + 1 : m->base;
        size_t n = strcspn(b, ".");
        sb_printf(out, "name: multirun-");
        for (size_t i = 0; i < n && i < 64; i++) sb_putc(out, isalnum((unsigned char)b[i]) || b[i] == '_' ? b[i] : '_');
        sb_printf(out, "-%08llx\n", fnv(sb_str(&body)) & 0xffffffffULL);
    }
    sb_append(out, sb_str(&body), body.len);
    sb_free(&body);
    sb_free(&sets);
    sb_free(&grid);
    return 0;
fail:
    sb_free(&body);
    sb_free(&sets);
    sb_free(&grid);
    return -1;
}
