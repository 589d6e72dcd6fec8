/* reported.h - the paper's printed numbers (analysis/reported/paper_tables.csv, transcribed
 * from the paper's tables): columns table, model, optimizer, weight_decay, method, variant,
 * metric, value; one number a row. A lookup names some of those columns; every named column must
 * match (weight_decay numerically, so 1e-5 finds "1e-05"; a value ending in ";*" such as
 * "assign=sqrt;*" matches that variant with or without further keys); the others are free. */
#ifndef REPORTED_H
#define REPORTED_H

#include "common.h"
#include "spec.h"

#define REP_NCOLS 7 /* key columns before value */

typedef struct {
    char f[REP_NCOLS][64];
    double value;
} RepRow;

typedef struct {
    RepRow *rows;
    int n;
} Reported;

int reported_load(Reported *r, const char *path, Err *e);
void reported_free(Reported *r);
/* 0 found (*out), 1 no row matches, -1 several rows match (ambiguous selection) or a key is not one
 * of the CSV's columns; Err says which. */
int reported_lookup(const Reported *r, const RepSel *sel, double *out, Err *e);

#endif
