/* pass_graphs.c — see pass_graphs.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "module/module.h"
#include "pass_graphs.h"

mf_graph *tsupport_parse_filled(const char *text, uint64_t seed, float lo)
{
    mf_graph *g = NULL;
    if (mf_graph_parse(text, NULL, &g))
        fail_msg("%s", mf_last_error());
    for (int i = 0; i < g->nvalues; i++) {
        mf_value *v = g->values[i];
        if (!v->is_const || v->data)
            continue;
        if (v->type.dtype != MF_F32 && v->type.dtype != MF_I8)
            fail_msg("constant %d: no filling for its dtype", i);
        v->data = mf_buffer_new_host(mf_type_nbytes(&v->type));
        assert_non_null(v->data);
        for (int64_t k = 0; k < mf_type_numel(&v->type); k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            float u = (float)(seed >> 40) / (float)(1 << 24);
            if (v->type.dtype == MF_I8)
                ((int8_t *)v->data->data)[k] = (int8_t)(u * 254.999f - 127);
            else
                ((float *)v->data->data)[k] = lo + u;
        }
    }
    return g;
}

int tsupport_run_passes(mf_graph *g, const char *passes, mf_pass_ctx *ctx)
{
    ctx->eval = mf_mod_ref_eval;
    mf_pass_stat *st = NULL;
    int nst = 0;
    if (mf_pipeline_run(g, passes, ctx, true, NULL, NULL, &st, &nst))
        fail_msg("%s", mf_last_error());
    int changes = st[0].changes;
    free(st);
    mf_pass_ctx_release(ctx);
    return changes;
}

void tsupport_rand_inputs(const mf_graph *g, uint64_t seed, double lo, double hi, mf_tensor **in)
{
    for (int i = 0; i < g->ninputs; i++)
        assert_int_equal(mf_tensor_rand(MF_F32, g->inputs[i]->type.rank, g->inputs[i]->type.shape, seed + (uint64_t)i,
                                        lo, hi, MF_DEVICE_CPU, &in[i]),
                         MF_OK);
}

void tsupport_free_tensors(int n, mf_tensor **t)
{
    for (int i = 0; i < n; i++)
        mf_tensor_free(t[i]);
}
