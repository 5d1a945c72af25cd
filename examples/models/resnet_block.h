/* resnet_block.h — a ResNet basic block (conv 3×3 → batch_norm → relu → conv 3×3 →
 * batch_norm, plus the block's input (the residual), → relu) with C channels in and out
 * and seeded random weights, written against the public API; shared by demos, tests and
 * examples/dump_mfir.c.  Traced, it is the graph conv-bn folding and epilogue fusion are
 * shown on: two subgraphs, conv2d+relu and conv2d+add+relu. */
#ifndef MF_EXAMPLES_RESNET_BLOCK_H
#define MF_EXAMPLES_RESNET_BLOCK_H

#include "mlufuse/mlufuse.h"

typedef struct resnet_block {
    int64_t channels;
    mf_tensor *conv1_w, *conv2_w; /* [C,C,3,3], no bias (the batch norm has one) */
    mf_tensor *bn[2][4];          /* per batch norm: weight, bias, running mean, running var */
} resnet_block;

/* Conv weights uniform in ±0.2, batch-norm weight, bias and mean in [-0.5, 1), variance
 * in [0.5, 1), from seed, on dev. */
mf_status resnet_block_init(resnet_block *b, int64_t channels, uint64_t seed, mf_device dev);
void resnet_block_free(resnet_block *b);
/* The block on an [N,C,H,W] input; *out has the input's shape. */
mf_status resnet_block_forward(const resnet_block *b, const mf_tensor *input, mf_tensor **out);

/* Convenience for tests and examples: a block of `channels` with weights from seed, traced
 * on a [1,channels,hw,hw] input drawn from seed (uniform in [-1, 1)) on dev.  *input
 * receives that input (the caller frees it; NULL: freed here), *graph the traced graph,
 * whose constants keep the weights alive. */
mf_status resnet_block_trace(int64_t channels, int64_t hw, uint64_t seed, mf_device dev,
                             mf_tensor **input, mf_graph **graph);

#endif
