/* cg_targets.h — the named targets the codegen tests compile for, and whether this host can
 * run each one's code (so a test runs only what the host executes and says what it skipped).
 * Header-only, like cg_check.h. */
#ifndef MF_TEST_CG_TARGETS_H
#define MF_TEST_CG_TARGETS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"

/* A named target and the host features its code needs (LLVM feature names). */
typedef struct named {
    const char *cpu;
    const char *needs[12];
} named;

static const named targets[] = {
    {"x86-64-v2", {"sse4.2", "popcnt", "cx16", "sahf", NULL}},
    {"haswell", {"avx2", "fma", "bmi", "bmi2", "f16c", "movbe", "lzcnt", NULL}},
    {"skylake-avx512",
     {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx2", "fma", "bmi2", "movbe",
      "lzcnt", NULL}},
    {"sandybridge", {"avx", "sse4.2", "popcnt", "cx16", "sahf", NULL}}, /* 8 lanes without FMA */
};
#define NTARGETS (int)(sizeof targets / sizeof targets[0])

/* Does the host's LLVM feature string enable every feature the target needs? */
static inline bool host_runs(const mf_cg_target *host, const named *t)
{
    char feats[4200];
    snprintf(feats, sizeof feats, ",%s,", host->features);
    for (int i = 0; t->needs[i]; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, ",+%s,", t->needs[i]);
        if (!strstr(feats, pat))
            return false;
    }
    return true;
}

/* Runs check(t) for each named target the host runs, the host and the scalar path. */
static inline void every_target(void (*check)(const mf_cg_target *), const char *what)
{
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    int ran = 0, skipped = 0;
    for (int i = 0; i < NTARGETS; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(targets[i].cpu, &t), MF_OK);
        if (!host_runs(&host, &targets[i])) {
            skipped++;
            continue;
        }
        check(&t);
        ran++;
    }
    check(&host);
    mf_cg_target scalar = host;
    scalar.shape.lanes = 1;
    check(&scalar);
    printf("  %s: %d named targets + host %s + the scalar path; %d named targets skipped (host cannot run them)\n",
           what, ran, host.cpu, skipped);
}

/* The assembly of g compiled for cpu (one partition); the caller frees it.  Needs cmocka. */
static inline char *asm_for(const mf_graph *g, const char *cpu)
{
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init(cpu, &t), MF_OK);
    mf_cg_options o = {&t, 3, 1};
    char *text = NULL;
    if (mf_cg_compile_asm(g, &o, &text))
        fail_msg("%s: %s", cpu, mf_last_error());
    return text;
}

#endif
