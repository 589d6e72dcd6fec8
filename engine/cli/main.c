/* main.c - `alphadecay COMMAND ...`: the table of commands, the top of the layers (docs/architecture.md).
 * Every command is listed here and nowhere else; each entry point is declared in its concern's header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "prep.h"
#include "report.h"
#include "run.h"
#include "sweep.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} Command;

static const Command COMMANDS[] = {
    {"train", cmd_train, "pre-train a LLaMA model from an experiment YAML (resumes a run directory)"},
    {"eval", cmd_eval, "evaluate a checkpoint on a token shard, print one JSON line"},
    {"eval-tasks", cmd_eval_tasks, "zero-shot multiple-choice accuracy (acc, acc_norm) of a checkpoint on JSONL tasks"},
    {"prep", cmd_prep, "train a byte-level BPE tokenizer and write token shards from text/JSONL(.gz)"},
    {"sample", cmd_sample, "generate text from a checkpoint"},
    {"esd", cmd_esd, "eigenvalue spectra and power-law fits of a checkpoint's weight matrices"},
    {"sweep", cmd_sweep, "run | status | list a YAML grid of runs (local or Slurm)"},
    {"report", cmd_report, "index results, build tables and figures from YAML specs"},
    {"bench", cmd_bench, "measure GEMM peak, training throughput, ESD seconds, memory"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "alphadecay %s - module-wise weight decay (AlphaDecay) research harness\n\n", AD_VERSION);
    fprintf(f, "usage: alphadecay COMMAND [options]   (alphadecay COMMAND --help for details)\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

/* OpenMP worker threads that spin between our parallel loops steal the cores OpenBLAS's own threads
 * need for the GEMMs that follow (measured: ~11% of CPU time on an idle machine, 5-10x slowdowns on a
 * loaded one). libgomp reads OMP_WAIT_POLICY once, when it is loaded, so a process started without it
 * re-executes itself with "passive". A user's explicit setting is kept. */
static void ensure_passive_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    char self[AD_PATH_MAX];
    if (self_exe_path(self, sizeof self) > 0) execv(self, argv);
    /* exec failed: carry on with the default policy, only slower */
}

int main(int argc, char **argv) {
    ensure_passive_wait(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("alphadecay %s\n", AD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "alphadecay: unknown command '%s' (try alphadecay --help)\n", argv[1]);
    return 2;
}
