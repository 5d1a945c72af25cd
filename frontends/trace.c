/* trace.c — the trace recorder, as torch.jit.trace: between mf_trace_begin and
 * mf_trace_end every op call still computes its result and is also appended to a graph.
 * Tensors are matched to graph values by their unique id; a tensor the trace has not seen
 * (created before it) becomes a constant that references the tensor's storage. */
#include <stdlib.h>
#include <string.h>

#include "frontends.h"

typedef struct tracer {
    mf_graph *g;
    uint64_t *keys; /* open addressing: tensor uid -> value, 0 = empty */
    mf_value **vals;
    size_t cap, count;
    mf_status failed; /* a recording error poisons the trace until mf_trace_end */
    char failure[512];
} tracer;

static _Thread_local tracer *current;

static size_t slot_of(const tracer *t, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (t->cap - 1);
    while (t->keys[i] && t->keys[i] != key)
        i = (i + 1) & (t->cap - 1);
    return i;
}

static mf_value *lookup(const tracer *t, uint64_t key)
{
    if (!t->cap)
        return NULL;
    size_t i = slot_of(t, key);
    return t->keys[i] ? t->vals[i] : NULL;
}

static bool insert(tracer *t, uint64_t key, mf_value *v)
{
    if ((t->count + 1) * 2 > t->cap) {
        tracer grown = *t;
        grown.cap = t->cap ? t->cap * 2 : 256;
        grown.count = 0;
        grown.keys = calloc(grown.cap, sizeof *grown.keys);
        grown.vals = calloc(grown.cap, sizeof *grown.vals);
        if (!grown.keys || !grown.vals) {
            free(grown.keys);
            free(grown.vals);
            return false;
        }
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i])
                insert(&grown, t->keys[i], t->vals[i]);
        free(t->keys);
        free(t->vals);
        *t = grown;
    }
    size_t i = slot_of(t, key);
    t->count += !t->keys[i];
    t->keys[i] = key;
    t->vals[i] = v;
    return true;
}

static void tracer_free(tracer *t)
{
    if (!t)
        return;
    mf_graph_destroy(t->g);
    free(t->keys);
    free(t->vals);
    free(t);
}

int mf_trace_active(void)
{
    return current != NULL;
}

void mf_trace_abort(void)
{
    tracer_free(current);
    current = NULL;
}

mf_status mf_trace_begin(int n, mf_tensor *const *inputs)
{
    if (current)
        return mf_error(MF_ERR_INVALID, "trace_begin: a trace is already active on this thread");
    if (n < 0 || (n > 0 && !inputs))
        return mf_error(MF_ERR_INVALID, "trace_begin: bad inputs (n = %d)", n);
    for (int i = 0; i < n; i++)
        if (!inputs[i])
            return mf_error(MF_ERR_INVALID, "trace_begin: input %d is NULL", i);
    tracer *t = calloc(1, sizeof *t);
    if (!t || !(t->g = mf_graph_new("traced")))
        goto nomem;
    for (int i = 0; i < n; i++) {
        if (lookup(t, inputs[i]->uid)) {
            tracer_free(t);
            return mf_error(MF_ERR_INVALID, "trace_begin: input %d is also input %s", i,
                            "an earlier input (pass each tensor once)");
        }
        mf_value *v = mf_graph_add_input(t->g, NULL, &inputs[i]->type);
        if (!v || !insert(t, inputs[i]->uid, v))
            goto nomem;
    }
    current = t;
    return MF_OK;
nomem:
    tracer_free(t);
    return mf_error(MF_ERR_NOMEM, "trace_begin: out of memory");
}

/* The constant for a tensor from outside the trace: it references the tensor's storage
 * when the tensor covers it exactly, and copies the bytes otherwise. */
static mf_value *make_const(tracer *t, const mf_tensor *x)
{
    size_t nbytes = mf_type_nbytes(&x->type);
    mf_buffer *b;
    if (x->offset == 0 && x->storage->nbytes == nbytes) {
        b = mf_buffer_retain(x->storage);
    } else {
        if (mf_rt_device_sync(x->device) || mf_rt_alloc(x->device, nbytes, &b))
            return NULL; /* eager ops are asynchronous on an mlu: wait for x's bytes */
        memcpy(b->data, mf_rt_tensor_ptr(x), nbytes);
    }
    mf_value *v = mf_graph_add_const(t->g, NULL, &x->type, b);
    mf_buffer_release(b);
    return v && insert(t, x->uid, v) ? v : NULL;
}

static mf_status poison(tracer *t, mf_status s)
{
    t->failed = s;
    snprintf(t->failure, sizeof t->failure, "%s", mf_last_error());
    return s;
}

mf_status mf_fe_trace_record(mf_op op, const mf_attr *attrs, int nin, const mf_tensor *const *in,
                             const mf_tensor *out)
{
    tracer *t = current;
    if (!t || t->failed)
        return MF_OK;
    mf_value *vals[64];
    for (int i = 0; i < nin && i < 64; i++) {
        vals[i] = lookup(t, in[i]->uid);
        if (!vals[i] && !(vals[i] = make_const(t, in[i])))
            return poison(t, mf_error(MF_ERR_NOMEM, "trace: out of memory recording %s",
                                      mf_op_get(op)->name));
    }
    mf_node *n;
    mf_status s = mf_graph_add_node(t->g, op, nin, vals, attrs, &n);
    if (s)
        return poison(t, s);
    if (!insert(t, out->uid, n->outputs[0]))
        return poison(t, mf_error(MF_ERR_NOMEM, "trace: out of memory"));
    return MF_OK;
}

mf_status mf_trace_end(int n, mf_tensor *const *outputs, mf_graph **out)
{
    tracer *t = current;
    if (!t)
        return mf_error(MF_ERR_INVALID, "trace_end: no trace is active on this thread");
    if (!out || n < 1 || !outputs)
        return mf_error(MF_ERR_INVALID, "trace_end: needs at least one output and a graph pointer");
    if (t->failed) {
        mf_status s = mf_error(t->failed, "trace_end: recording failed earlier: %s", t->failure);
        mf_trace_abort();
        return s;
    }
    mf_value *vals[256];
    if (n > 256)
        return mf_error(MF_ERR_INVALID, "trace_end: %d outputs (at most 256)", n);
    for (int i = 0; i < n; i++) {
        vals[i] = outputs[i] ? lookup(t, outputs[i]->uid) : NULL;
        if (!vals[i])
            return mf_error(MF_ERR_INVALID,
                            "trace_end: output %d was not computed inside the trace", i);
    }
    mf_status s = mf_graph_set_outputs(t->g, n, vals);
    if (s)
        return s;
    *out = t->g;
    t->g = NULL;
    mf_trace_abort();
    return MF_OK;
}
