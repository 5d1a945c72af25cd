/* drop_double_relu.c — a pass library of a user's own (mlufuse_passes.h): relu(relu(x)) is
 * relu(x), so the outer relu is bypassed.  Built as build/libmf_example_passes.so:
 *     mlufuse opt model.onnx --load-pass build/libmf_example_passes.so \
 *         --passes dce,drop-double-relu,dce,segment --explain */
#include <string.h>

#include "mlufuse/mlufuse.h"

static mf_status drop_double_relu(mf_graph *g, int *changes, void *ctx)
{
    (void)ctx;
    *changes = 0;
    for (int i = 0; i < mf_graph_num_nodes(g); i++) {
        const char *op = mf_graph_node_op(g, i);
        int p = mf_graph_node_input_node(g, i, 0);
        if (strcmp(op, "relu") || p < 0 || strcmp(mf_graph_node_op(g, p), "relu"))
            continue;
        mf_status s = mf_graph_node_bypass(g, i, 0); /* the outer one goes */
        if (s)
            return s;
        ++*changes;
        i--; /* node i is now the one after it */
    }
    return MF_OK;
}

mf_status mlufuse_register_passes(void);
mf_status mlufuse_register_passes(void)
{
    return mf_pass_register("drop-double-relu", "relu(relu(x)) -> relu(x)", drop_double_relu, NULL);
}
