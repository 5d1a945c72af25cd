/* random_graph.h — seeded random DAGs of mixed ops for property tests: the one generator
 * behind the compiled-code test (tests/module/test_random_graphs.c) and the pass property
 * test (tests/passes/test_pass_property.c).  A seed always gives the same graph.
 *
 * Two distributions, chosen by trg_options:
 *   - the compiled distribution (pass_patterns false): one input f32[1..2, 2..6, 4..8, 4..8];
 *     elementwise chains with broadcast constants, conv2d (maybe grouped) with batch norm,
 *     pooling, sum/mean, softmax, flatten + linear, upsample (a CPU op), residual adds;
 *   - the pass distribution (pass_patterns true): tiny shapes (inputs at most 2x6x6x6, no
 *     value over 1024 elements), one or two inputs, one to four outputs (mostly values
 *     nothing else uses; sometimes one returned twice), all of the above plus a pattern
 *     for every graph pass:
 *     duplicate nodes and constants (cse), constant-only subexpressions (fold), x*1, 1*x,
 *     x/1, x+0, 0+x, x-0 with all-ones/zeros constants of the same, smaller (broadcast)
 *     and larger shape, nearly-identity constants, neg(neg(x)) (simplify), permute chains
 *     composing to the identity or not, reshape/flatten chains and reshapes to the same
 *     shape (simplify, dce), dropout and dead branches (dce), conv2d/linear + batch norm
 *     with constant parameters, with and without a bias, chained, and with the anchor's
 *     result used elsewhere, shared conv weights, batch norm of a linear whose channels
 *     are not dim 1 or of no anchor at all (conv-bn, folding and not), near-duplicates
 *     differing in one attribute (cse must keep them), matmul by a constant or of two
 *     activations, x op x, CPU-only ops (permute, concat, pad, slice,
 *     upsample_nearest2d), casts to f16 and back (dtype boundaries), broadcasting between
 *     activations (reductions against their input), pooling, softmax, residual adds. */
#ifndef MF_TEST_RANDOM_GRAPH_H
#define MF_TEST_RANDOM_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"

typedef struct trg_options {
    bool pass_patterns; /* false: the compiled distribution; true: the pass distribution */
} trg_options;

/* A verified graph (named "random") built from seed; fails the test (cmocka) if the
 * generator makes an invalid node.  The caller destroys it. */
mf_graph *trg_random_graph(uint64_t seed, const trg_options *o);

/* One new tensor per graph input, uniform in [-1, 1), seeded by seed (and the input's
 * index), on dev.  in must have room for g->ninputs tensors. */
void trg_random_inputs(const mf_graph *g, uint64_t seed, mf_device dev, mf_tensor **in);

#endif
