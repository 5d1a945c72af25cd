/* onnx_program.c — the driver of staged ONNX runs (mf_onnx_program): imports a stage
 * (frontends/onnx_stage.c), compiles it as a module, runs it and feeds its values to the
 * next stage, until the last one gives the model's outputs. */
#include <stdlib.h>

#include "frontends/frontends.h"
#include "module.h"

/* Stages of one run: each takes at least one entry of the model, and a Loop at most 4096
 * iterations; this only bounds a model that would run for ever. */
#define MAX_STAGES 100000

struct mf_onnx_program {
    mf_onnx_model *model;
    mf_module_options opt;
    int stages; /* of the last run */
};

mf_status mf_onnx_program_load(const char *path, const mf_module_options *opt, mf_onnx_program **out)
{
    if (!path || !out)
        return mf_error(MF_ERR_INVALID, "onnx program: %s is NULL", path ? "out" : "path");
    *out = NULL;
    mf_module_options o = opt ? *opt : mf_module_default_options();
    mf_status s = mf_mod_check_options(&o, "onnx program"); /* each stage's module would refuse them later */
    if (!s)
        s = mf_rt_device_check(o.device);
    if (s)
        return s;
    mf_onnx_program *p = calloc(1, sizeof *p);
    if (!p)
        return mf_error(MF_ERR_NOMEM, "onnx program: out of memory");
    p->opt = o;
    s = mf_onnx_model_load(path, &p->model);
    if (s) {
        free(p);
        return s;
    }
    *out = p;
    return MF_OK;
}

void mf_onnx_program_destroy(mf_onnx_program *p)
{
    if (!p)
        return;
    mf_onnx_model_free(p->model);
    free(p);
}

int mf_onnx_program_num_inputs(const mf_onnx_program *p)
{
    return p ? mf_onnx_model_num_inputs(p->model) : 0;
}

int mf_onnx_program_num_outputs(const mf_onnx_program *p)
{
    return p ? mf_onnx_model_num_outputs(p->model) : 0;
}

int mf_onnx_program_num_stages(const mf_onnx_program *p)
{
    return p ? p->stages : 0;
}

/* Compiles stage graph g, runs it and feeds its outputs to st. */
static mf_status run_stage(mf_onnx_program *p, mf_onnx_staging *st, mf_graph *g)
{
    int n = mf_graph_num_outputs(g);
    mf_tensor **vals = calloc((size_t)n, sizeof *vals);
    mf_module *m = NULL;
    mf_status s = vals ? mf_module_create(g, &p->opt, &m) : mf_error(MF_ERR_NOMEM, "onnx program: out of memory");
    if (!s)
        s = mf_module_run(m, mf_graph_num_inputs(g), mf_onnx_staging_inputs(st), n, vals);
    if (!s)
        s = mf_onnx_staging_feed(st, n, vals);
    for (int i = 0; vals && i < n; i++)
        mf_tensor_free(vals[i]);
    free(vals);
    mf_module_destroy(m);
    return s;
}

mf_status mf_onnx_program_run(mf_onnx_program *p, int n_in, mf_tensor *const *inputs, int n_out,
                              mf_tensor **outputs)
{
    if (!p || (n_out > 0 && !outputs))
        return mf_error(MF_ERR_INVALID, "onnx program: %s is NULL", p ? "outputs" : "the program");
    if (n_out != mf_onnx_model_num_outputs(p->model))
        return mf_error(MF_ERR_INVALID, "onnx program: the model has %d outputs, %d asked for",
                        mf_onnx_model_num_outputs(p->model), n_out);
    if (n_in < 0 || n_in > 4096 || (n_in > 0 && !inputs))
        return mf_error(MF_ERR_INVALID, "onnx program: bad input list (%d inputs)", n_in);
    /* The stages' modules take their inputs on their device. */
    mf_tensor **dev = calloc((size_t)n_in + 1, sizeof *dev);
    mf_status s = dev ? MF_OK : mf_error(MF_ERR_NOMEM, "onnx program: out of memory");
    for (int i = 0; i < n_in && !s; i++)
        s = inputs[i] ? mf_tensor_to(inputs[i], p->opt.device, &dev[i])
                      : mf_error(MF_ERR_INVALID, "onnx program: input %d is NULL", i);
    mf_onnx_staging *st = NULL;
    if (!s)
        s = mf_onnx_staging_begin(p->model, n_in, dev, &st);
    for (int i = 0; dev && i < n_in; i++)
        mf_tensor_free(dev[i]);
    free(dev);
    if (s)
        return s;
    p->stages = 0;
    for (bool last = false; !s && !last;) {
        mf_graph *g = NULL;
        if (p->stages == MAX_STAGES)
            s = mf_error(MF_ERR_UNSUPPORTED, "onnx program: more than %d stages", MAX_STAGES);
        if (!s)
            s = mf_onnx_staging_next(st, &g, &last);
        if (!s)
            p->stages++;
        if (!s && g)
            s = run_stage(p, st, g);
        if (s && g)
            mf_error_context(s, "stage %d", p->stages);
        mf_graph_destroy(g);
    }
    if (!s)
        s = mf_onnx_staging_outputs(st, n_out, outputs);
    mf_onnx_staging_free(st);
    return s;
}
