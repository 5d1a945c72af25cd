/* mnist.c — the seed's MNIST network on the public API: each layer is one op call, so it
 * runs layer by layer, or is recorded as a graph between mf_trace_begin and mf_trace_end. */
#include <math.h>
#include <string.h>

#include "layer.h"
#include "mnist.h"

static mf_status param(int rank, const int64_t *shape, int64_t fan_in, uint64_t seed,
                       mf_device dev, mf_tensor **out)
{
    double b = 1.0 / sqrt((double)fan_in);
    return mf_tensor_rand(MF_F32, rank, shape, seed, -b, b, dev, out);
}

mf_status mnist_init(mnist_net *m, uint64_t seed, mf_device dev)
{
    memset(m, 0, sizeof *m);
    struct {
        mf_tensor **t;
        int rank;
        int64_t shape[4], fan_in;
    } p[] = {
        {&m->conv1_w, 4, {32, 1, 3, 3}, 9},   {&m->conv1_b, 1, {32}, 9},
        {&m->conv2_w, 4, {64, 32, 3, 3}, 288}, {&m->conv2_b, 1, {64}, 288},
        {&m->fc1_w, 2, {128, 9216}, 9216},     {&m->fc1_b, 1, {128}, 9216},
        {&m->fc2_w, 2, {10, 128}, 128},        {&m->fc2_b, 1, {10}, 128},
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        mf_status s = param(p[i].rank, p[i].shape, p[i].fan_in, seed * 16 + i, dev, p[i].t);
        if (s) {
            mnist_free(m);
            return s;
        }
    }
    return MF_OK;
}

void mnist_free(mnist_net *m)
{
    mf_tensor *all[] = {m->conv1_w, m->conv1_b, m->conv2_w, m->conv2_b,
                        m->fc1_w,   m->fc1_b,   m->fc2_w,   m->fc2_b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mf_tensor_free(all[i]);
    memset(m, 0, sizeof *m);
}


mf_status mnist_forward(const mnist_net *m, const mf_tensor *input, mf_tensor **out)
{
    mf_tensor *x = mf_tensor_retain((mf_tensor *)input);
    mf_pool2d_params pool = {{2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 0};
    LAYER(x, mf_conv2d(in_, m->conv1_w, m->conv1_b, MF_CONV2D_DEFAULT, &out_));
    LAYER(x, mf_relu(in_, &out_));
    LAYER(x, mf_conv2d(in_, m->conv2_w, m->conv2_b, MF_CONV2D_DEFAULT, &out_));
    LAYER(x, mf_relu(in_, &out_));
    LAYER(x, mf_max_pool2d(in_, pool, &out_));
    LAYER(x, mf_dropout(in_, 0.25, &out_));
    LAYER(x, mf_flatten(in_, 1, -1, &out_));
    LAYER(x, mf_linear(in_, m->fc1_w, m->fc1_b, &out_));
    LAYER(x, mf_relu(in_, &out_));
    LAYER(x, mf_dropout(in_, 0.5, &out_));
    LAYER(x, mf_linear(in_, m->fc2_w, m->fc2_b, &out_));
    LAYER(x, mf_log_softmax(in_, 1, &out_));
    *out = x;
    return MF_OK;
}
