/* plan_builder.c — turns a segmented graph into a runtime plan.  Units (MLU subgraphs and
 * CPU-fallback ops) run in the one order of passes/unit_order.c; every value gets a slot on
 * the side that produces it, with one device→host or host→device copy per value and side
 * that needs it; arena offsets come from a first fit over each slot's live range. */
#include <stdlib.h>
#include <string.h>

#include "ir/custom_ops.h"
#include "module.h"

typedef struct builder {
    const mf_graph *g;
    mf_segment *segs;
    int nsegs;
    const mf_rt_kernel_fn *kernels;     /* per segment */
    const size_t *scratch;              /* per segment */
    mf_plan *p;
    int *dev_slot, *host_slot; /* per value id: slot on each side, -1 when none */
    int *def_step, *last_use;  /* per slot */
    int cap_slots, cap_steps;
} builder;

/* ---- slots and steps --------------------------------------------------------------------- */

static int new_slot(builder *b, const mf_type *t, mf_slot_kind kind, int index)
{
    mf_plan *p = b->p;
    if (p->nslots == b->cap_slots) {
        int cap = b->cap_slots ? 2 * b->cap_slots : 64;
        mf_plan_slot *s = realloc(p->slots, sizeof *s * (size_t)cap);
        int *d = realloc(b->def_step, sizeof *d * (size_t)cap);
        if (s)
            p->slots = s;
        if (d)
            b->def_step = d;
        int *l = d && s ? realloc(b->last_use, sizeof *l * (size_t)cap) : NULL;
        if (!l)
            return -1;
        b->last_use = l;
        b->cap_slots = cap;
    }
    p->slots[p->nslots] = (mf_plan_slot){*t, kind, index, 0};
    b->def_step[p->nslots] = p->nsteps;
    b->last_use[p->nslots] = p->nsteps;
    return p->nslots++;
}

static mf_plan_step *new_step(builder *b, mf_step_kind kind, int nout, int nin)
{
    mf_plan *p = b->p;
    if (p->nsteps == b->cap_steps) {
        int cap = b->cap_steps ? 2 * b->cap_steps : 32;
        mf_plan_step *s = realloc(p->steps, sizeof *s * (size_t)cap);
        if (!s)
            return NULL;
        p->steps = s;
        b->cap_steps = cap;
    }
    mf_plan_step *st = &p->steps[p->nsteps];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->nout = nout;
    st->nin = nin;
    st->slots = calloc((size_t)(nout + nin), sizeof(int));
    if (!st->slots)
        return NULL;
    p->nsteps++;
    return st;
}

static void use_slot(builder *b, int slot)
{
    b->last_use[slot] = b->p->nsteps - 1;
    while (b->p->slots[slot].kind == MF_SLOT_ALIAS) { /* keep the viewed bytes alive too */
        slot = b->p->slots[slot].index;
        b->last_use[slot] = b->p->nsteps - 1;
    }
}

static bool is_graph_output(const mf_graph *g, const mf_value *v, int *index)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == v) {
            *index = i;
            return true;
        }
    return false;
}

/* Uploads constant v to the plan's device once (host: to the host side, for a plan with no
 * kernel: there the weights already in host memory are shared, not copied); the plan keeps
 * its copy. */
static mf_status add_const(builder *b, const mf_value *v, bool host)
{
    if (!v->data)
        return mf_error(MF_ERR_INVALID, "constant %%%s has no data (opaque): bind weights before compiling",
                        v->name ? v->name : "?");
    mf_plan *p = b->p;
    mf_buffer **c = realloc(p->consts, sizeof *c * (size_t)(p->nconsts + 1));
    if (!c)
        return mf_error(MF_ERR_NOMEM, "plan: out of memory");
    p->consts = c;
    size_t n = mf_type_nbytes(&v->type);
    mf_device dev = host ? MF_DEVICE_CPU : p->device;
    mf_status s = MF_OK;
    if (host && v->data->device.type == MF_CPU && v->data->nbytes >= n) {
        c[p->nconsts] = mf_buffer_retain(v->data);
    } else {
        s = mf_rt_alloc(dev, n, &c[p->nconsts]);
        if (s)
            return s;
        s = mf_rt_copy(c[p->nconsts]->data, dev, v->data->data, v->data->device, n);
    }
    if (s) {
        mf_buffer_release(c[p->nconsts]);
        return s;
    }
    int slot = new_slot(b, &v->type, MF_SLOT_CONST, p->nconsts++);
    if (slot < 0)
        return mf_error(MF_ERR_NOMEM, "plan: out of memory");
    (host ? b->host_slot : b->dev_slot)[v->id] = slot;
    return MF_OK;
}

/* The slot of v on the device (host false) or host side, adding a copy step if v so far
 * lives only on the other side. */
static mf_status slot_on(builder *b, const mf_value *v, bool host, int *out)
{
    int *mine = host ? b->host_slot : b->dev_slot, *other = host ? b->dev_slot : b->host_slot;
    bool host_const = host && b->nsegs == 0; /* no kernel reads it: no device copy at all */
    if (v->is_const && (host_const ? b->host_slot : b->dev_slot)[v->id] < 0) {
        mf_status s = add_const(b, v, host_const);
        if (s)
            return s;
    }
    if (mine[v->id] >= 0) {
        *out = mine[v->id];
        return MF_OK;
    }
    if (other[v->id] < 0)
        return mf_error(MF_ERR_INTERNAL, "plan: value %d is used before it is computed", v->id);
    int s = new_slot(b, &v->type, host ? MF_SLOT_HOST : MF_SLOT_DEVICE, 0);
    mf_plan_step *st = s < 0 ? NULL : new_step(b, MF_STEP_COPY, 1, 1);
    if (!st)
        return mf_error(MF_ERR_NOMEM, "plan: out of memory");
    st->slots[0] = s;
    st->slots[1] = other[v->id];
    snprintf(st->label, sizeof st->label, "copy to the %s", host ? "host" : "device");
    b->def_step[s] = b->p->nsteps - 1;
    use_slot(b, other[v->id]);
    mine[v->id] = *out = s;
    return MF_OK;
}

/* A slot for a value a step produces: a module output slot when v is one, else a place
 * in the arena of its side. */
static int output_slot(builder *b, const mf_value *v, bool host)
{
    int index;
    if (!host && is_graph_output(b->g, v, &index))
        return b->dev_slot[v->id] = new_slot(b, &v->type, MF_SLOT_OUTPUT, index);
    int s = new_slot(b, &v->type, host ? MF_SLOT_HOST : MF_SLOT_DEVICE, 0);
    (host ? b->host_slot : b->dev_slot)[v->id] = s;
    return s;
}

/* ---- units -------------------------------------------------------------------------------- */

/* Slots of a unit's inputs on one side, resolved (adding any copy steps) before the
 * unit's own step, which must come after those copies. */
static mf_status input_slots(builder *b, int n, mf_value *const *vals, bool host, int *slots)
{
    for (int i = 0; i < n; i++) {
        mf_status s = slot_on(b, vals[i], host, &slots[i]);
        if (s)
            return s;
    }
    return MF_OK;
}

static mf_status finish_step(builder *b, mf_plan_step *st, int nout, mf_value *const *outs,
                             const int *ins, bool host)
{
    int step = b->p->nsteps - 1;
    for (int i = 0; i < st->nin; i++) {
        st->slots[nout + i] = ins[i];
        use_slot(b, ins[i]);
    }
    for (int i = 0; i < nout; i++) {
        int s = output_slot(b, outs[i], host);
        if (s < 0)
            return mf_error(MF_ERR_NOMEM, "plan: out of memory");
        b->def_step[s] = b->last_use[s] = step;
        st->slots[i] = s;
    }
    return MF_OK;
}

static mf_status emit_segment(builder *b, int k)
{
    const mf_segment *seg = &b->segs[k];
    if (seg->ninputs + seg->noutputs > MF_PLAN_MAX_ARGS)
        return mf_error(MF_ERR_UNSUPPORTED, "plan: %s reads and writes %d values, more than the %d a kernel takes",
                        seg->label, seg->ninputs + seg->noutputs, MF_PLAN_MAX_ARGS);
    int *ins = calloc((size_t)seg->ninputs + 1, sizeof *ins);
    mf_status s = ins ? input_slots(b, seg->ninputs, seg->inputs, false, ins)
                      : mf_error(MF_ERR_NOMEM, "plan: out of memory");
    mf_plan_step *st = s ? NULL : new_step(b, MF_STEP_KERNEL, seg->noutputs, seg->ninputs);
    if (!s && !st)
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
    if (!s) {
        st->kernel = b->kernels[k];
        st->segment = k;
        st->scratch_bytes = b->scratch[k];
        if (st->scratch_bytes > b->p->scratch_bytes)
            b->p->scratch_bytes = st->scratch_bytes;
        snprintf(st->label, sizeof st->label, "%s", seg->label);
        s = finish_step(b, st, seg->noutputs, seg->outputs, ins, false);
    }
    free(ins);
    return s;
}

static mf_status emit_cpu_op(builder *b, const mf_node *n)
{
    int ins[64];
    if (n->ninputs > 64)
        return mf_error(MF_ERR_UNSUPPORTED, "plan: %s with more than 64 inputs", mf_op_get(n->op)->name);
    mf_status s = input_slots(b, n->ninputs, n->inputs, true, ins);
    mf_plan_step *st = s ? NULL : new_step(b, MF_STEP_CPU_OP, 1, n->ninputs);
    if (!s && !st)
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
    if (s)
        return s;
    st->op = n->op;
    memcpy(st->attrs, n->attrs, sizeof st->attrs);
    const mf_custom_entry *custom = n->op == MF_OP_CUSTOM ? mf_custom_get(n->attrs[0].i) : NULL;
    if (custom) /* the profiler and messages name the user's op */
        snprintf(st->label, sizeof st->label, "cpu op %d (custom.%s)", n->id, custom->decl.name);
    else
        snprintf(st->label, sizeof st->label, "cpu op %d (%s)", n->id, mf_op_get(n->op)->name);
    return finish_step(b, st, 1, n->outputs, ins, true);
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* First fit over live ranges, per arena (passes/memplan.c): a slot may reuse bytes whose
 * slot died before the step that defines it.  Offsets are 64-byte aligned. */
static mf_status plan_arena(builder *b, mf_slot_kind kind, size_t *total)
{
    mf_plan *p = b->p;
    int n = 0;
    int *placed = malloc(sizeof *placed * (size_t)(p->nslots + 1));
    mf_live_range *r = calloc((size_t)p->nslots + 1, sizeof *r);
    size_t *off = malloc(sizeof *off * (size_t)(p->nslots + 1));
    int *order = malloc(sizeof *order * (size_t)(p->nslots + 1));
    *total = 0;
    if (placed && r && off && order) {
        for (int i = 0; i < p->nslots; i++)
            if (p->slots[i].kind == kind) {
                r[n] = (mf_live_range){b->def_step[i], b->last_use[i], mf_type_nbytes(&p->slots[i].type)};
                placed[n++] = i;
            }
        *total = mf_first_fit(n, r, off, order);
        for (int k = 0; k < n; k++)
            p->slots[placed[k]].offset = off[k];
    }
    bool ok = placed && r && off && order;
    free(placed);
    free(r);
    free(off);
    free(order);
    return ok ? MF_OK : mf_error(MF_ERR_NOMEM, "plan: out of memory");
}

/* Module outputs that no step wrote in place (inputs, constants, host results, repeats)
 * are copied into their output slots. */
static mf_status finish_outputs(builder *b)
{
    mf_plan *p = b->p;
    for (int i = 0; i < b->g->noutputs; i++) {
        const mf_value *v = b->g->outputs[i];
        int ds = b->dev_slot[v->id];
        if (ds >= 0 && p->slots[ds].kind == MF_SLOT_OUTPUT && p->slots[ds].index == i) {
            p->outputs[i] = ds;
            continue;
        }
        int src;
        mf_status s = slot_on(b, v, false, &src);
        if (s)
            return s;
        int dst = new_slot(b, &v->type, MF_SLOT_OUTPUT, i);
        mf_plan_step *st = dst < 0 ? NULL : new_step(b, MF_STEP_COPY, 1, 1);
        if (!st)
            return mf_error(MF_ERR_NOMEM, "plan: out of memory");
        st->slots[0] = dst;
        st->slots[1] = src;
        snprintf(st->label, sizeof st->label, "copy to output %d", i);
        use_slot(b, src);
        p->outputs[i] = dst;
    }
    return MF_OK;
}

static mf_status build(builder *b)
{
    const mf_graph *g = b->g;
    mf_plan *p = b->p;
    int nsub = 0;
    for (int k = 0; k < b->nsegs; k++)
        if (b->segs[k].id >= nsub)
            nsub = b->segs[k].id + 1;
    int *seg_of_id = malloc(sizeof(int) * (size_t)(nsub + 1));
    mf_unit_order o = {0};
    mf_status s = MF_OK;
    if (!seg_of_id || !p->inputs || !p->outputs) {
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
        goto out;
    }
    for (int k = 0; k < b->nsegs; k++)
        seg_of_id[b->segs[k].id] = k;
    for (int i = 0; i < g->ninputs && !s; i++) {
        int slot = new_slot(b, &g->inputs[i]->type, MF_SLOT_INPUT, i);
        if (slot < 0)
            s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
        else
            p->inputs[i] = b->dev_slot[g->inputs[i]->id] = slot;
    }
    if (!s) /* the order the memory plan pass uses too (passes/unit_order.c) */
        s = mf_unit_order_make(g, nsub, &o);
    for (int i = 0; i < o.nordered && !s; i++) {
        int u = o.order[i];
        s = u < nsub ? emit_segment(b, seg_of_id[u]) : emit_cpu_op(b, g->nodes[o.first[u]]);
    }
    if (!s)
        s = finish_outputs(b);
    if (!s)
        s = plan_arena(b, MF_SLOT_DEVICE, &p->device_bytes);
    if (!s)
        s = plan_arena(b, MF_SLOT_HOST, &p->host_bytes);
out:
    mf_unit_order_free(&o);
    free(seg_of_id);
    return s;
}

mf_status mf_mod_build_plan(const mf_graph *g, mf_segment *segs, int nsegs,
                            const mf_rt_kernel_fn *kernels, const size_t *scratch, mf_device dev,
                            int core_number, mf_plan **out)
{
    *out = NULL;
    mf_plan *p = calloc(1, sizeof *p);
    builder b = {g, segs, nsegs, kernels, scratch, p, NULL, NULL, NULL, NULL, 0, 0};
    if (p) {
        p->device = dev;
        p->core_number = core_number;
        p->ninputs = g->ninputs;
        p->noutputs = g->noutputs;
        p->inputs = calloc((size_t)g->ninputs + 1, sizeof(int));
        p->outputs = calloc((size_t)g->noutputs + 1, sizeof(int));
        b.dev_slot = malloc(sizeof(int) * (size_t)(g->nvalues + 1));
        b.host_slot = malloc(sizeof(int) * (size_t)(g->nvalues + 1));
    }
    mf_status s = MF_OK;
    if (!p || !b.dev_slot || !b.host_slot) {
        s = mf_error(MF_ERR_NOMEM, "plan: out of memory");
    } else {
        for (int i = 0; i < g->nvalues; i++)
            b.dev_slot[i] = b.host_slot[i] = -1;
        s = build(&b);
    }
    free(b.dev_slot);
    free(b.host_slot);
    free(b.def_step);
    free(b.last_use);
    if (s)
        mf_rt_plan_free(p);
    else
        *out = p;
    return s;
}
