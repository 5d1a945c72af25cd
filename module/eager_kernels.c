/* eager_kernels.c — compiled kernels for the layer-by-layer mode: an eager op on an mlu
 * runs the kernel of a one-op subgraph from the keyed instruction map, so the second call
 * with the same shapes compiles nothing.  Registered with the runtime at load time (the
 * runtime may not depend on the map).  MLUFUSE_EAGER=reference keeps the reference
 * kernels, for bisecting a wrong result. */
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* The one-op subgraph op(in...) with every operand a graph input. */
static mf_status one_op_graph(mf_op op, const mf_attr *attrs, int nin, const mf_type *in,
                              mf_graph **out)
{
    mf_graph *g = mf_graph_new("subgraph");
    mf_value *ins[64];
    mf_node *n;
    mf_status s = g ? MF_OK : mf_error(MF_ERR_NOMEM, "eager: out of memory");
    for (int i = 0; i < nin && !s; i++)
        if (!(ins[i] = mf_graph_add_input(g, NULL, &in[i])))
            s = mf_error(MF_ERR_NOMEM, "eager: out of memory");
    if (!s)
        s = mf_graph_add_node(g, op, nin, ins, attrs, &n);
    if (!s)
        s = mf_graph_set_outputs(g, 1, n->outputs);
    if (s)
        mf_graph_destroy(g);
    else
        *out = g;
    return s;
}

static mf_status provide(mf_op op, const mf_attr *attrs, int nin, const mf_type *in,
                         const mf_type *out, mf_rt_kernel_fn *fn)
{
    (void)out;
    *fn = NULL;
    if (nin > 64)
        return MF_OK;
    mf_graph *g;
    mf_status s = one_op_graph(op, attrs, nin, in, &g);
    if (s)
        return s;
    mf_cache_options co = {mf_cache_default_cpu(NULL), 3, 1};
    char why[320];
    if (!mf_cache_runs_here(co.cpu, why, sizeof why)) { /* MLUFUSE_CPU names a wider CPU */
        mf_graph_destroy(g);
        return mf_error(MF_ERR_UNSUPPORTED, "MLUFUSE_CPU: %s", why);
    }
    const mf_kernel *k;
    s = mf_mod_cache_get(g, &co, mf_op_get(op)->name, &k, NULL);
    mf_graph_destroy(g);
    if (s == MF_ERR_UNSUPPORTED || (!s && k->scratch_bytes))
        return MF_OK; /* no lowering (or one needing scratch): the reference kernel runs */
    if (!s)
        *fn = (mf_rt_kernel_fn)k->fn;
    return s;
}

__attribute__((constructor)) static void register_provider(void)
{
    const char *mode = getenv("MLUFUSE_EAGER");
    if (!mode || strcmp(mode, "reference"))
        mf_rt_set_eager_provider(provide);
}
