/* print.c — the .mfir printer: the canonical text of a graph, which the parser reads back
 * to the same graph and which the cache key and the pass tests compare byte for byte.
 * Constants print first, then nodes in order; numbers print as the shortest text that
 * reads back to the same bits.  docs/mfir.md describes the format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_ops.h"
#include "ir.h"

#define ELIDE_ABOVE 16

/* ---- numbers ------------------------------------------------------------------------------ */

static bool special_float(double v, char *buf)
{
    if (isnan(v))
        strcpy(buf, "nan");
    else if (isinf(v))
        strcpy(buf, v < 0 ? "-inf" : "inf");
    else
        return false;
    return true;
}

/* Keeps cand in best when it reads back (ok) and is shorter: "10" beats "1e+01", which
 * a lower precision finds first. */
static void keep_shorter(char *best, size_t cap, const char *cand, bool ok)
{
    if (ok && (!*best || strlen(cand) < strlen(best)))
        snprintf(best, cap, "%s", cand);
}

/* The shortest %.Ng text that strtod reads back to the same double. */
static void format_double(double v, char *buf, size_t cap)
{
    if (special_float(v, buf))
        return;
    char cand[64];
    buf[0] = 0;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(cand, sizeof cand, "%.*g", prec, v);
        double back = strtod(cand, NULL);
        keep_shorter(buf, cap, cand, !memcmp(&back, &v, sizeof v));
    }
}

/* The same for an f32 (read back with strtof, as the parser does) or an f16 (strtof, then
 * rounded to half: the parser's own path), so the text reads back to the same bits. */
static void format_float(float f, bool half, char *buf, size_t cap)
{
    if (special_float(f, buf))
        return;
    uint16_t h = mf_f32_to_f16(f);
    char cand[64];
    buf[0] = 0;
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(cand, sizeof cand, "%.*g", prec, (double)f);
        float back = strtof(cand, NULL);
        keep_shorter(buf, cap, cand, half ? mf_f32_to_f16(back) == h : !memcmp(&back, &f, sizeof f));
    }
}

static void print_elem(mf_strbuf *b, mf_dtype dt, const unsigned char *p)
{
    char buf[64];
    mf_scalar v = mf_scalar_load(p, dt, 0);
    if (dt == MF_F32 || dt == MF_F16)
        format_float((float)v.f, dt == MF_F16, buf, sizeof buf);
    else if (v.is_float)
        format_double(v.f, buf, sizeof buf);
    else if (dt == MF_U64)
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)(uint64_t)v.i);
    else
        snprintf(buf, sizeof buf, "%lld", (long long)v.i);
    mf_sb_str(b, buf);
}

/* ---- names -------------------------------------------------------------------------------- */

/* The printed name of every value, by id: its stored name when that is valid and not
 * taken by an earlier value, else a number not used as a name anywhere in the graph. */
typedef struct printer {
    const mf_graph *g;
    mf_strbuf out;
    const char **names; /* by value id; NULL: print num[id] */
    int *nums;
    mf_ir_names taken;
} printer;

static bool in_graph(const mf_graph *g, const mf_value *v)
{
    return v && v->id >= 0 && v->id < g->nvalues && g->values[v->id] == v;
}

static bool claim_name(printer *pr, const mf_value *v)
{
    size_t len = v->name ? strlen(v->name) : 0;
    if (!mf_ir_name_valid(v->name, len) || mf_ir_names_get(&pr->taken, v->name, len))
        return true;
    pr->names[v->id] = v->name;
    return mf_ir_names_put(&pr->taken, v->name, len, (void *)v);
}

static mf_status collect_order(const mf_graph *g, const mf_value **order, int *n)
{
    *n = 0;
    for (int i = 0; i < g->ninputs; i++)
        order[(*n)++] = g->inputs[i];
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i]->is_const)
            order[(*n)++] = g->values[i];
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *nd = g->nodes[i];
        if (nd->noutputs != 1)
            return mf_error(MF_ERR_UNSUPPORTED, "print: node %d (%s) has %d outputs", i,
                            mf_op_get(nd->op) ? mf_op_get(nd->op)->name : "?", nd->noutputs);
        order[(*n)++] = nd->outputs[0];
    }
    for (int i = 0; i < g->nvalues; i++) /* values nothing defines: named all the same */
        order[(*n)++] = g->values[i];
    for (int i = 0; i < *n; i++)
        if (!in_graph(g, order[i]))
            return mf_error(MF_ERR_INVALID, "print: graph @%s refers to a value it does not hold",
                            g->name);
    return MF_OK;
}

static mf_status assign_names(printer *pr)
{
    const mf_graph *g = pr->g;
    size_t total = (size_t)g->ninputs + (size_t)g->nnodes + 2 * (size_t)g->nvalues + 1;
    const mf_value **order = malloc(sizeof *order * total);
    pr->names = calloc((size_t)g->nvalues + 1, sizeof *pr->names);
    pr->nums = malloc(sizeof *pr->nums * ((size_t)g->nvalues + 1));
    mf_status s = MF_OK;
    int n = 0;
    if (!order || !pr->names || !pr->nums) {
        s = mf_error(MF_ERR_NOMEM, "print: out of memory");
        goto fail;
    }
    if ((s = collect_order(g, order, &n)))
        goto fail;
    for (int i = 0; i < g->nvalues; i++)
        pr->nums[i] = -1;
    for (int i = 0; i < n; i++)
        if (!pr->names[order[i]->id] && !claim_name(pr, order[i])) {
            s = mf_error(MF_ERR_NOMEM, "print: out of memory");
            goto fail;
        }
    int next = 0;
    for (int i = 0; i < n; i++) {
        int id = order[i]->id;
        if (pr->names[id] || pr->nums[id] >= 0)
            continue;
        char buf[16];
        do
            snprintf(buf, sizeof buf, "%d", next++);
        while (mf_ir_names_get(&pr->taken, buf, strlen(buf)));
        pr->nums[id] = next - 1;
    }
fail:
    free(order);
    return s;
}

static void print_name(printer *pr, const mf_value *v)
{
    if (pr->names[v->id])
        mf_sb_printf(&pr->out, "%%%s", pr->names[v->id]);
    else
        mf_sb_printf(&pr->out, "%%%d", pr->nums[v->id]);
}

/* ---- statements ----------------------------------------------------------------------------- */

static void print_type(mf_strbuf *b, const mf_type *t)
{
    char buf[256];
    mf_sb_str(b, mf_type_str(t, buf, sizeof buf));
}

static void print_const(printer *pr, const mf_value *v, bool elide)
{
    mf_strbuf *b = &pr->out;
    mf_sb_str(b, "  ");
    print_name(pr, v);
    mf_sb_str(b, " = const ");
    print_type(b, &v->type);
    int64_t numel = mf_type_numel(&v->type);
    if (!v->data || !v->data->data || v->data->nbytes < mf_type_nbytes(&v->type) ||
        (elide && numel > ELIDE_ABOVE)) {
        mf_sb_str(b, " opaque\n");
        return;
    }
    mf_sb_str(b, " dense<");
    size_t esize = mf_dtype_size(v->type.dtype);
    for (int64_t i = 0; i < numel && !b->oom; i++) {
        if (i)
            mf_sb_str(b, ", ");
        print_elem(b, v->type.dtype, (const unsigned char *)v->data->data + (size_t)i * esize);
    }
    mf_sb_str(b, ">\n");
}

static bool attr_is_default(const mf_attr *a, const mf_attr_spec *spec)
{
    const mf_attr *d = &spec->dflt;
    if (spec->required || a->type != spec->type)
        return false;
    if (a->type == MF_ATTR_INT)
        return a->i == d->i;
    if (a->type == MF_ATTR_FLOAT)
        return !memcmp(&a->f, &d->f, sizeof a->f);
    return a->n == d->n && !memcmp(a->ints, d->ints, sizeof a->ints[0] * (size_t)a->n);
}

static void print_attr_value(mf_strbuf *b, const mf_attr *a)
{
    char buf[64];
    if (a->type == MF_ATTR_INT) {
        mf_sb_printf(b, "%lld", (long long)a->i);
    } else if (a->type == MF_ATTR_FLOAT) {
        format_double(a->f, buf, sizeof buf);
        mf_sb_str(b, buf);
    } else {
        mf_sb_str(b, "[");
        for (int i = 0; i < a->n && i < MF_MAX_RANK; i++)
            mf_sb_printf(b, i ? ",%lld" : "%lld", (long long)a->ints[i]);
        mf_sb_str(b, "]");
    }
}

static void print_attrs(mf_strbuf *b, const mf_node *n)
{
    const mf_op_info *info = mf_op_get(n->op);
    int printed = 0;
    for (int i = 0; i < info->nattrs; i++) {
        if (attr_is_default(&n->attrs[i], &info->attrs[i]))
            continue;
        mf_sb_printf(b, "%s%s=", printed++ ? ", " : " {", info->attrs[i].name);
        print_attr_value(b, &n->attrs[i]);
    }
    if (printed)
        mf_sb_str(b, "}");
}

/* custom.NAME (custom.NAME.K for output K of several) and its non-default scalars. */
static void print_custom_op(mf_strbuf *b, const mf_node *n)
{
    const mf_custom_entry *e = mf_custom_get(n->attrs[0].i);
    if (!e) { /* not loaded: printed so that the parser names the problem */
        mf_sb_printf(b, "custom.%lld(", (long long)n->attrs[0].i);
        return;
    }
    const mf_custom_decl *d = &e->decl;
    mf_sb_printf(b, "custom.%s", d->name);
    if (d->noutputs > 1)
        mf_sb_printf(b, ".%lld", (long long)n->attrs[1].i);
    mf_sb_str(b, "(");
}

static void print_custom_attrs(mf_strbuf *b, const mf_node *n)
{
    const mf_custom_entry *e = mf_custom_get(n->attrs[0].i);
    int printed = 0;
    for (int k = 0; e && k < e->decl.nargs; k++) {
        const mf_custom_arg *a = &e->decl.args[k];
        double v = mf_custom_scalar(n->attrs, a->index);
        if (a->kind == MF_CUSTOM_TENSOR_ARG || (a->has_default && !memcmp(&v, &a->dflt, sizeof v)))
            continue;
        mf_sb_printf(b, "%s%s=", printed++ ? ", " : " {", a->name);
        if (a->kind == MF_CUSTOM_BOOL)
            mf_sb_str(b, v != 0 ? "true" : "false");
        else if (a->kind == MF_CUSTOM_INT)
            mf_sb_printf(b, "%lld", (long long)v);
        else
            print_attr_value(b, &(mf_attr){.type = MF_ATTR_FLOAT, .f = v});
    }
    if (printed)
        mf_sb_str(b, "}");
}

static mf_status print_node(printer *pr, const mf_node *n)
{
    mf_strbuf *b = &pr->out;
    const mf_op_info *info = mf_op_get(n->op);
    if (!info)
        return mf_error(MF_ERR_INVALID, "print: node %d has unknown op %d", n->id, (int)n->op);
    mf_sb_str(b, "  ");
    print_name(pr, n->outputs[0]);
    mf_sb_str(b, " = ");
    if (n->op == MF_OP_CUSTOM)
        print_custom_op(b, n);
    else
        mf_sb_printf(b, "%s(", info->name);
    for (int i = 0; i < n->ninputs; i++) {
        if (!in_graph(pr->g, n->inputs[i]))
            return mf_error(MF_ERR_INVALID, "print: node %d (%s): input %d is not a value of the graph",
                            n->id, info->name, i);
        if (i)
            mf_sb_str(b, ", ");
        print_name(pr, n->inputs[i]);
    }
    mf_sb_str(b, ")");
    if (n->op == MF_OP_CUSTOM)
        print_custom_attrs(b, n);
    else
        print_attrs(b, n);
    mf_sb_str(b, " : ");
    print_type(b, &n->outputs[0]->type);
    if (n->subgraph >= 0)
        mf_sb_printf(b, " @sg%d", n->subgraph);
    mf_sb_str(b, "\n");
    return MF_OK;
}

/* "@name(": the graph's name with characters outside [A-Za-z0-9_.] as '_'. */
static void print_header(printer *pr)
{
    mf_strbuf *b = &pr->out;
    const char *name = pr->g->name && *pr->g->name ? pr->g->name : "main";
    mf_sb_str(b, "graph @");
    for (const char *c = name; *c; c++)
        mf_sb_put(b, mf_ir_name_valid(c, 1) ? c : "_", 1);
    mf_sb_str(b, "(");
    for (int i = 0; i < pr->g->ninputs; i++) {
        if (i)
            mf_sb_str(b, ", ");
        print_name(pr, pr->g->inputs[i]);
        mf_sb_str(b, ": ");
        print_type(b, &pr->g->inputs[i]->type);
    }
    mf_sb_str(b, ") {\n");
}

static mf_status print_graph(printer *pr, bool elide)
{
    const mf_graph *g = pr->g;
    print_header(pr);
    for (int i = 0; i < g->nvalues; i++)
        if (g->values[i]->is_const)
            print_const(pr, g->values[i], elide);
    for (int i = 0; i < g->nnodes; i++) {
        mf_status s = print_node(pr, g->nodes[i]);
        if (s)
            return s;
    }
    mf_sb_str(&pr->out, "  return ");
    for (int i = 0; i < g->noutputs; i++) {
        if (!in_graph(g, g->outputs[i]))
            return mf_error(MF_ERR_INVALID, "print: graph output %d is not a value of the graph", i);
        if (i)
            mf_sb_str(&pr->out, ", ");
        print_name(pr, g->outputs[i]);
    }
    mf_sb_str(&pr->out, "\n}\n");
    return pr->out.oom ? mf_error(MF_ERR_NOMEM, "print: out of memory") : MF_OK;
}

mf_status mf_graph_print(const mf_graph *g, int elide_constants, char **text)
{
    if (!text)
        return mf_error(MF_ERR_INVALID, "mf_graph_print: text is NULL");
    *text = NULL;
    if (!g)
        return mf_error(MF_ERR_INVALID, "mf_graph_print: graph is NULL");
    printer pr = {.g = g};
    mf_status s = assign_names(&pr);
    if (!s)
        s = print_graph(&pr, elide_constants != 0);
    if (!s)
        *text = pr.out.p;
    else
        free(pr.out.p);
    free(pr.names);
    free(pr.nums);
    mf_ir_names_free(&pr.taken);
    return s;
}

mf_status mf_graph_value_names(const mf_graph *g, char ***names)
{
    *names = NULL;
    printer pr = {.g = g};
    mf_status s = assign_names(&pr);
    size_t bytes = sizeof(char *) * ((size_t)g->nvalues + 1);
    for (int i = 0; !s && i < g->nvalues; i++)
        bytes += (pr.names[i] ? strlen(pr.names[i]) : 12) + 1;
    char **out = s ? NULL : malloc(bytes);
    if (!s && !out)
        s = mf_error(MF_ERR_NOMEM, "print: out of memory");
    if (out) { /* the pointers, then the strings, in one block */
        char *p = (char *)(out + g->nvalues + 1);
        for (int i = 0; i < g->nvalues; i++) {
            out[i] = p;
            if (pr.names[i])
                p += sprintf(p, "%s", pr.names[i]) + 1;
            else
                p += sprintf(p, "%d", pr.nums[i]) + 1;
        }
        out[g->nvalues] = NULL;
        *names = out;
    }
    free(pr.names);
    free(pr.nums);
    mf_ir_names_free(&pr.taken);
    return s;
}
