/* decay.c - the five weight-decay methods (docs/method.md, "The five methods") behind the hook of decay.h.
 *
 * Candidates for module-wise tuning: every Linear weight and lm_head whose HF module name (tensor name
 * without ".weight") is not in decay.exclude (default: model.layers.0.self_attn.q_proj, lm_head).
 * A candidate is tuned at an update when it also has at least eigs_thresh eigenvalues (the filter is
 * skipped when the metric is gradnorm, i.e. for AdaDecay) and its metric is valid (a failed power-law
 * fit is not: that module keeps eta for this update and its decay.jsonl line shows alpha = -1).
 * Everything else (embedding, norms, excluded and filtered modules) gets eta. With decay.mean_preserving the
 * tuned modules' decays are rescaled after each assignment so that their size-weighted mean is eta: the model's
 * size-weighted mean (wd_mean) is then eta too, Uniform's strength with the method's allocation.
 * With decay.flat every tuned module gets instead the size-weighted mean of the decays the method assigned to
 * the tuned modules at that update: the method's strength schedule without its allocation.
 *
 *   none       wd = 0 everywhere            uniform  wd = eta everywhere
 *   awd        every update: lam_bar EMA of awd_scale * eta * ||g|| / ||w|| over all tensors; wd = lam_bar
 *   adadecay   = metric gradnorm + assign sigmoid, at init (all gradnorms 10 -> eta) and whenever
 *              (step + 1) % update_every == 0
 *   alphadecay metric / assign from the config, at init on the random weights and whenever
 *              (step + 1) % update_every == 0 (before that update is applied)
 *
 * decay.jsonl: one line per tuned candidate per module-wise update (failed fits included), written with
 * a single fprintf + fflush. fit_seconds is the wall time of the whole update (ESD pass + fits +
 * assignment), the same on each line of that update: Table 10's "seconds per AlphaDecay call".
 * Spectra (esd.h format) of the tuned candidates go to spectra_dir/spectra_step<STEP>.bin at the fresh
 * start (step 0) and from decay_finish (STEP = updates done), for every method, so ESD histograms of
 * Uniform runs can be compared with AlphaDecay's. */
#include "decay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "esd.h"

/* The fit options of a resolved config's decay section. */
static void plfit_opts_from_config(PlFitOpts *o, const Config *c) {
    plfit_defaults(o);
    o->method = c->decay.pl_fit;
    o->xmin_pos = c->decay.xmin_pos;
    o->paper_form = c->decay.paper_form;
    o->fix_finger_corrected = c->decay.fix_finger_corrected;
    o->filter_zeros = c->decay.filter_zeros;
    o->zero_thresh = c->decay.zero_thresh;
}

typedef struct {
    int *cand; /* tensor indices of the candidates */
    int n_cand;
    EsdJob *jobs; /* one per candidate */
    PlFitOpts fit;
} DecayPriv;

static int method_is_modulewise(DecayMethod m) { return m == DECAY_ADADECAY || m == DECAY_ALPHADECAY; }

static DecayMetric eff_metric(const Config *c) {
    return c->decay.method == DECAY_ADADECAY ? METRIC_GRADNORM : c->decay.metric;
}
static DecayAssign eff_assign(const Config *c) {
    return c->decay.method == DECAY_ADADECAY ? ASSIGN_SIGMOID : c->decay.assign;
}

/* ---- pure pieces ---- */

double decay_awd_step(double lam_bar, double eta, double awd_scale, double gnorm, double wnorm) {
    double lam_t = awd_scale * eta * gnorm / (wnorm + 1e-8);
    return 0.1 * lam_bar + 0.9 * lam_t;
}

static void assign_sigmoid(const double *v, const int *layer, int n, double eta, double *wd) {
    for (int i = 0; i < n; i++) {
        double mean = 0, var = 0;
        int cnt = 0;
        for (int j = 0; j < n; j++)
            if (layer[j] == layer[i]) {
                mean += v[j];
                cnt++;
            }
        mean /= cnt;
        for (int j = 0; j < n; j++)
            if (layer[j] == layer[i]) var += (v[j] - mean) * (v[j] - mean);
        double z = (v[i] - mean) / (sqrt(var / cnt) + 1e-8); /* population std, as np.std */
        wd[i] = eta * 2.0 / (1.0 + exp(-4.0 * z));
    }
}

int decay_assign(DecayAssign how, const double *v, const int *layer, const char *const *names, int n, double eta,
                 double s1, double s2, double *wd, Err *e) {
    if (n <= 0) return 0;
    if (how == ASSIGN_LINEAR) {
        double lo = v[0], hi = v[0];
        for (int i = 1; i < n; i++) {
            if (v[i] < lo) lo = v[i];
            if (v[i] > hi) hi = v[i];
        }
        for (int i = 0; i < n; i++) {
            /* numpy.interp with equal end points returns the right end: every module gets s2 * eta */
            double t = hi > lo ? (v[i] - lo) / (hi - lo) : 1.0;
            double w = eta * (t * (s2 - s1) + s1);
            if (w < s1 * eta) w = s1 * eta;
            if (w > s2 * eta) w = s2 * eta;
            wd[i] = w;
        }
    } else if (how == ASSIGN_SQRT || how == ASSIGN_LOG2) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (how == ASSIGN_SQRT ? sqrt(v[i]) : log2(v[i])) + 1e-8;
        for (int i = 0; i < n; i++) wd[i] = eta * n * (how == ASSIGN_SQRT ? sqrt(v[i]) : log2(v[i])) / sum;
    } else if (how == ASSIGN_SIGMOID) {
        assign_sigmoid(v, layer, n, eta, wd);
    } else {
        return err_set(e, "decay: unknown assignment function %d", (int)how);
    }
    for (int i = 0; i < n; i++)
        if (!isfinite(wd[i]) || wd[i] < 0)
            return err_set(e,
                           "decay: the %s assignment gives weight decay %g for %s (metric %g); "
                           "use another assign or metric",
                           how == ASSIGN_LINEAR ? "linear"
                           : how == ASSIGN_SQRT ? "sqrt"
                           : how == ASSIGN_LOG2 ? "log2"
                                                : "sigmoid",
                           wd[i], names ? names[i] : "a module", v[i]);
    return 0;
}

/* sum of wd_i * size_i and of size_i, in index order: the size-weighted mean decay both rescalings keep */
static void size_weighted_sums(const double *wd, const double *size, int n, double *sw, double *s) {
    *sw = 0;
    *s = 0;
    for (int i = 0; i < n; i++) {
        *sw += wd[i] * size[i];
        *s += size[i];
    }
}

int decay_mean_preserve(double *wd, const double *size, int n, double eta, Err *e) {
    double sw, s;
    size_weighted_sums(wd, size, n, &sw, &s);
    if (n <= 0 || eta == 0) return 0;
    if (!(sw > 0) || !isfinite(sw))
        return err_set(
            e, "decay: mean_preserving: the assigned decays sum to %g, which cannot be rescaled to a mean of %g", sw,
            eta);
    double f = eta * s / sw;
    for (int i = 0; i < n; i++) wd[i] *= f;
    return 0;
}

void decay_flatten(double *wd, const double *size, int n) {
    double sw, s;
    size_weighted_sums(wd, size, n, &sw, &s);
    if (n <= 0 || !(s > 0)) return;
    double mean = sw / s;
    for (int i = 0; i < n; i++) wd[i] = mean;
}

/* ---- helpers ---- */

static void module_name(const TensorInfo *t, char *out, size_t n) {
    snprintf(out, n, "%s", t->name);
    size_t l = strlen(out);
    if (l > 7 && !strcmp(out + l - 7, ".weight")) out[l - 7] = 0;
}

static int is_excluded(const Config *c, const char *name) {
    for (int i = 0; i < c->decay.n_exclude; i++)
        if (!strcmp(c->decay.exclude[i], name)) return 1;
    return 0;
}

static void set_all(Model *m, double v) {
    for (int i = 0; i < m->n_tensors; i++) m->wd[i] = v;
}

/* The ESD pass of a data-parallel job: each rank computes the spectra and fits of the modules
 * dist_assign_balanced gives it (cost as esd_many orders them: Gram M N^2 + reduction ~2 N^3), then one
 * bitwise-OR all-reduce hands every rank every module's results, byte for byte as its owner computed
 * them. A module's results do not depend on which other modules share its pass (esd.h), so the
 * gathered fits equal a single-rank pass bit for bit. Each rank's error slot travels with the results:
 * an error on any rank is an error on every rank (they must leave the collective schedule together). */
static int esd_many_sharded(EsdJob *jobs, int n, const PlFitOpts *fit, int threads, Err *e) {
    int size = dist_size(), me = dist_rank(), mine = 0;
    double *cost = xcalloc((size_t)n + 1, sizeof *cost);
    int *owner = xcalloc((size_t)n + 1, sizeof *owner);
    EsdJob *local = xcalloc((size_t)n + 1, sizeof *local);
    size_t bytes = (size_t)size * sizeof(Err);
    for (int k = 0; k < n; k++) {
        double r = jobs[k].rows, c = jobs[k].cols, N = r < c ? r : c, M = r < c ? c : r;
        cost[k] = M * N * N + 2.0 * N * N * N;
        jobs[k].N = (int)N;
        bytes += sizeof(EsdJob) + (size_t)N * sizeof(double);
    }
    dist_assign_balanced(cost, n, size, owner);
    for (int k = 0; k < n; k++)
        if (owner[k] == me) local[mine++] = jobs[k];
    Err my_err = {{0}};
    int rc = esd_many(local, mine, ESD_GRAM, fit, threads, &my_err);
    /* pack: rank errors, then per module its whole EsdJob record and its N eigenvalues */
    unsigned char *buf = xcalloc(bytes, 1), *q = buf + (size_t)size * sizeof(Err);
    if (rc) memcpy(buf + (size_t)me * sizeof(Err), &my_err, sizeof(Err));
    for (int k = 0, i = 0; k < n; k++) {
        size_t lam_bytes = (size_t)jobs[k].N * sizeof(double);
        if (owner[k] == me) {
            memcpy(q, &local[i], sizeof(EsdJob));
            if (!rc && local[i].lam) memcpy(q + sizeof(EsdJob), local[i].lam, lam_bytes);
            free(local[i].lam);
            i++;
        }
        q += sizeof(EsdJob) + lam_bytes;
    }
    dist_or_bytes(buf, bytes);
    int failed = -1;
    for (int r = 0; r < size && failed < 0; r++)
        if (((Err *)(void *)(buf + (size_t)r * sizeof(Err)))->msg[0]) failed = r;
    q = buf + (size_t)size * sizeof(Err);
    for (int k = 0; k < n && failed < 0; k++) {
        /* the owner's record, with this rank's own inputs and a fresh lam */
        EsdJob got;
        memcpy(&got, q, sizeof got);
        got.name = jobs[k].name;
        got.w = jobs[k].w;
        got.grad = jobs[k].grad;
        got.lam = malloc((size_t)(got.N > 0 ? got.N : 1) * sizeof(double));
        if (!got.lam) {
            failed = me;
            snprintf(my_err.msg, sizeof my_err.msg, "decay: out of memory");
            break;
        }
        memcpy(got.lam, q + sizeof(EsdJob), (size_t)got.N * sizeof(double));
        esd_job_clear(&jobs[k]);
        jobs[k] = got;
        q += sizeof(EsdJob) + (size_t)got.N * sizeof(double);
    }
    if (failed >= 0) {
        const Err *fe = failed == me ? &my_err : (const Err *)(void *)(buf + (size_t)failed * sizeof(Err));
        err_set(e, "%s (on rank %d)", fe->msg, failed);
    }
    free(buf);
    free(local);
    free(owner);
    free(cost);
    return failed >= 0 ? -1 : 0;
}

/* bf16_pure (no fp32 weights): the candidates widened to fp32 a batch at a time, each batch at most an eighth
 * of the parameters (or one tensor), so the spectra cost 0.5 bytes per parameter of transient memory, not 4.
 * Every job's result is its own (esd_many's order does not change it), so batching changes no number. */
static int esd_pass_bf16(DecayState *st, Model *m, int use_grads, Err *e) {
    DecayPriv *p = st->priv;
    size_t cap = m->n_params / 8;
    for (int k = 0; k < p->n_cand; k++) cap = m->tensors[p->cand[k]].size > cap ? m->tensors[p->cand[k]].size : cap;
    int grads = use_grads && m->hg;
    float *wbuf = xcalloc(cap, sizeof(float)), *gbuf = grads ? xcalloc(cap, sizeof(float)) : NULL;
    int rc = 0;
    for (int k0 = 0, k1; k0 < p->n_cand && !rc; k0 = k1) {
        size_t used = 0;
        for (k1 = k0; k1 < p->n_cand && used + m->tensors[p->cand[k1]].size <= cap; k1++) {
            const TensorInfo *t = &m->tensors[p->cand[k1]];
            esd_job_clear(&p->jobs[k1]);
            p->jobs[k1] = (EsdJob){.name = t->name,
                                   .w = model_weight_f32(m, p->cand[k1], wbuf + used),
                                   .rows = t->rows,
                                   .cols = t->cols,
                                   .grad = grads ? model_grad_f32(m, p->cand[k1], gbuf + used) : NULL};
            used += t->size;
        }
        rc = esd_many(p->jobs + k0, k1 - k0, ESD_GRAM, &p->fit, st->cfg->train.threads, e);
        for (int k = k0; k < k1; k++) p->jobs[k].w = p->jobs[k].grad = NULL; /* the batch buffers are reused */
    }
    free(wbuf);
    free(gbuf);
    return rc;
}

/* Run the ESD pass over the candidates; grads are used for gradnorm when use_grads. */
static int esd_pass(DecayState *st, Model *m, int use_grads, Err *e) {
    DecayPriv *p = st->priv;
    if (!m->params) return esd_pass_bf16(st, m, use_grads, e); /* single process: train.c refuses ranks */
    for (int k = 0; k < p->n_cand; k++) {
        const TensorInfo *t = &m->tensors[p->cand[k]];
        esd_job_clear(&p->jobs[k]);
        p->jobs[k] = (EsdJob){.name = t->name,
                              .w = m->params + t->offset,
                              .rows = t->rows,
                              .cols = t->cols,
                              .grad = use_grads && m->grads ? m->grads + t->offset : NULL};
    }
    if (dist_size() == 1) return esd_many(p->jobs, p->n_cand, ESD_GRAM, &p->fit, st->cfg->train.threads, e);
    return esd_many_sharded(p->jobs, p->n_cand, &p->fit, st->cfg->train.threads, e);
}

/* Candidate k passes the exclusion list already; the eigenvalue-count filter applies unless the
 * metric is the gradient norm (AdaDecay skips it, as the code does). */
static int passes_filter(const DecayState *st, const EsdJob *j) {
    return eff_metric(st->cfg) == METRIC_GRADNORM || j->N >= st->cfg->decay.eigs_thresh;
}

static double metric_of(DecayMetric mt, const EsdJob *j) {
    switch (mt) {
        case METRIC_GRADNORM: return j->gradnorm;
        case METRIC_FNORM: return j->fnorm;
        case METRIC_SPECTRAL_NORM: return j->spectral_norm;
        default: return j->fit.status == PL_OK ? j->fit.alpha : NAN;
    }
}

/* One decay.jsonl record through the JSON writer (names escaped, non-finite numbers as null). */
static int log_line(RunLog *log, long step, const TensorInfo *t, const EsdJob *j, double wd, double secs, Err *e) {
    char name[96];
    module_name(t, name, sizeof name);
    StrBuf b = {0};
    rec_begin(&b);
    rec_int(&b, "step", step);
    rec_str(&b, "module", name);
    rec_int(&b, "layer", t->layer);
    rec_str(&b, "type", module_type_name(t->type));
    rec_num(&b, "alpha", "%.9g", j->fit.alpha);
    rec_num(&b, "D", "%.9g", j->fit.D);
    rec_num(&b, "xmin", "%.9g", j->fit.xmin);
    rec_int(&b, "n_tail", j->fit.n_tail);
    rec_num(&b, "spectral_norm", "%.9g", j->spectral_norm);
    rec_num(&b, "fnorm", "%.9g", j->fnorm);
    rec_num(&b, "stable_rank", "%.9g", j->stable_rank);
    rec_num(&b, "entropy", "%.9g", j->entropy);
    rec_num(&b, "gradnorm", "%.9g", j->gradnorm);
    rec_num(&b, "wd", "%.9g", wd);
    rec_num(&b, "fit_seconds", "%.9g", secs);
    rec_end(&b);
    int rc = runlog_append(log, &b, e);
    sb_free(&b);
    return rc;
}

static int save_spectra(DecayState *st, Model *m, long step, Err *e) {
    DecayPriv *p = st->priv;
    if (!st->spectra_dir[0] || dist_rank() != 0) return 0; /* rank 0 writes for the whole job */
    SpectrumRec *r = calloc((size_t)(p->n_cand ? p->n_cand : 1), sizeof *r);
    char(*names)[96] = calloc((size_t)(p->n_cand ? p->n_cand : 1), sizeof *names);
    if (!r || !names) {
        free(r);
        free(names);
        return err_set(e, "decay: out of memory");
    }
    int n = 0;
    for (int k = 0; k < p->n_cand; k++) {
        const EsdJob *j = &p->jobs[k];
        if (!passes_filter(st, j) || !j->lam) continue;
        const TensorInfo *t = &m->tensors[p->cand[k]];
        module_name(t, names[n], sizeof names[n]);
        r[n] =
            (SpectrumRec){names[n], t->layer, (int)t->type, t->rows, t->cols, j->fit.alpha, j->fit.xmin, j->N, j->lam};
        n++;
    }
    char path[AD_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/spectra_step%ld.bin", st->spectra_dir, step);
    int rc = esd_write_spectra(path, step, r, n, e);
    free(r);
    free(names);
    return rc;
}

/* One module-wise update (AdaDecay / AlphaDecay): ESD pass, metric, assignment, log. */
static int modulewise_update(DecayState *st, Model *m, long step, int use_grads, Err *e) {
    DecayPriv *p = st->priv;
    const Config *c = st->cfg;
    double eta = c->decay.weight_decay, t0 = now_seconds();
    if (esd_pass(st, m, use_grads, e)) return -1;
    int n = 0, nc = p->n_cand ? p->n_cand : 1;
    double *v = malloc(sizeof(double) * nc), *wd = malloc(sizeof(double) * nc);
    int *layer = malloc(sizeof(int) * nc), *which = malloc(sizeof(int) * nc);
    const char **names = malloc(sizeof(char *) * nc);
    if (!v || !wd || !layer || !which || !names) {
        free(v);
        free(wd);
        free(layer);
        free(which);
        free(names);
        return err_set(e, "decay: out of memory");
    }
    DecayMetric mt = eff_metric(c);
    for (int k = 0; k < p->n_cand; k++) {
        const EsdJob *j = &p->jobs[k];
        double x = metric_of(mt, j);
        if (!passes_filter(st, j) || !isfinite(x)) continue;
        const TensorInfo *t = &m->tensors[p->cand[k]];
        v[n] = x;
        layer[n] = t->layer;
        names[n] = t->name;
        which[n++] = k;
    }
    int rc = decay_assign(eff_assign(c), v, layer, names, n, eta, c->decay.s1, c->decay.s2, wd, e);
    if (rc == 0 && (c->decay.mean_preserving || c->decay.flat)) {
        double *size = malloc(sizeof(double) * nc);
        if (!size) rc = err_set(e, "decay: out of memory");
        for (int i = 0; rc == 0 && i < n; i++) size[i] = (double)m->tensors[p->cand[which[i]]].size;
        if (rc == 0 && c->decay.mean_preserving) rc = decay_mean_preserve(wd, size, n, eta, e);
        if (rc == 0 && c->decay.flat) decay_flatten(wd, size, n);
        free(size);
    }
    if (rc == 0) {
        set_all(m, eta);
        for (int i = 0; i < n; i++) m->wd[p->cand[which[i]]] = wd[i];
        double secs = now_seconds() - t0;
        for (int k = 0; st->log && rc == 0 && k < p->n_cand; k++)
            if (passes_filter(st, &p->jobs[k]))
                rc = log_line(st->log, step, &m->tensors[p->cand[k]], &p->jobs[k], m->wd[p->cand[k]], secs, e);
        st->last_update_step = step;
    }
    free(v);
    free(wd);
    free(layer);
    free(which);
    free(names);
    return rc;
}

/* ---- the hook ---- */

int decay_init(DecayState *st, const Config *cfg, Model *m, RunLog *log, const char *spectra_dir, int fresh, Err *e) {
    memset(st, 0, sizeof *st);
    st->cfg = cfg;
    st->log = log;
    snprintf(st->spectra_dir, sizeof st->spectra_dir, "%s", spectra_dir ? spectra_dir : "");
    st->awd_lambda = 0.0; /* a resume restores both with decay_restore */
    st->last_update_step = -1;
    if (!m->wd) return err_set(e, "decay: the model has no per-tensor wd array");
    DecayPriv *p = calloc(1, sizeof *p);
    if (!p) return err_set(e, "decay: out of memory");
    st->priv = p;
    plfit_opts_from_config(&p->fit, cfg);
    p->cand = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *p->cand);
    p->jobs = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *p->jobs);
    if (!p->cand || !p->jobs) return err_set(e, "decay: out of memory");
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *t = &m->tensors[i];
        char name[96];
        module_name(t, name, sizeof name);
        if ((t->kind == KIND_LINEAR || t->kind == KIND_LM_HEAD) && !is_excluded(cfg, name)) p->cand[p->n_cand++] = i;
    }
    /* A name in decay.exclude that matches no module is a typo that would silently tune the module. */
    for (int x = 0; x < cfg->decay.n_exclude; x++) {
        int found = 0;
        for (int i = 0; i < m->n_tensors && !found; i++) {
            char name[96];
            module_name(&m->tensors[i], name, sizeof name);
            found = (m->tensors[i].kind == KIND_LINEAR || m->tensors[i].kind == KIND_LM_HEAD) &&
                    !strcmp(name, cfg->decay.exclude[x]);
        }
        if (!found)
            return err_set(e,
                           "%s: decay.exclude: no module named '%s' in this model (names look like "
                           "model.layers.0.self_attn.q_proj, model.layers.%d.mlp.down_proj, lm_head)",
                           cfg->source[0] ? cfg->source : "config", cfg->decay.exclude[x],
                           m->cfg.num_hidden_layers - 1);
    }
    if (!fresh) return 0; /* resume: m->wd comes from the checkpoint, the state from decay_restore */
    double eta = cfg->decay.weight_decay;
    switch (cfg->decay.method) {
        case DECAY_NONE: set_all(m, 0.0); break;
        case DECAY_AWD: set_all(m, 0.0); break; /* lam_bar starts at 0; the first update sets it */
        case DECAY_UNIFORM: set_all(m, eta); break;
        default:
            /* step-0 assignment on the initial weights; no gradient exists yet (gradnorm = 10) */
            if (modulewise_update(st, m, 0, 0, e)) return -1;
    }
    if (!method_is_modulewise(cfg->decay.method) && st->spectra_dir[0] && esd_pass(st, m, 0, e)) return -1;
    return save_spectra(st, m, 0, e);
}

int decay_needs_grad_norm(const DecayState *st) { return st->cfg && st->cfg->decay.method == DECAY_AWD; }

int decay_before_update(DecayState *st, Model *m, long step, double grad_norm, Err *e) {
    const Config *c = st->cfg;
    if (!c || !st->priv) return err_set(e, "decay: decay_init was not called");
    switch (c->decay.method) {
        case DECAY_NONE: set_all(m, 0.0); return 0;
        case DECAY_UNIFORM: set_all(m, c->decay.weight_decay); return 0;
        case DECAY_AWD: {
            /* ||w|| in index order, as the loop's ||g|| (the order AWD's published numbers were computed in) */
            double wnorm = sqrt(sumsq_blocked(m->params, m->hw, m->n_params, 0));
            st->awd_lambda =
                decay_awd_step(st->awd_lambda, c->decay.weight_decay, c->decay.awd_scale, grad_norm, wnorm);
            if (!isfinite(st->awd_lambda))
                return err_set(e, "decay: AWD lambda is not finite at update %ld (gradient norm %g, weights %g)", step,
                               grad_norm, wnorm);
            set_all(m, st->awd_lambda);
            return 0;
        }
        default:
            /* refit whenever (step + 1) % update_every == 0, step 0 included when update_every is 1: the
         * authors' code refits there although the init assignment saw the same weights (with gradients
         * now, which AdaDecay and the gradnorm metric use) */
            if ((step + 1) % c->decay.update_every != 0) return 0;
            return modulewise_update(st, m, step, 1, e);
    }
}

int decay_finish(DecayState *st, Model *m, long step, Err *e) {
    if (!st->priv) return err_set(e, "decay: decay_init was not called");
    if (!st->spectra_dir[0]) return 0;
    if (esd_pass(st, m, 1, e)) return -1;
    return save_spectra(st, m, step, e);
}

void decay_save(const DecayState *st, DecayCkpt *out) {
    out->awd_lambda = st->awd_lambda;
    out->last_update_step = st->last_update_step;
}

void decay_restore(DecayState *st, const DecayCkpt *in) {
    st->awd_lambda = in->awd_lambda;
    st->last_update_step = in->last_update_step;
}

void decay_free(DecayState *st) {
    DecayPriv *p = st->priv;
    if (!p) return;
    for (int k = 0; p->jobs && k < p->n_cand; k++) esd_job_clear(&p->jobs[k]);
    free(p->jobs);
    free(p->cand);
    free(p);
    st->priv = NULL;
}

double decay_wd_mean(const Model *m) {
    double s = 0, n = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        s += m->wd[i] * (double)m->tensors[i].size;
        n += (double)m->tensors[i].size;
    }
    return n > 0 ? s / n : 0;
}
