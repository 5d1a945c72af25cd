/* onnx_import.c — the ONNX importer's driver: reads and unpacks a model (protobuf-c code
 * generated from Debian's onnx.proto), checks its opset, turns initializers into constants
 * and graph inputs into inputs, converts every node (onnx_ops.c) and sets the outputs.
 * Shape inference happens as nodes are added, so every value gets a concrete shape. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

#define MIN_OPSET 1
#define MAX_OPSET 21

mf_status onnx_node_error(const Onnx__NodeProto *n, mf_status s, const char *fmt, ...)
{
    char reason[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return mf_error(s, "onnx: node '%s' (%s): %s", n->name && *n->name ? n->name : "?",
                    n->op_type ? n->op_type : "?", reason);
}

/* ---- names ---------------------------------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of name: where it is, or the empty slot where it would go. */
static int slot_of(const onnx_importer *im, const char *name)
{
    int mask = im->nslots - 1, k = (int)(name_hash(name) & (uint32_t)mask);
    while (im->slots[k] && strcmp(im->names[im->slots[k] - 1], name))
        k = (k + 1) & mask;
    return k;
}

/* Rebuilds the hash for the first nvals names, at least twice as many slots as cap. */
static mf_status rehash(onnx_importer *im)
{
    int n = 64;
    while (n < 2 * im->cap)
        n *= 2;
    int *slots = calloc((size_t)n, sizeof *slots);
    if (!slots)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    free(im->slots);
    im->slots = slots;
    im->nslots = n;
    for (int i = 0; i < im->nvals; i++)
        im->slots[slot_of(im, im->names[i])] = i + 1;
    return MF_OK;
}

void onnx_forget(onnx_importer *im, int nvals)
{
    if (nvals >= im->nvals)
        return;
    im->nvals = nvals;
    if (rehash(im)) /* out of memory: lookups fall back to no hash */
        im->nslots = 0;
}

void onnx_importer_free(onnx_importer *im)
{
    free(im->names);
    free(im->vals);
    free(im->slots);
    free(im->qforms);
    im->names = NULL, im->vals = NULL, im->slots = NULL, im->qforms = NULL;
    im->nqforms = 0;
}

mf_value *onnx_lookup(const onnx_importer *im, const char *name)
{
    name = onnx_resolve(im, name);
    if (im->nslots) {
        int k = slot_of(im, name);
        return im->slots[k] ? im->vals[im->slots[k] - 1] : NULL;
    }
    for (int i = im->nvals - 1; i >= 0; i--)
        if (!strcmp(im->names[i], name))
            return im->vals[i];
    return NULL;
}

/* The .mfir name for an ONNX name: the allowed characters kept, others as '_', and a
 * suffix when that collides with a name already given. */
static void set_value_name(onnx_importer *im, mf_value *v, const char *onnx_name)
{
    if (v->name || !*onnx_name || strchr(onnx_name, '@')) /* '@': an inlined subgraph's (unique) name */
        return;
    char buf[256];
    size_t n = 0;
    for (const char *p = onnx_name; *p && n < sizeof buf - 16; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.';
        buf[n++] = ok ? c : '_';
    }
    buf[n] = 0;
    for (int suffix = 1;; suffix++) {
        bool taken = false;
        for (int i = 0; i < im->g->nvalues && !taken; i++)
            taken = im->g->values[i]->name && !strcmp(im->g->values[i]->name, buf);
        if (!taken)
            break;
        snprintf(buf + n, sizeof buf - n, "_%d", suffix);
    }
    v->name = mf_arena_strdup(im->g->arena, buf, strlen(buf));
}

mf_status onnx_define(onnx_importer *im, const char *name, mf_value *v)
{
    name = onnx_resolve(im, name);
    /* SSA: a second producer of one name would silently shadow the first. */
    if (name[0] && onnx_lookup(im, name))
        return mf_error(MF_ERR_PARSE, "onnx: value '%s' is produced twice", name);
    if (im->nvals == im->cap) {
        int cap = im->cap ? im->cap * 2 : 64;
        const char **names = realloc(im->names, sizeof *names * (size_t)cap);
        if (names)
            im->names = names;
        mf_value **vals = realloc(im->vals, sizeof *vals * (size_t)cap);
        if (vals)
            im->vals = vals;
        if (!names || !vals)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        im->cap = cap;
        mf_status s = rehash(im);
        if (s)
            return s;
    }
    im->names[im->nvals] = name;
    im->vals[im->nvals++] = v;
    im->slots[slot_of(im, name)] = im->nvals;
    set_value_name(im, v, name);
    return MF_OK;
}

mf_status onnx_input(const onnx_importer *im, const Onnx__NodeProto *n, size_t i, mf_value **out)
{
    *out = NULL;
    if (i >= n->n_input || !n->input[i][0])
        return MF_OK;
    *out = onnx_lookup(im, n->input[i]);
    if (!*out)
        return onnx_node_error(n, MF_ERR_PARSE, "input '%s' is not defined before the node",
                               n->input[i]);
    return MF_OK;
}

/* Gets the first nin inputs, all required. */
mf_status onnx_inputs(onnx_importer *im, const Onnx__NodeProto *n, int nin, mf_value **in)
{
    if (n->n_input < (size_t)nin)
        return onnx_node_error(n, MF_ERR_PARSE, "needs %d inputs, has %zu", nin, n->n_input);
    for (int i = 0; i < nin; i++) {
        mf_status s = onnx_input(im, n, (size_t)i, &in[i]);
        if (s)
            return s;
        if (!in[i])
            return onnx_node_error(n, MF_ERR_PARSE, "input %d is empty", i);
    }
    return MF_OK;
}

mf_value *onnx_const(onnx_importer *im, const mf_type *t, const void *data)
{
    size_t nbytes;
    if (mf_type_check(t, "onnx: a constant", NULL, &nbytes))
        return NULL;
    mf_buffer *b = mf_buffer_new_host(nbytes);
    if (!b)
        return NULL;
    if (nbytes) /* an empty value_ints has no array */
        memcpy(b->data, data, nbytes);
    mf_value *v = mf_graph_add_const(im->g, NULL, t, b);
    mf_buffer_release(b);
    return v;
}

/* ---- attributes ------------------------------------------------------------------------ */

const Onnx__AttributeProto *onnx_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    return a && a->has_i ? a->i : dflt;
}

float onnx_attr_float(const Onnx__NodeProto *n, const char *name, float dflt)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

const char *onnx_attr_str(const Onnx__NodeProto *n, const char *name, const char *dflt, char *buf, size_t cap)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    if (!a || !a->has_s)
        return dflt;
    snprintf(buf, cap, "%.*s", (int)a->s.len, a->s.data ? (const char *)a->s.data : "");
    return buf;
}

int onnx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *out, int cap)
{
    const Onnx__AttributeProto *a = onnx_attr(n, name);
    if (!a)
        return -1;
    int k = (int)(a->n_ints < (size_t)cap ? a->n_ints : (size_t)cap);
    if (k > 0) /* an empty repeated field has a NULL array */
        memcpy(out, a->ints, sizeof *out * (size_t)k);
    return k;
}

/* ---- tensors ----------------------------------------------------------------------------- */

bool onnx_dtype(int32_t t, mf_dtype *out)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: *out = MF_F32; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: *out = MF_F16; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: *out = MF_I8; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: *out = MF_I32; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: *out = MF_I64; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: *out = MF_BOOL; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: *out = MF_U8; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: *out = MF_I16; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: *out = MF_U16; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: *out = MF_U32; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: *out = MF_U64; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: *out = MF_F64; return true;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: *out = MF_BF16; return true;
    default: return false;
    }
}

/* Where ONNX keeps a dtype's typed values when not in raw_data: f32 in float_data, f64 in
 * double_data, i64 in int64_data, u32 and u64 in uint64_data, the rest (narrow integers,
 * bool, f16 and bf16 as bits) one per int32_data entry. */
static size_t typed_count(const Onnx__TensorProto *t, mf_dtype dt)
{
    switch (dt) {
    case MF_F32: return t->n_float_data;
    case MF_F64: return t->n_double_data;
    case MF_I64: return t->n_int64_data;
    case MF_U32:
    case MF_U64: return t->n_uint64_data;
    default: return t->n_int32_data;
    }
}

/* Whether t holds exactly numel elements of dt, in raw_data or a typed repeated field. */
static bool data_fits(const Onnx__TensorProto *t, mf_dtype dt, size_t numel, size_t nbytes)
{
    if (t->has_raw_data)
        return t->raw_data.len == nbytes;
    return numel == 0 || typed_count(t, dt) == numel;
}

/* Copies typed repeated fields into dst (numel elements of dt); data_fits said yes. */
static void copy_typed_fields(const Onnx__TensorProto *t, mf_dtype dt, size_t numel, void *dst)
{
    if (numel == 0)
        return; /* the arrays of empty repeated fields are NULL */
    for (size_t i = 0; i < numel; i++) {
        mf_scalar v = {false, 0.0, 0};
        switch (dt) {
        case MF_F32: v = (mf_scalar){true, t->float_data[i], 0}; break;
        case MF_F64: v = (mf_scalar){true, t->double_data[i], 0}; break;
        case MF_I64: v.i = t->int64_data[i]; break;
        case MF_U32:
        case MF_U64: v.i = (int64_t)t->uint64_data[i]; break;
        case MF_F16:
        case MF_BF16: v.i = (uint16_t)t->int32_data[i]; break; /* the bits, stored as u16 below */
        default: v.i = t->int32_data[i]; break;
        }
        mf_scalar_store(dst, dt == MF_F16 || dt == MF_BF16 ? MF_U16 : dt, (int64_t)i, v);
    }
}

mf_status onnx_tensor(const Onnx__TensorProto *t, mf_type *type, mf_buffer **data)
{
    *type = (mf_type){0}; /* dims past the rank are zero, never the caller's garbage */
    const char *name = t->name ? t->name : "?";
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: tensor '%s' keeps its data in an external file", name);
    if (!onnx_dtype(t->data_type, &type->dtype))
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: tensor '%s' has unsupported data type %d", name,
                        (int)t->data_type);
    if (t->n_dims > MF_MAX_RANK)
        return mf_error(MF_ERR_SHAPE, "onnx: tensor '%s' has rank %zu (at most %d)", name,
                        t->n_dims, MF_MAX_RANK);
    type->rank = (int)t->n_dims;
    for (size_t i = 0; i < t->n_dims; i++)
        type->shape[i] = t->dims[i];
    char what[160];
    snprintf(what, sizeof what, "onnx: tensor '%.100s'", name);
    int64_t numel;
    size_t nbytes;
    mf_status s = mf_type_check(type, what, &numel, &nbytes);
    if (s)
        return s;
    /* Check the amount of data before allocating: the dims alone may ask for terabytes. */
    if (!data_fits(t, type->dtype, (size_t)numel, nbytes))
        return mf_error(MF_ERR_PARSE, "onnx: tensor '%s' holds the wrong amount of data for %lld elements",
                        name, (long long)numel);
    mf_buffer *b = mf_buffer_new_host(nbytes);
    if (!b)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory for tensor '%s' (%zu bytes)", name, nbytes);
    if (t->has_raw_data && nbytes)
        memcpy(b->data, t->raw_data.data, nbytes);
    else if (!t->has_raw_data)
        copy_typed_fields(t, type->dtype, (size_t)numel, b->data);
    *data = b;
    return MF_OK;
}

/* ---- the model ------------------------------------------------------------------------------ */

static mf_status check_opset(const Onnx__ModelProto *m, int64_t *opset)
{
    *opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain;
        if (!d || !*d || !strcmp(d, "ai.onnx"))
            *opset = m->opset_import[i]->version;
    }
    if (*opset == -1 && m->n_opset_import > 0) { /* only other domains (the training ops) */
        *opset = 0;
        return MF_OK;
    }
    if (*opset < MIN_OPSET || *opset > MAX_OPSET)
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: opset %lld is not supported (%d to %d are)",
                        (long long)*opset, MIN_OPSET, MAX_OPSET);
    return MF_OK;
}

static mf_status add_initializers(onnx_importer *im, const Onnx__GraphProto *gp,
                                  bool (*keep)(const char *name, void *ctx), void *ctx)
{
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (keep && !keep(t->name ? t->name : "", ctx))
            continue;
        mf_type type;
        mf_buffer *b;
        mf_status s = onnx_tensor(t, &type, &b);
        if (s)
            return s;
        mf_value *v = mf_graph_add_const(im->g, NULL, &type, b);
        mf_buffer_release(b);
        if (!v)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        if ((s = onnx_define(im, t->name ? t->name : "", v)))
            return s;
    }
    return MF_OK;
}

/* The type of graph input vi.  A symbolic dim takes the batch size (dim 0, batch > 0) or
 * the dim of `like`, an input of the shapes the model is imported for (may be NULL). */
static mf_status input_type(const Onnx__ValueInfoProto *vi, int64_t batch, const mf_tensor *like, mf_type *t)
{
    const char *name = vi->name ? vi->name : "?";
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type->shape)
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: input '%s' is not a tensor of known rank", name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!onnx_dtype(tt->elem_type, &t->dtype))
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: input '%s' has unsupported element type %d",
                        name, (int)tt->elem_type);
    if (tt->shape->n_dim > MF_MAX_RANK)
        return mf_error(MF_ERR_SHAPE, "onnx: input '%s' has rank %zu (at most %d)", name,
                        tt->shape->n_dim, MF_MAX_RANK);
    t->rank = (int)tt->shape->n_dim;
    if (like && mf_tensor_rank(like) != t->rank)
        return mf_error(MF_ERR_SHAPE, "onnx: input '%s' has rank %d, the shape it is imported for rank %d", name,
                        t->rank, mf_tensor_rank(like));
    for (int i = 0; i < t->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        bool known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (like && known && d->dim_value >= 0 && d->dim_value != mf_tensor_dim(like, i))
            return mf_error(MF_ERR_SHAPE, "onnx: input '%s' has dim %d of %lld, the shape it is imported for %lld",
                            name, i, (long long)d->dim_value, (long long)mf_tensor_dim(like, i));
        if (i == 0 && batch > 0)
            t->shape[i] = batch;
        else if (known && d->dim_value >= 0)
            t->shape[i] = d->dim_value;
        else if (like)
            t->shape[i] = mf_tensor_dim(like, i);
        else
            return mf_error(MF_ERR_SHAPE, "onnx: input '%s' has a symbolic or negative dim %d%s",
                            name, i, i == 0 ? " (give a batch size)" : " (import it for given input shapes)");
    }
    char what[160];
    snprintf(what, sizeof what, "onnx: input '%.100s'", name);
    return mf_type_check(t, what, NULL, NULL);
}

/* Graph input vi bound to a known value: a constant of it, after checking the value's
 * dtype and rank against the declared ones, and each dim the model fixes. */
static mf_status bound_input(onnx_importer *im, const Onnx__ValueInfoProto *vi, const mf_tensor *x)
{
    mf_tensor *host = NULL;
    mf_type t = {mf_tensor_dtype(x), mf_tensor_rank(x), {0}};
    for (int d = 0; d < t.rank; d++)
        t.shape[d] = mf_tensor_dim(x, d);
    const Onnx__TypeProto *tp = vi->type;
    if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
        mf_dtype dt;
        if (!onnx_dtype(tt->elem_type, &dt) || dt != t.dtype)
            return mf_error(MF_ERR_DTYPE, "onnx: input '%s' is bound to a %s value, but it is ONNX type %d",
                            vi->name, mf_dtype_name(t.dtype), (int)tt->elem_type);
        bool shaped = tt->shape != NULL, ok = !shaped || (int)tt->shape->n_dim == t.rank;
        for (int d = 0; ok && shaped && d < t.rank; d++) {
            const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
            ok = dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
                 dim->dim_value == t.shape[d];
        }
        char ts[128];
        if (!ok)
            return mf_error(MF_ERR_SHAPE, "onnx: input '%s' is bound to a value of shape %s, which its declared shape excludes",
                            vi->name, mf_type_str(&t, ts, sizeof ts));
    }
    mf_status s = mf_tensor_to(x, MF_DEVICE_CPU, &host);
    if (s)
        return s;
    mf_value *v = onnx_const(im, &t, mf_tensor_data(host));
    mf_tensor_free(host);
    if (!v)
        return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    return onnx_define(im, vi->name, v);
}

mf_status onnx_add_inputs(onnx_importer *im, const Onnx__GraphProto *gp, int64_t batch)
{
    for (int b = 0; b < im->nbound; b++) {
        bool found = false;
        for (size_t i = 0; i < gp->n_input && !found; i++)
            found = gp->input[i]->name && im->bound_names[b] && !strcmp(gp->input[i]->name, im->bound_names[b]);
        if (!found || !im->bound_values[b])
            return mf_error(MF_ERR_INVALID, "onnx: '%s' is bound to a value but is no graph input",
                            im->bound_names[b] ? im->bound_names[b] : "(null)");
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || onnx_lookup(im, vi->name))
            continue; /* older exporters list initializers as inputs too */
        mf_status s = MF_OK;
        int b = 0;
        while (b < im->nbound && strcmp(im->bound_names[b], vi->name))
            b++;
        if (b < im->nbound) {
            if ((s = bound_input(im, vi, im->bound_values[b])))
                return s;
            continue;
        }
        if (im->staged) /* a later stage: the inputs it needs are among the values it starts from */
            continue;
        mf_type t;
        int k = im->g->ninputs; /* the graph input this one becomes */
        s = input_type(vi, batch, k < im->nshaped ? im->shaped_like[k] : NULL, &t);
        if (s)
            return s;
        mf_value *v = mf_graph_add_input(im->g, NULL, &t);
        if (!v)
            return mf_error(MF_ERR_NOMEM, "onnx: out of memory");
        if ((s = onnx_define(im, vi->name, v)))
            return s;
    }
    return MF_OK;
}

/* One error for the whole model listing every unsupported op type with its nodes. */
static mf_status check_supported(const Onnx__GraphProto *gp)
{
    char msg[2048];
    size_t len = 0;
    int count = 0;
    for (size_t i = 0; i < gp->n_node; i++) {
        const char *op = gp->node[i]->op_type ? gp->node[i]->op_type : "";
        if (onnx_op_supported(op) || onnx_flow_op(op) || onnx_is_custom_domain(gp->node[i])) /* custom: at conversion */
            continue;
        bool listed = false;
        for (size_t j = 0; j < i && !listed; j++)
            listed = gp->node[j]->op_type && !strcmp(gp->node[j]->op_type, op);
        if (listed)
            continue;
        len += (size_t)snprintf(msg + len, len < sizeof msg ? sizeof msg - len : 0, "%s%s (",
                                count++ ? "; " : "", op);
        bool first = true;
        for (size_t j = i; j < gp->n_node; j++) {
            if (!gp->node[j]->op_type || strcmp(gp->node[j]->op_type, op))
                continue;
            len += (size_t)snprintf(msg + len, len < sizeof msg ? sizeof msg - len : 0, "%s'%s'",
                                    first ? "" : ", ", gp->node[j]->name ? gp->node[j]->name : "?");
            first = false;
        }
        len += (size_t)snprintf(msg + len, len < sizeof msg ? sizeof msg - len : 0, ")");
    }
    if (count)
        return mf_error(MF_ERR_UNSUPPORTED, "onnx: %d unsupported op type%s: %s", count,
                        count > 1 ? "s" : "", msg);
    return MF_OK;
}

mf_status onnx_prologue(onnx_importer *im, const Onnx__ModelProto *m, bool (*keep)(const char *name, void *ctx),
                        void *ctx)
{
    if (!m->graph)
        return mf_error(MF_ERR_PARSE, "onnx: the model has no graph");
    mf_status s = check_opset(m, &im->opset);
    if (!s)
        s = check_supported(m->graph);
    if (!s)
        s = add_initializers(im, m->graph, keep, ctx);
    return s;
}

typedef struct computed_ctx {
    const onnx_importer *im;
    bool computed;
} computed_ctx;

static void note_computed(const char *name, void *ctx)
{
    computed_ctx *c = ctx;
    const mf_value *v = onnx_lookup(c->im, name); /* names come resolved; im->env is NULL */
    c->computed |= v && !v->is_const;
}

/* True when entry i reads a value computed by a node of this import (not a constant). */
static bool reads_computed(const onnx_importer *im, int i)
{
    computed_ctx c = {im, false};
    onnx_flow_refs(im->flow, i, note_computed, &c);
    return c.computed;
}

mf_status onnx_walk(onnx_importer *im, int start, int *stop)
{
    if (stop)
        *stop = -1;
    for (int i = start; i < im->flow->n;) {
        int nvals = im->nvals;
        bool expanded = false;
        im->env = NULL;
        mf_status s = onnx_flow_convert(im, i, &expanded);
        im->env = NULL;
        if (s && stop && reads_computed(im, i)) {
            onnx_forget(im, nvals); /* what the failed entry defined: the next stage redoes it */
            *stop = i;
            return MF_OK;
        }
        if (s)
            return s;
        i += !expanded;
    }
    return MF_OK;
}

static mf_status import_graph(onnx_importer *im, const Onnx__ModelProto *m, int64_t batch)
{
    onnx_flow flow = {0};
    mf_status s = onnx_prologue(im, m, NULL, NULL);
    const Onnx__GraphProto *gp = m->graph;
    if (!s)
        s = onnx_add_inputs(im, gp, batch);
    if (!s)
        s = onnx_flow_init(&flow, gp);
    im->flow = &flow;
    if (!s)
        s = onnx_walk(im, 0, NULL);
    if (!s && gp->n_output == 0)
        s = mf_error(MF_ERR_PARSE, "onnx: the graph has no outputs");
    if (!s && gp->n_output > 256)
        s = mf_error(MF_ERR_UNSUPPORTED, "onnx: %zu outputs (at most 256)", gp->n_output);
    mf_value *outs[256];
    for (size_t i = 0; !s && i < gp->n_output; i++) { /* gp is NULL when the prologue failed */
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        if (!(outs[i] = onnx_lookup(im, name)))
            s = mf_error(MF_ERR_PARSE, "onnx: graph output '%s' is never computed", name);
    }
    if (!s)
        s = mf_graph_set_outputs(im->g, (int)gp->n_output, outs);
    onnx_flow_free(&flow);
    im->flow = NULL;
    return s ? s : onnx_q_prune(im);
}

/* Imports the model in data; `im` holds the graph inputs bound to values or given shapes. */
static mf_status parse(const void *data, size_t len, const char *name, int64_t batch, onnx_importer im,
                       mf_graph **out)
{
    if (!data || !out)
        return mf_error(MF_ERR_INVALID, "onnx: %s is NULL", data ? "out" : "data");
    *out = NULL;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
    if (!m)
        return mf_error(MF_ERR_PARSE, "onnx: %s is not a valid ONNX model (protobuf decoding failed)",
                        name ? name : "<buffer>");
    im.g = mf_graph_new("model");
    mf_status s = im.g ? import_graph(&im, m, batch) : mf_error(MF_ERR_NOMEM, "onnx: out of memory");
    if (s) {
        mf_error_context(s, "%s", name ? name : "<buffer>");
        mf_graph_destroy(im.g);
    } else {
        *out = im.g;
    }
    onnx_importer_free(&im);
    onnx__model_proto__free_unpacked(m, NULL);
    return s;
}

mf_status mf_onnx_parse(const void *data, size_t len, const char *name, int64_t batch,
                        mf_graph **out)
{
    return parse(data, len, name, batch, (onnx_importer){0}, out);
}

mf_status mf_onnx_load_bound(const char *path, int64_t batch, int nbound, const char *const *names,
                             mf_tensor *const *values, mf_graph **out)
{
    if (!path || !out || (nbound > 0 && (!names || !values)) || nbound < 0)
        return mf_error(MF_ERR_INVALID, "onnx: %s is NULL", !path ? "path" : !out ? "out" : "a bound list");
    *out = NULL;
    char *buf;
    size_t size;
    mf_status s = onnx_read_file(path, &buf, &size);
    if (s)
        return s;
    s = parse(buf, size, path, batch, (onnx_importer){.nbound = nbound, .bound_names = names, .bound_values = values},
              out);
    free(buf);
    return s;
}

mf_status mf_onnx_load_shaped(const char *path, int n, mf_tensor *const *inputs, mf_graph **out)
{
    if (!path || !out || n < 0 || (n > 0 && !inputs))
        return mf_error(MF_ERR_INVALID, "onnx: %s is NULL", !path ? "path" : !out ? "out" : "the input list");
    *out = NULL;
    for (int i = 0; i < n; i++)
        if (!inputs[i])
            return mf_error(MF_ERR_INVALID, "onnx: input %d of the shapes to import for is NULL", i);
    char *buf;
    size_t size;
    mf_status s = onnx_read_file(path, &buf, &size);
    if (s)
        return s;
    s = parse(buf, size, path, 0, (onnx_importer){.nshaped = n, .shaped_like = inputs}, out);
    free(buf);
    return s;
}

mf_status onnx_read_file(const char *path, char **buf, size_t *size)
{
    return mf_file_read_all(path, (size_t)1 << 31, buf, size);
}

mf_status mf_onnx_load(const char *path, int64_t batch, mf_graph **out)
{
    if (!path || !out)
        return mf_error(MF_ERR_INVALID, "onnx: %s is NULL", path ? "out" : "path");
    *out = NULL;
    char *buf;
    size_t size;
    mf_status s = onnx_read_file(path, &buf, &size);
    if (s)
        return s;
    s = mf_onnx_parse(buf, size, path, batch, out);
    free(buf);
    return s;
}
