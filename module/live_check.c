/* live_check.c — live verification of fused kernels (the seed's FUSED_KERNEL_DEBUG, done at
 * run time): with MLUFUSE_VERIFY=1 every kernel launch is recomputed by the reference
 * kernels; the first subgraph whose relative error passes the threshold is reported with
 * its ops, shapes and error, and written out as a standalone .mfir with its inputs as
 * .npy files, so the failure can be reproduced alone. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "module.h"

/* max |got - want| / max |want| over f32 data (other dtypes: exact comparison). */
static double relative_error(const mf_type *t, const void *got, const void *want)
{
    if (t->dtype != MF_F32)
        return memcmp(got, want, mf_type_nbytes(t)) ? INFINITY : 0;
    const float *g = got, *w = want;
    double err = 0, scale = 0;
    for (int64_t i = 0; i < mf_type_numel(t); i++) {
        double d = fabs((double)g[i] - w[i]);
        err = isnan(d) ? INFINITY : fmax(err, d);
        scale = fmax(scale, fabs((double)w[i]));
    }
    return err / (scale > 1e-30 ? scale : 1);
}

/* Writes the subgraph and its inputs under dir; returns the .mfir path in path. */
static void write_repro(const mf_segment *seg, mf_tensor *const *ins, const char *dir, char *path, size_t cap)
{
    char *text;
    mkdir(dir, 0755);
    snprintf(path, cap, "%s/subgraph_%d.mfir", dir, seg->id);
    if (mf_graph_print(seg->sub, 0, &text) == MF_OK) {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(text, f);
            fclose(f);
        }
        free(text);
    }
    for (int i = 0; i < seg->ninputs; i++) {
        char npy[600];
        snprintf(npy, sizeof npy, "%s/subgraph_%d.input%d.npy", dir, seg->id, i);
        mf_tensor_save_npy(ins[i], npy);
    }
}

mf_status mf_mod_verify_step(const mf_plan *p, int step, void *const *args, void *ctx)
{
    const mf_verifier *v = ctx;
    const mf_plan_step *st = &p->steps[step];
    const mf_segment *seg = &v->segs[st->segment];
    const mf_graph *sub = seg->sub;
    mf_tensor **ins = calloc((size_t)sub->ninputs + 1, sizeof *ins);
    mf_tensor **want = calloc((size_t)sub->noutputs + 1, sizeof *want);
    mf_status s = ins && want ? MF_OK : mf_error(MF_ERR_NOMEM, "verify: out of memory");
    for (int i = 0; i < sub->ninputs && !s; i++) {
        const mf_type *t = &sub->inputs[i]->type;
        s = mf_tensor_from_data(t->dtype, t->rank, t->shape, args[st->nout + i], mf_type_nbytes(t), &ins[i]);
    }
    if (!s)
        s = mf_graph_interpret(sub, sub->ninputs, ins, sub->noutputs, want);
    for (int i = 0; i < sub->noutputs && !s; i++) {
        const mf_type *t = &sub->outputs[i]->type;
        double err = relative_error(t, args[i], mf_tensor_data(want[i]));
        if (err <= v->rtol)
            continue;
        char path[600], shapes[512] = "", ts[128];
        size_t n = 0;
        for (int k = 0; k < sub->ninputs && n < sizeof shapes - 1; k++)
            n += (size_t)snprintf(shapes + n, sizeof shapes - n, "%s%s", k ? ", " : "",
                                  mf_type_str(&sub->inputs[k]->type, ts, sizeof ts));
        write_repro(seg, ins, v->dir, path, sizeof path);
        s = mf_error(MF_ERR_INTERNAL,
                     "MLUFUSE_VERIFY: %s on (%s): output %d differs from the reference kernels by "
                     "relative error %.3g (threshold %.3g); reproduce with %s and its .npy inputs",
                     seg->label, shapes, i, err, v->rtol, path);
    }
    for (int i = 0; ins && i < sub->ninputs; i++)
        mf_tensor_free(ins[i]);
    for (int i = 0; want && i < sub->noutputs; i++)
        mf_tensor_free(want[i]);
    free(ins);
    free(want);
    return s;
}
