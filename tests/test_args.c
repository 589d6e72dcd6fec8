/* test_args.c - the argument parser every command uses (args.h): typed values and their ranges, flags,
 * --name=value, a short alias with its value glued on (-j4), list options that stop at the next option
 * and keep each occurrence's group (sweep's --extra), repeated options, positionals and "--", negative
 * numbers as values, and the return codes (1 for --help, 2 for every bad usage: exactly one stderr line,
 * checked through a pipe). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "check.h"

static int helped;
static void usage(FILE *f) {
    (void)f;
    helped++;
}

typedef struct {
    const char *out, *lv[8], *pv[4];
    int flag, n;
    long big;
    double x;
    int occ[8];
    ArgList list, pos;
} Opts;

/* Parses the words of line (space separated, at most 31) with a fixed table; returns args_parse's code
 * and the stderr text of the call in err. */
static int parse(const char *line, Opts *o, char *err, size_t cap) {
    static char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "cmd %s", line);
    for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    memset(o, 0, sizeof *o);
    o->n = 7;
    o->list = (ArgList){.v = o->lv, .cap = 8, .occ = o->occ};
    o->pos = (ArgList){.v = o->pv, .cap = 4};
    const ArgSpec specs[] = {
        {"--out", NULL, ARG_STR, &o->out, 0, 0},
        {"--flag", "-f", ARG_FLAG, &o->flag, 0, 0},
        {"--jobs", "-j", ARG_INT, &o->n, 1, 64},
        {"--big", NULL, ARG_LONG, &o->big, 0, 0},
        {"--x", NULL, ARG_DOUBLE, &o->x, -1, 1},
        {"--list", "-l", ARG_LIST, &o->list, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(stderr);
    int saved = dup(2);
    dup2(fds[1], 2);
    int rc = args_parse("test", argc, argv, specs, &o->pos, usage);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t k = read(fds[0], err, cap - 1);
    err[k > 0 ? k : 0] = 0;
    close(fds[0]);
    return rc;
}

static int one_line(const char *err, const char *want) {
    const char *nl = strchr(err, '\n');
    return nl && !nl[1] && strstr(err, "alphadecay test: ") == err && strstr(err, want) &&
           strstr(err, " (see alphadecay test --help)\n");
}

int main(void) {
    Opts o;
    char err[1024];
    int rc = parse("--out a --flag -j 3 --big -5 --x=-0.5 p1 -- --p2", &o, err, sizeof err);
    CHECK(rc == 0 && !strcmp(o.out, "a") && o.flag && o.n == 3 && o.big == -5 && o.x == -0.5 && o.pos.n == 2 &&
              !strcmp(o.pv[0], "p1") && !strcmp(o.pv[1], "--p2") && !err[0],
          "values_flags_positionals", "rc %d n %d big %ld x %g pos %d err '%s'", rc, o.n, o.big, o.x, o.pos.n, err);
    rc = parse("-j4 -f", &o, err, sizeof err);
    CHECK(rc == 0 && o.n == 4 && o.flag, "short_alias_glued_value", "rc %d n %d", rc, o.n);
    rc = parse("--list a=1 b=2 --out o -l c=3 p", &o, err, sizeof err);
    CHECK(rc == 0 && o.list.n == 4 && !strcmp(o.lv[3], "p") && o.occ[0] == 0 && o.occ[1] == 0 && o.occ[2] == 1 &&
              o.list.n_occ == 2 && o.pos.n == 0,
          "list_stops_at_option_and_keeps_groups", "rc %d n %d occ %d %d %d", rc, o.list.n, o.occ[0], o.occ[1],
          o.occ[2]);
    rc = parse("--list=a=1 p", &o, err, sizeof err);
    CHECK(rc == 0 && o.list.n == 1 && !strcmp(o.lv[0], "a=1") && o.pos.n == 1, "list_with_equals_takes_one",
          "rc %d n %d", rc, o.list.n);
    helped = 0;
    rc = parse("--out a --help --bogus", &o, err, sizeof err);
    CHECK(rc == 1 && helped == 1 && !err[0], "help_returns_1", "rc %d helped %d", rc, helped);

    struct {
        const char *line, *want;
    } bad[] = {
        {"--bogus", "unknown option --bogus"},
        {"--bogus=3", "unknown option --bogus"},
        {"--out", "--out needs a value"},
        {"--out --flag", "--out needs a value"},
        {"-j 0", "--jobs '0' must be an integer in [1, 64]"},
        {"-j 2x", "--jobs '2x' must be an integer in [1, 64]"},
        {"--x 2", "--x '2' must be a number in [-1, 1]"},
        {"--x nan", "--x 'nan' must be a number in [-1, 1]"},
        {"--big 99999999999999999999", "--big '99999999999999999999' must be an integer"},
        {"--flag=1", "--flag takes no value"},
        {"a b c d e", "unexpected argument 'e'"},
        {"--list a b c d e f g h i", "too many values for --list (at most 8)"},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = parse(bad[i].line, &o, err, sizeof err);
        if (rc != 2 || !one_line(err, bad[i].want)) {
            all = 0;
            printf("  '%s': rc %d, stderr '%s'\n", bad[i].line, rc, err);
        }
    }
    CHECK(all, "bad_usage_one_line_exit_2", "%zu cases", sizeof bad / sizeof bad[0]);
    CHECK(args_usage_error(NULL, "x") == 2, "silent_rank_returns_2", "no");
    return check_summary();
}
