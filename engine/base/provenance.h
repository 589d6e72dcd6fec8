/* provenance.h - which build and which machine produced a run (summary.json "build" and "machine",
 * docs/formats.md). Runs of one config agree bit for bit only on one kind of machine with one build:
 * across CPU kinds the kernels' summation order and OpenBLAS's kernel choice change the last digits,
 * so a reviewer needs to see where each run came from.
 *
 * build_commit / build_flags come from a file generated at build time (scripts/build_info.sh): the
 * source commit ("abc123def456", "...-dirty" when the sources differed from it, "unknown" outside a
 * git checkout) and the instruction-set options of the compile flags ("-march=native (native: znver3)").
 *
 * cpu_identify reads /proc/cpuinfo's first processor (up to the first blank line): its "model name"
 * and the instruction-set class of its "flags". AD_CPUINFO names another file in its place: for tests only (the JSON escaping of
 * an awkward CPU name, the classes of machines the test does not run on). */
#ifndef PROVENANCE_H
#define PROVENANCE_H

const char *build_commit(void);
const char *build_flags(void);

typedef struct {
    char cpu[256];   /* model name, "unknown" when the file has none or cannot be read */
    const char *isa; /* isa_class() of the flags */
    int amx_bf16;    /* the flags list amx_bf16 (AMX tiles with bf16: oneDNN's fastest bf16 path) */
} CpuId;

void cpu_identify(CpuId *c);
/* The class of a cpuinfo flags list (space separated): "avx512_bf16" (native bf16 dot products),
 * else "avx512f", else "avx2", else "other". */
const char *isa_class(const char *flags);
/* 1 when the space-separated list holds word exactly. */
int flag_listed(const char *flags, const char *word);

#endif
