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

/* A 1x1 convolution of batch 1 on a square hw x hw plane, without padding. */
static mf_cg_conv_geom conv1x1(int64_t cin, int64_t hw, int64_t cout, int64_t stride)
{
    int64_t o = (hw - 1) / stride + 1;
    return (mf_cg_conv_geom){.batch = 1, .cin = cin, .h = hw, .w = hw, .cout = cout, .kh = 1, .kw = 1, .oh = o,
                             .ow = o, .sh = stride, .sw = stride, .dh = 1, .dw = 1, .groups = 1};
}

/* g takes the GEMM engine with 6 channels x 2 vectors on haswell, skx (mr * 10 + nv) on
 * skylake-avx512 (two 512-bit FMA pipes: four input vectors a k step outrun L2), 6 x 4 on
 * znver4 (one pipe). */
static void assert_gemm_tiles(mf_cg_conv_geom g, int skx_tile)
{
    mf_cg_target_shape hsw = shape_of("haswell"), skx = shape_of("skylake-avx512"), zn4 = shape_of("znver4");
    int mr = 0, nv = 0;
    assert_true(mf_cg_gemm_blocking(&hsw, &g, &mr, &nv));
    assert_int_equal(mr * 10 + nv, 62);
    assert_true(mf_cg_gemm_blocking(&skx, &g, &mr, &nv));
    assert_int_equal(mr * 10 + nv, skx_tile);
    assert_true(mf_cg_gemm_blocking(&zn4, &g, &mr, &nv));
    assert_int_equal(mr * 10 + nv, 64);
}

/* The 1x1 GEMM engine's tile on a 56x56 plane: 6 channels x 2 vectors on AVX2 (its two
 * inputs held across six broadcasts), 12 x 2 or 6 x 4 on AVX-512 by the FMA pipes; 8 x 3
 * where 12 would leave a tail block (64 channels: 12 x 5 + 4). */
static void test_gemm_tile(void **state)
{
    (void)state;
    assert_gemm_tiles(conv1x1(64, 56, 96, 1), 122);
    assert_gemm_tiles(conv1x1(64, 56, 64, 1), 83);
}

/* Strided 1x1 layers without padding take the GEMM engine (its gathered panel) with the
 * stride-1 tile; padded ones, wider strides and panels past L2 do not. */
static void test_gemm_strided(void **state)
{
    (void)state;
    mf_cg_conv_geom g = conv1x1(64, 56, 128, 2);
    assert_gemm_tiles(g, 122);
    mf_cg_target_shape hsw = shape_of("haswell");
    int mr = 0, nv = 0;
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
