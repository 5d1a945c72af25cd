/* mnist.h — the seed's MNIST network (conv 1→32 3×3, relu, conv 32→64 3×3, relu,
 * max_pool 2, dropout, flatten, fc 9216→128, relu, dropout, fc 128→10, log_softmax) with
 * seeded random weights, written against the public API; shared by the demo and tests. */
#ifndef MF_EXAMPLES_MNIST_H
#define MF_EXAMPLES_MNIST_H

#include "mlufuse/mlufuse.h"

typedef struct mnist_net {
    mf_tensor *conv1_w, *conv1_b, *conv2_w, *conv2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} mnist_net;

/* Weights uniform in ±1/sqrt(fan_in) (PyTorch's default init) from seed, on dev. */
mf_status mnist_init(mnist_net *m, uint64_t seed, mf_device dev);
void mnist_free(mnist_net *m);
/* The forward pass of a [N,1,28,28] batch; *out is [N,10] log-probabilities. */
mf_status mnist_forward(const mnist_net *m, const mf_tensor *input, mf_tensor **out);

#endif
