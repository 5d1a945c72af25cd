/* layer.h — the forward() idiom of the example networks: each layer replaces the
 * activation, dropping the old one, as a Python forward() would. */
#ifndef EXAMPLES_LAYER_H
#define EXAMPLES_LAYER_H

#include "mlufuse/mlufuse.h"

/* x = call(in_, &out_); the old x is freed; a failure returns its status. */
#define LAYER(x, call)                     \
    do {                                   \
        mf_tensor *in_ = (x), *out_;       \
        mf_status s_ = (call);             \
        mf_tensor_free(in_);               \
        if (s_)                            \
            return s_;                     \
        (x) = out_;                        \
    } while (0)

#endif
