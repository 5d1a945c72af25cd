/* onnx_training.c — the optimizer ops of ONNX's ai.onnx.preview.training domain (Adagrad,
 * Momentum, Adam): one update step of n tensors, written as the elementwise ops of the
 * spec's formulas (so that they fuse).  Inputs R (learning rate, f32 scalar), T (step
 * count, i64 scalar), then n of each of X, G and the optimizer's state; outputs the new X,
 * then the new state, each n of them.  The step count may be a graph input: its branches
 * (Momentum's first step, Adam's bias correction) are where ops on T > 0. */
#include <string.h>

#include "onnx.h"

typedef struct step_ctx {
    onnx_importer *im;
    const Onnx__NodeProto *n;
    mf_value *r, *tf, *first; /* R, T as f32, T > 0 */
} step_ctx;

static mf_status k(step_ctx *c, double v, mf_value **out)
{
    return onnx_scalar(c->im, MF_F32, v, out);
}

/* a op b; opk: a op constant v; kop: constant v op a. */
static mf_status op2(step_ctx *c, mf_op op, mf_value *a, mf_value *b, mf_value **out)
{
    return onnx_add2(c->im, c->n, op, a, b, out);
}

static mf_status opk(step_ctx *c, mf_op op, mf_value *a, double v, mf_value **out)
{
    mf_value *b;
    mf_status s = k(c, v, &b);
    return s ? s : op2(c, op, a, b, out);
}

static mf_status kop(step_ctx *c, mf_op op, double v, mf_value *a, mf_value **out)
{
    mf_value *b;
    mf_status s = k(c, v, &b);
    return s ? s : op2(c, op, b, a, out);
}

/* where(T > 0, yes, no). */
static mf_status if_started(step_ctx *c, mf_value *yes, mf_value *no, mf_value **out)
{
    return onnx_add(c->im, c->n, MF_OP_WHERE, 3, (mf_value *[]){c->first, yes, no}, NULL, out);
}

/* G + norm_coefficient * X. */
static mf_status regularized(step_ctx *c, mf_value *x, mf_value *g, mf_value **out)
{
    mf_value *nx;
    mf_status s = opk(c, MF_OP_MUL, x, onnx_attr_float(c->n, "norm_coefficient", 0), &nx);
    return s ? s : op2(c, MF_OP_ADD, nx, g, out);
}

static mf_status adagrad(step_ctx *c, mf_value *const *in, mf_value **out)
{
    mf_value *x = in[0], *h = in[2], *td, *den, *r, *g, *g2, *sq, *ha, *rg, *upd;
    mf_status s;
    if ((s = opk(c, MF_OP_MUL, c->tf, onnx_attr_float(c->n, "decay_factor", 0), &td)) ||
        (s = opk(c, MF_OP_ADD, td, 1, &den)) || (s = op2(c, MF_OP_DIV, c->r, den, &r)) ||
        (s = regularized(c, x, in[1], &g)) || (s = op2(c, MF_OP_MUL, g, g, &g2)) ||
        (s = op2(c, MF_OP_ADD, h, g2, &out[1])) || (s = onnx_add(c->im, c->n, MF_OP_SQRT, 1, &out[1], NULL, &sq)) ||
        (s = opk(c, MF_OP_ADD, sq, onnx_attr_float(c->n, "epsilon", 1e-6f), &ha)) ||
        (s = op2(c, MF_OP_MUL, r, g, &rg)) || (s = op2(c, MF_OP_DIV, rg, ha, &upd)))
        return s;
    return op2(c, MF_OP_SUB, x, upd, &out[0]);
}

static mf_status momentum(step_ctx *c, mf_value *const *in, mf_value **out)
{
    char buf[16];
    const char *mode = onnx_attr_str(c->n, "mode", "standard", buf, sizeof buf);
    float alpha = onnx_attr_float(c->n, "alpha", 0), beta = onnx_attr_float(c->n, "beta", 0);
    mf_value *x = in[0], *g, *vb, *one, *badj, *av, *bg, *dir, *step, *ag;
    mf_status s;
    if (strcmp(mode, "standard") && strcmp(mode, "nesterov"))
        return onnx_node_error(c->n, MF_ERR_INVALID, "mode '%s' (standard or nesterov)", mode);
    if ((s = regularized(c, x, in[1], &g)) || (s = k(c, beta, &vb)) || (s = k(c, 1, &one)) ||
        (s = if_started(c, vb, one, &badj)) || (s = opk(c, MF_OP_MUL, in[2], alpha, &av)) ||
        (s = op2(c, MF_OP_MUL, badj, g, &bg)) || (s = op2(c, MF_OP_ADD, av, bg, &out[1])))
        return s;
    dir = out[1];
    if (!strcmp(mode, "nesterov") &&
        ((s = opk(c, MF_OP_MUL, out[1], alpha, &ag)) || (s = op2(c, MF_OP_ADD, g, ag, &dir))))
        return s;
    if ((s = op2(c, MF_OP_MUL, c->r, dir, &step)))
        return s;
    return op2(c, MF_OP_SUB, x, step, &out[0]);
}

static mf_status adam(step_ctx *c, mf_value *const *in, mf_value **out)
{
    float alpha = onnx_attr_float(c->n, "alpha", 0.9f), beta = onnx_attr_float(c->n, "beta", 0.999f);
    mf_value *x = in[0], *g, *av, *ag, *bh, *g2, *bg, *sq, *hs, *bt, *at, *omb, *oma, *sb, *q, *rq, *radj, *rv, *upd, *xn;
    mf_status s;
    if ((s = regularized(c, x, in[1], &g)) || (s = opk(c, MF_OP_MUL, in[2], alpha, &av)) ||
        (s = opk(c, MF_OP_MUL, g, 1 - alpha, &ag)) || (s = op2(c, MF_OP_ADD, av, ag, &out[1])) ||
        (s = opk(c, MF_OP_MUL, in[3], beta, &bh)) || (s = op2(c, MF_OP_MUL, g, g, &g2)) ||
        (s = opk(c, MF_OP_MUL, g2, 1 - beta, &bg)) || (s = op2(c, MF_OP_ADD, bh, bg, &out[2])) ||
        (s = onnx_add(c->im, c->n, MF_OP_SQRT, 1, &out[2], NULL, &sq)) ||
        (s = opk(c, MF_OP_ADD, sq, onnx_attr_float(c->n, "epsilon", 1e-6f), &hs)) ||
        /* R * sqrt(1 - beta^T) / (1 - alpha^T) once T > 0 */
        (s = kop(c, MF_OP_POW, beta, c->tf, &bt)) || (s = kop(c, MF_OP_POW, alpha, c->tf, &at)) ||
        (s = kop(c, MF_OP_SUB, 1, bt, &omb)) || (s = kop(c, MF_OP_SUB, 1, at, &oma)) ||
        (s = onnx_add(c->im, c->n, MF_OP_SQRT, 1, &omb, NULL, &sb)) || (s = op2(c, MF_OP_DIV, sb, oma, &q)) ||
        (s = op2(c, MF_OP_MUL, c->r, q, &rq)) || (s = if_started(c, rq, c->r, &radj)) ||
        (s = op2(c, MF_OP_MUL, radj, out[1], &rv)) || (s = op2(c, MF_OP_DIV, rv, hs, &upd)) ||
        (s = op2(c, MF_OP_SUB, x, upd, &xn)))
        return s;
    return opk(c, MF_OP_MUL, xn, 1 - onnx_attr_float(c->n, "norm_coefficient_post", 0), &out[0]);
}

typedef mf_status (*optimizer)(step_ctx *c, mf_value *const *in, mf_value **out);

mf_status onnx_convert_training(onnx_importer *im, const Onnx__NodeProto *n)
{
    static const struct {
        const char *name;
        optimizer fn;
        int per; /* inputs per tensor: X, G and the state */
    } ops[] = {{"Adagrad", adagrad, 3}, {"Momentum", momentum, 3}, {"Adam", adam, 4}};
    int i = 0;
    while (i < 3 && strcmp(ops[i].name, n->op_type ? n->op_type : ""))
        i++;
    if (i == 3)
        return onnx_node_error(n, MF_ERR_UNSUPPORTED, "op type of domain %s is not supported", n->domain);
    int per = ops[i].per, count = (int)(n->n_input - 2) / per;
    if (n->n_input < 2 || count < 1 || (int)n->n_input != 2 + count * per || (int)n->n_output != count * (per - 1) ||
        count * per > 64)
        return onnx_node_error(n, MF_ERR_PARSE, "%zu inputs and %zu outputs do not make whole tensors", n->n_input,
                               n->n_output);
    mf_value *rt[2], *all[64], *zero;
    step_ctx c = {im, n, NULL, NULL, NULL};
    mf_status s = onnx_inputs(im, n, 2, rt);
    for (int j = 0; j < count * per && !s; j++)
        if (!(s = onnx_input(im, n, (size_t)(2 + j), &all[j])) && !all[j])
            s = onnx_node_error(n, MF_ERR_PARSE, "input %d is empty", 2 + j);
    if (s || (s = onnx_cast(im, n, rt[1], MF_F32, &c.tf)) || (s = onnx_scalar(im, rt[1]->type.dtype, 0, &zero)) ||
        (s = onnx_add2(im, n, MF_OP_GREATER, rt[1], zero, &c.first)))
        return s;
    c.r = rt[0];
    for (int t = 0; t < count && !s; t++) {
        mf_value *in[4], *out[3];
        for (int j = 0; j < per; j++)
            in[j] = all[j * count + t];
        if ((s = ops[i].fn(&c, in, out)))
            return s;
        for (int j = 0; j < per - 1 && !s; j++)
            s = onnx_define_output(im, n, (size_t)(j * count + t), out[j]);
    }
    return s;
}
