/* resnet_block.c — a ResNet basic block on the public API: each layer is one op call, so it
 * runs layer by layer, or is recorded as a graph between mf_trace_begin and mf_trace_end. */
#include <string.h>

#include "layer.h"
#include "resnet_block.h"

mf_status resnet_block_init(resnet_block *b, int64_t channels, uint64_t seed, mf_device dev)
{
    memset(b, 0, sizeof *b);
    b->channels = channels;
    const int64_t c = channels, w_shape[4] = {c, c, 3, 3};
    mf_status s = mf_tensor_rand(MF_F32, 4, w_shape, seed * 16, -0.2, 0.2, dev, &b->conv1_w);
    if (!s)
        s = mf_tensor_rand(MF_F32, 4, w_shape, seed * 16 + 1, -0.2, 0.2, dev, &b->conv2_w);
    for (int i = 0; i < 2 && !s; i++)
        for (int k = 0; k < 4 && !s; k++) /* k == 3: the variance, kept positive */
            s = mf_tensor_rand(MF_F32, 1, &c, seed * 16 + 2 + 4 * (uint64_t)i + (uint64_t)k, k == 3 ? 0.5 : -0.5,
                               1, dev, &b->bn[i][k]);
    if (s)
        resnet_block_free(b);
    return s;
}

void resnet_block_free(resnet_block *b)
{
    mf_tensor_free(b->conv1_w);
    mf_tensor_free(b->conv2_w);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++)
            mf_tensor_free(b->bn[i][k]);
    memset(b, 0, sizeof *b);
}


mf_status resnet_block_forward(const resnet_block *b, const mf_tensor *input, mf_tensor **out)
{
    mf_tensor *x = mf_tensor_retain((mf_tensor *)input); /* input outlives layer 1: the residual */
    mf_conv2d_params p = MF_CONV2D_DEFAULT;
    p.padding[0] = p.padding[1] = 1;
    LAYER(x, mf_conv2d(in_, b->conv1_w, NULL, p, &out_));
    LAYER(x, mf_batch_norm(in_, b->bn[0][0], b->bn[0][1], b->bn[0][2], b->bn[0][3], 1e-5, &out_));
    LAYER(x, mf_relu(in_, &out_));
    LAYER(x, mf_conv2d(in_, b->conv2_w, NULL, p, &out_));
    LAYER(x, mf_batch_norm(in_, b->bn[1][0], b->bn[1][1], b->bn[1][2], b->bn[1][3], 1e-5, &out_));
    LAYER(x, mf_add(in_, input, 1, &out_)); /* the residual */
    LAYER(x, mf_relu(in_, &out_));
    *out = x;
    return MF_OK;
}

mf_status resnet_block_trace(int64_t channels, int64_t hw, uint64_t seed, mf_device dev,
                             mf_tensor **input, mf_graph **graph)
{
    resnet_block b;
    mf_tensor *x = NULL, *y = NULL;
    *graph = NULL;
    if (input)
        *input = NULL;
    mf_status s = resnet_block_init(&b, channels, seed, dev);
    if (s)
        return s;
    s = mf_tensor_rand(MF_F32, 4, (int64_t[]){1, channels, hw, hw}, seed * 16 + 15, -1, 1, dev, &x);
    if (!s)
        s = mf_trace_begin(1, &x);
    if (!s) {
        s = resnet_block_forward(&b, x, &y);
        if (s)
            mf_trace_abort();
        else
            s = mf_trace_end(1, &y, graph);
    }
    mf_tensor_free(y);
    resnet_block_free(&b);
    if (!s && input)
        *input = x;
    else
        mf_tensor_free(x);
    return s;
}
