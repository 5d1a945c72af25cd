/* test_cg_op_tables.c — codegen's per-op tables agree with ops.def: every op marked as
 * having device code (the mlu column) has exactly one codegen entry, a pointwise emitter
 * for elementwise and view ops or a core lowering for anchors and reductions, and every
 * other op has none.  A hole in a table, or an entry for an op that runs on the CPU,
 * fails here and names the op. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "codegen/codegen.h"

static bool is_pointwise_kind(mf_op_kind k)
{
    return k == MF_KIND_ELEMENTWISE || k == MF_KIND_VIEW;
}

static bool is_core_kind(mf_op_kind k)
{
    return k == MF_KIND_ANCHOR || k == MF_KIND_REDUCTION;
}

static void test_device_ops_have_one_entry(void **state)
{
    int checked = 0;
    for (int op = 0; op < MF_OP_COUNT; op++) {
        const mf_op_info *info = mf_op_get((mf_op)op);
        if (!info->has_mlu)
            continue;
        bool emitter = mf_cg_has_emitter((mf_op)op), lowering = mf_cg_has_lowering((mf_op)op);
        if (emitter == lowering)
            fail_msg("op %s (mlu 1): %s", info->name,
                     emitter ? "both an emitter and a lowering" : "no emitter or lowering");
        if (emitter && !is_pointwise_kind(info->kind))
            fail_msg("op %s: an emitter, but it is not elementwise or a view", info->name);
        if (lowering && !is_core_kind(info->kind))
            fail_msg("op %s: a lowering, but it is not an anchor or a reduction", info->name);
        checked++;
    }
    assert_true(checked > 20); /* the list was read */
}

static void test_cpu_ops_have_none(void **state)
{
    for (int op = 0; op < MF_OP_COUNT; op++) {
        const mf_op_info *info = mf_op_get((mf_op)op);
        if (info->has_mlu)
            continue;
        if (mf_cg_has_emitter((mf_op)op) || mf_cg_has_lowering((mf_op)op))
            fail_msg("op %s (mlu 0) has a codegen entry: mark it mlu 1 in ops.def", info->name);
    }
}

static void test_out_of_range_ops_have_none(void **state)
{
    assert_false(mf_cg_has_emitter(MF_OP_COUNT));
    assert_false(mf_cg_has_lowering(MF_OP_COUNT));
    assert_false(mf_cg_has_emitter((mf_op)-1));
    assert_false(mf_cg_has_lowering((mf_op)-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_ops_have_one_entry),
        cmocka_unit_test(test_cpu_ops_have_none),
        cmocka_unit_test(test_out_of_range_ops_have_none),
    };
    return cmocka_run_group_tests_name("codegen_op_tables", tests, NULL, NULL);
}
