/* args.h - the one argument parser of every command (engine/cli/main.c's table).
 *
 * A command lists its options in a table ({NULL} ends it) and calls args_parse with its name ("eval",
 * "sweep run") and its usage printer. Options are long (--seq-len VALUE or --seq-len=VALUE) with an
 * optional short alias (-j VALUE); a flag takes no value. Typed values are checked whole, with their
 * range: "--batch '0' must be an integer in [1, 2147483647]". A list option takes every following
 * argument up to the next option (--task a.jsonl b.jsonl); an each option takes one value an
 * occurrence (--set a=1 --set b=2); both append when repeated. A short alias may carry its value
 * glued on (-j4). Arguments that are not options are positional, up to max_pos of them.
 *
 * The same for every command: --help or -h prints the usage to stdout and args_parse returns 1 (exit
 * 0); a bad argument prints one line to stderr, "alphadecay CMD: WHAT (see alphadecay CMD --help)",
 * and returns 2 (exit 2). A rule the table cannot say (two options that conflict, a required one
 * missing) goes through args_usage_error, which prints the same one line and returns 2. */
#ifndef ARGS_H
#define ARGS_H

#include <stdio.h>

typedef enum { ARG_FLAG, ARG_STR, ARG_INT, ARG_LONG, ARG_DOUBLE, ARG_LIST, ARG_EACH } ArgKind;

/* ARG_LIST's (and ARG_EACH's) values: pointers into argv, in order, in caller-provided storage of cap entries. */
typedef struct {
    const char **v;
    int n, cap;
    int *occ; /* may be NULL; else cap entries: occ[k] = which occurrence of the option value k came with
                 (0, 1, ...), so "--extra a=1 b=2 --extra c=3" keeps its two groups */
    int n_occ;
} ArgList;

typedef struct {
    const char *name;  /* "--seq-len" */
    const char *alias; /* "-j", or NULL */
    ArgKind kind;
    void *out;     /* FLAG: int (set to 1); STR: const char *; INT: int; LONG: long; DOUBLE: double;
                          LIST (one or more values an occurrence), EACH (one value an occurrence): ArgList */
    double lo, hi; /* INT, LONG, DOUBLE: the allowed range, inclusive; lo = hi = 0: any finite value */
} ArgSpec;

/* 0 parsed, 1 --help printed, 2 bad usage printed. Positional arguments go to pos (may be NULL when
 * the command takes none). cmd NULL prints nothing (the ranks other than 0 of an MPI job). */
int args_parse(const char *cmd, int argc, char **argv, const ArgSpec *specs, ArgList *pos, void (*usage)(FILE *));
/* Prints "alphadecay CMD: MESSAGE (see alphadecay CMD --help)" to stderr; returns 2. */
int args_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
