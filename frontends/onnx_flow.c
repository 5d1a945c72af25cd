/* onnx_flow.c — control flow in the ONNX importer.  The importer walks a list of entries,
 * at first the model's nodes.  An If whose condition is a constant is replaced by the
 * entries of its taken branch; a Loop whose trip count and condition are constants is
 * unrolled one iteration at a time (its condition may come from the previous iteration).
 * An inlined subgraph's own names resolve through an env to unique names ("name@k"), so the
 * converters see ordinary values.  A condition computed from the data fails here; a staged
 * run (onnx_stage.c) then takes it in the next stage, where it is known. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

struct onnx_env {
    onnx_env *parent;
    int n;
    const char **from; /* the subgraph's own names */
    char **to;         /* their unique names */
};

struct onnx_loop {
    const Onnx__NodeProto *node;
    onnx_env *env; /* the Loop node's scope */
    const Onnx__GraphProto *body;
    int64_t trip; /* -1: none (a while loop) */
    int ncarried, nscan, iter;
    const char *cond;     /* resolved: the condition of the next iteration; NULL: true */
    const char **carried; /* resolved: the carried values after `iter` iterations */
    const char **scans;   /* resolved: [iteration][nscan] */
    /* A Scan is this loop with a trip count of its sequence's length, a body
     * without the iteration number and condition, and inputs sliced per iteration. */
    bool is_scan, batch_of_one; /* batch_of_one: opset 8's batch dim (of 1), dropped inside */
    int nscan_in;
    const char **scan_in; /* resolved: [iteration][nscan_in], in the body's order */
    int64_t *out_axes;    /* [nscan]: where each scan output stacks */
    bool *out_reverse;    /* [nscan]: stacked last iteration first */
};

/* ---- memory: everything the flow makes is freed with it ---- */

static void *own(onnx_flow *f, void *p)
{
    if (!p)
        return NULL;
    if (f->nowned == f->capowned) {
        int cap = f->capowned ? f->capowned * 2 : 64;
        void **o = realloc(f->owned, sizeof *o * (size_t)cap);
        if (!o) {
            free(p);
            return NULL;
        }
        f->owned = o;
        f->capowned = cap;
    }
    return f->owned[f->nowned++] = p;
}

static void *own_zeroed(onnx_flow *f, size_t count, size_t size)
{
    return own(f, calloc(count ? count : 1, size));
}

void onnx_flow_free(onnx_flow *f)
{
    for (int i = 0; i < f->nowned; i++)
        free(f->owned[i]);
    free(f->owned);
    free(f->e);
    *f = (onnx_flow){0};
}

/* Replaces `remove` entries at `at` by `count` zeroed ones; *out points at them. */
static mf_status splice(onnx_flow *f, int at, int remove, int count, onnx_entry **out)
{
    int n = f->n - remove + count;
    if (n > ONNX_FLOW_MAX) /* loops nested in loops */
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: the model unrolls to more than %d nodes", ONNX_FLOW_MAX);
    if (n > f->cap) {
        int cap = f->cap ? f->cap : 64;
        while (cap < n)
            cap *= 2;
        onnx_entry *e = realloc(f->e, sizeof *e * (size_t)cap);
        if (!e)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        f->e = e;
        f->cap = cap;
    }
    if (!f->e) { /* nothing held and nothing added (a graph of no nodes) */
        *out = NULL;
        return MF_OK;
    }
    memmove(f->e + at + count, f->e + at + remove, sizeof *f->e * (size_t)(f->n - at - remove));
    memset(f->e + at, 0, sizeof *f->e * (size_t)count);
    f->n = n;
    *out = f->e + at;
    return MF_OK;
}

mf_status onnx_flow_init(onnx_flow *f, const Onnx__GraphProto *gp)
{
    onnx_entry *e;
    mf_status s = splice(f, 0, 0, (int)gp->n_node, &e);
    for (size_t i = 0; i < gp->n_node && !s; i++)
        e[i] = (onnx_entry){.kind = ONNX_ENTRY_NODE, .node = gp->node[i]};
    return s;
}

bool onnx_flow_op(const char *op_type)
{
    return !strcmp(op_type, "If") || !strcmp(op_type, "Loop") || !strcmp(op_type, "Scan");
}

/* ---- names ---- */

static const char *env_resolve(const onnx_env *e, const char *name)
{
    for (; e; e = e->parent)
        for (int i = 0; i < e->n; i++)
            if (!strcmp(e->from[i], name))
                return e->to[i];
    return name;
}

const char *onnx_resolve(const onnx_importer *im, const char *name)
{
    return env_resolve(im->env, name);
}

static void env_add(onnx_flow *f, onnx_env *e, const char *name, bool *ok)
{
    if (!name || !*name || !*ok)
        return;
    char buf[320];
    snprintf(buf, sizeof buf, "%.300s@%d", name, f->nscopes);
    char *to = own(f, strdup(buf));
    *ok = to != NULL;
    e->from[e->n] = name;
    e->to[e->n++] = to;
}

/* A new scope for one inlining of g: its inputs, initializers and node outputs. */
static mf_status new_env(onnx_flow *f, onnx_env *parent, const Onnx__GraphProto *g, onnx_env **out)
{
    size_t n = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++)
        n += g->node[i]->n_output;
    onnx_env *e = own_zeroed(f, 1, sizeof *e);
    bool ok = e && (e->from = own_zeroed(f, n, sizeof *e->from)) && (e->to = own_zeroed(f, n, sizeof *e->to));
    if (!ok)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    e->parent = parent;
    f->nscopes++;
    for (size_t i = 0; i < g->n_input; i++)
        env_add(f, e, g->input[i]->name, &ok);
    for (size_t i = 0; i < g->n_initializer; i++)
        env_add(f, e, g->initializer[i]->name, &ok);
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_output; j++)
            env_add(f, e, g->node[i]->output[j], &ok);
    *out = e;
    return ok ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
}

/* Entries for g's initializers and nodes in env, from *e on (advanced past them). */
static void body_entries(const Onnx__GraphProto *g, onnx_env *env, onnx_entry **e)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        *(*e)++ = (onnx_entry){.kind = ONNX_ENTRY_INIT, .env = env, .init = g->initializer[i]};
    for (size_t i = 0; i < g->n_node; i++)
        *(*e)++ = (onnx_entry){.kind = ONNX_ENTRY_NODE, .env = env, .node = g->node[i]};
}

/* The one element of a constant condition or count `what` of node n. */
static mf_status known_scalar(onnx_importer *im, const Onnx__NodeProto *n, const char *name, const char *what,
                              double *out)
{
    mf_value *v = onnx_lookup(im, name);
    if (!v)
        return onnx_node_error(n, MF_ERR_PARSE, "%s '%s' is not defined before the node", what, name);
    if (!v->is_const || !v->data)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "the %s is computed from the data: a staged run (mf_onnx_program_run, "
                               "mlufuse run) takes it once it is known", what);
    if (mf_type_numel(&v->type) != 1)
        return onnx_node_error(n, MF_ERR_SHAPE, "the %s has %lld elements, expected 1", what,
                               (long long)mf_type_numel(&v->type));
    *out = onnx_get_elem(v->data->data, v->type.dtype, 0);
    return MF_OK;
}

static const Onnx__GraphProto *graph_attr(const Onnx__NodeProto *n, const char *name)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    return a ? a->g : NULL;
}

/* ---- If ---- */

static mf_status expand_if(onnx_importer *im, int i)
{
    onnx_flow *f = im->flow;
    const Onnx__NodeProto *n = f->e[i].node;
    onnx_env *outer = f->e[i].env;
    double cond;
    if (n->n_input < 1 || !n->input[0][0])
        return onnx_node_error(n, MF_ERR_PARSE, "needs a condition input");
    mf_status s = known_scalar(im, n, n->input[0], "condition", &cond);
    if (s)
        return s;
    const char *which = cond != 0 ? "then_branch" : "else_branch";
    const Onnx__GraphProto *g = graph_attr(n, which);
    if (!g)
        return onnx_node_error(n, MF_ERR_PARSE, "has no %s graph", which);
    if (g->n_output != n->n_output || g->n_input != 0)
        return onnx_node_error(n, MF_ERR_PARSE, "its %s has %zu inputs and %zu outputs (expected 0 and %zu)",
                               which, g->n_input, g->n_output, n->n_output);
    onnx_env *env;
    onnx_entry *e;
    if ((s = new_env(f, outer, g, &env)) ||
        (s = splice(f, i, 1, (int)(g->n_initializer + g->n_node + n->n_output), &e)))
        return s;
    body_entries(g, env, &e);
    for (size_t k = 0; k < n->n_output; k++)
        *e++ = (onnx_entry){.kind = ONNX_ENTRY_ALIAS, .env = outer, .dst = n->output[k],
                            .src = env_resolve(env, g->output[k]->name ? g->output[k]->name : "")};
    return MF_OK;
}

/* ---- Loop ---- */

/* Loop(M, cond, v_initial...) with body(iter_num, cond_in, v...) -> (cond_out, v..., scan...):
 * checks the node and replaces it by a LOOP entry, which unrolls it. */
static mf_status begin_loop(onnx_importer *im, int i)
{
    onnx_flow *f = im->flow;
    const Onnx__NodeProto *n = f->e[i].node;
    const Onnx__GraphProto *g = graph_attr(n, "body");
    if (!g)
        return onnx_node_error(n, MF_ERR_PARSE, "has no body graph");
    if (n->n_input < 2)
        return onnx_node_error(n, MF_ERR_PARSE, "needs the inputs M and cond (either may be empty)");
    size_t nc = n->n_input - 2;
    if (g->n_input != nc + 2 || g->n_output < nc + 1 || n->n_output > g->n_output - 1)
        return onnx_node_error(n, MF_ERR_PARSE,
                               "its body has %zu inputs and %zu outputs for %zu carried values and %zu outputs",
                               g->n_input, g->n_output, nc, n->n_output);
    onnx_loop *L = own_zeroed(f, 1, sizeof *L);
    if (!L)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    *L = (onnx_loop){.node = n, .env = f->e[i].env, .body = g, .trip = -1, .ncarried = (int)nc,
                     .nscan = (int)(g->n_output - 1 - nc)};
    if (!(L->carried = own_zeroed(f, nc, sizeof *L->carried)))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    if (n->input[0][0]) {
        double m;
        mf_status s = known_scalar(im, n, n->input[0], "trip count", &m);
        if (s)
            return s;
        if (m > ONNX_LOOP_MAX)
            return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                                   "a trip count of %.0f is more than the %d iterations a Loop is unrolled to", m,
                                   ONNX_LOOP_MAX);
        L->trip = m > 0 ? (int64_t)m : 0;
    }
    L->cond = n->input[1][0] ? onnx_resolve(im, n->input[1]) : NULL;
    if (L->trip < 0 && !L->cond)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "has neither a trip count nor a condition (it never ends)");
    for (size_t k = 0; k < nc; k++) {
        if (!n->input[2 + k][0])
            return onnx_node_error(n, MF_ERR_PARSE, "carried value %zu has no initial value", k);
        L->carried[k] = onnx_resolve(im, n->input[2 + k]);
    }
    /* Scans of every iteration; the trip count or ONNX_LOOP_MAX bounds them. */
    size_t iters = L->trip >= 0 ? (size_t)L->trip : ONNX_LOOP_MAX;
    if (L->nscan && !(L->scans = own_zeroed(f, iters * (size_t)L->nscan, sizeof *L->scans)))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    f->e[i] = (onnx_entry){.kind = ONNX_ENTRY_LOOP, .env = L->env, .loop = L};
    return MF_OK;
}

/* Inserts the entries of L's next iteration before entry i (the LOOP entry). */
static mf_status unroll_one(onnx_flow *f, int i, onnx_loop *L)
{
    const Onnx__GraphProto *g = L->body;
    onnx_env *env;
    onnx_entry *e;
    mf_status s = new_env(f, L->env, g, &env);
    if (!s)
        s = splice(f, i, 0, (int)(g->n_input + g->n_initializer + g->n_node), &e);
    if (s)
        return s;
    int first_in = L->is_scan ? 0 : 2, first_out = L->is_scan ? 0 : 1; /* Loop's iter_num, cond */
    if (!L->is_scan) {
        const char *iter_name = g->input[0]->name ? g->input[0]->name : "";
        const char *cond_name = g->input[1]->name ? g->input[1]->name : "";
        *e++ = (onnx_entry){.kind = ONNX_ENTRY_CONST,
                            .env = env,
                            .dst = iter_name,
                            .dtype = MF_I64,
                            .value = L->iter};
        *e++ = L->cond ? (onnx_entry){.kind = ONNX_ENTRY_ALIAS,
                                      .env = env,
                                      .dst = cond_name,
                                      .src = L->cond}
                       : (onnx_entry){.kind = ONNX_ENTRY_CONST,
                                      .env = env,
                                      .dst = cond_name,
                                      .dtype = MF_BOOL,
                                      .value = 1};
    }
    for (int k = 0; k < L->ncarried + L->nscan_in; k++) {
        const Onnx__ValueInfoProto *in = g->input[first_in + k];
        const char *src =
            k < L->ncarried
                ? L->carried[k]
                : L->scan_in[(size_t)L->iter * (size_t)L->nscan_in + (size_t)(k - L->ncarried)];
        *e++ = (onnx_entry){
            .kind = ONNX_ENTRY_ALIAS, .env = env, .dst = in->name ? in->name : "", .src = src};
    }
    body_entries(g, env, &e);
    if (!L->is_scan) {
        const char *cond_out = g->output[0]->name ? g->output[0]->name : "";
        L->cond = *cond_out ? env_resolve(env, cond_out) : NULL;
    }
    for (int k = 0; k < L->ncarried + L->nscan; k++) {
        const char *out = g->output[first_out + k]->name ? g->output[first_out + k]->name : "";
        if (k < L->ncarried)
            L->carried[k] = env_resolve(env, out);
        else
            L->scans[(size_t)L->iter * (size_t)L->nscan + (size_t)(k - L->ncarried)] = env_resolve(env, out);
    }
    L->iter++;
    return MF_OK;
}

/* The LOOP entry i: the next iteration while the condition holds, else the Loop's outputs. */
static mf_status step_loop(onnx_importer *im, int i)
{
    onnx_flow *f = im->flow;
    onnx_loop *L = f->e[i].loop;
    const Onnx__NodeProto *n = L->node;
    bool go = L->trip < 0 || L->iter < L->trip;
    if (go && L->cond) {
        double c;
        mf_status s = known_scalar(im, n, L->cond, "loop condition", &c);
        if (s)
            return s;
        go = c != 0;
    }
    if (go && L->iter >= ONNX_LOOP_MAX)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "runs past the %d iterations a Loop is unrolled to",
                               ONNX_LOOP_MAX);
    if (go && f->iterations++ >= ONNX_ITER_MAX)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "the model's loops run past %d iterations in all",
                               ONNX_ITER_MAX);
    if (go)
        return unroll_one(f, i, L);
    if (L->iter == 0 && n->n_output > (size_t)L->ncarried)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "runs no iteration, so its scan outputs have no shape");
    onnx_entry *e;
    onnx_env *env = L->env;
    mf_status s = splice(f, i, 1, (int)n->n_output, &e);
    onnx_entry_kind state = L->batch_of_one ? ONNX_ENTRY_BATCH : ONNX_ENTRY_ALIAS;
    for (size_t k = 0; k < n->n_output && !s; k++)
        e[k] = k < (size_t)L->ncarried ? (onnx_entry){.kind = state,
                                                      .env = env,
                                                      .dst = n->output[k],
                                                      .src = L->carried[k],
                                                      .loop = L}
                                       : (onnx_entry){.kind = ONNX_ENTRY_STACK,
                                                      .env = env,
                                                      .dst = n->output[k],
                                                      .loop = L,
                                                      .scan = (int)k - L->ncarried};
    return s;
}

/* ---- Scan ---- */

/* v with a dim of 1 inserted at axis. */
static mf_status unsqueeze(onnx_importer *im, const Onnx__NodeProto *n, mf_value *v, int axis,
                           mf_value **out)
{
    int64_t shape[MF_MAX_RANK];
    if (v->type.rank + 1 > MF_MAX_RANK)
        return onnx_node_error(n, MF_ERR_SHAPE, "a scan value has rank %d", v->type.rank);
    for (int d = 0, k = 0; d <= v->type.rank; d++)
        shape[d] = d == axis ? 1 : v->type.shape[k++];
    return onnx_reshape(im, n, v, v->type.rank + 1, shape, out);
}

/* Defines a fresh unique name for v; *name is it. */
static mf_status define_fresh(onnx_importer *im, mf_value *v, const char **name)
{
    char buf[64];
    snprintf(buf, sizeof buf, "scan@%d", im->flow->nscopes++);
    if (!(*name = own(im->flow, strdup(buf))))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    onnx_env *saved = im->env;
    im->env = NULL;
    mf_status s = onnx_define(im, *name, v);
    im->env = saved;
    return s;
}

/* Element `index` of v along axis, that dim dropped. */
static mf_status take(onnx_importer *im, const Onnx__NodeProto *n, mf_value *v, int axis,
                      int64_t index, mf_value **out)
{
    int64_t shape[MF_MAX_RANK];
    mf_value *slice;
    mf_status s = onnx_slice_axis(im, n, v, axis, index, index + 1, &slice);
    for (int d = 0, k = 0; d < v->type.rank && !s; d++)
        if (d != axis)
            shape[k++] = v->type.shape[d];
    return s ? s : onnx_reshape(im, n, slice, v->type.rank - 1, shape, out);
}

/* Attribute `name` of n: one int per value (default 0), each an axis of a value of rank
 * ranks[k] (negative: from the end), or a direction (ranks NULL: 0 or 1). */
static mf_status scan_ints(const Onnx__NodeProto *n, const char *name, int count, const int *ranks,
                           int64_t *out)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    if (a && (int)a->n_ints != count)
        return onnx_node_error(n, MF_ERR_PARSE, "%s has %zu values, expected %d", name, a->n_ints,
                               count);
    for (int k = 0; k < count; k++) {
        int64_t v = a ? a->ints[k] : 0;
        int64_t hi = ranks ? ranks[k] : 2;
        if (ranks && v < 0)
            v += hi;
        if (v < 0 || v >= hi)
            return onnx_node_error(n, MF_ERR_PARSE, "%s[%d] = %lld is out of range", name, k,
                                   (long long)(a ? a->ints[k] : 0));
        out[k] = v;
    }
    return MF_OK;
}

/* Scan 8 (sequence_lens, a batch dim) and 9+: (states..., scan inputs...) with
 * body(states..., slices...) -> (states..., scan outputs...).  The sequence's length is a dim
 * of the scan inputs, known at import: the Scan becomes a LOOP entry of that trip count, its
 * inputs sliced per iteration here. */
static mf_status begin_scan(onnx_importer *im, int i)
{
    onnx_flow *f = im->flow;
    const Onnx__NodeProto *n = f->e[i].node;
    const Onnx__GraphProto *g = graph_attr(n, "body");
    bool v8 = im->opset < 9;
    int m = (int)onnx_attr_int(n, "num_scan_inputs", -1), first = v8 ? 1 : 0;
    if (!g)
        return onnx_node_error(n, MF_ERR_PARSE, "has no body graph");
    if (m < 1 || (int)n->n_input < first + m)
        return onnx_node_error(n, MF_ERR_PARSE, "num_scan_inputs is %d for %zu inputs", m,
                               n->n_input);
    if (v8 && n->input[0][0])
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "sequence_lens is not supported (every sequence runs in full)");
    int nc = (int)n->n_input - first - m, nout = (int)g->n_output - nc;
    if ((int)g->n_input != nc + m || nout < 0 || n->n_output != g->n_output)
        return onnx_node_error(n, MF_ERR_PARSE,
                               "its body has %zu inputs and %zu outputs for %d states, %d scan "
                               "inputs and %zu outputs",
                               g->n_input, g->n_output, nc, m, n->n_output);
    onnx_loop *L = own_zeroed(f, 1, sizeof *L);
    mf_value *in[ONNX_SCAN_MAX];
    int ranks[ONNX_SCAN_MAX];
    int64_t axes[ONNX_SCAN_MAX], rev[ONNX_SCAN_MAX];
    if (!L)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    if (nc + m > ONNX_SCAN_MAX || nout > ONNX_SCAN_MAX)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "has more than %d inputs or outputs",
                               ONNX_SCAN_MAX);
    for (int k = 0; k < nc + m; k++) {
        if (!(in[k] = onnx_lookup(im, n->input[first + k])))
            return onnx_node_error(n, MF_ERR_PARSE, "input '%s' is not defined before the node",
                                   n->input[first + k]);
        if (v8 && (in[k]->type.rank < 1 || in[k]->type.shape[0] != 1))
            return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                                   "a batch of more than one (opset 8) is not supported");
        mf_status s =
            v8 ? take(im, n, in[k], 0, 0, &in[k]) : MF_OK; /* opset 8: the batch dim dropped */
        if (s)
            return s;
        ranks[k] = in[k]->type.rank;
    }
    *L = (onnx_loop){.node = n,
                     .env = f->e[i].env,
                     .body = g,
                     .ncarried = nc,
                     .nscan = nout,
                     .is_scan = true,
                     .batch_of_one = v8,
                     .nscan_in = m};
    mf_status s = MF_OK;
    if (v8)
        memset(axes, 0, sizeof axes); /* opset 8 scans its dim 1, dim 0 once the batch is dropped */
    if ((!v8 && (s = scan_ints(n, "scan_input_axes", m, ranks + nc, axes))) ||
        (s = scan_ints(n, v8 ? "directions" : "scan_input_directions", m, NULL, rev)))
        return s;
    for (int k = 0; k < m; k++)
        if (ranks[nc + k] < 1)
            return onnx_node_error(n, MF_ERR_SHAPE, "scan input %d has no dim to scan", k);
    L->trip = in[nc]->type.shape[axes[0]];
    for (int k = 1; k < m; k++)
        if (in[nc + k]->type.shape[axes[k]] != L->trip)
            return onnx_node_error(
                n, MF_ERR_SHAPE, "scan input %d has %lld elements along its axis, input 0 %lld", k,
                (long long)in[nc + k]->type.shape[axes[k]], (long long)L->trip);
    if (L->trip > ONNX_LOOP_MAX)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED,
                               "a sequence of %lld is more than the %d iterations a Scan is "
                               "unrolled to",
                               (long long)L->trip, ONNX_LOOP_MAX);
    size_t iters = (size_t)L->trip;
    if (!(L->carried = own_zeroed(f, (size_t)nc, sizeof *L->carried)) ||
        !(L->scans = own_zeroed(f, iters * (size_t)nout, sizeof *L->scans)) ||
        !(L->scan_in = own_zeroed(f, iters * (size_t)m, sizeof *L->scan_in)) ||
        !(L->out_axes = own_zeroed(f, (size_t)nout, sizeof *L->out_axes)) ||
        !(L->out_reverse = own_zeroed(f, (size_t)nout, sizeof *L->out_reverse)))
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    for (int k = 0; k < nc && !s; k++) {
        if (v8)
            s = define_fresh(im, in[k], &L->carried[k]);
        else
            L->carried[k] = onnx_resolve(im, n->input[first + k]);
    }
    for (int k = 0; k < m && !s; k++)
        for (int64_t t = 0; t < L->trip && !s; t++) {
            mf_value *slice;
            if (!(s = take(im, n, in[nc + k], (int)axes[k], rev[k] ? L->trip - 1 - t : t, &slice)))
                s = define_fresh(im, slice, &L->scan_in[(size_t)t * (size_t)m + (size_t)k]);
        }
    if (s)
        return s;
    /* the output ranks are the body's: the axes are checked as they stack */
    const Onnx__AttributeProto *oa = onnx_attr(n, "scan_output_axes");
    for (int k = 0; k < nout; k++)
        L->out_axes[k] = v8 ? 0 : oa && k < (int)oa->n_ints ? oa->ints[k] : 0;
    if (!v8 && (s = scan_ints(n, "scan_output_directions", nout, NULL, rev)))
        return s;
    for (int k = 0; k < nout; k++)
        L->out_reverse[k] = !v8 && rev[k];
    f->e[i] = (onnx_entry){.kind = ONNX_ENTRY_LOOP, .env = L->env, .loop = L};
    return MF_OK;
}

/* Scan output k of L: its value in each iteration, stacked along a new dim 0. */
static mf_status stack_scan(onnx_importer *im, const onnx_entry *e)
{
    const onnx_loop *L = e->loop;
    const Onnx__NodeProto *n = L->node;
    mf_value **parts = calloc((size_t)L->iter, sizeof *parts);
    if (!parts)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    mf_status s = MF_OK;
    mf_type t0 = {0};
    int axis = L->out_axes ? (int)L->out_axes[e->scan] : 0;
    bool reverse = L->out_reverse && L->out_reverse[e->scan];
    for (int j = 0; j < L->iter && !s; j++) {
        mf_value *v = onnx_lookup(im, L->scans[(size_t)j * (size_t)L->nscan + (size_t)e->scan]);
        if (!v) {
            s = onnx_node_error(n, MF_ERR_PARSE, "scan output %d is never computed", e->scan);
            break;
        }
        if (j == 0)
            t0 = v->type;
        if (j == 0 && axis < 0)
            axis += t0.rank + 1; /* Scan's scan_output_axes count in the stacked rank */
        if (!mf_type_equal(&v->type, &t0) || t0.rank + 1 > MF_MAX_RANK) {
            s = onnx_node_error(n, MF_ERR_SHAPE, "scan output %d changes its type across iterations, or has rank %d",
                                e->scan, t0.rank);
            break;
        }
        if (axis < 0 || axis > t0.rank) {
            s = onnx_node_error(n, MF_ERR_SHAPE,
                                "scan output %d of rank %d cannot stack along axis %d", e->scan,
                                t0.rank, axis);
            break;
        }
        s = unsqueeze(im, n, v, axis, &parts[reverse ? L->iter - 1 - j : j]);
    }
    mf_value *out = parts[0];
    if (!s && L->iter > 1) {
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(MF_OP_CONCAT, a);
        mf_attr_set_int(MF_OP_CONCAT, a, "dim", axis);
        s = onnx_add(im, n, MF_OP_CONCAT, L->iter, parts, a, &out);
    }
    if (!s && L->batch_of_one)
        s = unsqueeze(im, n, out, 0, &out);
    free(parts);
    if (!s) {
        im->env = e->env;
        s = onnx_define(im, e->dst, out);
    }
    return s;
}

/* ---- the walk ---- */

static mf_status convert_node(onnx_importer *im, int i, bool *expanded)
{
    const Onnx__NodeProto *n = im->flow->e[i].node;
    im->env = im->flow->e[i].env;
    if (!onnx_is_custom_domain(n) && n->op_type && !strcmp(n->op_type, "If"))
        return *expanded = true, expand_if(im, i);
    if (!onnx_is_custom_domain(n) && n->op_type && !strcmp(n->op_type, "Loop"))
        return *expanded = true, begin_loop(im, i);
    if (!onnx_is_custom_domain(n) && n->op_type && !strcmp(n->op_type, "Scan"))
        return *expanded = true, begin_scan(im, i);
    if (!onnx_is_custom_domain(n))
        return onnx_convert_node(im, n);
    if (!strcmp(n->domain, ONNX_TRAINING_DOMAIN))
        return onnx_convert_training(im, n);
    return onnx_convert_custom(im, n);
}

static mf_status convert_init(onnx_importer *im, const onnx_entry *e)
{
    mf_type type;
    mf_buffer *b;
    mf_status s = onnx_tensor(e->init, &type, &b);
    if (s)
        return s;
    mf_value *v = mf_graph_add_const(im->g, NULL, &type, b);
    mf_buffer_release(b);
    if (!v)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    im->env = e->env;
    return onnx_define(im, e->init->name ? e->init->name : "", v);
}

mf_status onnx_flow_convert(onnx_importer *im, int i, bool *expanded)
{
    const onnx_entry *e = &im->flow->e[i];
    mf_value *v = NULL;
    mf_status s = MF_OK;
    *expanded = false;
    switch (e->kind) {
    case ONNX_ENTRY_NODE:
        return convert_node(im, i, expanded);
    case ONNX_ENTRY_INIT:
        return convert_init(im, e);
    case ONNX_ENTRY_LOOP:
        *expanded = true;
        return step_loop(im, i);
    case ONNX_ENTRY_STACK:
        return stack_scan(im, e);
    case ONNX_ENTRY_ALIAS:
    case ONNX_ENTRY_BATCH:
        if (!*e->dst)
            return MF_OK;
        if (!(v = onnx_lookup(im, e->src))) /* resolved already: im->env is NULL */
            return mf_error(MF_ERR_PARSE, "onnx: the subgraph output '%s' is never computed", e->src);
        if (e->kind == ONNX_ENTRY_BATCH)
            s = unsqueeze(im, e->loop ? e->loop->node : NULL, v, 0, &v);
        break;
    case ONNX_ENTRY_CONST:
        if (!*e->dst)
            return MF_OK;
        s = onnx_scalar(im, e->dtype, e->value, &v);
        break;
    }
    if (s)
        return s;
    im->env = e->env;
    return onnx_define(im, e->dst, v);
}

/* ---- what an entry reads ---- */

static void graph_refs(const Onnx__GraphProto *g, const onnx_env *env, void (*fn)(const char *, void *), void *ctx);

static void node_refs(const Onnx__NodeProto *n, const onnx_env *env, void (*fn)(const char *, void *), void *ctx)
{
    for (size_t i = 0; i < n->n_input; i++)
        if (n->input[i][0])
            fn(env_resolve(env, n->input[i]), ctx);
    for (size_t i = 0; i < n->n_attribute; i++) {
        if (n->attribute[i]->g)
            graph_refs(n->attribute[i]->g, env, fn, ctx);
        for (size_t k = 0; k < n->attribute[i]->n_graphs; k++)
            graph_refs(n->attribute[i]->graphs[k], env, fn, ctx);
    }
}

/* The names a subgraph reads, its own among them (harmless: they are not defined outside). */
static void graph_refs(const Onnx__GraphProto *g, const onnx_env *env, void (*fn)(const char *, void *), void *ctx)
{
    for (size_t i = 0; i < g->n_node; i++)
        node_refs(g->node[i], env, fn, ctx);
    for (size_t i = 0; i < g->n_output; i++)
        if (g->output[i]->name && g->output[i]->name[0])
            fn(env_resolve(env, g->output[i]->name), ctx);
}

void onnx_flow_refs(const onnx_flow *f, int i, void (*fn)(const char *name, void *ctx), void *ctx)
{
    const onnx_entry *e = &f->e[i];
    const onnx_loop *L = e->loop;
    switch (e->kind) {
    case ONNX_ENTRY_NODE:
        node_refs(e->node, e->env, fn, ctx);
        break;
    case ONNX_ENTRY_ALIAS:
    case ONNX_ENTRY_BATCH: fn(e->src, ctx); break;
    case ONNX_ENTRY_LOOP:
        if (L->cond)
            fn(L->cond, ctx);
        for (int k = 0; k < L->ncarried; k++)
            fn(L->carried[k], ctx);
        for (int k = 0; k < L->iter * L->nscan; k++)
            fn(L->scans[k], ctx);
        for (int64_t k = L->iter * (int64_t)L->nscan_in; k < L->trip * L->nscan_in; k++)
            fn(L->scan_in[k], ctx); /* a Scan's slices of the iterations to come */
        /* the iterations still to unroll read the outer scope too (Mask R-CNN's paste of
         * masks reads a Pad of the stage before) */
        graph_refs(L->body, L->env, fn, ctx);
        break;
    case ONNX_ENTRY_STACK:
        for (int j = 0; j < L->iter; j++)
            fn(L->scans[(size_t)j * (size_t)L->nscan + (size_t)e->scan], ctx);
        break;
    case ONNX_ENTRY_INIT:
    case ONNX_ENTRY_CONST:
        break;
    }
}
