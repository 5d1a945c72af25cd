/* test_cg_tile.c — the register tile the conv engines take from the target (codegen/tile.c):
 * its size for named targets, and which 1x1 layers the GEMM engine takes (no code runs, so
 * every host checks every target). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "codegen/cg_internal.h"

static mf_cg_target_shape shape_of(const char *cpu)
{
    mf_cg_target t;
    assert_int_equal(mf_cg_target_init(cpu, &t), MF_OK);
    return t.shape;
}

/* 12 of AVX2's 16 registers (a 3x4 tile), 24 of AVX-512's 32, 10 without FMA. */
static void test_accumulators(void **state)
{
    (void)state;
    mf_cg_target_shape hsw = shape_of("haswell"), skx = shape_of("skylake-avx512"), v2 = shape_of("x86-64-v2");
    assert_int_equal(mf_cg_tile_accs(&hsw), 12);
    assert_int_equal(mf_cg_tile_accs(&skx), 24);
    assert_int_equal(mf_cg_tile_accs(&v2), 10);
    assert_int_equal(mf_cg_tile_rows(&hsw, 4, 64, 0), 3);
    assert_int_equal(mf_cg_tile_rows(&hsw, 4, 64, 2), 2); /* two registers held for masks */
    assert_int_equal(mf_cg_tile_rows(&skx, 4, 512, 0), 6);
    assert_int_equal(mf_cg_tile_rows(&hsw, 1, 5, 0), 5);  /* no more rows than channels */
    assert_int_equal(mf_cg_tile_rows(&hsw, 4, 4, 0), 2);  /* evened out: 2 + 2, not 3 + 1 */
    assert_int_equal(mf_cg_tile_rows(&hsw, 16, 64, 0), 1); /* at least one row */
}

/* The 1x1 GEMM engine's tile on a 56x56 plane: 6 channels x 2 vectors on AVX2 (its two
 * inputs held across six broadcasts), 6 x 4 on AVX-512. */
static void test_gemm_tile(void **state)
{
    (void)state;
    mf_cg_conv_geom g = {.batch = 1, .cin = 64, .h = 56, .w = 56, .cout = 64, .kh = 1, .kw = 1, .oh = 56, .ow = 56,
                         .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1};
    mf_cg_target_shape hsw = shape_of("haswell"), skx = shape_of("skylake-avx512");
    int mr = 0, nv = 0;
    assert_true(mf_cg_gemm_blocking(&hsw, &g, &mr, &nv));
    assert_int_equal(mr * 10 + nv, 62);
    assert_true(mf_cg_gemm_blocking(&skx, &g, &mr, &nv));
    assert_int_equal(mr * 10 + nv, 64);
}

/* Strided 1x1 layers without padding take the GEMM engine (its gathered panel) with the
 * stride-1 tile; padded ones, wider strides and panels past L2 do not. */
static void test_gemm_strided(void **state)
{
    (void)state;
    mf_cg_conv_geom g = {.batch = 1, .cin = 64, .h = 56, .w = 56, .cout = 128, .kh = 1, .kw = 1, .oh = 28, .ow = 28,
                         .sh = 2, .sw = 2, .dh = 1, .dw = 1, .groups = 1};
    mf_cg_target_shape hsw = shape_of("haswell"), skx = shape_of("skylake-avx512");
    int mr = 0, nv = 0;
    assert_true(mf_cg_gemm_blocking(&hsw, &g, &mr, &nv));
    assert_int_equal(mr * 10 + nv, 62);
    assert_true(mf_cg_gemm_blocking(&skx, &g, &mr, &nv));
    mf_cg_conv_geom padded = g;
    padded.ph = padded.pw = 1, padded.oh = padded.ow = 29;
    assert_false(mf_cg_gemm_blocking(&hsw, &padded, &mr, &nv));
    mf_cg_conv_geom wide = g;
    wide.sh = wide.sw = 5, wide.oh = wide.ow = 12;
    assert_false(mf_cg_gemm_blocking(&hsw, &wide, &mr, &nv));
    /* one tile's rows of 4000 pixels x 4096 channels: 64 MB of panel */
    mf_cg_conv_geom huge = {.batch = 1, .cin = 4096, .h = 2, .w = 8000, .cout = 8, .kh = 1, .kw = 1, .oh = 1,
                            .ow = 4000, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .groups = 1};
    assert_false(mf_cg_gemm_blocking(&hsw, &huge, &mr, &nv));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accumulators),
        cmocka_unit_test(test_gemm_tile),
        cmocka_unit_test(test_gemm_strided),
    };
    return cmocka_run_group_tests_name("codegen_tile", tests, NULL, NULL);
}
