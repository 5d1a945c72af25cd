/* onnx_stage.c — the split of a staged ONNX run.  A model whose shapes depend on its data
 * (NonZero, NonMaxSuppression on computed boxes, If on a computed condition, a Reshape or
 * TopK k computed from a count) is imported stage by stage: each stage starts from the
 * values earlier stages computed, as constants, and stops before the first entry that
 * fails while it reads a value computed in the stage itself.  The stage's graph then
 * computes the values that the rest of the model reads, and the next stage, which knows
 * them, resumes at that entry.  A static model is one stage. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

struct mf_onnx_model {
    Onnx__ModelProto *m;
    int ninputs;
    const char **inputs; /* graph inputs that are not initializers */
    const char **inits;  /* the initializers' names, sorted */
};

/* A sorted set of names (borrowed strings). */
typedef struct name_set {
    const char **v;
    int n, cap;
    bool nomem;
} name_set;

static void set_add(const char *name, void *ctx)
{
    name_set *s = ctx;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        const char **v = realloc(s->v, sizeof *v * (size_t)cap);
        if (!v) {
            s->nomem = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = name;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the set and drops repeats. */
static void set_seal(name_set *s)
{
    if (s->n)
        qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_name);
    int k = 0;
    for (int i = 0; i < s->n; i++)
        if (!k || strcmp(s->v[k - 1], s->v[i]))
            s->v[k++] = s->v[i];
    s->n = k;
}

static bool set_has(const name_set *s, const char *name)
{
    return s->n && bsearch(&name, s->v, (size_t)s->n, sizeof *s->v, cmp_name);
}

static bool keep_referenced(const char *name, void *ctx)
{
    return set_has(ctx, name);
}

/* ---- the model ---- */

void mf_onnx_model_free(mf_onnx_model *m)
{
    if (!m)
        return;
    if (m->m)
        onnx__model_proto__free_unpacked(m->m, NULL);
    free(m->inputs);
    free(m->inits);
    free(m);
}

static bool no_initializers(const char *name, void *ctx)
{
    (void)name, (void)ctx;
    return false;
}

mf_status mf_onnx_model_load(const char *path, mf_onnx_model **out)
{
    if (!path || !out)
        return mf_error(MF_ERR_INVALID, "onnx: %s is NULL", path ? "out" : "path");
    *out = NULL;
    char *buf;
    size_t size;
    mf_status s = onnx_read_file(path, &buf, &size);
    if (s)
        return s;
    mf_onnx_model *m = calloc(1, sizeof *m);
    if (m)
        m->m = onnx__model_proto__unpack(NULL, size, (const uint8_t *)buf);
    free(buf);
    if (!m || !m->m) {
        mf_onnx_model_free(m);
        return m ? mf_error(MF_ERR_PARSE, "onnx: %s is not a valid ONNX model (protobuf decoding failed)", path)
                 : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    }
    /* Check the opset and the op types once, on a graph that takes no initializer. */
    onnx_importer im = {.g = mf_graph_new("check")};
    s = im.g ? onnx_prologue(&im, m->m, no_initializers, NULL) : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_graph_destroy(im.g);
    onnx_importer_free(&im);
    const Onnx__GraphProto *gp = m->m->graph;
    if (!s) {
        m->inputs = calloc(gp->n_input + 1, sizeof *m->inputs);
        m->inits = calloc(gp->n_initializer + 1, sizeof *m->inits);
        if (!m->inputs || !m->inits)
            s = mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    }
    for (size_t i = 0; !s && i < gp->n_initializer; i++)
        m->inits[i] = gp->initializer[i]->name ? gp->initializer[i]->name : "";
    if (!s && gp->n_initializer)
        qsort(m->inits, gp->n_initializer, sizeof *m->inits, cmp_name);
    name_set inits = {m->inits, (int)gp->n_initializer, 0, false};
    for (size_t i = 0; !s && i < gp->n_input; i++)
        if (gp->input[i]->name && !set_has(&inits, gp->input[i]->name))
            m->inputs[m->ninputs++] = gp->input[i]->name;
    if (s) {
        mf_error_context(s, "%s", path);
        mf_onnx_model_free(m);
        return s;
    }
    *out = m;
    return MF_OK;
}

int mf_onnx_model_num_inputs(const mf_onnx_model *m)
{
    return m ? m->ninputs : 0;
}

int mf_onnx_model_num_outputs(const mf_onnx_model *m)
{
    return m ? (int)m->m->graph->n_output : 0;
}

/* ---- a run ---- */

struct mf_onnx_staging {
    const mf_onnx_model *model;
    mf_tensor **inputs; /* for the first stage */
    int ninputs;
    onnx_flow flow;
    int pos;     /* the entry the next stage starts at */
    bool first, done;
    int nknown;  /* the values the next stage starts from, by resolved name */
    char **kname;
    mf_tensor **kval;
    int *kout; /* -1, or the stage graph's output that gives the value (fed later) */
};

static void forget_known(mf_onnx_staging *st)
{
    for (int i = 0; i < st->nknown; i++) {
        free(st->kname[i]);
        mf_tensor_free(st->kval[i]);
    }
    free(st->kname);
    free(st->kval);
    free(st->kout);
    st->kname = NULL, st->kval = NULL, st->kout = NULL;
    st->nknown = 0;
}

void mf_onnx_staging_free(mf_onnx_staging *st)
{
    if (!st)
        return;
    forget_known(st);
    for (int i = 0; i < st->ninputs; i++)
        mf_tensor_free(st->inputs[i]);
    free(st->inputs);
    onnx_flow_free(&st->flow);
    free(st);
}

mf_status mf_onnx_staging_begin(const mf_onnx_model *m, int n_in, mf_tensor *const *inputs, mf_onnx_staging **out)
{
    if (!m || !out || (n_in > 0 && !inputs))
        return mf_error(MF_ERR_INVALID, "onnx: %s is NULL", !m ? "the model" : !out ? "out" : "the input list");
    *out = NULL;
    if (n_in != m->ninputs)
        return mf_error(MF_ERR_INVALID, "onnx: the model has %d inputs, %d given", m->ninputs, n_in);
    for (int i = 0; i < n_in; i++)
        if (!inputs[i])
            return mf_error(MF_ERR_INVALID, "onnx: input %d ('%s') is NULL", i, m->inputs[i]);
    mf_onnx_staging *st = calloc(1, sizeof *st);
    if (!st || !(st->inputs = calloc((size_t)n_in + 1, sizeof *st->inputs))) {
        free(st);
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    }
    st->model = m;
    st->first = true;
    for (int i = 0; i < n_in; i++)
        st->inputs[st->ninputs++] = mf_tensor_retain(inputs[i]);
    mf_status s = onnx_flow_init(&st->flow, m->m->graph);
    if (s) {
        mf_onnx_staging_free(st);
        return s;
    }
    *out = st;
    return MF_OK;
}

/* Defines the values known from earlier stages as constants of this one. */
static mf_status define_known(onnx_importer *im, const mf_onnx_staging *st)
{
    for (int i = 0; i < st->nknown; i++) {
        const mf_tensor *t = st->kval[i];
        mf_type type = {mf_tensor_dtype(t), mf_tensor_rank(t), {0}};
        memcpy(type.shape, mf_tensor_shape(t), sizeof(int64_t) * (size_t)type.rank);
        mf_value *v = onnx_const(im, &type, mf_tensor_data(t));
        if (!v)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        mf_status s = onnx_define(im, st->kname[i], v);
        if (s)
            return s;
    }
    return MF_OK;
}

/* The names read from entry `from` on, and the model's outputs. */
static name_set read_from(const mf_onnx_staging *st, int from)
{
    name_set s = {0};
    const Onnx__GraphProto *gp = st->model->m->graph;
    for (int i = from; i >= 0 && i < st->flow.n; i++)
        onnx_flow_refs(&st->flow, i, set_add, &s);
    for (size_t i = 0; i < gp->n_output; i++)
        set_add(gp->output[i]->name ? gp->output[i]->name : "", &s);
    set_seal(&s);
    return s;
}

/* Keeps what later stages read: constants now, computed values as graph outputs (fed). */
static mf_status carry(onnx_importer *im, mf_onnx_staging *st, const name_set *need, bool last)
{
    mf_onnx_staging old = *st; /* the importer still reads the old names: freed at the end */
    st->nknown = 0;
    st->kname = calloc((size_t)need->n + 1, sizeof *st->kname);
    st->kval = calloc((size_t)need->n + 1, sizeof *st->kval);
    st->kout = calloc((size_t)need->n + 1, sizeof *st->kout);
    mf_value **outs = calloc((size_t)need->n + 1, sizeof *outs);
    int nouts = 0;
    mf_status s = st->kname && st->kval && st->kout && outs ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    name_set inits = {st->model->inits, (int)st->model->m->graph->n_initializer, 0, false};
    for (int i = 0; i < need->n && !s; i++) {
        mf_value *v = onnx_lookup(im, need->v[i]);
        if (!v || (!last && v->is_const && set_has(&inits, need->v[i])))
            continue; /* computed later, or a weight every stage has */
        int k = st->nknown;
        st->kout[k] = -1;
        int in = 0;
        while (in < im->g->ninputs && im->g->inputs[in] != v)
            in++;
        if (in < im->g->ninputs) { /* a graph input itself (the first stage's) */
            s = mf_tensor_to(st->inputs[in], MF_DEVICE_CPU, &st->kval[k]);
        } else if (v->is_const) {
            size_t nbytes = 0;
            s = mf_type_check(&v->type, "onnx: a staged value", NULL, &nbytes);
            if (!s)
                s = mf_tensor_from_data(v->type.dtype, v->type.rank, v->type.shape, v->data->data, nbytes,
                                        &st->kval[k]);
        } else {
            int o = 0;
            while (o < nouts && outs[o] != v)
                o++;
            if (o == nouts)
                outs[nouts++] = v;
            st->kout[k] = o;
        }
        if (!s && !(st->kname[k] = strdup(need->v[i])))
            s = mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        if (!s)
            st->nknown++;
        else
            mf_tensor_free(st->kval[k]);
    }
    if (!s)
        s = mf_graph_set_outputs(im->g, nouts, outs);
    free(outs);
    forget_known(&old);
    return s;
}

mf_status mf_onnx_staging_next(mf_onnx_staging *st, mf_graph **g, bool *last)
{
    if (!st || !g || !last)
        return mf_error(MF_ERR_INVALID, "onnx: staging_next: NULL argument");
    *g = NULL;
    *last = st->done;
    if (st->done)
        return mf_error(MF_ERR_INVALID, "onnx: the run has no stage left");
    for (int i = 0; i < st->nknown; i++)
        if (!st->kval[i])
            return mf_error(MF_ERR_INVALID, "onnx: the previous stage's values were not fed");
    /* The first stage takes the model's inputs as graph inputs of their shapes (so that
     * nothing big folds at import); later ones only the values they read, as constants. */
    onnx_importer im = {.staged = !st->first, .flow = &st->flow, .g = mf_graph_new("stage")};
    if (st->first)
        im.nshaped = st->ninputs, im.shaped_like = st->inputs;
    name_set refs = st->first ? (name_set){0} : read_from(st, st->pos);
    int stop = -1;
    mf_status s = im.g ? define_known(&im, st) : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    if (!s)
        s = onnx_prologue(&im, st->model->m, st->first ? NULL : keep_referenced, &refs);
    if (!s)
        s = onnx_add_inputs(&im, st->model->m->graph, 0);
    if (!s && refs.nomem)
        s = mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    if (!s)
        s = onnx_walk(&im, st->pos, &stop);
    free(refs.v);
    name_set need = s ? (name_set){0} : read_from(st, stop);
    if (!s && need.nomem)
        s = mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    const Onnx__GraphProto *gp = st->model->m->graph;
    for (size_t i = 0; stop < 0 && !s && i < gp->n_output; i++)
        if (!onnx_lookup(&im, gp->output[i]->name ? gp->output[i]->name : ""))
            s = mf_error(MF_ERR_PARSE, "onnx: graph output '%s' is never computed", gp->output[i]->name);
    if (!s)
        s = carry(&im, st, &need, stop < 0);
    free(need.v);
    onnx_importer_free(&im);
    if (s || !mf_graph_num_outputs(im.g)) {
        mf_graph_destroy(im.g);
        im.g = NULL;
    }
    if (s)
        return s;
    if (stop >= 0 && st->flow.e[stop].node)
        mf_logf(MF_LOG_INFO, "onnx", "stage: entries %d to %d of %d, %d values carried; stops at '%s' (%s): %s",
                st->pos, stop, st->flow.n, st->nknown, st->flow.e[stop].node->name ? st->flow.e[stop].node->name : "?",
                st->flow.e[stop].node->op_type ? st->flow.e[stop].node->op_type : "?", mf_last_error());
    st->first = false;
    st->pos = stop;
    st->done = *last = stop < 0;
    *g = im.g;
    return MF_OK;
}

mf_tensor *const *mf_onnx_staging_inputs(const mf_onnx_staging *st)
{
    return st->inputs;
}

mf_status mf_onnx_staging_feed(mf_onnx_staging *st, int n, mf_tensor *const *values)
{
    if (!st || (n > 0 && !values))
        return mf_error(MF_ERR_INVALID, "onnx: staging_feed: NULL argument");
    for (int i = 0; i < st->nknown; i++) {
        if (st->kout[i] < 0)
            continue;
        if (st->kout[i] >= n || !values[st->kout[i]])
            return mf_error(MF_ERR_INVALID, "onnx: the stage's output %d is missing", st->kout[i]);
        mf_status s = mf_tensor_to(values[st->kout[i]], MF_DEVICE_CPU, &st->kval[i]);
        if (s)
            return s;
        st->kout[i] = -1;
    }
    return MF_OK;
}

mf_status mf_onnx_staging_outputs(mf_onnx_staging *st, int n, mf_tensor **out)
{
    if (!st || !out || !st->done)
        return mf_error(MF_ERR_INVALID, "onnx: the run has not reached its last stage");
    const Onnx__GraphProto *gp = st->model->m->graph;
    if (n != (int)gp->n_output)
        return mf_error(MF_ERR_INVALID, "onnx: the model has %zu outputs, %d asked for", gp->n_output, n);
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    for (int i = 0; i < n; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        int k = 0;
        while (k < st->nknown && strcmp(st->kname[k], name))
            k++;
        mf_status s = k < st->nknown && st->kval[k]
                          ? mf_tensor_to(st->kval[k], MF_DEVICE_CPU, &out[i])
                          : mf_error(MF_ERR_INTERNAL, "onnx: output '%s' has no value", name);
        if (s) {
            for (int j = 0; j < i; j++)
                mf_tensor_free(out[j]), out[j] = NULL;
            return s;
        }
    }
    return MF_OK;
}
