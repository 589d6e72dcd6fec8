/* config.h - the resolved experiment configuration (docs/schemas.md, "Experiment files"): every key of an experiment
 * file, with defaults. config_load parses YAML with libyaml; errors name file:line:column.
 * Units: lr is the peak learning rate; batch sizes are sequences; steps are optimizer updates;
 * eval.tokens are target tokens; every/ keep are counts of updates / checkpoints. */
#ifndef CONFIG_H
#define CONFIG_H

#include "common.h"
#include "dataloader.h"
#include "model.h"
#include "plfit.h"

#define MAX_EXCLUDE 64

typedef enum { OPT_ADAM, OPT_ADAMW } OptimizerKind;
typedef enum { SCHED_COSINE, SCHED_LINEAR, SCHED_CONSTANT } ScheduleKind;
typedef enum { DECAY_NONE, DECAY_UNIFORM, DECAY_AWD, DECAY_ADADECAY, DECAY_ALPHADECAY } DecayMethod;
typedef enum { METRIC_ALPHA, METRIC_GRADNORM, METRIC_FNORM, METRIC_SPECTRAL_NORM } DecayMetric;
typedef enum { ASSIGN_LINEAR, ASSIGN_SQRT, ASSIGN_LOG2, ASSIGN_SIGMOID } DecayAssign;
/* token: mean loss over every evaluated target token (ours); authors: the sum of the batches' mean
 * losses divided by n_batches + 1, as the authors' (GaLore-derived) evaluation computes it */
typedef enum { EVAL_TOKEN, EVAL_AUTHORS } EvalConvention;

typedef struct {
    ModelConfig model; /* model: defaults = tiny (hidden 64, inter 172, 4 heads, 2 layers, vocab 512) */

    struct {
        char dir[AD_PATH_MAX];   /* "" (default); a directory `alphadecay prep` made: train, val and
                                     model.vocab_size come from it (config_finish) unless a later layer
                                     gives them (see layer below) */
        char train[AD_PATH_MAX]; /* train shard path (relative paths are relative to the cwd) */
        char val[AD_PATH_MAX];   /* val shard path; "" = no evaluation */
        int seq_len;             /* tokens per row, default 256 */
        DataMode mode;           /* pack (default) | pad */
        int shuffle;             /* 1 (default) */
        long train_tokens;       /* train on the shard's first N tokens only (a data-constrained subset seen
                                     for many epochs); 0 (default) = the whole shard */
        uint64_t seed;           /* 42: seeds the training shuffle only (the authors shuffle with a fixed 42;
                                     train.seed does not touch the data order unless follow_train_seed) */
        int follow_train_seed;   /* 0 (default); 1 = the shuffle seed is data.seed + train.seed, so seeds vary the
                                     data order too (train.seed 0 keeps data.seed's order) */
    } data;

    struct {
        OptimizerKind optimizer; /* adam (default, coupled L2) | adamw (decoupled) */
        double lr;               /* 1e-3 */
        double beta1, beta2;     /* 0.9, 0.999  (YAML: betas: [b1, b2]) */
        double eps;              /* 1e-8 */
        int batch_size;          /* sequences per update, 512 */
        int micro_batch_size;    /* sequences per micro-step, must divide batch_size; 0 (default) = batch_size,
                                     filled in by config_resolve */
        long steps;              /* updates, 10000 */
        long warmup_steps;       /* updates, 1000 */
        ScheduleKind schedule;   /* cosine */
        double min_lr_ratio;     /* 0.1 */
        double grad_clip;        /* 0 = off (the authors' code never clips) */
        uint64_t seed;           /* 0: the model initialisation only (data order: data.seed) */
        int threads;             /* 0 = all cores (under an MPI launcher: the cores divided by the ranks per node) */
        int zero;                /* 0 (default); 1 = data-parallel runs shard the Adam moments across ranks */
        char init[AD_PATH_MAX];  /* checkpoint dir (model.safetensors + config.json) to start from, "" = random */
        Precision dtype;         /* fp32 (default) | bf16 (mixed precision) | bf16_pure (model.h) */
    } train;

    struct {
        DecayMethod method;            /* uniform */
        double weight_decay;           /* eta, 0 */
        int update_every;              /* 500 */
        double s1, s2;                 /* 0.6666, 3 (s2 default 3 when eta >= 1e-5 for adam, else 5) */
        int s2_set;                    /* 1 when the file or --set gave s2 explicitly */
        DecayMetric metric;            /* alpha */
        DecayAssign assign;            /* linear */
        PlFit pl_fit;                  /* median */
        double xmin_pos;               /* 2 */
        double eigs_thresh;            /* 50: modules with fewer eigenvalues are not tuned */
        int filter_zeros;              /* 0: drop eigenvalues <= zero_thresh before fitting when 1 */
        double zero_thresh;            /* 1e-5 */
        int paper_form;                /* 0: code's median Hill; 1: paper's k = N/2 form */
        int fix_finger_corrected;      /* 0: code's log10 quirk; 1: corrected 0.95*xmin2 bound */
        char exclude[MAX_EXCLUDE][96]; /* HF module names (without ".weight") not tuned */
        int n_exclude;                 /* default 2: model.layers.0.self_attn.q_proj, lm_head */
        double awd_scale;              /* 100 */
        int mean_preserving;           /* 0 (default); 1 = AdaDecay / AlphaDecay rescale the tuned modules' decays at
                                     every assignment so that their size-weighted mean is eta (docs/method.md) */
        int flat; /* 0 (default); 1 = AdaDecay / AlphaDecay give every tuned module the size-weighted mean of the
                     decays they assign: the method's strength schedule without its allocation (docs/method.md) */
    } decay;

    struct {
        long every;                /* updates between evaluations, 1000; 0 = only at the end */
        long tokens;               /* target tokens per evaluation, 10,000,000: the SELECTION set (first rows) */
        long test_tokens;          /* 0 (default) = none; N = also evaluate a disjoint TEST set at every evaluation:
                                     the first N target tokens of the rows after the selection set's */
        EvalConvention convention; /* token (default) | authors (see evaluate.h) */
    } eval;

    struct {
        long every; /* updates between checkpoints, 1000; 0 = only at the end */
        int keep;   /* complete checkpoints kept, 2 */
        int bf16;   /* YAML dtype: f32 (default, 0) | bf16 (1): model.safetensors tensor type */
    } checkpoint;

    struct {
        long every; /* updates between metrics.jsonl lines, 1 */
    } log;

    /* Which layer last set the keys data.dir stands for: the file is layer 0, the i-th config_set
     * layer i (n counts them); -1 = never set. data.dir fills a key set in an earlier layer (or never),
     * so `--set data.dir=D` over a file switches corpus, and a key given with data.dir or after it wins. */
    struct {
        int n, dir, train, val, vocab;
    } layer;
    char source[AD_PATH_MAX]; /* the YAML file it came from */
    char name[128];           /* optional top-level `name:` (experiment name), "" by default */
} Config;

void config_defaults(Config *c);
/* Parse an experiment file over the defaults. Unknown keys, wrong types, bad values: -1 with
 * "FILE:LINE:COL: message". */
int config_load(Config *c, const char *path, Err *e);
/* Apply one "section.key=value" override (value parsed as YAML scalar / flow sequence). */
int config_set(Config *c, const char *assignment, Err *e);
/* Cross-field checks (batch divisible by micro batch, seq_len <= max positions, s1 <= s2, ...). */
int config_validate(const Config *c, Err *e);
/* Resolve defaults that depend on other keys (s2 from weight_decay and optimizer). */
void config_resolve(Config *c);
/* The one way from a file to a usable config: config_defaults, config_load(path), config_set of each
 * of the n_sets "section.key=value" overrides in order, config_resolve, config_validate. at (may be
 * NULL) says where it failed, for callers that place the error themselves (a sweep file's line). */
typedef enum { CONFIG_AT_LOAD, CONFIG_AT_SET, CONFIG_AT_VALIDATE } ConfigStep;
typedef struct {
    ConfigStep step;
    int set; /* CONFIG_AT_SET: the index of the override that failed */
} ConfigAt;
int config_load_resolved(Config *c, const char *path, const char *const *sets, int n_sets, ConfigAt *at, Err *e);
/* Its two halves, for a caller that changes the config in between (train.init's model shape):
 * defaults + file + overrides, then resolve + validate. */
int config_load_overrides(Config *c, const char *path, const char *const *sets, int n_sets, ConfigAt *at, Err *e);
int config_finish(Config *c, ConfigAt *at, Err *e);
/* Write the fully resolved config as YAML (with the program version) to path, atomically. */
int config_write_yaml(const Config *c, const char *path, Err *e);

/* YAML spellings of the decay method and the eval convention ("alphadecay", "token", ...). */
const char *decay_method_name(DecayMethod m);
const char *eval_convention_name(EvalConvention v);
/* 1 when "section.key" (or "name") is a key config_set accepts. */
int config_key_exists(const char *dotted);
/* The text config_write_yaml writes (malloc'd; caller frees). */
char *config_to_yaml(const Config *c);

#endif
