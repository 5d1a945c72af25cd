/* pass_graphs.h — what the passes' tests share: graphs from .mfir text whose opaque
 * constants get seeded data (so passes that read weights — winograd, pack-weights, folding —
 * have numbers to work on), and a pipeline run that counts one pass's changes. */
#ifndef MF_TEST_PASS_GRAPHS_H
#define MF_TEST_PASS_GRAPHS_H

#include <stdint.h>

#include "passes/passes.h"

/* Parses text (failing the test on an error) and fills every opaque constant from one
 * seeded sequence: f32 uniform in [lo, lo + 1), i8 uniform in -127..127; other dtypes fail
 * the test. */
mf_graph *tsupport_parse_filled(const char *text, uint64_t seed, float lo);

/* Runs the comma-separated passes on g with ctx (the verifier after each pass; folding by
 * the reference kernels), failing the test on an error; releases ctx.  Returns the first
 * pass's changes. */
int tsupport_run_passes(mf_graph *g, const char *passes, mf_pass_ctx *ctx);

/* Seeded random f32 inputs in [lo, hi) for g's inputs (cpu tensors; seeds seed, seed + 1...). */
void tsupport_rand_inputs(const mf_graph *g, uint64_t seed, double lo, double hi, mf_tensor **in);
/* Frees t[0..n). */
void tsupport_free_tensors(int n, mf_tensor **t);

#endif
