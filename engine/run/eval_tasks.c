/* eval_tasks.c - `alphadecay eval-tasks --checkpoint PATH --tokenizer T --task FILE.jsonl...`: zero-shot
 * multiple-choice accuracy of a checkpoint, scored the way lm-eval-harness scores its multiple-choice
 * tasks (ARC, PIQA, HellaSwag, OBQA, WinoGrande, BoolQ: the paper's Table 3).
 *
 * Task file: one JSON object per line (docs/formats.md), either
 *   {"context": C, "choices": [A, B, ...], "gold": i}           one context, one continuation per choice
 *   {"contexts": [C1, C2, ...], "continuation": X, "gold": i}    one context per choice, a shared
 *                                                                continuation (WinoGrande's partial scoring)
 * and optionally "delimiter" (default " "), put between context and continuation.
 * For each choice the scored pair is (context, delimiter + continuation); as lm-eval does, trailing
 * whitespace of the context moves to the front of the continuation, the pair is tokenized as a whole
 * and the continuation's tokens are those after the context's own tokenization (an empty context is
 * the EOS token). Its log-likelihood is the sum over those tokens of log p(token | everything before),
 * computed from the logits in double; a pair longer than T + 1 tokens keeps its last T + 1.
 *   acc      = mean over questions of [argmax_i loglik_i == gold]
 *   acc_norm = the same with loglik_i / (characters of choice i) (the choice without delimiter; the
 *              shared continuation in the second form), lm-eval's length normalisation
 * with stderr sqrt(p (1 - p) / (n - 1)). Ties go to the first choice (numpy's argmax). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "json.h"
#include "model.h"
#include "model_open.h"
#include "run.h"
#include "tokenizer.h"

typedef struct {
    int *ids;        /* context + continuation tokens, the last T + 1 */
    int len, n_cont; /* tokens, of which the last n_cont are scored */
    double chars;    /* characters of the normalising text */
    double loglik;
} Pair;

typedef struct {
    Pair *p;
    int n, gold;
} Question;

/* UTF-8 characters (code points) of s[0..n): lm-eval normalises by Python's len(str). */
static double utf8_chars(const char *s, size_t n) {
    double c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int make_pair(Tokenizer *tk, const char *ctx, size_t nctx, const char *delim, const char *cont, size_t ncont,
                     double chars, int T, Pair *out, Err *e) {
    size_t sp = nctx; /* the context without its trailing whitespace (which joins the continuation) */
    while (sp > 0 && (ctx[sp - 1] == ' ' || ctx[sp - 1] == '\t' || ctx[sp - 1] == '\n' || ctx[sp - 1] == '\r')) sp--;
    size_t nd = strlen(delim), nw = nctx + nd + ncont;
    char *whole = malloc(nw + 1);
    if (!whole) return err_set(e, "out of memory");
    memcpy(whole, ctx, nctx);
    memcpy(whole + nctx, delim, nd);
    memcpy(whole + nctx + nd, cont, ncont);
    TokVec all = {0};
    size_t nctx_tok = 0;
    int rc = 0;
    if (sp == 0) { /* no context: EOS stands in for it and the whole text is continuation */
        rc = tokvec_push(&all, (uint32_t)tk->eos, e) || tokenizer_encode(tk, whole, nw, &all, e);
        nctx_tok = 1;
    } else {
        TokVec c = {0};
        rc = tokenizer_encode(tk, whole, nw, &all, e) || tokenizer_encode(tk, ctx, sp, &c, e);
        nctx_tok = c.n;
        tokvec_free(&c);
    }
    free(whole);
    if (rc) {
        tokvec_free(&all);
        return -1;
    }
    int n_cont = all.n > nctx_tok ? (int)(all.n - nctx_tok) : 0;
    if (n_cont < 1) {
        tokvec_free(&all);
        return err_set(e, "a choice has no tokens of its own");
    }
    size_t keep = all.n > (size_t)T + 1 ? (size_t)T + 1 : all.n;
    if ((size_t)n_cont >= keep) n_cont = (int)keep - 1; /* the first kept token only conditions */
    out->ids = malloc(keep * sizeof(int));
    if (!out->ids) {
        tokvec_free(&all);
        return err_set(e, "out of memory");
    }
    for (size_t i = 0; i < keep; i++) out->ids[i] = (int)all.v[all.n - keep + i];
    out->len = (int)keep;
    out->n_cont = n_cont;
    out->chars = chars;
    tokvec_free(&all);
    return 0;
}

/* One task line into q. */
static int parse_question(Tokenizer *tk, const Json *j, int T, Question *q, Err *e) {
    const Json *choices = json_get(j, "choices"), *contexts = json_get(j, "contexts");
    const Json *ctx = json_get(j, "context"), *cont = json_get(j, "continuation"), *g = json_get(j, "gold");
    const char *delim = json_get(j, "delimiter") ? json_str(j, "delimiter") : " ";
    int64_t gold;
    if (!delim) return err_set(e, "\"delimiter\" must be a string");
    if (!g || json_i64(g, &gold)) return err_set(e, "\"gold\" must be an integer index");
    int form = choices ? 1 : contexts ? 2 : 0;
    const Json *list = form == 1 ? choices : contexts;
    if (!form || (form == 1 && (!ctx || ctx->type != JSON_STR)) || (form == 2 && (!cont || cont->type != JSON_STR)))
        return err_set(e,
                       "expected {\"context\", \"choices\", \"gold\"} or {\"contexts\", \"continuation\", \"gold\"}");
    if (list->type != JSON_ARR || json_len(list) < 2)
        return err_set(e, "\"%s\" must be a list of at least 2 strings", form == 1 ? "choices" : "contexts");
    q->n = json_len(list);
    if (gold < 0 || gold >= q->n)
        return err_set(e, "\"gold\" %lld is not an index into %d choices", (long long)gold, q->n);
    q->gold = (int)gold;
    q->p = calloc((size_t)q->n, sizeof *q->p);
    if (!q->p) return err_set(e, "out of memory");
    for (int i = 0; i < q->n; i++) {
        const Json *it = json_at(list, i);
        if (it->type != JSON_STR) return err_set(e, "choice %d is not a string", i);
        const Json *cx = form == 1 ? ctx : it, *ct = form == 1 ? it : cont;
        if (make_pair(tk, cx->str, cx->len, delim, ct->str, ct->len, utf8_chars(ct->str, ct->len), T, &q->p[i], e))
            return -1;
    }
    return 0;
}

static void free_questions(Question *qs, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; qs[i].p && k < qs[i].n; k++) free(qs[i].p[k].ids);
        free(qs[i].p);
    }
    free(qs);
}

static int read_task(Tokenizer *tk, const char *path, int T, Question **out, int *nq, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    int cap = 64, n = 0, lineno = 0, rc = 0;
    Question *qs = calloc((size_t)cap, sizeof *qs);
    for (char *s = text; s < text + len && !rc;) {
        char *nl = memchr(s, '\n', (size_t)(text + len - s));
        size_t ll = nl ? (size_t)(nl - s) : (size_t)(text + len - s);
        lineno++;
        size_t k = 0;
        while (k < ll && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k < ll) {
            Json *j = NULL;
            if (n == cap) {
                cap *= 2;
                Question *p = realloc(qs, (size_t)cap * sizeof *qs);
                if (!p) {
                    rc = err_set(e, "out of memory");
                    break;
                }
                qs = p;
            }
            memset(&qs[n], 0, sizeof qs[n]);
            char name[AD_PATH_MAX + 32];
            snprintf(name, sizeof name, "%s:%d", path, lineno);
            if (json_parse(s, ll, name, &j, e)) rc = -1;
            else if (j->type != JSON_OBJ) rc = err_set(e, "%s: not a JSON object", name);
            else if (parse_question(tk, j, T, &qs[n], e)) {
                char msg[sizeof e->msg];
                memcpy(msg, e->msg, sizeof msg);
                rc = err_set(e, "%.300s: %.700s", name, msg);
            }
            n++;
            json_free(j);
        }
        s += ll + 1;
    }
    free(text);
    if (!rc && n == 0) rc = err_set(e, "%s: no questions", path);
    if (rc) {
        free_questions(qs, n);
        return -1;
    }
    *out = qs;
    *nq = n;
    return 0;
}

/* Log-likelihoods of up to B pairs in one forward: each row is a pair padded to T (causal attention:
 * padding after a sequence does not change its logits). */
static void score_batch(Model *m, Pair **pairs, int nb, int T, int *in) {
    int V = m->cfg.vocab_size;
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < T; t++) in[b * T + t] = t < pairs[b]->len - 1 ? pairs[b]->ids[t] : 0;
    model_forward(m, in, NULL, nb, T, NULL);
    const float *logits = model_logits(m);
    for (int b = 0; b < nb; b++) {
        const Pair *p = pairs[b];
        double ll = 0;
        for (int t = p->len - 1 - p->n_cont; t < p->len - 1; t++) {
            const float *z = logits + ((size_t)b * T + t) * V;
            double mx = z[0], s = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, z[v]);
            for (int v = 0; v < V; v++) s += exp((double)z[v] - mx);
            ll += (double)z[p->ids[t + 1]] - mx - log(s);
        }
        pairs[b]->loglik = ll;
    }
}

static void usage(FILE *f) {
    fprintf(
        f, "usage: alphadecay eval-tasks --checkpoint PATH --tokenizer T --task FILE.jsonl... [--out FILE.json]\n"
           "                            [--details FILE.jsonl] [--seq-len T] [--batch B]\n"
           "  Zero-shot multiple-choice accuracy of a model, scored as lm-eval-harness scores its\n"
           "  multiple-choice tasks: each choice's summed log-likelihood given the context; acc = the gold\n"
           "  choice scores highest, acc_norm = the same after dividing by the choice's length in characters.\n"
           "  --checkpoint: a run directory (its newest complete checkpoint), a checkpoint/step_N directory or a\n"
           "  .safetensors file. --tokenizer: the run's tokenizer.bin (its size must be the model's vocabulary),\n"
           "  or spm:PATH for a SentencePiece model (T5's spiece.model).\n"
           "  Task files: one JSON object per line, {\"context\", \"choices\", \"gold\"} or {\"contexts\",\n"
           "  \"continuation\", \"gold\"} (docs/formats.md); the task's name is the file name without .jsonl.\n"
           "  Prints (or writes to --out) {\"checkpoint\", \"tokenizer\", \"seq_len\", \"tasks\": {NAME: {n, acc,\n"
           "  acc_stderr, acc_norm, acc_norm_stderr}}}; --details writes one line per question (log-likelihoods,\n"
           "  tokens and characters per choice, predictions). Defaults: T 256 (at most the model's positions), B 8.\n");
}

typedef struct {
    const char *ckpt, *tok, *out, *details;
    const char *tasks[64]; /* at most 64 task files */
    int ntasks, T, B;
} Args;

static int parse(int argc, char **argv, Args *a) {
    memset(a, 0, sizeof *a);
    a->T = 256;
    a->B = 8;
    ArgList tasks = {.v = a->tasks, .cap = 64};
    const ArgSpec specs[] = {
        {"--checkpoint", NULL, ARG_STR, &a->ckpt, 0, 0}, {"--tokenizer", NULL, ARG_STR, &a->tok, 0, 0},
        {"--out", NULL, ARG_STR, &a->out, 0, 0},         {"--details", NULL, ARG_STR, &a->details, 0, 0},
        {"--seq-len", NULL, ARG_INT, &a->T, 1, INT_MAX}, {"--batch", NULL, ARG_INT, &a->B, 1, INT_MAX},
        {"--task", NULL, ARG_LIST, &tasks, 0, 0},        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("eval-tasks", argc, argv, specs, NULL, usage);
    if (u) return u;
    a->ntasks = tasks.n;
    if (!a->ckpt || !a->tok || !a->ntasks)
        return args_usage_error("eval-tasks", "--checkpoint, --tokenizer and --task are required");
    return 0;
}

static void task_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 6 && !strcmp(b + n - 6, ".jsonl")) n -= 6;
    snprintf(out, cap, "%.*s", (int)n, b);
}

/* Scores one task; appends its summary to res and its questions to details. */
static int run_task(Model *m, Tokenizer *tk, const Args *a, const char *path, int *in, StrBuf *res, FILE *det, Err *e) {
    Question *qs;
    int nq;
    if (read_task(tk, path, a->T, &qs, &nq, e)) return -1;
    for (int v = 0; v < nq; v++)
        for (int k = 0; k < qs[v].n; k++)
            for (int t = 0; t < qs[v].p[k].len; t++)
                if (qs[v].p[k].ids[t] >= m->cfg.vocab_size) {
                    free_questions(qs, nq);
                    return err_set(e,
                                   "%s: question %d: token %d is outside the model's vocabulary of %d (wrong "
                                   "tokenizer?)",
                                   path, v + 1, qs[v].p[k].ids[t], m->cfg.vocab_size);
                }
    Pair **batch = malloc((size_t)a->B * sizeof *batch);
    int nb = 0;
    for (int v = 0; v < nq; v++)
        for (int k = 0; k < qs[v].n; k++) {
            batch[nb++] = &qs[v].p[k];
            if (nb == a->B) {
                score_batch(m, batch, nb, a->T, in);
                nb = 0;
            }
        }
    if (nb) score_batch(m, batch, nb, a->T, in);
    free(batch);
    double acc = 0, accn = 0;
    char name[256];
    task_name(path, name, sizeof name);
    for (int v = 0; v < nq; v++) {
        const Question *q = &qs[v];
        int best = 0, bestn = 0;
        for (int k = 1; k < q->n; k++) {
            if (q->p[k].loglik > q->p[best].loglik) best = k;
            if (q->p[k].loglik / q->p[k].chars > q->p[bestn].loglik / q->p[bestn].chars) bestn = k;
        }
        acc += best == q->gold;
        accn += bestn == q->gold;
        if (det) {
            fprintf(det, "{\"task\": ");
            json_write_str(det, name);
            fprintf(det, ", \"index\": %d, \"gold\": %d, \"pred\": %d, \"pred_norm\": %d, \"loglik\": [", v, q->gold,
                    best, bestn);
            for (int k = 0; k < q->n; k++) fprintf(det, "%s%.17g", k ? ", " : "", q->p[k].loglik);
            fprintf(det, "], \"tokens\": [");
            for (int k = 0; k < q->n; k++) fprintf(det, "%s%d", k ? ", " : "", q->p[k].n_cont);
            fprintf(det, "], \"chars\": [");
            for (int k = 0; k < q->n; k++) fprintf(det, "%s%.0f", k ? ", " : "", q->p[k].chars);
            fprintf(det, "]}\n");
        }
    }
    acc /= nq;
    accn /= nq;
    double se = nq > 1 ? sqrt(acc * (1 - acc) / (nq - 1)) : NAN,
           sen = nq > 1 ? sqrt(accn * (1 - accn) / (nq - 1)) : NAN;
    sb_printf(res, "%s\n    ", res->len > 0 && res->p[res->len - 1] != '{' ? "," : "");
    sb_json_str(res, name);
    sb_printf(res, ": {\"file\": ");
    sb_json_str(res, path);
    sb_printf(res, ", \"n\": %d, \"acc\": ", nq);
    sb_json_num(res, acc);
    sb_printf(res, ", \"acc_stderr\": ");
    sb_json_num(res, se);
    sb_printf(res, ", \"acc_norm\": ");
    sb_json_num(res, accn);
    sb_printf(res, ", \"acc_norm_stderr\": ");
    sb_json_num(res, sen);
    sb_printf(res, "}");
    fprintf(stderr, "eval-tasks: %s: %d questions, acc %.4f, acc_norm %.4f\n", name, nq, acc, accn);
    free_questions(qs, nq);
    return 0;
}

int cmd_eval_tasks(int argc, char **argv) {
    Args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr == 1 ? 0 : 2;
    Err e;
    ModelFiles mf;
    ModelConfig mc;
    Model m = {0};
    Tokenizer tk;
    int have_tok = 0, *in = NULL, rc = 1;
    FILE *det = NULL;
    StrBuf res = {0};
    if (model_open_find(a.ckpt, &mf, &mc, &e)) goto done;
    if (a.T > mc.max_position_embeddings) a.T = mc.max_position_embeddings;
    if (tokenizer_open(&tk, a.tok, &e)) goto done;
    have_tok = 1;
    /* Our tokenizer.bin made the model's vocabulary: it must be that size, as sample requires. A
     * SentencePiece model may be smaller than the embedding (T5's 32000 pieces, a padded table). */
    if (tk.is_spm ? tk.vocab_size > mc.vocab_size : tk.vocab_size != mc.vocab_size) {
        err_set(&e, "%s has vocab size %d but the model in %s has %d: use the tokenizer the shards were made with",
                a.tok, tk.vocab_size, mf.dir, mc.vocab_size);
        goto done;
    }
    if (model_open_load(&mf, &mc, &m, &e) || model_alloc_acts(&m, a.B, a.T, &e)) goto done;
    in = xcalloc((size_t)a.B * a.T, sizeof(int));
    if (a.details && !(det = fopen(a.details, "w"))) {
        err_set(&e, "%s: cannot write", a.details);
        goto done;
    }
    sb_printf(&res, "{\"checkpoint\": ");
    sb_json_str(&res, a.ckpt);
    sb_printf(&res, ", \"tokenizer\": ");
    sb_json_str(&res, a.tok);
    sb_printf(&res, ", \"seq_len\": %d, \"tasks\": {", a.T);
    for (int i = 0; i < a.ntasks; i++)
        if (run_task(&m, &tk, &a, a.tasks[i], in, &res, det, &e)) goto done;
    sb_printf(&res, "\n}}\n");
    if (det && fclose(det)) {
        det = NULL;
        err_set(&e, "%s: write failed", a.details);
        goto done;
    }
    det = NULL;
    if (a.out) {
        if (write_file_atomic(a.out, res.p, res.len, &e)) goto done;
    } else fputs(res.p, stdout);
    rc = 0;
done:
    if (rc) fprintf(stderr, "alphadecay eval-tasks: %s\n", e.msg);
    if (det) fclose(det);
    sb_free(&res);
    free(in);
    if (have_tok) tokenizer_close(&tk);
    model_free(&m);
    return rc;
}
