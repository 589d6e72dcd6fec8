/* family.c - a Holm family that spans tables (table.h, family_apply): the claims a study makes stand or
 * fall together, so their multiple-comparison correction must count all of them, not one table's.
 * A spec declares `compare: {vs: ROW, family: NAME}`; every table spec in the same directory with the
 * same family is built from its own results and its comparisons join the family; a member whose results: list
 * names a directory that does not exist yet (a grid not run; `report all` skips its table) has none to add. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kv.h"
#include "table.h"

/* "dir/" of a path ("" for a bare file name, which lives in the current directory). */
static void dir_of(const char *path, char *dir, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) kv_strfmt(dir, cap, ".");
    else kv_strfmt(dir, cap, "%.*s", (int)(slash - path), path);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The *.yaml files of dir, sorted (so the family's table list reads the same on every machine). */
static char **yaml_files(const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") || de->d_name[0] == '.') continue;
        if (*n == cap) names = realloc(names, (size_t)(cap = cap ? 2 * cap : 32) * sizeof *names);
        names[*n] = xcalloc(len + 1, 1);
        memcpy(names[(*n)++], de->d_name, len);
    }
    closedir(d);
    if (*n) qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

/* The comparisons of one other member spec, appended to *all; its name to *tables when it has any. */
static int add_member(const Spec *o, const char *root, FamTest **all, int *nall, StrBuf *tables, Err *e) {
    char dirs[SPEC_MAX_RESULTS][AD_PATH_MAX];
    for (int k = 0; k < o->nresults; k++) {
        if (o->results[k][0] == '/' || !strcmp(root, ".")) kv_strfmt(dirs[k], sizeof dirs[k], "%s", o->results[k]);
        else kv_strfmt(dirs[k], sizeof dirs[k], "%s/%s", root, o->results[k]);
        /* a member reading several grids, one not run yet, is skipped by `report all`: it has no tests. One
         * missing directory alone stays an error (a typo would silently shrink the family). */
        struct stat st;
        if (o->nresults > 1 && (stat(dirs[k], &st) || !S_ISDIR(st.st_mode))) return 0;
    }
    RunSet rs = {0};
    Table t = {0};
    int rc = -1;
    if (runs_scan_list((const char(*)[AD_PATH_MAX])dirs, o->nresults, &rs, e)) goto done;
    if (table_build(&t, o, &rs, NULL, e)) goto done;
    FamTest *f;
    int n = table_family_tests(&t, &f);
    if (n) {
        *all = realloc(*all, (size_t)(*nall + n) * sizeof **all);
        memcpy(*all + *nall, f, (size_t)n * sizeof *f);
        *nall += n;
        sb_printf(tables, "%s%s", tables->len ? ", " : "", o->name);
    }
    free(f); /* the keys moved into *all */
    rc = 0;
done:
    table_free(&t);
    runs_free(&rs);
    if (rc) {
        char msg[sizeof e->msg];
        kv_strfmt(msg, sizeof msg, "family %s: %s: %s", o->family, o->path, e->msg);
        err_set(e, "%s", msg);
    }
    return rc;
}

int family_apply(Table *t, const char *root, Err *e) {
    const Spec *s = t->spec;
    if (!s->family[0] || !s->compare_vs[0]) return 0;
    char dir[AD_PATH_MAX];
    dir_of(s->path, dir, sizeof dir);
    int nfiles, nall = 0, rc = 0;
    char **files = yaml_files(dir, &nfiles);
    FamTest *all = NULL;
    StrBuf tables = {0};
    sb_printf(&tables, "%s", "");
    Spec *o = xcalloc(1, sizeof *o);
    int self_listed = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        char path[AD_PATH_MAX];
        kv_strfmt(path, sizeof path, "%s/%s", dir, files[i]);
        Err pe = {{0}};
        /* a spec that does not parse cannot be a member: its own build reports it */
        if (spec_load(o, path, &pe) || o->is_figure || strcmp(o->family, s->family) || !o->compare_vs[0]) continue;
        if (!strcmp(o->name, s->name)) { /* this table: its comparisons are already in t */
            sb_printf(&tables, "%s%s", tables.len ? ", " : "", s->name);
            self_listed = 1;
            continue;
        }
        o->rep_mode = 0; /* the paper's numbers play no part in the tests */
        rc = add_member(o, root, &all, &nall, &tables, e);
    }
    if (!self_listed) sb_printf(&tables, "%s%s", tables.len ? ", " : "", s->name);
    if (!rc) table_family_holm(t, all, nall, tables.p);
    famtests_free(all, nall);
    for (int i = 0; i < nfiles; i++) free(files[i]);
    free(files);
    free(o);
    sb_free(&tables);
    return rc;
}
