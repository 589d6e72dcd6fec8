/* esd_cmd.c - `alphadecay esd PATH`: ESD power-law analysis of any LLaMA checkpoint.
 *
 * PATH is a run directory (its newest complete checkpoint), a checkpoint directory (holding
 * model.safetensors) or a .safetensors file, ours or a Hugging Face LLaMA (F32/F16/BF16), found and
 * verified by model_open.h. Modules are recognised from HF names: every 2-D tensor named
 * "...self_attn.{q,k,v,o}_proj.weight", "...mlp.{gate,up,down}_proj.weight" or "lm_head.weight"; the
 * layer is the number after "layers.". A file without any such tensor is an error, and so is a
 * NaN/Inf weight (naming the tensor). Prints a per-module table (or --format json|csv) and a per-type
 * summary (count, mean/min/max alpha over successful fits). --save-spectra DIR writes
 * DIR/spectra.bin (esd.h format, step -1). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "esd.h"
#include "json.h"
#include "model_open.h"
#include "safetensors.h"

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: alphadecay esd PATH [--fit median|goodness-of-fit|fix-finger] [--format table|json|csv]\n"
        "                       [--save-spectra DIR] [--xmin-pos X] [--threads N] [--solver gram|svd|gram-f32]\n"
        "  PATH            a run directory (its newest complete checkpoint), a checkpoint/step_N directory\n"
        "                  (with model.safetensors) or a .safetensors file (ours or a Hugging Face LLaMA,\n"
        "                  F32/F16/BF16)\n"
        "  --fit           power-law fit of each module's ESD (default median; docs/method.md)\n"
        "  --format        table (default), json (one document) or csv (one row per module)\n"
        "  --save-spectra  write the sorted eigenvalues of every module to DIR/spectra.bin\n"
        "  --xmin-pos      median fit threshold index floor(N / X) (default 2, must be > 1)\n"
        "  --threads       modules analysed at once (default: all cores)\n"
        "  --solver        gram (W^T W in double, default), svd (dgesdd, a cross-check), gram-f32 (single precision)\n"
        "Modules: self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj, lm_head (HF names).\n");
}

static const char *TYPES[8] = {"q", "k", "v", "o", "gate", "up", "down", "lm_head"};

/* Module type index into TYPES from an HF tensor name, -1 if not a Linear weight we analyse. */
static int type_of(const char *name, int *layer) {
    static const char *suffix[8] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                                    "self_attn.o_proj.weight", "mlp.gate_proj.weight",    "mlp.up_proj.weight",
                                    "mlp.down_proj.weight",    "lm_head.weight"};
    size_t ln = strlen(name);
    const char *l = strstr(name, "layers.");
    *layer = l ? atoi(l + 7) : -1;
    for (int t = 0; t < 8; t++) {
        size_t ls = strlen(suffix[t]);
        if (ln >= ls && !strcmp(name + ln - ls, suffix[t]) && (ln == ls || name[ln - ls - 1] == '.')) return t;
    }
    return -1;
}

static void print_num(double v) {
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

static void print_table(const EsdJob *j, const int *type, const int *layer, int n) {
    printf("%-44s %5s %-7s %6s %6s %8s %8s %10s %6s %11s %8s %8s\n", "module", "layer", "type", "rows", "cols", "alpha",
           "D", "xmin", "n_tail", "spec_norm", "s_rank", "entropy");
    for (int i = 0; i < n; i++)
        printf("%-44s %5d %-7s %6d %6d %8.4f %8.5f %10.4g %6d %11.5g %8.3f %8.5f\n", j[i].name, layer[i],
               TYPES[type[i]], j[i].rows, j[i].cols, j[i].fit.alpha, j[i].fit.D, j[i].fit.xmin, j[i].fit.n_tail,
               j[i].spectral_norm, j[i].stable_rank, j[i].entropy);
}

/* One CSV field as RFC 4180 has it: quoted when it holds a comma, a quote or a line break, a quote
 * doubled (module names come from the file). */
static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(const EsdJob *j, const int *type, const int *layer, int n) {
    printf("module,layer,type,rows,cols,N,alpha,D,xmin,n_tail,sigma,status,spectral_norm,fnorm,"
           "stable_rank,alpha_weighted,alphahat,entropy,seconds\n");
    for (int i = 0; i < n; i++) {
        csv_field(j[i].name);
        printf(",%d,%s,%d,%d,%d,%.9g,%.9g,%.9g,%d,%.9g,%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.6f\n", layer[i],
               TYPES[type[i]], j[i].rows, j[i].cols, j[i].N, j[i].fit.alpha, j[i].fit.D, j[i].fit.xmin, j[i].fit.n_tail,
               j[i].fit.sigma, j[i].fit.status == PL_OK ? "ok" : "failed", j[i].spectral_norm, j[i].fnorm,
               j[i].stable_rank, j[i].alpha_weighted, j[i].alphahat, j[i].entropy, j[i].seconds);
    }
}

static void print_json(const char *path, const char *fit, const EsdJob *j, const int *type, const int *layer, int n,
                       double secs) {
    /* Names come from the file (a path, tensor names): written through the JSON string escaper. */
    printf("{\"path\": ");
    json_write_str(stdout, path);
    printf(", \"fit\": \"%s\", \"seconds\": %.6f, \"modules\": [", fit, secs);
    for (int i = 0; i < n; i++) {
        printf("%s\n  {\"module\": ", i ? "," : "");
        json_write_str(stdout, j[i].name);
        printf(", \"layer\": %d, \"type\": \"%s\", \"rows\": %d, \"cols\": %d, ", layer[i], TYPES[type[i]], j[i].rows,
               j[i].cols);
        double v[10] = {j[i].fit.alpha, j[i].fit.D,       j[i].fit.xmin,       j[i].fit.sigma, j[i].spectral_norm,
                        j[i].fnorm,     j[i].stable_rank, j[i].alpha_weighted, j[i].alphahat,  j[i].entropy};
        static const char *k[10] = {"alpha", "D",           "xmin",           "sigma",    "spectral_norm",
                                    "fnorm", "stable_rank", "alpha_weighted", "alphahat", "entropy"};
        for (int q = 0; q < 10; q++) {
            printf("\"%s\": ", k[q]);
            print_num(v[q]);
            printf(", ");
        }
        printf("\"n_tail\": %d, \"status\": \"%s\"}", j[i].fit.n_tail, j[i].fit.status == PL_OK ? "ok" : "failed");
    }
    printf("\n], \"summary\": {");
    int first = 1;
    for (int t = 0; t < 8; t++) {
        int c = 0;
        double s = 0, mn = 0, mx = 0;
        for (int i = 0; i < n; i++)
            if (type[i] == t && j[i].fit.status == PL_OK) {
                double a = j[i].fit.alpha;
                if (!c || a < mn) mn = a;
                if (!c || a > mx) mx = a;
                s += a;
                c++;
            }
        if (!c) continue;
        printf("%s\"%s\": {\"n\": %d, \"mean\": %.9g, \"min\": %.9g, \"max\": %.9g}", first ? "" : ", ", TYPES[t], c,
               s / c, mn, mx);
        first = 0;
    }
    printf("}}\n");
}

static void print_summary(const EsdJob *j, const int *type, int n) {
    printf("\n%-8s %4s %8s %8s %8s %7s\n", "type", "n", "mean", "min", "max", "failed");
    for (int t = 0; t < 8; t++) {
        int c = 0, bad = 0;
        double s = 0, mn = 0, mx = 0;
        for (int i = 0; i < n; i++) {
            if (type[i] != t) continue;
            if (j[i].fit.status != PL_OK) {
                bad++;
                continue;
            }
            double a = j[i].fit.alpha;
            if (!c || a < mn) mn = a;
            if (!c || a > mx) mx = a;
            s += a;
            c++;
        }
        if (c + bad == 0) continue;
        if (c) printf("%-8s %4d %8.4f %8.4f %8.4f %7d\n", TYPES[t], c, s / c, mn, mx, bad);
        else printf("%-8s %4d %8s %8s %8s %7d\n", TYPES[t], 0, "-", "-", "-", bad);
    }
}

static int parse_fit(const char *s, PlFit *f) {
    if (!strcmp(s, "median")) *f = FIT_MEDIAN;
    else if (!strcmp(s, "goodness-of-fit")) *f = FIT_GOODNESS;
    else if (!strcmp(s, "fix-finger")) *f = FIT_FIX_FINGER;
    else return -1;
    return 0;
}

typedef struct {
    const char *path, *fit_name, *format, *save_dir;
    PlFitOpts fit;
    int threads;
    EsdSolver solver;
} EsdArgs;

static int parse_args(int argc, char **argv, EsdArgs *a) {
    memset(a, 0, sizeof *a);
    plfit_defaults(&a->fit);
    a->fit_name = "median";
    a->format = "table";
    const char *solver = "gram", *paths[1];
    ArgList pos = {.v = paths, .cap = 1};
    const ArgSpec specs[] = {
        {"--fit", NULL, ARG_STR, &a->fit_name, 0, 0},
        {"--format", NULL, ARG_STR, &a->format, 0, 0},
        {"--save-spectra", NULL, ARG_STR, &a->save_dir, 0, 0},
        {"--xmin-pos", NULL, ARG_DOUBLE, &a->fit.xmin_pos, 0, 0},
        {"--threads", NULL, ARG_INT, &a->threads, 0, INT_MAX},
        {"--solver", NULL, ARG_STR, &solver, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("esd", argc, argv, specs, &pos, usage);
    if (u) return u;
    if (parse_fit(a->fit_name, &a->fit.method)) return args_usage_error("esd", "unknown --fit '%s'", a->fit_name);
    if (strcmp(a->format, "table") && strcmp(a->format, "json") && strcmp(a->format, "csv"))
        return args_usage_error("esd", "unknown --format '%s' (table, json, csv)", a->format);
    if (!(a->fit.xmin_pos > 1))
        return args_usage_error("esd", "--xmin-pos must be a number > 1, got '%g'", a->fit.xmin_pos);
    if (!strcmp(solver, "gram")) a->solver = ESD_GRAM;
    else if (!strcmp(solver, "svd")) a->solver = ESD_SVD;
    else if (!strcmp(solver, "gram-f32")) a->solver = ESD_GRAM_F32;
    else return args_usage_error("esd", "unknown --solver '%s' (gram, svd, gram-f32)", solver);
    if (!pos.n) return args_usage_error("esd", "missing PATH");
    a->path = paths[0];
    return 0;
}

static int save_spectra(const char *dir, const StFile *f, const EsdJob *j, const int *idx, const int *type,
                        const int *layer, int n, Err *e) {
    if (mkdir_p(dir, e)) return -1;
    SpectrumRec *r = calloc((size_t)n, sizeof *r);
    if (!r) return err_set(e, "esd: out of memory");
    for (int i = 0; i < n; i++) {
        /* record type: model.h's ModuleType of the module (MT_Q.. MT_DOWN, MT_LM_HEAD) */
        static const int mt[8] = {MT_Q, MT_K, MT_V, MT_O, MT_GATE, MT_UP, MT_DOWN, MT_LM_HEAD};
        r[i] = (SpectrumRec){j[i].name,      layer[i],      mt[type[i]], j[i].rows, j[i].cols,
                             j[i].fit.alpha, j[i].fit.xmin, j[i].N,      j[i].lam};
    }
    (void)f;
    (void)idx;
    char path[AD_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/spectra.bin", dir);
    int rc = esd_write_spectra(path, -1, r, n, e);
    free(r);
    return rc;
}

int cmd_esd(int argc, char **argv) {
    EsdArgs a;
    int u = parse_args(argc, argv, &a);
    if (u == 1) return 0;
    if (u) return u;
    Err e = {{0}};
    StFile f = {0};
    ModelFiles mf; /* the weights only: esd reads every 2-D tensor, no config.json needed */
    const char *file = mf.weights;
    if (model_open_find(a.path, &mf, NULL, &e) || safetensors_read_all(file, &f, &e)) {
        fprintf(stderr, "alphadecay esd: %s\n", e.msg);
        return 1;
    }
    EsdJob *jobs = calloc((size_t)(f.n ? f.n : 1), sizeof *jobs);
    int *type = calloc((size_t)(f.n ? f.n : 1), sizeof *type), *layer = calloc((size_t)(f.n ? f.n : 1), sizeof *layer);
    int *idx = calloc((size_t)(f.n ? f.n : 1), sizeof *idx);
    char **names = calloc((size_t)(f.n ? f.n : 1), sizeof *names); /* module names: tensor names without ".weight" */
    int n = 0, rc = 1;
    if (!jobs || !type || !layer || !idx || !names) {
        fprintf(stderr, "alphadecay esd: out of memory\n");
        goto done;
    }
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.t[i];
        int l, ty = type_of(t->name, &l);
        if (ty < 0 || t->ndim != 2) continue;
        size_t ln = strlen(t->name);
        names[n] = strndup(t->name, ln > 7 ? ln - 7 : ln); /* drop ".weight" */
        if (!names[n]) {
            fprintf(stderr, "alphadecay esd: out of memory\n");
            goto done;
        }
        jobs[n] = (EsdJob){.name = names[n], .w = t->data, .rows = (int)t->shape[0], .cols = (int)t->shape[1]};
        type[n] = ty;
        layer[n] = l;
        idx[n++] = i;
    }
    if (!n) {
        fprintf(stderr, "alphadecay esd: %s: no Linear weights (q/k/v/o/gate/up/down_proj or lm_head) found\n", file);
        goto done;
    }
    double t0 = now_seconds();
    if (esd_many(jobs, n, a.solver, &a.fit, a.threads, &e)) {
        fprintf(stderr, "alphadecay esd: %s: %s\n", file, e.msg);
        goto done;
    }
    double secs = now_seconds() - t0;
    if (!strcmp(a.format, "json")) print_json(file, a.fit_name, jobs, type, layer, n, secs);
    else if (!strcmp(a.format, "csv")) print_csv(jobs, type, layer, n);
    else {
        printf("%s: %d modules, fit %s, %.3f s\n", file, n, a.fit_name, secs);
        print_table(jobs, type, layer, n);
        print_summary(jobs, type, n);
    }
    if (a.save_dir && save_spectra(a.save_dir, &f, jobs, idx, type, layer, n, &e)) {
        fprintf(stderr, "alphadecay esd: %s\n", e.msg);
        goto done;
    }
    rc = 0;
done:
    for (int i = 0; jobs && i < n; i++) esd_job_clear(&jobs[i]);
    free(jobs);
    free(type);
    free(layer);
    free(idx);
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    safetensors_free(&f);
    return rc;
}
