/* winograd_chain.c — the three nodes of a Winograd F(4,3) conv (passes/winograd.c) that run
 * as one kernel: winograd_input -> matmul(U, V) -> winograd_output (ir.h).  One recognizer,
 * asked from the matmul (may it join the input transform's subgraph?) and from the output
 * transform (may it join the matmul's?), and one size rule, so segmentation, codegen and the
 * fusion report never disagree. */
#include "ir.h"
#include "winograd.h"

/* The most f32 lanes a target has (a zmm) and the most output channels the fused kernel's
 * register tile takes (codegen's MF_CG_MAX_VW and MF_CG_PANEL_MR_MAX): the buffer is sized
 * for the worst target, so the answer does not depend on the one compiled for. */
#define MOST_LANES 16
#define MOST_ROWS 12

static bool is_tiles_layout(const mf_node *n)
{
    return mf_attr_get(n->op, n->attrs, "channels_last")->i == 0;
}

/* Bytes of the fused kernel's buffers for blocks of one row of output tiles. */
static int64_t buffer_bytes(int64_t cin, int64_t row_tiles)
{
    int64_t lanes = (row_tiles + MOST_LANES - 1) / MOST_LANES * MOST_LANES;
    return (int64_t)MF_WINO_P * (cin + MOST_ROWS) * lanes * (int64_t)sizeof(float);
}

static bool chain_at_output(const mf_graph *g, const mf_node *out, mf_winograd_chain *ch)
{
    if (out->op != MF_OP_WINOGRAD_OUTPUT || !is_tiles_layout(out))
        return false;
    const mf_value *m = out->inputs[0];
    const mf_node *mm = m->producer;
    if (!mm || mm->op != MF_OP_MATMUL || mf_graph_sole_user(g, m) != out)
        return false;
    const mf_value *u = mm->inputs[0], *v = mm->inputs[1];
    const mf_node *in = v->producer;
    if (!in || in->op != MF_OP_WINOGRAD_INPUT || !is_tiles_layout(in) ||
        mf_graph_sole_user(g, v) != mm)
        return false;
    const mf_type *ut = &u->type, *vt = &v->type, *mt = &m->type, *ot = &out->outputs[0]->type;
    if (ut->dtype != MF_F32 || vt->dtype != MF_F32 || mt->dtype != MF_F32 || ut->rank != 3 ||
        vt->rank != 3 || mt->rank != 3 || ot->rank != 4)
        return false;
    int64_t k = ut->shape[1], c = ut->shape[2], block = mf_matmul_packed(mm->attrs);
    if (ut->shape[0] != MF_WINO_P || vt->shape[0] != MF_WINO_P || vt->shape[1] != c ||
        mt->shape[1] != k || mt->shape[2] != vt->shape[2] || ot->shape[1] != k || k < 1 || c < 1 ||
        (block && k % block))
        return false;
    /* the output the stride-1 3x3 conv's of the input (the transforms' shapes agree only on the
     * tile count; the kernel takes its blocks from the input's grid of tiles) */
    const mf_type *xt = &in->inputs[0]->type;
    const int64_t *pad = mf_attr_get(in->op, in->attrs, "padding")->ints;
    if (xt->rank != 4 || ot->shape[0] != xt->shape[0] ||
        ot->shape[2] != xt->shape[2] + 2 * pad[0] - 2 ||
        ot->shape[3] != xt->shape[3] + 2 * pad[1] - 2 ||
        ot->shape[0] * mf_wino_tiles(ot->shape[2]) * mf_wino_tiles(ot->shape[3]) != vt->shape[2])
        return false;
    *ch = (mf_winograd_chain){
        .in = in, .mm = mm, .out = out, .weight_bytes = (int64_t)mf_type_nbytes(ut)};
    return true;
}

int64_t mf_winograd_chain_buffer_bytes(const mf_winograd_chain *ch)
{
    return buffer_bytes(ch->mm->inputs[0]->type.shape[2],
                        mf_wino_tiles(ch->out->outputs[0]->type.shape[3]));
}

bool mf_winograd_chain_fits(const mf_winograd_chain *ch)
{
    return ch->weight_bytes <= MF_WINOGRAD_CHAIN_WEIGHTS &&
           mf_winograd_chain_buffer_bytes(ch) <= MF_WINOGRAD_CHAIN_BUFFER;
}

bool mf_winograd_chain_of(const mf_graph *g, const mf_node *n, mf_winograd_chain *out)
{
    if (!n)
        return false;
    mf_winograd_chain ch;
    const mf_node *end = n->op == MF_OP_MATMUL ? mf_graph_sole_user(g, n->outputs[0]) : n;
    if (!end || !chain_at_output(g, end, &ch) || (n->op == MF_OP_MATMUL && ch.mm != n))
        return false;
    if (out)
        *out = ch;
    return true;
}
