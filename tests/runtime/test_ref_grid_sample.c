/* test_ref_grid_sample.c — the reference kernel of grid_sample: bilinear, nearest (halves
 * to even) and bicubic at known points of a 2x2 input, zeros against border padding
 * outside it, align_corners, and grids of the wrong shape refused at inference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "tests/support/ref_call.h"

static const float x[4] = {1, 2, 3, 4}; /* [1, 1, 2, 2] */

static float *run(int mode, int padding, int align, const float *grid, int points, mf_type *ot)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_GRID_SAMPLE, a);
    tref_set_int(MF_OP_GRID_SAMPLE, a, "mode", mode);
    tref_set_int(MF_OP_GRID_SAMPLE, a, "padding", padding);
    tref_set_int(MF_OP_GRID_SAMPLE, a, "align_corners", align);
    return tref_run(MF_OP_GRID_SAMPLE, a, 2, (mf_type[]){TT(MF_F32, 1, 1, 2, 2), TT(MF_F32, 1, 1, points, 2)},
                    (const void *[]){x, grid}, ot);
}

static void test_modes(void **state)
{
    mf_type ot;
    /* corners, the centre and a point right of the input (x = 2 with align_corners) */
    const float grid[8] = {-1, -1, 1, 1, 0, 0, 3, 0};
    float *o = run(0, 0, 1, grid, 4, &ot);
    assert_true(ot.rank == 4 && ot.shape[2] == 1 && ot.shape[3] == 4);
    TREF_EXPECT(o, 1, 4, 2.5, 0);
    free(o);
    o = run(0, 1, 1, grid, 4, &ot); /* border: the right edge's middle */
    TREF_EXPECT(o, 1, 4, 2.5, 3);
    free(o);
    o = run(1, 0, 1, grid, 4, &ot); /* nearest: (0.5, 0.5) rounds to (0, 0) */
    TREF_EXPECT(o, 1, 4, 1, 0);
    free(o);
    /* without align_corners, (-0.5, -0.5) is the first pixel's centre; bicubic is exact there */
    const float centre[2] = {-0.5f, -0.5f};
    o = run(2, 1, 0, centre, 1, &ot);
    TREF_EXPECT(o, 1);
    free(o);
}

static void test_refused(void **state)
{
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    mf_op_default_attrs(MF_OP_GRID_SAMPLE, a);
    assert_int_equal(mf_op_infer(MF_OP_GRID_SAMPLE, a, 2, (mf_type[]){TT(MF_F32, 1, 1, 2, 2), TT(MF_F32, 1, 1, 4, 3)}, &ot),
                     MF_ERR_SHAPE);
    tref_set_int(MF_OP_GRID_SAMPLE, a, "mode", 3);
    assert_int_equal(mf_op_infer(MF_OP_GRID_SAMPLE, a, 2, (mf_type[]){TT(MF_F32, 1, 1, 2, 2), TT(MF_F32, 1, 1, 4, 2)}, &ot),
                     MF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_modes), cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests_name("ref_grid_sample", tests, NULL, NULL);
}
