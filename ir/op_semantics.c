/* op_semantics.c — the ir layer's table over ops.def: names, arity, kind, attribute schemas
 * with defaults, and shape/dtype inference with validation.  Eager ops, the trace recorder,
 * the parser and the verifier all ask here, so an op's rules live in one place. */
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_ops.h"
#include "einsum_rnn.h"
#include "ir.h"
#include "winograd.h"

static const char *const schemas[MF_OP_COUNT] = {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) [MF_OP_##ID] = schema,
#include "ops.def"
#undef X
};

static mf_op_info infos[MF_OP_COUNT] = {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) [MF_OP_##ID] = {#name, min_in, max_in, kind, mlu, 0, {{0}}},
#include "ops.def"
#undef X
};

static pthread_once_t schemas_once = PTHREAD_ONCE_INIT;
static char schema_problem[160]; /* the first malformed schema entry, or "" */

/* Parses one "name:type=default" entry of a schema into spec.  Schemas are ours, written
 * in ops.def, so a malformed one is a programming error: it is recorded (every inference
 * then fails with MF_ERR_INTERNAL, and a test checks there is none), never an abort. */
static bool parse_spec(const char *s, size_t len, mf_attr_spec *spec)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%.*s", (int)len, s);
    char *colon = strchr(buf, ':'), *eq = strchr(buf, '=');
    if (!colon) {
        if (!schema_problem[0])
            snprintf(schema_problem, sizeof schema_problem, "bad attribute schema entry '%s'", buf);
        return false;
    }
    *colon = 0;
    if (eq)
        *eq = 0;
    spec->name = strdup(buf);
    const char *type = colon + 1;
    spec->required = !eq;
    if (!strcmp(type, "int")) {
        spec->type = MF_ATTR_INT;
        spec->dflt.i = eq ? strtoll(eq + 1, NULL, 10) : 0;
    } else if (!strcmp(type, "float")) {
        spec->type = MF_ATTR_FLOAT;
        spec->dflt.f = eq ? strtod(eq + 1, NULL) : 0.0;
    } else {
        spec->type = MF_ATTR_INTS;
        spec->dflt.n = 0;
        for (char *p = eq ? eq + 1 : NULL; p && *p && spec->dflt.n < MF_MAX_RANK;) {
            spec->dflt.ints[spec->dflt.n++] = strtoll(p, &p, 10);
            if (*p == ',')
                p++;
        }
    }
    spec->dflt.type = spec->type;
    return true;
}

static void parse_schemas(void)
{
    for (int op = 0; op < MF_OP_COUNT; op++) {
        const char *s = schemas[op];
        while (*s) {
            while (*s == ' ')
                s++;
            size_t len = strcspn(s, " ");
            if (len && infos[op].nattrs == MF_MAX_ATTRS) {
                if (!schema_problem[0])
                    snprintf(schema_problem, sizeof schema_problem, "%s has more than MF_MAX_ATTRS = %d attributes",
                             infos[op].name, MF_MAX_ATTRS);
            } else if (len && parse_spec(s, len, &infos[op].attrs[infos[op].nattrs])) {
                infos[op].nattrs++;
            }
            s += len;
        }
    }
}

const char *mf_op_schema_problem(void)
{
    pthread_once(&schemas_once, parse_schemas);
    return schema_problem[0] ? schema_problem : NULL;
}

const mf_op_info *mf_op_get(mf_op op)
{
    pthread_once(&schemas_once, parse_schemas);
    return (unsigned)op < MF_OP_COUNT ? &infos[op] : NULL;
}

bool mf_op_from_name(const char *s, size_t len, mf_op *out)
{
    for (int op = 0; op < MF_OP_COUNT; op++) {
        if (strlen(infos[op].name) == len && !memcmp(infos[op].name, s, len)) {
            *out = (mf_op)op;
            return true;
        }
    }
    return false;
}

int mf_op_attr_index(mf_op op, const char *name)
{
    const mf_op_info *info = mf_op_get(op);
    for (int i = 0; i < info->nattrs; i++)
        if (!strcmp(info->attrs[i].name, name))
            return i;
    return -1;
}

void mf_op_default_attrs(mf_op op, mf_attr *attrs)
{
    const mf_op_info *info = mf_op_get(op);
    memset(attrs, 0, sizeof(mf_attr) * MF_MAX_ATTRS);
    for (int i = 0; i < info->nattrs; i++)
        attrs[i] = info->attrs[i].dflt;
}

static mf_attr *attr_slot(mf_op op, mf_attr *attrs, const char *name, mf_attr_type type)
{
    int i = mf_op_attr_index(op, name);
    if (i < 0 || mf_op_get(op)->attrs[i].type != type) {
        mf_error(MF_ERR_INVALID, "%s: no %s attribute '%s'", mf_op_get(op)->name,
                 type == MF_ATTR_INT ? "int" : type == MF_ATTR_FLOAT ? "float" : "ints", name);
        return NULL;
    }
    return &attrs[i];
}

mf_status mf_attr_set_int(mf_op op, mf_attr *attrs, const char *name, int64_t v)
{
    mf_attr *a = attr_slot(op, attrs, name, MF_ATTR_INT);
    if (!a)
        return MF_ERR_INVALID;
    a->i = v;
    return MF_OK;
}

mf_status mf_attr_set_float(mf_op op, mf_attr *attrs, const char *name, double v)
{
    mf_attr *a = attr_slot(op, attrs, name, MF_ATTR_FLOAT);
    if (!a)
        return MF_ERR_INVALID;
    a->f = v;
    return MF_OK;
}

mf_status mf_attr_set_ints(mf_op op, mf_attr *attrs, const char *name, int n, const int64_t *v)
{
    mf_attr *a = attr_slot(op, attrs, name, MF_ATTR_INTS);
    if (!a)
        return MF_ERR_INVALID;
    if (n < 0 || n > MF_MAX_RANK)
        return mf_error(MF_ERR_INVALID, "%s: attribute '%s' has %d entries (at most %d)",
                        mf_op_get(op)->name, name, n, MF_MAX_RANK);
    a->n = n;
    if (n)
        memcpy(a->ints, v, sizeof *v * (size_t)n);
    return MF_OK;
}

const mf_attr *mf_attr_get(mf_op op, const mf_attr *attrs, const char *name)
{
    int i = mf_op_attr_index(op, name);
    return i < 0 ? NULL : &attrs[i];
}

/* The getters below take names our own code writes: a name outside the op's schema is a
 * bug, asserted in debug builds (the sanitizer CI build), never read as a silent 0. */
static const mf_attr *known_attr(mf_op op, const mf_attr *attrs, const char *name)
{
    const mf_attr *a = mf_attr_get(op, attrs, name);
    assert(a && "attribute name not in the op's schema");
    if (!a)
        mf_error(MF_ERR_INTERNAL, "%s has no attribute '%s'", mf_op_get(op)->name, name);
    return a;
}

int64_t mf_attr_int(mf_op op, const mf_attr *attrs, const char *name)
{
    const mf_attr *a = known_attr(op, attrs, name);
    return a ? a->i : 0;
}

double mf_attr_float(mf_op op, const mf_attr *attrs, const char *name)
{
    const mf_attr *a = known_attr(op, attrs, name);
    return a ? a->f : 0.0;
}

/* ---- inference -------------------------------------------------------------------------- */

typedef struct infer_ctx {
    mf_op op;
    const mf_attr *attrs;
    int nin;
    const mf_type *in;
    mf_type *out;
    const mf_type *shown; /* the operand types messages name, when not `in` (quantized ops) */
} infer_ctx;

/* Fails with "op(type, type, ...): reason". */
static mf_status fail(const infer_ctx *c, mf_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static mf_status fail(const infer_ctx *c, mf_status s, const char *fmt, ...)
{
    char msg[1024], reason[512];
    size_t n = (size_t)snprintf(msg, sizeof msg, "%s(", mf_op_get(c->op)->name);
    for (int i = 0; i < c->nin && n < sizeof msg; i++) {
        char t[128];
        n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s", i ? ", " : "",
                              mf_type_str(&(c->shown ? c->shown : c->in)[i], t, sizeof t));
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return mf_error(s, "%.*s): %s", (int)(n < sizeof msg ? n : sizeof msg - 1), msg, reason);
}

static const mf_attr *A(const infer_ctx *c, const char *name)
{
    return mf_attr_get(c->op, c->attrs, name);
}

/* Stride, padding, dilation, kernel and scale attributes are at most this, so sums of a
 * few of them and a dimension never overflow. */
#define MF_MAX_GEOMETRY ((int64_t)1 << 31)

/* a * b into *out, or an error: shapes from files must never wrap around. */
static mf_status mul_dim(const infer_ctx *c, int64_t a, int64_t b, int64_t *out)
{
    if (__builtin_mul_overflow(a, b, out) || *out > MF_MAX_TENSOR_BYTES)
        return fail(c, MF_ERR_SHAPE, "a dimension of %lld x %lld is too large", (long long)a,
                    (long long)b);
    return MF_OK;
}

static mf_status need_dtype(const infer_ctx *c, int i, mf_dtype dt)
{
    if (c->in[i].dtype != dt)
        return fail(c, MF_ERR_DTYPE, "input %d is %s, expected %s", i,
                    mf_dtype_name(c->in[i].dtype), mf_dtype_name(dt));
    return MF_OK;
}

static mf_status need_all_f32(const infer_ctx *c)
{
    for (int i = 0; i < c->nin; i++) {
        mf_status s = need_dtype(c, i, MF_F32);
        if (s)
            return s;
    }
    return MF_OK;
}

static mf_status need_rank(const infer_ctx *c, int i, int rank)
{
    if (c->in[i].rank != rank)
        return fail(c, MF_ERR_SHAPE, "input %d has rank %d, expected %d", i, c->in[i].rank, rank);
    return MF_OK;
}

/* Normalizes a possibly negative dim against rank; false when out of range. */
static bool norm_dim(int64_t *d, int rank)
{
    if (*d < 0)
        *d += rank;
    return *d >= 0 && *d < rank;
}

/* The `dim` attribute counted from the front of a rank-`rank` input (mf_dim_of), or an error. */
static mf_status need_dim(const infer_ctx *c, int rank, int64_t *d)
{
    int k = mf_dim_of(c->op, c->attrs, rank);
    if (k < 0)
        return fail(c, MF_ERR_INVALID, "dim %lld is out of range", (long long)A(c, "dim")->i);
    *d = k;
    return MF_OK;
}

static mf_status need_ints(const infer_ctx *c, const char *name, int n, int64_t min)
{
    const mf_attr *a = A(c, name);
    if (a->n != n)
        return fail(c, MF_ERR_INVALID, "attribute %s has %d entries, expected %d", name, a->n, n);
    for (int i = 0; i < n; i++)
        if (a->ints[i] < min || a->ints[i] > MF_MAX_GEOMETRY)
            return fail(c, MF_ERR_INVALID, "attribute %s[%d] = %lld, must be in %lld..%lld",
                        name, i, (long long)a->ints[i], (long long)min, (long long)MF_MAX_GEOMETRY);
    return MF_OK;
}

/* in + pad_total - dil * (k - 1) - 1, the extent a sliding window can move over, checked:
 * k comes from a weight's shape, so the product may be out of range. */
static mf_status window_span(const infer_ctx *c, int64_t in, int64_t pad_total, int64_t dil,
                             int64_t k, int64_t *span)
{
    int64_t reach, padded;
    if (__builtin_mul_overflow(dil, k - 1, &reach) || __builtin_add_overflow(in, pad_total, &padded) ||
        __builtin_sub_overflow(padded, reach, span) || __builtin_sub_overflow(*span, 1, span))
        return fail(c, MF_ERR_SHAPE, "the window geometry is out of range");
    return MF_OK;
}

static mf_status broadcast(const infer_ctx *c, const mf_type *a, const mf_type *b, mf_type *o)
{
    int rank = a->rank > b->rank ? a->rank : b->rank;
    o->dtype = a->dtype;
    o->rank = rank;
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return fail(c, MF_ERR_SHAPE, "cannot broadcast: dim %d is %lld against %lld", i,
                        (long long)da, (long long)db);
        o->shape[i] = da == 1 ? db : da;
    }
    return MF_OK;
}

/* Binary arithmetic: two inputs of one numeric dtype (pow's exponent: any numeric dtype),
 * broadcast; the result has the first input's dtype.  Only f32 has device code. */
static mf_status infer_binary(const infer_ctx *c)
{
    mf_dtype a = c->in[0].dtype, b = c->in[1].dtype;
    if (a == MF_BOOL || b == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "input %d is bool, expected a numeric dtype", a == MF_BOOL ? 0 : 1);
    if (a != b && c->op != MF_OP_POW)
        return fail(c, MF_ERR_DTYPE, "input 1 is %s, expected %s", mf_dtype_name(b), mf_dtype_name(a));
    return broadcast(c, &c->in[0], &c->in[1], c->out);
}

/* need_all_f32, or any float dtype: f16 and f64 compute in f32 in the reference kernels,
 * and only f32 has device code (mf_node_has_mlu_code). */
static mf_status need_float(const infer_ctx *c, int i)
{
    if (!mf_dtype_is_float(c->in[i].dtype))
        return fail(c, MF_ERR_DTYPE, "input %d is %s, expected f32, f16 or f64", i,
                    mf_dtype_name(c->in[i].dtype));
    return MF_OK;
}

static mf_status infer_unary(const infer_ctx *c)
{
    mf_status s = need_float(c, 0);
    if (!s)
        *c->out = c->in[0];
    return s;
}

/* A unary op on any numeric dtype (clamp of integers). */
static mf_status infer_numeric_unary(const infer_ctx *c)
{
    if (c->in[0].dtype == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "input 0 is bool, expected a number");
    *c->out = c->in[0];
    return MF_OK;
}

/* Any dtype to the dtype `to` (an mf_dtype value), same shape. */
static mf_status infer_cast(const infer_ctx *c)
{
    int64_t to = A(c, "to")->i;
    if (to < 0 || to >= MF_DTYPE_COUNT) {
        char names[128];
        size_t n = 0;
        for (int d = 0; d < MF_DTYPE_COUNT && n < sizeof names; d++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%d %s", d ? ", " : "", d,
                                  mf_dtype_name((mf_dtype)d));
        return fail(c, MF_ERR_INVALID, "to = %lld is not a dtype (%s)", (long long)to, names);
    }
    *c->out = c->in[0];
    c->out->dtype = (mf_dtype)to;
    return MF_OK;
}

/* The operands and geometry attributes conv2d and conv_transpose2d share. */
static mf_status need_conv_geometry(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 4);
    if (!s)
        s = need_rank(c, 1, 4);
    if (!s)
        s = need_ints(c, "stride", 2, 1);
    if (!s)
        s = need_ints(c, "padding", 2, 0);
    if (!s)
        s = need_ints(c, "dilation", 2, 1);
    return s;
}

static mf_status infer_conv2d(const infer_ctx *c)
{
    mf_status s = need_conv_geometry(c);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *w = &c->in[1];
    int64_t groups = mf_conv2d_of(c->op, c->attrs).groups, cin = x->shape[1], cout = w->shape[0];
    if (groups < 1 || groups > MF_MAX_GEOMETRY)
        return fail(c, MF_ERR_INVALID, "groups = %lld, must be in 1..%lld", (long long)groups,
                    (long long)MF_MAX_GEOMETRY);
    if (cin % groups || cout % groups)
        return fail(c, MF_ERR_SHAPE, "%lld input and %lld output channels are not divisible by groups = %lld",
                    (long long)cin, (long long)cout, (long long)groups);
    if (w->shape[1] * groups != cin)
        return fail(c, MF_ERR_SHAPE, "weight expects %lld input channels per group, input has %lld channels in %lld groups",
                    (long long)w->shape[1], (long long)cin, (long long)groups);
    if (c->nin == 3 && (c->in[2].rank != 1 || c->in[2].shape[0] != cout))
        return fail(c, MF_ERR_SHAPE, "bias must be [%lld]", (long long)cout);
    int64_t packed = mf_conv2d_of(c->op, c->attrs).packed;
    if (packed < 0 || packed > MF_MAX_GEOMETRY)
        return fail(c, MF_ERR_INVALID, "packed = %lld, must be in 0..%lld", (long long)packed,
                    (long long)MF_MAX_GEOMETRY);
    mf_type *o = c->out;
    o->dtype = MF_F32;
    o->rank = 4;
    o->shape[0] = x->shape[0];
    o->shape[1] = cout;
    mf_conv2d_view v = mf_conv2d_of(c->op, c->attrs);
    for (int i = 0; i < 2; i++) {
        int64_t st = v.stride[i], pad = v.padding[i], dil = v.dilation[i], k = w->shape[2 + i];
        int64_t span = 0;
        if ((s = window_span(c, x->shape[2 + i], 2 * pad, dil, k, &span)))
            return s;
        if (span < 0)
            return fail(c, MF_ERR_SHAPE, "kernel %lld (dilation %lld) is larger than the padded input %lld",
                        (long long)k, (long long)dil, (long long)(x->shape[2 + i] + 2 * pad));
        o->shape[2 + i] = span / st + 1;
    }
    return MF_OK;
}

/* The transpose of conv2d: w is [Cin, Cout/groups, kh, kw]. */
static mf_status infer_conv_transpose2d(const infer_ctx *c)
{
    mf_status s = need_conv_geometry(c);
    if (!s)
        s = need_ints(c, "output_padding", 2, 0);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *w = &c->in[1];
    mf_conv2d_view v = mf_conv2d_of(c->op, c->attrs);
    int64_t groups = v.groups, cin = x->shape[1];
    if (groups < 1 || groups > MF_MAX_GEOMETRY || cin % groups)
        return fail(c, MF_ERR_INVALID, "groups = %lld does not divide %lld input channels",
                    (long long)groups, (long long)cin);
    if (w->shape[0] != cin)
        return fail(c, MF_ERR_SHAPE, "weight has %lld input channels, input has %lld",
                    (long long)w->shape[0], (long long)cin);
    int64_t cout = w->shape[1] * groups;
    if (c->nin == 3 && (c->in[2].rank != 1 || c->in[2].shape[0] != cout))
        return fail(c, MF_ERR_SHAPE, "bias must be [%lld]", (long long)cout);
    mf_type *o = c->out;
    *o = *x;
    o->shape[1] = cout;
    for (int i = 0; i < 2; i++) {
        int64_t st = v.stride[i], pad = v.padding[i], op = v.output_padding[i], dil = v.dilation[i];
        if (op >= st && op >= dil)
            return fail(c, MF_ERR_INVALID, "output_padding %lld must be smaller than stride or dilation",
                        (long long)op);
        /* (in - 1) * stride - 2 * pad + dil * (k - 1) + output_padding + 1 */
        int64_t n = 0, grown = 0;
        if ((s = mul_dim(c, x->shape[2 + i] - 1, st, &grown)) ||
            (s = window_span(c, grown + op + 2, -2 * pad, -dil, w->shape[2 + i], &n)))
            return s;
        if (n < 1)
            return fail(c, MF_ERR_SHAPE, "the output would be empty in dim %d", 2 + i);
        o->shape[2 + i] = n;
    }
    return MF_OK;
}

static mf_status infer_linear(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 1, 2);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *w = &c->in[1];
    if (x->rank < 1 || x->shape[x->rank - 1] != w->shape[1])
        return fail(c, MF_ERR_SHAPE, "input's last dim must equal the weight's in_features %lld",
                    (long long)w->shape[1]);
    if (c->nin == 3 && (c->in[2].rank != 1 || c->in[2].shape[0] != w->shape[0]))
        return fail(c, MF_ERR_SHAPE, "bias must be [%lld]", (long long)w->shape[0]);
    *c->out = *x;
    c->out->shape[x->rank - 1] = w->shape[0];
    return MF_OK;
}

/* torch.matmul: 1-D operands are promoted (and the added dim removed from the result);
 * batch dims broadcast. */
static mf_status infer_matmul(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (s)
        return s;
    mf_type a = c->in[0], b = c->in[1];
    if (a.rank < 1 || b.rank < 1)
        return fail(c, MF_ERR_SHAPE, "operands must have rank at least 1");
    bool a1 = a.rank == 1, b1 = b.rank == 1;
    if (a1) {
        a.shape[1] = a.shape[0], a.shape[0] = 1, a.rank = 2;
    }
    if (b1)
        b.shape[1] = 1, b.rank = 2;
    int64_t k = a.shape[a.rank - 1];
    if (b.shape[b.rank - 2] != k)
        return fail(c, MF_ERR_SHAPE, "inner dims differ: %lld against %lld", (long long)k,
                    (long long)b.shape[b.rank - 2]);
    int64_t packed = mf_matmul_packed(c->attrs);
    if (packed < 0 || packed > MF_MAX_GEOMETRY || (packed && a1))
        return fail(c, MF_ERR_INVALID, "packed = %lld, must be in 0..%lld (0 for a 1-D left operand)",
                    (long long)packed, (long long)MF_MAX_GEOMETRY);
    mf_type ba = a, bb = b, batch;
    ba.rank -= 2, bb.rank -= 2;
    s = broadcast(c, &ba, &bb, &batch);
    if (s)
        return s;
    mf_type *o = c->out;
    *o = batch;
    o->dtype = MF_F32;
    if (!a1)
        o->shape[o->rank++] = a.shape[a.rank - 2];
    if (!b1)
        o->shape[o->rank++] = b.shape[b.rank - 1];
    return MF_OK;
}

static mf_status infer_batch_norm(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (s)
        return s;
    if (c->in[0].rank < 2)
        return fail(c, MF_ERR_SHAPE, "input must have rank at least 2 (N, C, ...)");
    for (int i = 1; i < 5; i++)
        if (c->in[i].rank != 1 || c->in[i].shape[0] != c->in[0].shape[1])
            return fail(c, MF_ERR_SHAPE, "input %d must be [%lld], one entry per channel", i,
                        (long long)c->in[0].shape[1]);
    *c->out = c->in[0];
    return MF_OK;
}

static mf_status pool_out(const infer_ctx *c, int64_t in, int64_t k, int64_t st, int64_t pad,
                          int64_t dil, bool ceil_mode, int64_t *out)
{
    if (pad * 2 > k)
        return fail(c, MF_ERR_INVALID, "padding %lld is more than half the kernel %lld",
                    (long long)pad, (long long)k);
    int64_t span = 0;
    mf_status s = window_span(c, in, 2 * pad, dil, k, &span);
    if (s)
        return s;
    if (span < 0)
        return fail(c, MF_ERR_SHAPE, "kernel %lld is larger than the padded input %lld",
                    (long long)k, (long long)(in + 2 * pad));
    int64_t n = (ceil_mode ? (span + st - 1) / st : span / st) + 1;
    if (ceil_mode && (n - 1) * st >= in + pad)
        n--; /* the last window must start inside the input or its left padding */
    *out = n;
    return MF_OK;
}

static mf_status infer_pool(const infer_ctx *c)
{
    /* max_pool2d also takes i8: the max of quantized values is the quantized max. */
    bool int8_max = c->op == MF_OP_MAX_POOL2D && c->in[0].dtype == MF_I8;
    mf_status s = int8_max ? MF_OK : need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 4);
    if (!s)
        s = need_ints(c, "kernel", 2, 1);
    if (!s && A(c, "stride")->n != 0)
        s = need_ints(c, "stride", 2, 1);
    if (!s)
        s = need_ints(c, "padding", 2, 0);
    bool has_dil = mf_op_attr_index(c->op, "dilation") >= 0;
    if (!s && has_dil)
        s = need_ints(c, "dilation", 2, 1);
    if (s)
        return s;
    *c->out = c->in[0];
    mf_pool2d_view v = mf_pool2d_of(c->op, c->attrs);
    for (int i = 0; i < 2; i++) {
        s = pool_out(c, c->in[0].shape[2 + i], v.kernel[i], v.stride[i], v.padding[i],
                     v.dilation[i], v.ceil_mode, &c->out->shape[2 + i]);
        if (s)
            return s;
    }
    return MF_OK;
}

static mf_status infer_adaptive_pool(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s && c->in[0].rank != 3 && c->in[0].rank != 4)
        s = fail(c, MF_ERR_SHAPE, "input must have rank 3 or 4");
    if (!s)
        s = need_ints(c, "output_size", 2, 1);
    if (s)
        return s;
    *c->out = c->in[0];
    c->out->shape[c->in[0].rank - 2] = A(c, "output_size")->ints[0];
    c->out->shape[c->in[0].rank - 1] = A(c, "output_size")->ints[1];
    return MF_OK;
}

/* argmax/argmin: the i64 index along dim, which is kept as 1 or dropped; any numeric
 * dtype (exports take the argmax of i64 ids). */
static mf_status infer_arg_reduce(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    if (x->dtype == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "input 0 is bool, expected a number");
    int64_t d;
    mf_status s = need_dim(c, x->rank, &d);
    if (s)
        return s;
    if (x->shape[d] == 0)
        return fail(c, MF_ERR_SHAPE, "dim %lld is empty: no index to give", (long long)d);
    mf_type *o = c->out;
    o->dtype = MF_I64;
    o->rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != d || A(c, "keepdim")->i)
            o->shape[o->rank++] = i == d ? 1 : x->shape[i];
    return MF_OK;
}

static mf_status infer_softmax(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (s)
        return s;
    int64_t d;
    s = need_dim(c, c->in[0].rank, &d);
    if (s)
        return s;
    *c->out = c->in[0];
    return MF_OK;
}

/* Reductions take every float dtype (the reference kernels accumulate in double). */
/* Sums, products, extremes and L1 / sum of squares of integers too (exact in double up to
 * 2^53): the shape arithmetic of exported models (a numel as ReduceProd of a Shape, a count
 * as ReduceSum of a cast mask). */
static bool reduce_takes_integers(mf_op op)
{
    return op == MF_OP_SUM || op == MF_OP_REDUCE_PROD || op == MF_OP_REDUCE_MAX || op == MF_OP_REDUCE_MIN ||
           op == MF_OP_REDUCE_L1 || op == MF_OP_REDUCE_SUM_SQUARE;
}

static mf_status infer_reduce(const infer_ctx *c)
{
    mf_status s = reduce_takes_integers(c->op) && c->in[0].dtype != MF_BOOL ? MF_OK : need_float(c, 0);
    if (s)
        return s;
    const mf_type *x = &c->in[0];
    const mf_attr *dims = A(c, "dims");
    bool reduced[MF_MAX_RANK] = {0};
    for (int i = 0; i < dims->n; i++) {
        int64_t d = dims->ints[i];
        if (!norm_dim(&d, x->rank))
            return fail(c, MF_ERR_INVALID, "dim %lld is out of range", (long long)dims->ints[i]);
        if (reduced[d])
            return fail(c, MF_ERR_INVALID, "dim %lld appears twice", (long long)dims->ints[i]);
        reduced[d] = true;
    }
    if (dims->n == 0)
        for (int i = 0; i < x->rank; i++)
            reduced[i] = true;
    bool keep = A(c, "keepdim")->i != 0;
    mf_type *o = c->out;
    o->dtype = x->dtype;
    o->rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!reduced[i])
            o->shape[o->rank++] = x->shape[i];
        else if (keep)
            o->shape[o->rank++] = 1;
    }
    return MF_OK;
}

static mf_status infer_identity(const infer_ctx *c)
{
    double p = A(c, "p")->f;
    if (!(p >= 0 && p <= 1))
        return fail(c, MF_ERR_INVALID, "p = %g is outside [0, 1]", p);
    *c->out = c->in[0];
    return MF_OK;
}

static mf_status infer_flatten(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    int rank = x->rank ? x->rank : 1;
    int64_t a = A(c, "start_dim")->i, b = A(c, "end_dim")->i;
    if (!norm_dim(&a, rank) || !norm_dim(&b, rank) || a > b)
        return fail(c, MF_ERR_INVALID, "dims %lld..%lld are not a range of rank %d",
                    (long long)A(c, "start_dim")->i, (long long)A(c, "end_dim")->i, x->rank);
    mf_type *o = c->out;
    o->dtype = x->dtype;
    o->rank = 0;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        int64_t d = x->rank ? x->shape[i] : 1;
        if (i < a || i > b) {
            o->shape[o->rank++] = d;
        } else {
            n *= d;
            if (i == b)
                o->shape[o->rank++] = n;
        }
    }
    return MF_OK;
}

static mf_status infer_reshape(const infer_ctx *c)
{
    const mf_attr *sh = A(c, "shape");
    int64_t known = 1, numel = mf_type_numel(&c->in[0]);
    int infer_at = -1;
    for (int i = 0; i < sh->n; i++) {
        if (sh->ints[i] == -1 && infer_at < 0)
            infer_at = i;
        else if (sh->ints[i] < 0)
            return fail(c, MF_ERR_INVALID, "shape entry %d is %lld", i, (long long)sh->ints[i]);
        else if (mul_dim(c, known, sh->ints[i], &known))
            return MF_ERR_SHAPE;
    }
    mf_type *o = c->out;
    o->dtype = c->in[0].dtype;
    o->rank = sh->n;
    memcpy(o->shape, sh->ints, sizeof o->shape);
    if (infer_at >= 0) {
        if (known == 0 || numel % known)
            return fail(c, MF_ERR_SHAPE, "%lld elements cannot fill a -1 dimension",
                        (long long)numel);
        o->shape[infer_at] = numel / known;
    } else if (known != numel) {
        return fail(c, MF_ERR_SHAPE, "%lld elements cannot be reshaped to %lld",
                    (long long)numel, (long long)known);
    }
    return MF_OK;
}

static mf_status infer_permute(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    const mf_attr *perm = A(c, "perm");
    if (perm->n != x->rank)
        return fail(c, MF_ERR_INVALID, "perm has %d entries for rank %d", perm->n, x->rank);
    bool seen[MF_MAX_RANK] = {0};
    mf_type *o = c->out;
    *o = *x;
    for (int i = 0; i < perm->n; i++) {
        int64_t d = perm->ints[i];
        if (!norm_dim(&d, x->rank) || seen[d])
            return fail(c, MF_ERR_INVALID, "perm is not a permutation of 0..%d", x->rank - 1);
        seen[d] = true;
        o->shape[i] = x->shape[d];
    }
    return MF_OK;
}

static mf_status infer_concat(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    int64_t d;
    mf_status s = need_dim(c, x->rank, &d);
    if (s)
        return s;
    *c->out = *x;
    for (int i = 1; i < c->nin; i++) {
        const mf_type *y = &c->in[i];
        if (y->dtype != x->dtype)
            return fail(c, MF_ERR_DTYPE, "input %d is %s, input 0 is %s", i,
                        mf_dtype_name(y->dtype), mf_dtype_name(x->dtype));
        if (y->rank != x->rank)
            return fail(c, MF_ERR_SHAPE, "input %d has rank %d, input 0 has rank %d", i, y->rank,
                        x->rank);
        for (int j = 0; j < x->rank; j++)
            if (j != d && y->shape[j] != x->shape[j])
                return fail(c, MF_ERR_SHAPE, "input %d differs from input 0 in dim %d", i, j);
        if (__builtin_add_overflow(c->out->shape[d], y->shape[d], &c->out->shape[d]))
            return fail(c, MF_ERR_SHAPE, "the concatenated dim %lld is too large", (long long)d);
    }
    return MF_OK;
}

static mf_status infer_upsample(const infer_ctx *c)
{
    mf_status s = need_rank(c, 0, 4);
    if (!s)
        s = need_ints(c, "scale", 2, 1);
    if (s)
        return s;
    *c->out = c->in[0];
    const int64_t *scale = A(c, "scale")->ints;
    if ((s = mul_dim(c, c->in[0].shape[2], scale[0], &c->out->shape[2])))
        return s;
    return mul_dim(c, c->in[0].shape[3], scale[1], &c->out->shape[3]);
}

/* pads: begin for every dim, then end for every dim (ONNX's order); negative crops.
 * mode: 0 constant, 1 reflect (a pad at most dim - 1), 2 edge, 3 wrap (a pad at most dim);
 * the last three need a non-empty dim wherever they pad. */
static mf_status infer_pad(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    const mf_attr *pads = A(c, "pads");
    int64_t mode = A(c, "mode")->i;
    if (mode < 0 || mode > 3)
        return fail(c, MF_ERR_INVALID, "mode %lld (0 constant, 1 reflect, 2 edge, 3 wrap)", (long long)mode);
    if (pads->n != 2 * x->rank)
        return fail(c, MF_ERR_INVALID, "pads has %d entries, expected %d (2 per dim)", pads->n,
                    2 * x->rank);
    *c->out = *x;
    for (int i = 0; i < x->rank; i++) {
        int64_t d;
        if (__builtin_add_overflow(x->shape[i], pads->ints[i], &d) ||
            __builtin_add_overflow(d, pads->ints[x->rank + i], &d) || d > MF_MAX_TENSOR_BYTES)
            return fail(c, MF_ERR_SHAPE, "padding dim %d gives a size out of range", i);
        if (d < 0)
            return fail(c, MF_ERR_SHAPE, "padding dim %d gives a negative size", i);
        int64_t most = pads->ints[i] > pads->ints[x->rank + i] ? pads->ints[i] : pads->ints[x->rank + i];
        int64_t limit = mode == 1 ? x->shape[i] - 1 : mode == 3 ? x->shape[i] : INT64_MAX;
        if (mode && most > 0 && (x->shape[i] == 0 || most > limit))
            return fail(c, MF_ERR_SHAPE, "a pad of %lld on dim %d of size %lld in %s mode", (long long)most, i,
                        (long long)x->shape[i], mode == 1 ? "reflect" : mode == 2 ? "edge" : "wrap");
        c->out->shape[i] = d;
    }
    return MF_OK;
}

/* ONNX Slice semantics: per listed axis (default 0..n-1) a start, end and step (default
 * 1); negative starts/ends count from the end; both are clamped to the dim. */
static mf_status slice_range(const infer_ctx *c, int i, int64_t dim, int64_t *start, int64_t *step,
                             int64_t *count)
{
    const mf_attr *st = A(c, "starts"), *en = A(c, "ends"), *sp = A(c, "steps");
    int64_t b = st->ints[i], e = en->ints[i], k = sp->n ? sp->ints[i] : 1;
    if (k == 0)
        return fail(c, MF_ERR_INVALID, "step %d is 0", i);
    if (b < 0)
        b += dim;
    if (e < 0 && e > INT64_MIN / 2)
        e += dim;
    if (k > 0) {
        b = b < 0 ? 0 : b > dim ? dim : b;
        e = e < 0 ? 0 : e > dim ? dim : e;
        *count = e > b ? (e - b - 1) / k + 1 : 0; /* no overflow for any k */
    } else {
        b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
        e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        int64_t back = k < -INT64_MAX ? INT64_MAX : -k;
        *count = b > e ? (b - e - 1) / back + 1 : 0;
    }
    *start = b;
    *step = k;
    return MF_OK;
}

mf_status mf_op_slice_dims(mf_op op, const mf_attr *attrs, const mf_type *in, int64_t *start,
                           int64_t *step, int64_t *count)
{
    infer_ctx c = {op, attrs, 1, in, NULL, NULL};
    const mf_attr *st = A(&c, "starts"), *en = A(&c, "ends"), *ax = A(&c, "axes"), *sp = A(&c, "steps");
    int n = st->n;
    if (en->n != n || (ax->n && ax->n != n) || (sp->n && sp->n != n) || n > in->rank)
        return fail(&c, MF_ERR_INVALID, "starts, ends, axes and steps must have the same length (at most the rank)");
    for (int d = 0; d < in->rank; d++) {
        start[d] = 0;
        step[d] = 1;
        count[d] = in->shape[d];
    }
    bool seen[MF_MAX_RANK] = {0};
    for (int i = 0; i < n; i++) {
        int64_t d = ax->n ? ax->ints[i] : i;
        if (!norm_dim(&d, in->rank) || seen[d])
            return fail(&c, MF_ERR_INVALID, "axis %lld is out of range or repeated",
                        (long long)(ax->n ? ax->ints[i] : i));
        seen[d] = true;
        mf_status s = slice_range(&c, i, in->shape[d], &start[d], &step[d], &count[d]);
        if (s)
            return s;
    }
    return MF_OK;
}

static mf_status infer_slice(const infer_ctx *c)
{
    int64_t start[MF_MAX_RANK], step[MF_MAX_RANK], count[MF_MAX_RANK];
    mf_status s = mf_op_slice_dims(c->op, c->attrs, &c->in[0], start, step, count);
    if (s)
        return s;
    *c->out = c->in[0];
    memcpy(c->out->shape, count, sizeof count[0] * (size_t)c->in[0].rank);
    return MF_OK;
}

/* ---- Winograd F(4,3) (ops.def, ir/winograd.h) ---------------------------------------------- */

/* w[K, C, 3, 3] -> U[36, K, C] ([36, C, K] channels last). */
static mf_status infer_winograd_weight(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 4);
    if (s)
        return s;
    const mf_type *w = &c->in[0];
    if (w->shape[2] != 3 || w->shape[3] != 3)
        return fail(c, MF_ERR_SHAPE, "the kernel must be 3x3");
    bool cl = A(c, "channels_last")->i != 0;
    *c->out = (mf_type){.dtype = MF_F32, .rank = 3, .shape = {MF_WINO_P, w->shape[cl ? 1 : 0], w->shape[cl ? 0 : 1]}};
    return MF_OK;
}

/* x[N, C, H, W] -> V[36, C, T], T = N * tiles(H + 2ph - 2) * tiles(W + 2pw - 2) ([36, T, C]
 * channels last). */
static mf_status infer_winograd_input(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 4);
    if (!s)
        s = need_ints(c, "padding", 2, 0);
    if (s)
        return s;
    const mf_type *x = &c->in[0];
    int64_t t = x->shape[0];
    for (int i = 0; i < 2; i++) {
        int64_t span = 0;
        if ((s = window_span(c, x->shape[2 + i], 2 * A(c, "padding")->ints[i], 1, 3, &span)))
            return s;
        if (span < 0)
            return fail(c, MF_ERR_SHAPE, "the padded input is smaller than the 3x3 kernel");
        if ((s = mul_dim(c, t, mf_wino_tiles(span + 1), &t)))
            return s;
    }
    bool cl = A(c, "channels_last")->i != 0;
    *c->out = (mf_type){.dtype = MF_F32, .rank = 3, .shape = {MF_WINO_P, cl ? t : x->shape[1], cl ? x->shape[1] : t}};
    return MF_OK;
}

/* M[36, K, T] ([36, T, K] channels last) (+ bias[K]) -> y[N, K, H', W'], size = N, H', W'. */
static mf_status infer_winograd_output(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 3);
    if (!s)
        s = need_ints(c, "size", 3, 1);
    if (s)
        return s;
    const mf_type *m = &c->in[0];
    const int64_t *size = A(c, "size")->ints;
    int64_t t = 0;
    if ((s = mul_dim(c, size[0], mf_wino_tiles(size[1]), &t)) ||
        (s = mul_dim(c, t, mf_wino_tiles(size[2]), &t)))
        return s;
    bool cl = A(c, "channels_last")->i != 0;
    int64_t k = m->shape[cl ? 2 : 1];
    if (m->shape[0] != MF_WINO_P || m->shape[cl ? 1 : 2] != t)
        return fail(c, MF_ERR_SHAPE, "expected %s for size [%lld, %lld, %lld] (%lld tiles)", cl ? "[36, T, K]" : "[36, K, T]",
                    (long long)size[0], (long long)size[1], (long long)size[2], (long long)t);
    if (c->nin == 2 && (c->in[1].rank != 1 || c->in[1].shape[0] != k))
        return fail(c, MF_ERR_SHAPE, "bias must be [%lld]", (long long)k);
    *c->out = (mf_type){.dtype = MF_F32, .rank = 4, .shape = {size[0], k, size[1], size[2]}};
    return MF_OK;
}

/* ---- quantized ops ------------------------------------------------------------------------ */

/* A per-tensor scale attribute: finite and positive. */
static mf_status need_scale(const infer_ctx *c, const char *name)
{
    double s = A(c, name)->f;
    if (!(s > 0) || !isfinite(s))
        return fail(c, MF_ERR_INVALID, "%s = %g, must be finite and positive", name, s);
    return MF_OK;
}

/* A zero point attribute: an int8 value. */
static mf_status need_zero_point(const infer_ctx *c, const char *name)
{
    int64_t z = A(c, name)->i;
    if (z < -128 || z > 127)
        return fail(c, MF_ERR_INVALID, "%s = %lld, must be in -128..127", name, (long long)z);
    return MF_OK;
}

/* The (scale, zero point) pairs prefix_scale / prefix_zero_point named, and min <= max. */
static mf_status need_quant_params(const infer_ctx *c, const char *const *prefixes, int n)
{
    for (int i = 0; i < n; i++) {
        char sc[32], zp[32];
        snprintf(sc, sizeof sc, "%s_scale", prefixes[i]);
        snprintf(zp, sizeof zp, "%s_zero_point", prefixes[i]);
        mf_status s = need_scale(c, sc);
        if (!s)
            s = need_zero_point(c, zp);
        if (s)
            return s;
    }
    if (mf_op_attr_index(c->op, "min") >= 0 && !(A(c, "min")->f <= A(c, "max")->f))
        return fail(c, MF_ERR_INVALID, "min = %g is not at most max = %g", A(c, "min")->f,
                    A(c, "max")->f);
    return MF_OK;
}

static mf_status infer_quantize(const infer_ctx *c)
{
    mf_status s = need_dtype(c, 0, MF_F32);
    if (!s)
        s = need_scale(c, "scale");
    if (!s)
        s = need_zero_point(c, "zero_point");
    if (!s)
        *c->out = c->in[0], c->out->dtype = MF_I8;
    return s;
}

static mf_status infer_dequantize(const infer_ctx *c)
{
    mf_status s = need_dtype(c, 0, MF_I8);
    if (!s)
        s = need_scale(c, "scale");
    if (!s)
        s = need_zero_point(c, "zero_point");
    if (!s)
        *c->out = c->in[0], c->out->dtype = MF_F32;
    return s;
}

/* qconv2d and qlinear: i8 input and weight, the weight's f32 scales (one per output channel
 * or one), an optional f32 bias; shapes as for the f32 op `like`, whose rule checks them. */
static mf_status infer_quantized_anchor(const infer_ctx *c, mf_status (*like)(const infer_ctx *))
{
    static const char *const xy[] = {"x", "y"};
    mf_status s = need_dtype(c, 0, MF_I8);
    if (!s)
        s = need_dtype(c, 1, MF_I8);
    if (!s)
        s = need_dtype(c, 2, MF_F32);
    if (!s && c->nin > 3)
        s = need_dtype(c, 3, MF_F32);
    if (!s)
        s = need_quant_params(c, xy, 2);
    if (s)
        return s;
    int64_t cout = c->in[1].shape[0];
    if (c->in[2].rank != 1 || (c->in[2].shape[0] != 1 && c->in[2].shape[0] != cout))
        return fail(c, MF_ERR_SHAPE, "weight scales must be [%lld] (per output channel) or [1]",
                    (long long)cout);
    mf_type f32[4];
    int nin = 0;
    f32[nin++] = c->in[0], f32[nin++] = c->in[1];
    if (c->nin > 3)
        f32[nin++] = c->in[3];
    for (int i = 0; i < nin; i++)
        f32[i].dtype = MF_F32;
    infer_ctx fc = {c->op, c->attrs, nin, f32, c->out, c->in};
    s = like(&fc);
    int64_t acc = A(c, "acc")->i;
    if (!s && acc != 0 && acc != 1)
        return fail(c, MF_ERR_INVALID, "acc = %lld, must be 0 or 1", (long long)acc);
    c->out->dtype = acc ? MF_I32 : MF_I8;
    return s;
}

static mf_status infer_qconv2d(const infer_ctx *c)
{
    if (c->in[1].rank != 4)
        return fail(c, MF_ERR_SHAPE, "input 1 has rank %d, expected 4", c->in[1].rank);
    if (A(c, "w_pair_max")->i < 0 || A(c, "w_pair_max")->i > 256)
        return fail(c, MF_ERR_INVALID, "w_pair_max = %lld, must be in 0..256", (long long)A(c, "w_pair_max")->i);
    mf_status s = infer_quantized_anchor(c, infer_conv2d);
    int64_t K = s ? 0 : mf_type_numel(&c->in[1]) / (c->in[1].shape[0] ? c->in[1].shape[0] : 1);
    if (!s && A(c, "packed")->i > 0 && (K % 4 || A(c, "groups")->i != 1))
        return fail(c, MF_ERR_INVALID, "packed = %lld needs groups 1 and weight rows of whole quads (%lld bytes)",
                    (long long)A(c, "packed")->i, (long long)K);
    if (!s && A(c, "taps_first")->i != 0 && A(c, "taps_first")->i != 1)
        return fail(c, MF_ERR_INVALID, "taps_first = %lld, must be 0 or 1", (long long)A(c, "taps_first")->i);
    return s;
}

static mf_status infer_qlinear(const infer_ctx *c)
{
    if (c->in[1].rank != 2)
        return fail(c, MF_ERR_SHAPE, "input 1 has rank %d, expected 2", c->in[1].rank);
    return infer_quantized_anchor(c, infer_linear);
}

/* a [..., M, K] · b [..., K, N], both i8 of rank 2 or more with equal batch dims (or b of
 * rank 2, shared by every batch). */
static mf_status infer_qmatmul(const infer_ctx *c)
{
    static const char *const aby[] = {"a", "b", "y"};
    mf_status s = need_dtype(c, 0, MF_I8);
    if (!s)
        s = need_dtype(c, 1, MF_I8);
    if (!s)
        s = need_quant_params(c, aby, 3);
    if (s)
        return s;
    const mf_type *a = &c->in[0], *b = &c->in[1];
    if (a->rank < 2 || b->rank < 2)
        return fail(c, MF_ERR_SHAPE, "operands must have rank at least 2");
    if (a->shape[a->rank - 1] != b->shape[b->rank - 2])
        return fail(c, MF_ERR_SHAPE, "inner dims differ: %lld against %lld",
                    (long long)a->shape[a->rank - 1], (long long)b->shape[b->rank - 2]);
    if (b->rank != 2 && (b->rank != a->rank || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)(a->rank - 2))))
        return fail(c, MF_ERR_SHAPE, "batch dims must be equal (or b of rank 2)");
    *c->out = *a;
    c->out->shape[a->rank - 1] = b->shape[b->rank - 1];
    return MF_OK;
}

/* Two i8 tensors of one shape (a residual connection). */
static mf_status infer_qadd(const infer_ctx *c)
{
    static const char *const aby[] = {"a", "b", "y"};
    mf_status s = need_dtype(c, 0, MF_I8);
    if (!s)
        s = need_dtype(c, 1, MF_I8);
    if (!s)
        s = need_quant_params(c, aby, 3);
    if (s)
        return s;
    if (!mf_type_equal(&c->in[0], &c->in[1]))
        return fail(c, MF_ERR_SHAPE, "operands must have the same shape");
    *c->out = c->in[0];
    return MF_OK;
}

typedef mf_status (*infer_fn)(const infer_ctx *c);

/* isnan/isinf: f32 in, bool of the same shape out. */
static mf_status infer_predicate(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s) {
        *c->out = c->in[0];
        c->out->dtype = MF_BOOL;
    }
    return s;
}

/* Comparisons: two inputs of one numeric dtype, broadcast, a bool result. */
static mf_status infer_compare(const infer_ctx *c)
{
    if (c->in[0].dtype != c->in[1].dtype)
        return fail(c, MF_ERR_DTYPE, "the inputs are %s and %s, expected one dtype",
                    mf_dtype_name(c->in[0].dtype), mf_dtype_name(c->in[1].dtype));
    mf_status s = broadcast(c, &c->in[0], &c->in[1], c->out);
    c->out->dtype = MF_BOOL;
    return s;
}

/* and, or, xor (broadcast) and not: bool in, bool out. */
static mf_status infer_logical(const infer_ctx *c)
{
    for (int i = 0; i < c->nin; i++) {
        mf_status s = need_dtype(c, i, MF_BOOL);
        if (s)
            return s;
    }
    if (c->nin == 1) {
        *c->out = c->in[0];
        return MF_OK;
    }
    return broadcast(c, &c->in[0], &c->in[1], c->out);
}

/* where(cond, x, y): a bool condition, x and y of one dtype, all three broadcast. */
static mf_status infer_where(const infer_ctx *c)
{
    mf_status s = need_dtype(c, 0, MF_BOOL);
    if (s)
        return s;
    if (c->in[1].dtype != c->in[2].dtype)
        return fail(c, MF_ERR_DTYPE, "x is %s and y is %s, expected one dtype",
                    mf_dtype_name(c->in[1].dtype), mf_dtype_name(c->in[2].dtype));
    mf_type xy;
    if ((s = broadcast(c, &c->in[1], &c->in[2], &xy)))
        return s;
    s = broadcast(c, &c->in[0], &xy, c->out);
    c->out->dtype = c->in[1].dtype;
    return s;
}

/* A binary op on any numeric dtype (both inputs the same), broadcast. */
static mf_status infer_numeric_binary(const infer_ctx *c)
{
    if (c->in[0].dtype != c->in[1].dtype || c->in[0].dtype == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "the inputs are %s and %s, expected one numeric dtype",
                    mf_dtype_name(c->in[0].dtype), mf_dtype_name(c->in[1].dtype));
    return broadcast(c, &c->in[0], &c->in[1], c->out);
}

/* expand: x broadcast with the shape attribute (numpy rules, both ways). */
static mf_status infer_expand(const infer_ctx *c)
{
    const mf_attr *sh = A(c, "shape");
    mf_type t = {c->in[0].dtype, sh->n, {0}};
    for (int i = 0; i < sh->n; i++) {
        if (sh->ints[i] < 0)
            return fail(c, MF_ERR_INVALID, "shape[%d] = %lld is negative", i, (long long)sh->ints[i]);
        t.shape[i] = sh->ints[i];
    }
    return broadcast(c, &c->in[0], &t, c->out);
}

/* tile: every dim times its repeat count. */
static mf_status infer_tile(const infer_ctx *c)
{
    const mf_attr *r = A(c, "repeats");
    if (r->n != c->in[0].rank)
        return fail(c, MF_ERR_INVALID, "repeats has %d entries, expected %d", r->n, c->in[0].rank);
    *c->out = c->in[0];
    for (int i = 0; i < r->n; i++) {
        if (r->ints[i] < 0)
            return fail(c, MF_ERR_INVALID, "repeats[%d] = %lld is negative", i, (long long)r->ints[i]);
        mf_status s = mul_dim(c, c->in[0].shape[i], r->ints[i], &c->out->shape[i]);
        if (s)
            return s;
    }
    return MF_OK;
}

static mf_status need_index_dtype(const infer_ctx *c, int i)
{
    if (c->in[i].dtype != MF_I64 && c->in[i].dtype != MF_I32)
        return fail(c, MF_ERR_DTYPE, "input %d is %s, expected i64 or i32 indices", i,
                    mf_dtype_name(c->in[i].dtype));
    return MF_OK;
}

/* gather(x, idx) along dim: x's dims with dim replaced by idx's dims. */
static mf_status infer_gather(const infer_ctx *c)
{
    const mf_type *x = &c->in[0], *idx = &c->in[1];
    int64_t d;
    mf_status s = need_index_dtype(c, 1);
    if (s)
        return s;
    s = need_dim(c, x->rank, &d);
    if (s)
        return s;
    if (x->rank - 1 + idx->rank > MF_MAX_RANK)
        return fail(c, MF_ERR_SHAPE, "the result has rank %d (at most %d)", x->rank - 1 + idx->rank, MF_MAX_RANK);
    mf_type *o = c->out;
    o->dtype = x->dtype;
    o->rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != d)
            o->shape[o->rank++] = x->shape[i];
        else
            for (int j = 0; j < idx->rank; j++)
                o->shape[o->rank++] = idx->shape[j];
    }
    return MF_OK;
}

/* gather_elements(x, idx) along dim: idx's shape, same rank as x. */
static mf_status infer_gather_elements(const infer_ctx *c)
{
    const mf_type *x = &c->in[0], *idx = &c->in[1];
    int64_t d;
    mf_status s = need_index_dtype(c, 1);
    if (s)
        return s;
    s = need_dim(c, x->rank, &d);
    if (s)
        return s;
    if (idx->rank != x->rank)
        return fail(c, MF_ERR_SHAPE, "the indices have rank %d, expected %d", idx->rank, x->rank);
    *c->out = *idx;
    c->out->dtype = x->dtype;
    return MF_OK;
}

/* trilu: the upper or lower triangle of the last two dims, same type. */
static mf_status infer_trilu(const infer_ctx *c)
{
    if (c->in[0].rank < 2)
        return fail(c, MF_ERR_SHAPE, "input 0 has rank %d, expected at least 2", c->in[0].rank);
    *c->out = c->in[0];
    return MF_OK;
}

/* cumsum along dim: same type (numeric). */
static mf_status infer_cumsum(const infer_ctx *c)
{
    int64_t d;
    if (c->in[0].dtype == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "input 0 is bool, expected a number");
    mf_status s = need_dim(c, c->in[0].rank, &d);
    if (s)
        return s;
    *c->out = c->in[0];
    return MF_OK;
}

/* topk_indices: the i64 positions of the k largest (or smallest) along dim, of any
 * numeric dtype (exporters sort i64 lengths: pack_padded_sequence). */
static mf_status infer_topk(const infer_ctx *c)
{
    int64_t d, k = A(c, "k")->i;
    if (c->in[0].dtype == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "input 0 is bool, expected a number");
    mf_status s = need_dim(c, c->in[0].rank, &d);
    if (s)
        return s;
    if (k < 0 || k > c->in[0].shape[d])
        return fail(c, MF_ERR_INVALID, "k = %lld is outside 0..%lld", (long long)k, (long long)c->in[0].shape[d]);
    *c->out = c->in[0];
    c->out->dtype = MF_I64;
    c->out->shape[d] = k;
    return MF_OK;
}

/* resize(x, scales[, roi]): f32 x to the shape `sizes` (one per dim); scales (f32, one per
 * dim) and roi (f32, starts then ends) feed the coordinate transform.  mode 0 nearest,
 * 1 linear, 2 cubic; coord 0 half_pixel, 1 pytorch_half_pixel, 2 align_corners,
 * 3 asymmetric, 4 tf_crop_and_resize; nearest 0 round_prefer_floor, 1 round_prefer_ceil,
 * 2 floor, 3 ceil (ONNX Resize). */
static mf_status infer_resize(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (s)
        return s;
    const mf_type *x = &c->in[0];
    const mf_attr *sz = A(c, "sizes");
    if (sz->n != x->rank)
        return fail(c, MF_ERR_INVALID, "sizes has %d entries, expected %d", sz->n, x->rank);
    if (c->in[1].rank != 1 || c->in[1].shape[0] != x->rank)
        return fail(c, MF_ERR_SHAPE, "scales must be [%d]", x->rank);
    if (c->nin == 3 && (c->in[2].rank != 1 || c->in[2].shape[0] != 2 * x->rank))
        return fail(c, MF_ERR_SHAPE, "roi must be [%d]", 2 * x->rank);
    if (A(c, "mode")->i < 0 || A(c, "mode")->i > 2 || A(c, "coord")->i < 0 || A(c, "coord")->i > 4 ||
        A(c, "nearest")->i < 0 || A(c, "nearest")->i > 3)
        return fail(c, MF_ERR_INVALID, "mode, coord or nearest is out of range");
    *c->out = *x;
    for (int i = 0; i < x->rank; i++) {
        if (sz->ints[i] < 0 || sz->ints[i] > MF_MAX_GEOMETRY)
            return fail(c, MF_ERR_INVALID, "sizes[%d] = %lld is out of range", i, (long long)sz->ints[i]);
        if (sz->ints[i] > 0 && x->shape[i] == 0)
            return fail(c, MF_ERR_SHAPE, "dim %d is empty: nothing to resize from", i);
        c->out->shape[i] = sz->ints[i];
    }
    return MF_OK;
}

/* einsum: every operand of one dtype; the output's dims are the sizes of its labels. */
static mf_status infer_einsum(const infer_ctx *c)
{
    char why[256];
    mf_einsum_view v;
    int64_t size[MF_EINSUM_LABELS];
    for (int i = 1; i < c->nin; i++)
        if (c->in[i].dtype != c->in[0].dtype)
            return fail(c, MF_ERR_DTYPE, "the operands have different dtypes");
    if (c->in[0].dtype == MF_BOOL)
        return fail(c, MF_ERR_DTYPE, "bool operands");
    if (!mf_einsum_of(c->attrs, c->nin, &v, why, sizeof why) || !mf_einsum_sizes(&v, c->in, size, why, sizeof why))
        return fail(c, MF_ERR_INVALID, "%s", why);
    c->out->dtype = c->in[0].dtype;
    c->out->rank = v.out_rank;
    for (int p = 0; p < v.out_rank; p++)
        c->out->shape[p] = size[v.out[p]];
    return MF_OK;
}

/* Input i has the given shape (an rnn operand). */
static mf_status need_shape(const infer_ctx *c, int i, int rank, const int64_t *shape)
{
    bool ok = c->in[i].rank == rank;
    for (int d = 0; ok && d < rank; d++)
        ok = c->in[i].shape[d] == shape[d];
    if (!ok) {
        char t[128];
        mf_type want = {c->in[i].dtype, rank, {0}};
        memcpy(want.shape, shape, (size_t)rank * sizeof *shape);
        return fail(c, MF_ERR_SHAPE, "input %d should be %s", i, mf_type_str(&want, t, sizeof t));
    }
    return MF_OK;
}

/* rnn: X [T, B, I] (layout 1: [B, T, I]), W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H],
 * sequence_lens [B] (i32 or i64), initial states [D, B, H] ([B, D, H]), P [D, 3*H]. */
static mf_status infer_rnn(const infer_ctx *c)
{
    char why[256];
    mf_rnn_view v;
    if (!mf_rnn_of(c->attrs, &v, why, sizeof why))
        return fail(c, MF_ERR_INVALID, "%s", why);
    int want_in = v.cell == MF_RNN_LSTM ? 8 : 6;
    if (c->nin != want_in)
        return fail(c, MF_ERR_INVALID, "takes %d inputs, got %d", want_in, c->nin);
    for (int i = 0; i < c->nin; i++) {
        mf_status s = i == 4 ? need_index_dtype(c, 4) : need_dtype(c, i, MF_F32);
        if (s)
            return s;
    }
    if (c->in[0].rank != 3)
        return fail(c, MF_ERR_SHAPE, "X has rank %d, expected 3", c->in[0].rank);
    int64_t t = c->in[0].shape[v.batch_first], b = c->in[0].shape[!v.batch_first], in = c->in[0].shape[2];
    int64_t d = v.dirs, h = v.hidden, gh = v.gates * h;
    mf_status s;
    int64_t state[3] = {v.batch_first ? b : d, v.batch_first ? d : b, h};
    if ((s = need_shape(c, 1, 3, (int64_t[]){d, gh, in})) || (s = need_shape(c, 2, 3, (int64_t[]){d, gh, h})) ||
        (s = need_shape(c, 3, 2, (int64_t[]){d, 2 * gh})) || (s = need_shape(c, 4, 1, (int64_t[]){b})) ||
        (s = need_shape(c, 5, 3, state)))
        return s;
    if (v.cell == MF_RNN_LSTM && ((s = need_shape(c, 6, 3, state)) || (s = need_shape(c, 7, 2, (int64_t[]){d, 3 * h}))))
        return s;
    c->out->dtype = MF_F32;
    if (v.output) {
        c->out->rank = 3;
        memcpy(c->out->shape, state, sizeof state);
        return MF_OK;
    }
    int64_t y[4] = {t, d, b, h}, yb[4] = {b, t, d, h};
    c->out->rank = 4;
    memcpy(c->out->shape, v.batch_first ? yb : y, sizeof y);
    return MF_OK;
}

/* grid_sample: x [N, C, H, W] f32 sampled at grid [N, H', W', 2] gives [N, C, H', W']. */
static mf_status infer_grid_sample(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 4);
    if (!s)
        s = need_rank(c, 1, 4);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *g = &c->in[1];
    if (g->shape[0] != x->shape[0] || g->shape[3] != 2)
        return fail(c, MF_ERR_SHAPE, "the grid must be [%lld, H, W, 2]", (long long)x->shape[0]);
    if (A(c, "mode")->i < 0 || A(c, "mode")->i > 2 || A(c, "padding")->i < 0 || A(c, "padding")->i > 2)
        return fail(c, MF_ERR_INVALID, "mode or padding is out of range");
    *c->out = *x;
    c->out->shape[2] = g->shape[1];
    c->out->shape[3] = g->shape[2];
    return MF_OK;
}

/* ---- index, sequence and signal ops of ONNX (the end of ops.def) ------------------------ */

/* bit_shift: two inputs of one unsigned dtype, broadcast. */
static mf_status infer_bit_shift(const infer_ctx *c)
{
    mf_dtype t = c->in[0].dtype;
    if (t != c->in[1].dtype || (t != MF_U8 && t != MF_U16 && t != MF_U32 && t != MF_U64))
        return fail(c, MF_ERR_DTYPE, "the inputs are %s and %s, expected one unsigned integer dtype",
                    mf_dtype_name(t), mf_dtype_name(c->in[1].dtype));
    return broadcast(c, &c->in[0], &c->in[1], c->out);
}

static mf_status need_reduction(const infer_ctx *c)
{
    int64_t r = A(c, "reduction")->i;
    if (r < 0 || r > 4)
        return fail(c, MF_ERR_INVALID, "reduction %lld (0 none, 1 add, 2 mul, 3 max, 4 min)", (long long)r);
    return MF_OK;
}

/* scatter_elements(data, idx, updates) along dim: idx and updates of one shape, data's rank. */
static mf_status infer_scatter_elements(const infer_ctx *c)
{
    int64_t d;
    mf_status s = need_index_dtype(c, 1);
    if (!s)
        s = need_dim(c, c->in[0].rank, &d);
    if (!s)
        s = need_reduction(c);
    if (s)
        return s;
    const mf_type *idx = &c->in[1], *upd = &c->in[2];
    if (upd->dtype != c->in[0].dtype || idx->rank != c->in[0].rank || upd->rank != idx->rank)
        return fail(c, MF_ERR_SHAPE, "updates must have data's dtype, and indices and updates data's rank");
    for (int i = 0; i < idx->rank; i++)
        if (idx->shape[i] != upd->shape[i] || (i != d && idx->shape[i] > c->in[0].shape[i]))
            return fail(c, MF_ERR_SHAPE, "indices and updates differ, or exceed the data, in dim %d", i);
    *c->out = c->in[0];
    return MF_OK;
}

/* scatter_nd(data, idx [..., k], updates [idx dims but the last, data dims from k]). */
static mf_status infer_scatter_nd(const infer_ctx *c)
{
    mf_status s = need_index_dtype(c, 1);
    if (!s)
        s = need_reduction(c);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *idx = &c->in[1], *upd = &c->in[2];
    int64_t k = idx->rank ? idx->shape[idx->rank - 1] : -1;
    if (k < 1 || k > x->rank || upd->dtype != x->dtype || upd->rank != idx->rank - 1 + x->rank - k)
        return fail(c, MF_ERR_SHAPE, "indices must be [..., k] with k <= data's rank, updates [indices..., data[k:]...]");
    for (int i = 0; i < upd->rank; i++) {
        int64_t want = i < idx->rank - 1 ? idx->shape[i] : x->shape[k + i - (idx->rank - 1)];
        if (upd->shape[i] != want)
            return fail(c, MF_ERR_SHAPE, "updates dim %d is %lld, expected %lld", i, (long long)upd->shape[i],
                        (long long)want);
    }
    *c->out = *x;
    return MF_OK;
}

/* gather_nd(data, idx [b..., ..., k]): idx dims but the last, then data dims from b + k. */
static mf_status infer_gather_nd(const infer_ctx *c)
{
    mf_status s = need_index_dtype(c, 1);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *idx = &c->in[1];
    int64_t b = A(c, "batch_dims")->i, k = idx->rank ? idx->shape[idx->rank - 1] : -1;
    if (b < 0 || b >= idx->rank || b >= x->rank || k < 1 || b + k > x->rank ||
        idx->rank - 1 + x->rank - b - k > MF_MAX_RANK)
        return fail(c, MF_ERR_SHAPE, "batch_dims %lld and indices [..., %lld] do not fit the data", (long long)b,
                    (long long)k);
    for (int i = 0; i < b; i++)
        if (x->shape[i] != idx->shape[i])
            return fail(c, MF_ERR_SHAPE, "batch dim %d is %lld in data and %lld in indices", i,
                        (long long)x->shape[i], (long long)idx->shape[i]);
    mf_type *o = c->out;
    o->dtype = x->dtype;
    o->rank = 0;
    for (int i = 0; i < idx->rank - 1; i++)
        o->shape[o->rank++] = idx->shape[i];
    for (int64_t i = b + k; i < x->rank; i++)
        o->shape[o->rank++] = x->shape[i];
    return MF_OK;
}

/* det: f32 [..., M, M] to [...]. */
static mf_status infer_det(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (s)
        return s;
    const mf_type *x = &c->in[0];
    if (x->rank < 2 || x->shape[x->rank - 1] != x->shape[x->rank - 2])
        return fail(c, MF_ERR_SHAPE, "expected square matrices in the last two dims");
    *c->out = *x;
    c->out->rank -= 2;
    return MF_OK;
}

/* reverse_sequence(x, lens [batch]): x's type; batch_axis and time_axis are 0 and 1. */
static mf_status infer_reverse_sequence(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    int64_t b = A(c, "batch_axis")->i, t = A(c, "time_axis")->i;
    mf_status s = need_index_dtype(c, 1);
    if (s)
        return s;
    if (x->rank < 2 || b < 0 || b > 1 || t < 0 || t > 1 || b == t)
        return fail(c, MF_ERR_INVALID, "batch_axis %lld and time_axis %lld must be 0 and 1", (long long)b, (long long)t);
    if (c->in[1].rank != 1 || c->in[1].shape[0] != x->shape[b])
        return fail(c, MF_ERR_SHAPE, "sequence lengths must be [%lld]", (long long)x->shape[b]);
    *c->out = *x;
    return MF_OK;
}

/* max_unpool(x, idx): x and idx of one shape, the output of shape `sizes` and x's dtype. */
static mf_status infer_max_unpool(const infer_ctx *c)
{
    const mf_attr *sz = A(c, "sizes");
    mf_status s = need_index_dtype(c, 1);
    if (s)
        return s;
    if (c->in[1].rank != c->in[0].rank || sz->n != c->in[0].rank)
        return fail(c, MF_ERR_SHAPE, "indices must have the input's rank, and sizes one entry a dim");
    for (int i = 0; i < c->in[0].rank; i++)
        if (c->in[0].shape[i] != c->in[1].shape[i])
            return fail(c, MF_ERR_SHAPE, "indices differ from the input in dim %d", i);
    c->out->dtype = c->in[0].dtype;
    c->out->rank = sz->n;
    for (int i = 0; i < sz->n; i++) {
        if (sz->ints[i] < 0 || sz->ints[i] > MF_MAX_GEOMETRY)
            return fail(c, MF_ERR_INVALID, "sizes[%d] = %lld is out of range", i, (long long)sz->ints[i]);
        c->out->shape[i] = sz->ints[i];
    }
    return MF_OK;
}

/* The geometry attributes of a window over nsp dims: nsp entries each (pads 2 * nsp), in range. */
static mf_status need_window(const infer_ctx *c, int nsp, bool has_kernel)
{
    mf_status s = has_kernel ? need_ints(c, "kernel", nsp, 1) : MF_OK;
    if (!s)
        s = need_ints(c, "stride", nsp, 1);
    if (!s)
        s = need_ints(c, "dilation", nsp, 1);
    if (!s)
        s = need_ints(c, "pads", 2 * nsp, 0);
    return s;
}

/* max_pool_indices(x [N, C, spatial...]) -> i64 [N, C, sizes...], 1 to 3 spatial dims;
 * every window must reach a real element (a pad no larger than the window's extent). */
static mf_status infer_max_pool_indices(const infer_ctx *c)
{
    const mf_type *x = &c->in[0];
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > 3)
        return fail(c, MF_ERR_SHAPE, "input has rank %d, expected 3 to 5", x->rank);
    mf_status s = need_window(c, nsp, true);
    if (!s)
        s = need_ints(c, "sizes", nsp, 1);
    if (s)
        return s;
    mf_window_view v = mf_window_of(c->op, c->attrs);
    const mf_attr *sz = A(c, "sizes");
    *c->out = *x;
    c->out->dtype = MF_I64;
    for (int i = 0; i < nsp; i++) {
        int d = 3 - nsp + i;
        if (v.pad_begin[d] >= (v.kernel[d] - 1) * v.dilation[d] + 1 ||
            (sz->ints[i] - 1) * v.stride[d] - v.pad_begin[d] >= x->shape[2 + i])
            return fail(c, MF_ERR_SHAPE, "a window in spatial dim %d covers only padding", i);
        c->out->shape[2 + i] = sz->ints[i];
    }
    return MF_OK;
}

/* The operands of conv3d and conv_transpose3d: f32 x and w of rank 5, a 3-D window. */
static mf_status need_conv3d_operands(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 5);
    if (!s)
        s = need_rank(c, 1, 5);
    return s ? s : need_window(c, 3, false);
}

/* The optional bias (input 2) of a convolution of cout output channels. */
static mf_status need_conv_bias(const infer_ctx *c, int64_t cout)
{
    if (c->nin == 3 && (c->in[2].rank != 1 || c->in[2].shape[0] != cout))
        return fail(c, MF_ERR_SHAPE, "bias must be [%lld]", (long long)cout);
    return MF_OK;
}

/* conv3d: x [N, Cin, D, H, W], w [Cout, Cin/groups, kd, kh, kw]; each output dim
 * (in + pad_begin + pad_end - dil * (k - 1) - 1) / stride + 1. */
static mf_status infer_conv3d(const infer_ctx *c)
{
    mf_status s = need_conv3d_operands(c);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *w = &c->in[1];
    int64_t groups = A(c, "groups")->i, cin = x->shape[1], cout = w->shape[0];
    if (groups < 1 || groups > MF_MAX_GEOMETRY || cin % groups || cout % groups)
        return fail(c, MF_ERR_INVALID, "groups = %lld does not divide %lld input and %lld output channels",
                    (long long)groups, (long long)cin, (long long)cout);
    if (w->shape[1] * groups != cin)
        return fail(c, MF_ERR_SHAPE, "weight expects %lld input channels per group, input has %lld in %lld groups",
                    (long long)w->shape[1], (long long)cin, (long long)groups);
    if ((s = need_conv_bias(c, cout)))
        return s;
    mf_window_view v = mf_window_of(c->op, c->attrs);
    *c->out = *x;
    c->out->shape[1] = cout;
    for (int d = 0; d < 3; d++) {
        int64_t span = 0;
        if ((s = window_span(c, x->shape[2 + d], v.pad_begin[d] + v.pad_end[d], v.dilation[d], w->shape[2 + d],
                             &span)))
            return s;
        if (span < 0)
            return fail(c, MF_ERR_SHAPE, "kernel %lld (dilation %lld) is larger than the padded input in dim %d",
                        (long long)w->shape[2 + d], (long long)v.dilation[d], 2 + d);
        c->out->shape[2 + d] = span / v.stride[d] + 1;
    }
    return MF_OK;
}

/* conv_transpose3d: x [N, Cin, D, H, W], w [Cin, Cout/groups, kd, kh, kw]; each output dim
 * (in - 1) * stride + dil * (k - 1) + 1 + output_padding - pad_begin - pad_end. */
static mf_status infer_conv_transpose3d(const infer_ctx *c)
{
    mf_status s = need_conv3d_operands(c);
    if (!s)
        s = need_ints(c, "output_padding", 3, 0);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *w = &c->in[1];
    int64_t groups = A(c, "groups")->i, cin = x->shape[1];
    if (groups < 1 || groups > MF_MAX_GEOMETRY || cin % groups)
        return fail(c, MF_ERR_INVALID, "groups = %lld does not divide %lld input channels", (long long)groups,
                    (long long)cin);
    if (w->shape[0] != cin)
        return fail(c, MF_ERR_SHAPE, "weight has %lld input channels, input has %lld", (long long)w->shape[0],
                    (long long)cin);
    int64_t cout = w->shape[1] * groups;
    if ((s = need_conv_bias(c, cout)))
        return s;
    mf_window_view v = mf_window_of(c->op, c->attrs);
    *c->out = *x;
    c->out->shape[1] = cout;
    for (int d = 0; d < 3; d++) {
        if (v.output_padding[d] >= v.stride[d] && v.output_padding[d] >= v.dilation[d])
            return fail(c, MF_ERR_INVALID, "output_padding %lld must be smaller than stride or dilation",
                        (long long)v.output_padding[d]);
        int64_t grown = 0, n = 0;
        if ((s = mul_dim(c, x->shape[2 + d] - 1, v.stride[d], &grown)) ||
            (s = window_span(c, grown + v.output_padding[d] + 2, -v.pad_begin[d] - v.pad_end[d], -v.dilation[d],
                             w->shape[2 + d], &n)))
            return s;
        if (n < 1)
            return fail(c, MF_ERR_SHAPE, "the output would be empty in dim %d", 2 + d);
        c->out->shape[2 + d] = n;
    }
    return MF_OK;
}

/* dft: f32 x [..., n, ..., 1 or 2] along dim to [..., length (onesided: length / 2 + 1), ..., 2]. */
static mf_status infer_dft(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    int64_t d, len = A(c, "length")->i;
    const mf_type *x = &c->in[0];
    if (s)
        return s;
    if (x->rank < 2 || (x->shape[x->rank - 1] != 1 && x->shape[x->rank - 1] != 2))
        return fail(c, MF_ERR_SHAPE, "the last dim must be 1 (real) or 2 (complex)");
    if ((s = need_dim(c, x->rank - 1, &d)))
        return s;
    if (len < 0 || len > MF_MAX_GEOMETRY)
        return fail(c, MF_ERR_INVALID, "length %lld is out of range", (long long)len);
    *c->out = *x;
    c->out->shape[x->rank - 1] = 2;
    c->out->shape[d] = len ? len : x->shape[d];
    if (A(c, "onesided")->i)
        c->out->shape[d] = c->out->shape[d] / 2 + 1;
    return MF_OK;
}

/* custom: the registry's shape rule for the output the node yields (ir/custom_registry.c). */
static mf_status infer_custom(const infer_ctx *c)
{
    mf_type outs[MF_CUSTOM_MAX_OUTPUTS];
    int nout;
    mf_status s = mf_custom_infer_all(c->attrs, c->nin, c->in, outs, &nout);
    if (!s)
        *c->out = outs[c->attrs[1].i];
    return s;
}

/* roi_align(x, rois, batch_indices): [R, C, output] from f32 x[N, C, H, W], rois[R, 4]
 * and R integer batch indices. */
static mf_status infer_roi_align(const infer_ctx *c)
{
    const mf_type *x = &c->in[0], *rois = &c->in[1], *bi = &c->in[2];
    const mf_attr *out = A(c, "output");
    mf_status s = need_dtype(c, 0, MF_F32);
    if (!s)
        s = need_dtype(c, 1, MF_F32);
    if (!s)
        s = need_index_dtype(c, 2);
    if (s)
        return s;
    if (x->rank != 4 || rois->rank != 2 || rois->shape[1] != 4 || bi->rank != 1 || bi->shape[0] != rois->shape[0])
        return fail(c, MF_ERR_SHAPE, "expected x[N, C, H, W], rois[R, 4] and batch_indices[R]");
    if (out->n != 2 || out->ints[0] < 1 || out->ints[1] < 1 || out->ints[0] > MF_MAX_GEOMETRY ||
        out->ints[1] > MF_MAX_GEOMETRY || A(c, "sampling_ratio")->i < 0 || A(c, "sampling_ratio")->i > MF_MAX_GEOMETRY)
        return fail(c, MF_ERR_INVALID, "output needs two sizes of at least 1 and sampling_ratio 0 or more");
    if (A(c, "mode")->i != 0 && A(c, "mode")->i != 1)
        return fail(c, MF_ERR_INVALID, "mode %lld is neither 0 (avg) nor 1 (max)", (long long)A(c, "mode")->i);
    *c->out = (mf_type){MF_F32, 4, {rois->shape[0], x->shape[1], out->ints[0], out->ints[1]}};
    return MF_OK;
}

/* ---- the blocked channel layout (ops.def: to_blocks, from_blocks, conv2d_blocks) ---------- */

/* A blocked input's channels a block (its last dim), within 1..MF_MAX_BLOCK. */
static mf_status need_block(const infer_ctx *c, int64_t b)
{
    if (b < 1 || b > MF_MAX_BLOCK)
        return fail(c, MF_ERR_SHAPE, "blocks of %lld channels, must be 1..%d", (long long)b,
                    MF_MAX_BLOCK);
    return MF_OK;
}

/* x[N, C, H, W] -> [N, H, C/B, W, B] */
static mf_status infer_to_blocks(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 4);
    if (s)
        return s;
    const mf_type *x = &c->in[0];
    int64_t b = A(c, "block")->i;
    if (b < 1 || b > MF_MAX_BLOCK)
        return fail(c, MF_ERR_INVALID, "block = %lld, must be in 1..%d", (long long)b,
                    MF_MAX_BLOCK);
    if (x->shape[1] % b)
        return fail(c, MF_ERR_SHAPE, "%lld channels are not whole blocks of %lld",
                    (long long)x->shape[1], (long long)b);
    *c->out = (mf_type){.dtype = MF_F32,
                        .rank = 5,
                        .shape = {x->shape[0], x->shape[2], x->shape[1] / b, x->shape[3], b}};
    return MF_OK;
}

/* x[N, H, C/B, W, B] -> [N, C, H, W] */
static mf_status infer_from_blocks(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 5);
    if (s)
        return s;
    const mf_type *x = &c->in[0];
    int64_t ch = 0;
    if ((s = need_block(c, x->shape[4])) || (s = mul_dim(c, x->shape[2], x->shape[4], &ch)))
        return s;
    *c->out =
        (mf_type){.dtype = MF_F32, .rank = 4, .shape = {x->shape[0], ch, x->shape[1], x->shape[3]}};
    return MF_OK;
}

/* x[N, H, Cin/B, W, B], w [Cout/B, Cin, B] (1x1, groups 1) or [C/B, kh, kw, B] (depthwise),
 * bias [Cout] -> [N, H', Cout/B, W', B] */
static mf_status infer_conv2d_blocks(const infer_ctx *c)
{
    mf_status s = need_all_f32(c);
    if (!s)
        s = need_rank(c, 0, 5);
    if (!s)
        s = need_ints(c, "stride", 2, 1);
    if (!s)
        s = need_ints(c, "padding", 2, 0);
    if (s)
        return s;
    const mf_type *x = &c->in[0], *w = &c->in[1];
    int64_t b = x->shape[4], cin = 0, groups = A(c, "groups")->i, cout, k[2] = {1, 1};
    if ((s = need_block(c, b)) || (s = mul_dim(c, x->shape[2], b, &cin)))
        return s;
    if (w->rank == 3) { /* 1x1 */
        if (groups != 1 || w->shape[1] != cin || w->shape[2] != b)
            return fail(c, MF_ERR_SHAPE,
                        "a 1x1 conv needs groups 1 and weights [Cout/%lld, %lld, %lld]",
                        (long long)b, (long long)cin, (long long)b);
        const int64_t *st = A(c, "stride")->ints, *pad = A(c, "padding")->ints;
        if (st[0] != 1 || st[1] != 1 || pad[0] || pad[1])
            return fail(c, MF_ERR_INVALID, "a 1x1 conv runs at stride 1 without padding");
        if ((s = mul_dim(c, w->shape[0], b, &cout)))
            return s;
    } else if (w->rank == 4) { /* depthwise */
        if (groups != cin || w->shape[0] != x->shape[2] || w->shape[3] != b)
            return fail(c, MF_ERR_SHAPE,
                        "a depthwise conv needs groups %lld and weights [%lld, kh, kw, %lld]",
                        (long long)cin, (long long)x->shape[2], (long long)b);
        cout = cin, k[0] = w->shape[1], k[1] = w->shape[2];
    } else {
        return fail(c, MF_ERR_SHAPE,
                    "weights of rank %d: blocked convs are 1x1 ([Cout/B, Cin, B]) or depthwise "
                    "([C/B, kh, kw, B])",
                    w->rank);
    }
    if (c->nin == 3 && (c->in[2].rank != 1 || c->in[2].shape[0] != cout))
        return fail(c, MF_ERR_SHAPE, "bias must be [%lld]", (long long)cout);
    int64_t o[2];
    for (int i = 0; i < 2; i++) {
        int64_t span = 0;
        if ((s = window_span(c, x->shape[i ? 3 : 1], 2 * A(c, "padding")->ints[i], 1, k[i], &span)))
            return s;
        if (span < 0)
            return fail(c, MF_ERR_SHAPE, "the kernel is larger than the padded input");
        o[i] = span / A(c, "stride")->ints[i] + 1;
    }
    *c->out =
        (mf_type){.dtype = MF_F32, .rank = 5, .shape = {x->shape[0], o[0], cout / b, o[1], b}};
    return MF_OK;
}

/* Built from ops.def's rule column: an op whose rule has no infer_<rule> fails to compile. */
static const infer_fn infer_table[MF_OP_COUNT] = {
#define X(ID, name, min_in, max_in, kind, mlu, rule, schema) [MF_OP_##ID] = infer_##rule,
#include "ops.def"
#undef X
};

mf_status mf_op_infer(mf_op op, const mf_attr *attrs, int nin, const mf_type *in, mf_type *out)
{
    const mf_op_info *info = mf_op_get(op);
    if (!info)
        return mf_error(MF_ERR_INVALID, "unknown op %d", (int)op);
    infer_ctx c = {op, attrs, nin, in, out, NULL};
    if (mf_op_schema_problem())
        return mf_error(MF_ERR_INTERNAL, "ops.def: %s", mf_op_schema_problem());
    if (nin < info->min_inputs || (info->max_inputs >= 0 && nin > info->max_inputs)) {
        if (info->max_inputs < 0)
            return fail(&c, MF_ERR_INVALID, "takes at least %d inputs, got %d", info->min_inputs, nin);
        if (info->min_inputs == info->max_inputs)
            return fail(&c, MF_ERR_INVALID, "takes %d inputs, got %d", info->min_inputs, nin);
        return fail(&c, MF_ERR_INVALID, "takes %d to %d inputs, got %d", info->min_inputs,
                    info->max_inputs, nin);
    }
    for (int i = 0; i < nin; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s input %d", info->name, i);
        mf_status s = mf_type_check(&in[i], what, NULL, NULL);
        if (s)
            return s;
    }
    for (int i = 0; i < info->nattrs; i++)
        if (attrs[i].type != info->attrs[i].type)
            return fail(&c, MF_ERR_INVALID, "attribute %s has the wrong type", info->attrs[i].name);
    memset(out, 0, sizeof *out);
    mf_status s = infer_table[op](&c);
    if (!s && mf_type_check(out, info->name, NULL, NULL))
        return fail(&c, MF_ERR_SHAPE, "the result would be too large");
    return s;
}
