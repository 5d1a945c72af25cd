/* profile_sites.c — what the profiler says about a module's plan: each kernel step named
 * after its subgraph, with its ops and their types, the activation shapes in and out, the
 * cache key prefix, its FLOPs (ir/op_cost.c) and the bytes it must move; each CPU-fallback
 * step likewise; and the run itself.  Filled once when a specialization is built, so a
 * profiled run only reads them. */
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* "conv2d(f32[1,64,56,56], f32[64,64,3,3]) -> f32[1,64,56,56]; relu(...) -> ..." */
static char *ops_text(const mf_graph *sub)
{
    mf_strbuf b = {0};
    char t[128];
    for (int i = 0; i < sub->nnodes; i++) {
        const mf_node *n = sub->nodes[i];
        mf_sb_printf(&b, "%s%s(", i ? "; " : "", mf_op_get(n->op)->name);
        for (int j = 0; j < n->ninputs; j++)
            mf_sb_printf(&b, "%s%s", j ? ", " : "", mf_type_str(&n->inputs[j]->type, t, sizeof t));
        mf_sb_printf(&b, ") -> %s", mf_type_str(&n->outputs[0]->type, t, sizeof t));
    }
    return mf_sb_take(&b);
}

/* Activations in (constants left out) -> outputs, as far as it fits. */
static void shapes_text(const mf_segment *seg, char *buf, size_t cap)
{
    size_t n = 0;
    char t[128];
    int shown = 0;
    for (int i = 0; i < seg->ninputs && n < cap; i++)
        if (!seg->inputs[i]->is_const)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", shown++ ? ", " : "",
                                  mf_type_str(&seg->inputs[i]->type, t, sizeof t));
    for (int i = 0; i < seg->noutputs && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : " -> ",
                              mf_type_str(&seg->outputs[i]->type, t, sizeof t));
}

static mf_status describe_kernel(mf_plan_step *st, const mf_segment *seg, const char *key, int lanes)
{
    mf_rt_prof_site *s = &st->site;
    s->lanes = lanes; /* judged against the peak of the target it was compiled for */
    snprintf(s->name, sizeof s->name, "%s", st->label);
    snprintf(s->key, sizeof s->key, "%s", key);
    shapes_text(seg, s->shapes, sizeof s->shapes);
    for (int i = 0; i < seg->sub->nnodes; i++)
        s->flops += mf_node_flops(seg->sub->nodes[i]);
    for (int i = 0; i < seg->sub->ninputs; i++)
        s->bytes += (double)mf_type_nbytes(&seg->sub->inputs[i]->type);
    for (int i = 0; i < seg->sub->noutputs; i++)
        s->bytes += (double)mf_type_nbytes(&seg->sub->outputs[i]->type);
    if (!(s->ops = ops_text(seg->sub)))
        return mf_error(MF_ERR_NOMEM, "module: out of memory describing %s", st->label);
    return MF_OK;
}

static mf_status describe_cpu_op(const mf_plan *p, mf_plan_step *st)
{
    mf_type in[64];
    char ops[1024];
    int nin = st->nin < 64 ? st->nin : 64;
    for (int i = 0; i < nin; i++)
        in[i] = p->slots[st->slots[st->nout + i]].type;
    mf_rt_prof_op_site(&st->site, st->op, st->attrs, nin, in, &p->slots[st->slots[0]].type, ops,
                       sizeof ops);
    snprintf(st->site.name, sizeof st->site.name, "%s", st->label);
    if (!(st->site.ops = strdup(ops)))
        return mf_error(MF_ERR_NOMEM, "module: out of memory describing %s", st->label);
    return MF_OK;
}

mf_status mf_mod_describe_plan(mf_plan *p, const char *graph_name, const mf_segment *segs,
                               const char (*keys)[65], int lanes)
{
    mf_status s = MF_OK;
    snprintf(p->run_site.name, sizeof p->run_site.name, "run @%s", graph_name);
    p->run_site.nsteps = p->nsteps;
    for (int i = 0; i < p->nsteps && !s; i++) {
        mf_plan_step *st = &p->steps[i];
        if (st->kind == MF_STEP_KERNEL) {
            p->run_site.nkernels++;
            s = describe_kernel(st, &segs[st->segment], keys[st->segment], lanes);
        } else if (st->kind == MF_STEP_CPU_OP) {
            s = describe_cpu_op(p, st);
        } else {
            snprintf(st->site.name, sizeof st->site.name, "%s", st->label);
        }
    }
    return s;
}
