/* interp.c — the graph interpreter: runs any graph node by node on the reference kernels
 * (through the eager path), freeing each intermediate after its last use.  It is the
 * oracle that passes and compiled modules are compared with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiler.h"
#include "runtime.h"

typedef struct interp {
    const mf_graph *g;
    mf_device dev;
    mf_tensor **vals; /* by value id */
    int *uses_left;   /* by value id */
} interp;

static mf_status check_graph_inputs(const mf_graph *g, int n_in, mf_tensor *const *inputs)
{
    if (n_in != g->ninputs)
        return mf_error(MF_ERR_INVALID, "graph @%s takes %d inputs, got %d", g->name,
                        g->ninputs, n_in);
    for (int i = 0; i < n_in; i++) {
        if (!inputs || !inputs[i])
            return mf_error(MF_ERR_INVALID, "graph @%s: input %d is NULL", g->name, i);
        if (!mf_type_equal(&inputs[i]->type, &g->inputs[i]->type)) {
            char want[128], got[128];
            return mf_error(MF_ERR_SHAPE, "graph @%s: input %d is %s, expected %s", g->name, i,
                            mf_type_str(&inputs[i]->type, got, sizeof got),
                            mf_type_str(&g->inputs[i]->type, want, sizeof want));
        }
        if (i && memcmp(&inputs[i]->device, &inputs[0]->device, sizeof(mf_device)))
            return mf_error(MF_ERR_DEVICE, "graph @%s: input %d is on another device than input 0",
                            g->name, i);
    }
    return MF_OK;
}

/* A constant as a tensor on the run's device: a view of its buffer, or a copy. */
static mf_status const_tensor(const interp *it, const mf_value *v, mf_tensor **out)
{
    if (!v->data)
        return mf_error(MF_ERR_INVALID, "graph @%s: constant %%%s has no data (opaque)",
                        it->g->name, v->name ? v->name : "?");
    mf_tensor tmp = {.type = v->type, .device = v->data->device, .storage = v->data};
    atomic_init(&tmp.refs, 1);
    if (!memcmp(&tmp.device, &it->dev, sizeof it->dev))
        return mf_rt_tensor_view(&tmp, &v->type, out);
    return mf_tensor_to(&tmp, it->dev, out);
}

static void drop_use(interp *it, const mf_value *v)
{
    if (--it->uses_left[v->id] == 0) {
        mf_tensor_free(it->vals[v->id]);
        it->vals[v->id] = NULL;
    }
}

static mf_status run_node(interp *it, const mf_node *n)
{
    mf_tensor *ins[64];
    if (n->ninputs > 64)
        return mf_error(MF_ERR_UNSUPPORTED, "node %d (%s): more than 64 inputs", n->id,
                        mf_op_get(n->op)->name);
    for (int i = 0; i < n->ninputs; i++) {
        const mf_value *v = n->inputs[i];
        if (!it->vals[v->id] && v->is_const) {
            mf_status s = const_tensor(it, v, &it->vals[v->id]);
            if (s)
                return s;
        }
        if (!it->vals[v->id])
            return mf_error(MF_ERR_INTERNAL, "node %d (%s): input %d has no value", n->id,
                            mf_op_get(n->op)->name, i);
        ins[i] = it->vals[v->id];
    }
    mf_status s = mf_rt_eager(n->op, n->attrs, n->ninputs, (const mf_tensor *const *)ins,
                              &it->vals[n->outputs[0]->id]);
    if (s)
        return mf_error_context(s, "graph @%s, node %d", it->g->name, n->id);
    for (int i = 0; i < n->ninputs; i++)
        drop_use(it, n->inputs[i]);
    return MF_OK;
}

static mf_status interpret_here(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                                mf_tensor **outputs);

/* On an mlu, eager ops may run compiled kernels: the interpreter, being the oracle, runs
 * on host copies with the reference kernels and copies its results back. */
static mf_status interpret_on_host(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                                   mf_tensor **outputs)
{
    mf_tensor **host_in = calloc((size_t)n_in + 1, sizeof *host_in);
    mf_tensor **host_out = calloc((size_t)n_out + 1, sizeof *host_out);
    mf_status s = host_in && host_out ? MF_OK : mf_error(MF_ERR_NOMEM, "graph_interpret: out of memory");
    for (int i = 0; i < n_in && !s; i++)
        s = mf_tensor_to(inputs[i], MF_DEVICE_CPU, &host_in[i]);
    if (!s)
        s = interpret_here(g, n_in, host_in, n_out, host_out);
    for (int i = 0; i < n_out && !s; i++)
        s = mf_tensor_to(host_out[i], inputs[0]->device, &outputs[i]);
    if (s)
        for (int i = 0; i < n_out; i++)
            mf_tensor_free(outputs[i]), outputs[i] = NULL;
    for (int i = 0; host_in && i < n_in; i++)
        mf_tensor_free(host_in[i]);
    for (int i = 0; host_out && i < n_out; i++)
        mf_tensor_free(host_out[i]);
    free(host_in);
    free(host_out);
    return s;
}

static mf_status interpret(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                           mf_tensor **outputs);

/* A run of the interpreter (the layer-by-layer mode of `mlufuse run`) is one profiler span,
 * its ops and copies the events inside it. */
mf_status mf_graph_interpret(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                             mf_tensor **outputs)
{
    int64_t t0 = mf_rt_prof_start();
    mf_status s = interpret(g, n_in, inputs, n_out, outputs);
    if (t0 && g) {
        mf_rt_prof_site site = {.nsteps = g->nnodes};
        snprintf(site.name, sizeof site.name, "interpret @%s", g->name);
        mf_rt_prof_stop_transient(MF_PROF_RUN, &site, t0);
    }
    return s;
}

static mf_status interpret(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                           mf_tensor **outputs)
{
    if (!g || (n_out && !outputs))
        return mf_error(MF_ERR_INVALID, "graph_interpret: %s is NULL", g ? "outputs" : "graph");
    mf_status s = check_graph_inputs(g, n_in, inputs);
    if (s)
        return s;
    if (n_out != g->noutputs)
        return mf_error(MF_ERR_INVALID, "graph @%s has %d outputs, asked for %d", g->name,
                        g->noutputs, n_out);
    for (int i = 0; i < n_out; i++)
        outputs[i] = NULL;
    if (n_in && inputs[0]->device.type != MF_CPU)
        return interpret_on_host(g, n_in, inputs, n_out, outputs);
    return interpret_here(g, n_in, inputs, n_out, outputs);
}

static mf_status interpret_here(const mf_graph *g, int n_in, mf_tensor *const *inputs, int n_out,
                                mf_tensor **outputs)
{
    mf_status s = MF_OK;
    interp it = {g, n_in ? inputs[0]->device : MF_DEVICE_CPU, NULL, NULL};
    it.vals = calloc((size_t)g->nvalues + 1, sizeof *it.vals);
    it.uses_left = calloc((size_t)g->nvalues + 1, sizeof *it.uses_left);
    if (!it.vals || !it.uses_left) {
        s = mf_error(MF_ERR_NOMEM, "graph_interpret: out of memory");
        goto done;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->ninputs; j++)
            it.uses_left[g->nodes[i]->inputs[j]->id]++;
    for (int i = 0; i < g->noutputs; i++)
        it.uses_left[g->outputs[i]->id]++; /* outputs are never dropped */
    for (int i = 0; i < n_in; i++)
        it.vals[g->inputs[i]->id] = mf_tensor_retain(inputs[i]);
    for (int i = 0; i < g->nnodes && !s; i++)
        s = run_node(&it, g->nodes[i]);
    for (int i = 0; i < n_out && !s; i++) {
        const mf_value *v = g->outputs[i];
        if (!it.vals[v->id] && v->is_const)
            s = const_tensor(&it, v, &it.vals[v->id]);
        outputs[i] = mf_tensor_retain(it.vals[v->id]);
    }
    if (s)
        for (int i = 0; i < n_out; i++)
            mf_tensor_free(outputs[i]), outputs[i] = NULL;
done:
    if (it.vals)
        for (int i = 0; i < g->nvalues; i++)
            mf_tensor_free(it.vals[i]);
    free(it.vals);
    free(it.uses_left);
    return s;
}
