/* custom_registry.c — the process-wide table of loaded custom ops, which `custom` nodes name
 * by index (attribute decl), and their shape rules: same as an input, the broadcast of
 * inputs, or the library's shape function.  Entries are filled before they are published
 * (count, under the lock) and never change or go, so readers need no lock for an entry. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "custom_ops.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mf_custom_entry table[MF_CUSTOM_MAX_OPS];
static int count;

static int published(void)
{
    pthread_mutex_lock(&lock);
    int n = count;
    pthread_mutex_unlock(&lock);
    return n;
}

int mf_custom_ops_count(void)
{
    return published();
}

const mf_custom_entry *mf_custom_get(int64_t i)
{
    return i >= 0 && i < published() ? &table[i] : NULL;
}

int mf_custom_find(const char *name, size_t len)
{
    int n = published();
    for (int i = 0; i < n; i++)
        if (strlen(table[i].decl.name) == len && !memcmp(table[i].decl.name, name, len))
            return i;
    return -1;
}

/* MF_OK unless table[i] (with e's name) is another op than e.  Called under the lock. */
static mf_status conflict(const mf_custom_entry *e, int i)
{
    char a[1024], b[1024];
    mf_custom_decl_str(&e->decl, a, sizeof a);
    mf_custom_decl_str(&table[i].decl, b, sizeof b);
    if (!strcmp(a, b) && table[i].fn == e->fn)
        return MF_OK;
    return mf_error(MF_ERR_INVALID, "%s: custom op '%s' is already declared differently (at %s, from %s)",
                    e->decl.where, e->decl.name, table[i].decl.where, table[i].lib);
}

static int find_locked(const char *name)
{
    int i = 0;
    while (i < count && strcmp(table[i].decl.name, name))
        i++;
    return i;
}

mf_status mf_custom_check(const mf_custom_entry *e)
{
    pthread_mutex_lock(&lock);
    int i = find_locked(e->decl.name);
    mf_status s = i < count ? conflict(e, i) : MF_OK;
    pthread_mutex_unlock(&lock);
    return s;
}

mf_status mf_custom_register(const mf_custom_entry *e, int *index)
{
    mf_status s = MF_OK;
    pthread_mutex_lock(&lock);
    int i = find_locked(e->decl.name);
    if (i < count)
        s = conflict(e, i);
    else if (count == MF_CUSTOM_MAX_OPS)
        s = mf_error(MF_ERR_INVALID, "%s: at most %d custom ops can be loaded", e->decl.where, MF_CUSTOM_MAX_OPS);
    else
        table[count++] = *e;
    pthread_mutex_unlock(&lock);
    *index = i;
    return s;
}

void mf_custom_default_attrs(int index, mf_attr *attrs)
{
    mf_op_default_attrs(MF_OP_CUSTOM, attrs);
    attrs[0].i = index;
    const mf_custom_entry *e = mf_custom_get(index);
    for (int k = 0; e && k < e->decl.nargs; k++) {
        const mf_custom_arg *a = &e->decl.args[k];
        if (a->kind != MF_CUSTOM_TENSOR_ARG)
            attrs[MF_CUSTOM_ATTR_SLOT0 + a->index].f = a->dflt;
    }
}

/* ---- shape rules ------------------------------------------------------------------------ */

static mf_status broadcast(const mf_custom_decl *d, const mf_type *in, mf_type *out)
{
    *out = in[d->rule_inputs[0]];
    for (int k = 1; k < d->nrule_inputs; k++) {
        const mf_type *t = &in[d->rule_inputs[k]];
        if (t->dtype != out->dtype)
            return mf_error(MF_ERR_DTYPE, "custom op %s: broadcast of %s and %s inputs", d->name,
                            mf_dtype_name(out->dtype), mf_dtype_name(t->dtype));
        mf_type r = {out->dtype, out->rank > t->rank ? out->rank : t->rank, {0}};
        for (int i = 0; i < r.rank; i++) {
            int ia = i - (r.rank - out->rank), ib = i - (r.rank - t->rank);
            int64_t a = ia >= 0 ? out->shape[ia] : 1, b = ib >= 0 ? t->shape[ib] : 1;
            if (a != b && a != 1 && b != 1) {
                char x[256], y[256];
                return mf_error(MF_ERR_SHAPE, "custom op %s: %s and %s do not broadcast", d->name,
                                mf_type_str(out, x, sizeof x), mf_type_str(t, y, sizeof y));
            }
            r.shape[i] = a == 1 ? b : a;
        }
        *out = r;
    }
    return MF_OK;
}

static mf_status shape_fn(const mf_custom_entry *e, const mf_attr *attrs, int nin, const mf_type *in, mf_type *out)
{
    const mf_custom_decl *d = &e->decl;
    mf_custom_shape ins[MF_CUSTOM_MAX_TENSORS], outs[MF_CUSTOM_MAX_OUTPUTS];
    double scalars[MF_CUSTOM_MAX_SCALARS];
    for (int i = 0; i < nin; i++) {
        ins[i] = (mf_custom_shape){in[i].dtype, in[i].rank, {0}};
        memcpy(ins[i].dims, in[i].shape, sizeof ins[i].dims);
    }
    for (int k = 0; k < d->nscalars; k++)
        scalars[k] = mf_custom_scalar(attrs, k);
    memset(outs, 0, sizeof outs);
    char why[256] = "";
    if (!e->shape_fn)
        return mf_error(MF_ERR_UNSUPPORTED, "custom op %s: shape function %s is not loaded", d->name, d->shape_symbol);
    int rc = e->shape_fn(nin, ins, d->nscalars, scalars, d->noutputs, outs, why, sizeof why);
    why[sizeof why - 1] = 0;
    if (rc)
        return mf_error(MF_ERR_SHAPE, "custom op %s: shape function %s returned %d%s%s", d->name, d->shape_symbol,
                        rc, why[0] ? ": " : "", why);
    for (int k = 0; k < d->noutputs; k++) {
        out[k] = (mf_type){outs[k].dtype, outs[k].rank, {0}};
        if ((unsigned)outs[k].dtype >= MF_DTYPE_COUNT || outs[k].rank < 0 || outs[k].rank > MF_MAX_RANK)
            return mf_error(MF_ERR_SHAPE, "custom op %s: shape function %s gave output %d dtype %d, rank %d",
                            d->name, d->shape_symbol, k, (int)outs[k].dtype, outs[k].rank);
        memcpy(out[k].shape, outs[k].dims, sizeof out[k].shape);
        char what[128];
        snprintf(what, sizeof what, "custom op %s output %d (from %s)", d->name, k, d->shape_symbol);
        mf_status s = mf_type_check(&out[k], what, NULL, NULL);
        if (s)
            return s;
    }
    return MF_OK;
}

mf_status mf_custom_infer_all(const mf_attr *attrs, int nin, const mf_type *in, mf_type *out, int *nout)
{
    const mf_custom_entry *e = mf_custom_get(attrs[0].i);
    if (!e)
        return mf_error(MF_ERR_INVALID, "custom op #%lld is not loaded in this process (load its declarations "
                        "with --custom-ops or mf_custom_ops_load)", (long long)attrs[0].i);
    const mf_custom_decl *d = &e->decl;
    if (nin != d->ntensors)
        return mf_error(MF_ERR_INVALID, "custom op %s takes %d tensor%s, got %d (declared at %s)", d->name,
                        d->ntensors, d->ntensors == 1 ? "" : "s", nin, d->where);
    if (attrs[1].i < 0 || attrs[1].i >= d->noutputs)
        return mf_error(MF_ERR_INVALID, "custom op %s has %d output%s, not an output %lld", d->name, d->noutputs,
                        d->noutputs == 1 ? "" : "s", (long long)attrs[1].i);
    *nout = d->noutputs;
    if (d->rule == MF_CUSTOM_SHAPE_FN)
        return shape_fn(e, attrs, nin, in, out);
    mf_type t = in[d->rule_inputs[0]];
    mf_status s = d->rule == MF_CUSTOM_BROADCAST ? broadcast(d, in, &t) : MF_OK;
    for (int k = 0; k < d->noutputs; k++)
        out[k] = t;
    return s;
}
