/* args.c - see args.h. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int args_usage_error(const char *cmd, const char *fmt, ...) {
    if (!cmd) return 2; /* another rank of an MPI job: rank 0 says it */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "alphadecay %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see alphadecay %s --help)\n", cmd);
    va_end(ap);
    return 2;
}

/* An option is "--name" or "-x" (a letter after one dash); anything else is a value or a positional
 * argument: "-" alone, "-1", "- item". So "--out --task" is --out without its value. */
static int looks_like_option(const char *s) {
    if (s[0] != '-') return 0;
    if (s[1] == '-') return s[2] != 0;
    return (s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z');
}

static int push(const char *cmd, ArgList *l, const char *v, const char *what) {
    if (l->n == l->cap && !what) return args_usage_error(cmd, "unexpected argument '%s'", v);
    if (l->n == l->cap) return args_usage_error(cmd, "too many values for %s (at most %d)", what, l->cap);
    if (l->occ) l->occ[l->n] = l->n_occ;
    l->v[l->n++] = v;
    return 0;
}

/* "must be an integer in [1, 8]", or ">= 1" when the top is only the type's limit */
static int range_error(const char *cmd, const ArgSpec *s, const char *v, const char *what) {
    int open_top = s->kind == ARG_INT ? s->hi >= 2147483647.0 : s->kind == ARG_LONG ? s->hi >= 9.2e18 : s->hi >= 1e300;
    if (!(s->lo != 0 || s->hi != 0)) return args_usage_error(cmd, "%s '%s' must be %s", s->name, v, what);
    if (open_top) return args_usage_error(cmd, "%s '%s' must be %s >= %.15g", s->name, v, what, s->lo);
    return args_usage_error(cmd, "%s '%s' must be %s in [%.15g, %.15g]", s->name, v, what, s->lo, s->hi);
}

static int set_value(const char *cmd, const ArgSpec *s, const char *v) {
    char *end;
    int ranged = s->lo != 0 || s->hi != 0;
    switch (s->kind) {
        case ARG_STR: *(const char **)s->out = v; return 0;
        case ARG_INT:
        case ARG_LONG: {
            errno = 0;
            long x = strtol(v, &end, 10);
            if (!*v || *end || errno || (ranged && (x < s->lo || x > s->hi)) ||
                (s->kind == ARG_INT && (x < -2147483647L - 1 || x > 2147483647L)))
                return range_error(cmd, s, v, "an integer");
            if (s->kind == ARG_INT) *(int *)s->out = (int)x;
            else *(long *)s->out = x;
            return 0;
        }
        case ARG_DOUBLE: {
            double x = strtod(v, &end);
            if (!*v || *end || !isfinite(x) || (ranged && !(x >= s->lo && x <= s->hi)))
                return range_error(cmd, s, v, "a number");
            *(double *)s->out = x;
            return 0;
        }
        default: return 0;
    }
}

int args_parse(const char *cmd, int argc, char **argv, const ArgSpec *specs, ArgList *pos, void (*usage)(FILE *)) {
    int rest = 0; /* after "--": every argument is positional */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!rest && !strcmp(a, "--")) {
            rest = 1;
            continue;
        }
        if (!rest && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            if (cmd) usage(stdout);
            return 1;
        }
        if (rest || !looks_like_option(a)) {
            if (!pos) return args_usage_error(cmd, "unexpected argument '%s'", a);
            if (push(cmd, pos, a, NULL)) return 2;
            continue;
        }
        const char *eq = !strncmp(a, "--", 2) ? strchr(a, '=') : NULL; /* --name=value */
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const ArgSpec *s = specs;
        for (; s->name; s++)
            if ((strlen(s->name) == len && !strncmp(s->name, a, len)) || (s->alias && !eq && !strcmp(s->alias, a)))
                break;
        if (!s->name && a[1] != '-' && a[2]) /* -j4: a short alias with its value glued on */
            for (s = specs; s->name; s++)
                if (s->alias && strlen(s->alias) == 2 && !strncmp(s->alias, a, 2) && s->kind != ARG_FLAG) {
                    eq = a + 1; /* the value starts after the two characters */
                    break;
                }
        if (!s->name) return args_usage_error(cmd, "unknown option %.*s", (int)len, a);
        if (s->kind == ARG_FLAG) {
            if (eq) return args_usage_error(cmd, "%s takes no value", s->name);
            *(int *)s->out = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc && !looks_like_option(argv[i + 1]) ? argv[++i] : NULL);
        if (!v) return args_usage_error(cmd, "%s needs a value", s->name);
        if (s->kind != ARG_LIST && s->kind != ARG_EACH) {
            if (set_value(cmd, s, v)) return 2;
            continue;
        }
        ArgList *l = s->out;
        if (push(cmd, l, v, s->name)) return 2;
        while (s->kind == ARG_LIST && !eq && i + 1 < argc && !looks_like_option(argv[i + 1]))
            if (push(cmd, l, argv[++i], s->name)) return 2;
        l->n_occ++;
    }
    return 0;
}
