/* test_ref_scatter.c — the reference kernels and shape rules of the ONNX index, sequence
 * and signal ops at the end of ops.def: scatter_elements (plain and with add on duplicate
 * indices), scatter_nd (mul), gather_nd with a batch dim, max_unpool, bit_shift (a shift
 * past the width gives 0), det (with a row swap), reverse_sequence, dft against hand
 * values, an out-of-range index as an error; and the wider dtypes of the reductions (f64),
 * clamp (i8) and the unary math (f16). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ref_call.h"

static void test_scatter_elements(void **state)
{
    const float data[6] = {0, 0, 0, 0, 0, 0}, upd[4] = {1, 2, 3, 4};
    const int64_t idx[4] = {2, 2, 0, -1};
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    mf_op_default_attrs(MF_OP_SCATTER_ELEMENTS, a);
    tref_set_int(MF_OP_SCATTER_ELEMENTS, a, "dim", 1);
    tref_set_int(MF_OP_SCATTER_ELEMENTS, a, "reduction", 1); /* add: duplicates sum */
    float *o = tref_run(MF_OP_SCATTER_ELEMENTS, a, 3, (mf_type[]){TT(MF_F32, 2, 3), TT(MF_I64, 2, 2), TT(MF_F32, 2, 2)},
                        (const void *[]){data, idx, upd}, &ot);
    assert_memory_equal(o, ((float[]){0, 0, 3, 3, 0, 4}), sizeof(float[6]));
    free(o);
}

static void test_scatter_nd_and_gather_nd(void **state)
{
    const int32_t data[4] = {1, 2, 3, 4}, upd[4] = {5, 6, 7, 8};
    const int64_t idx[2] = {1, 0};
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    mf_op_default_attrs(MF_OP_SCATTER_ND, a);
    tref_set_int(MF_OP_SCATTER_ND, a, "reduction", 2); /* mul, row by row */
    int32_t *o = tref_run(MF_OP_SCATTER_ND, a, 3, (mf_type[]){TT(MF_I32, 2, 2), TT(MF_I64, 2, 1), TT(MF_I32, 2, 2)},
                          (const void *[]){data, idx, upd}, &ot);
    assert_memory_equal(o, ((int32_t[]){7, 16, 15, 24}), sizeof(int32_t[4]));
    free(o);
    /* batch_dims 1: batch b picks row idx[b] of data[b] */
    const float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    mf_op_default_attrs(MF_OP_GATHER_ND, a);
    tref_set_int(MF_OP_GATHER_ND, a, "batch_dims", 1);
    float *g = tref_run(MF_OP_GATHER_ND, a, 2, (mf_type[]){TT(MF_F32, 2, 2, 2), TT(MF_I64, 2, 1)},
                        (const void *[]){x, idx}, &ot);
    assert_int_equal(ot.rank, 2);
    assert_memory_equal(g, ((float[]){2, 3, 4, 5}), sizeof(float[4]));
    free(g);
}

static void test_max_unpool_and_bit_shift(void **state)
{
    const float x[2] = {5, 6};
    const int64_t pos[2] = {3, 0};
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    mf_op_default_attrs(MF_OP_MAX_UNPOOL, a);
    TREF_INTS(MF_OP_MAX_UNPOOL, a, "sizes", 1, 1, 2, 2);
    float *o = tref_run(MF_OP_MAX_UNPOOL, a, 2, (mf_type[]){TT(MF_F32, 1, 1, 1, 2), TT(MF_I64, 1, 1, 1, 2)},
                        (const void *[]){x, pos}, &ot);
    assert_memory_equal(o, ((float[]){6, 0, 0, 5}), sizeof(float[4]));
    free(o);
    const uint8_t v[3] = {0x81, 3, 255}, k[3] = {1, 2, 8};
    uint8_t *l = tref_run(MF_OP_BIT_SHIFT, NULL, 2, (mf_type[]){TT(MF_U8, 3), TT(MF_U8, 3)}, (const void *[]){v, k}, &ot);
    assert_memory_equal(l, ((uint8_t[]){0x02, 12, 0}), 3);
    free(l);
    mf_op_default_attrs(MF_OP_BIT_SHIFT, a);
    tref_set_int(MF_OP_BIT_SHIFT, a, "left", 0);
    uint8_t *r = tref_run(MF_OP_BIT_SHIFT, a, 2, (mf_type[]){TT(MF_U8, 3), TT(MF_U8, 3)}, (const void *[]){v, k}, &ot);
    assert_memory_equal(r, ((uint8_t[]){0x40, 0, 0}), 3);
    free(r);
    mf_type in[2] = {TT(MF_I32, 3), TT(MF_I32, 3)};
    assert_int_equal(mf_op_infer(MF_OP_BIT_SHIFT, a, 2, in, &ot), MF_ERR_DTYPE); /* signed: refused */
}

static void test_det_reverse_sequence_dft(void **state)
{
    const float m[13] = {1, 2, 3, 4, /* -2 */ 0, 1, 0, 1, 0, 0, 0, 0, 2 /* -2, a row swap */};
    mf_type ot;
    float *d = tref_run(MF_OP_DET, NULL, 1, (mf_type[]){TT(MF_F32, 2, 2)}, (const void *[]){m}, &ot);
    assert_int_equal(ot.rank, 0);
    assert_true(fabsf(d[0] + 2) < 1e-6f);
    free(d);
    d = tref_run(MF_OP_DET, NULL, 1, (mf_type[]){TT(MF_F32, 3, 3)}, (const void *[]){m + 4}, &ot);
    assert_true(fabsf(d[0] + 2) < 1e-6f);
    free(d);
    /* x [time 3, batch 2]; batch 0 reverses 3 steps, batch 1 two */
    const float x[6] = {0, 10, 1, 11, 2, 12};
    const int64_t lens[2] = {3, 2};
    float *r = tref_run(MF_OP_REVERSE_SEQUENCE, NULL, 2, (mf_type[]){TT(MF_F32, 3, 2), TT(MF_I64, 2)},
                        (const void *[]){x, lens}, &ot);
    assert_memory_equal(r, ((float[]){2, 11, 1, 10, 0, 12}), sizeof(float[6]));
    free(r);
    /* the DFT of the real [1, 2, 3, 4]: 10, -2+2i, -2, -2-2i; onesided keeps 3 */
    const float s[4] = {1, 2, 3, 4};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_DFT, a);
    tref_set_int(MF_OP_DFT, a, "dim", 0);
    float *f = tref_run(MF_OP_DFT, a, 1, (mf_type[]){TT(MF_F32, 4, 1)}, (const void *[]){s}, &ot);
    tref_assert_close_tol(f, (double[]){10, 0, -2, 2, -2, 0, -2, -2}, 8, 1e-6, 1e-5);
    free(f);
    tref_set_int(MF_OP_DFT, a, "onesided", 1);
    f = tref_run(MF_OP_DFT, a, 1, (mf_type[]){TT(MF_F32, 4, 1)}, (const void *[]){s}, &ot);
    assert_int_equal(ot.shape[0], 3);
    free(f);
}

/* An index out of range is an error that names it, never a write out of bounds. */
static void test_index_out_of_range(void **state)
{
    const float data[3] = {0}, upd[1] = {1};
    const int64_t idx[1] = {3};
    float out[3];
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_SCATTER_ELEMENTS, a);
    mf_type types[3] = {TT(MF_F32, 3), TT(MF_I64, 1), TT(MF_F32, 1)}, ot = TT(MF_F32, 3);
    mf_ref_call c = {MF_OP_SCATTER_ELEMENTS, a, 3, (const void *[]){data, idx, upd}, types, out, &ot, 0, 1};
    assert_int_equal(mf_rt_ref_kernel(MF_OP_SCATTER_ELEMENTS)(&c), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "index 3 is out of range"));
}

static void test_wider_dtypes(void **state)
{
    const double x[4] = {1, 2, 3, 4};
    mf_attr a[MF_MAX_ATTRS];
    mf_type ot;
    double *r = tref_run(MF_OP_REDUCE_LOG_SUM_EXP, NULL, 1, (mf_type[]){TT(MF_F64, 4)}, (const void *[]){x}, &ot);
    assert_int_equal(ot.dtype, MF_F64);
    assert_true(fabs(r[0] - log(exp(1) + exp(2) + exp(3) + exp(4))) < 1e-12); /* double throughout */
    free(r);
    const int8_t q[3] = {-128, 5, 127};
    mf_op_default_attrs(MF_OP_CLAMP, a);
    tref_set_float(MF_OP_CLAMP, a, "min", -3);
    tref_set_float(MF_OP_CLAMP, a, "max", 100);
    int8_t *c = tref_run(MF_OP_CLAMP, a, 1, (mf_type[]){TT(MF_I8, 3)}, (const void *[]){q}, &ot);
    assert_memory_equal(c, ((int8_t[]){-3, 5, 100}), 3);
    free(c);
    const uint16_t h[2] = {mf_f32_to_f16(4.0f), mf_f32_to_f16(0.25f)};
    uint16_t *s = tref_run(MF_OP_SQRT, NULL, 1, (mf_type[]){TT(MF_F16, 2)}, (const void *[]){h}, &ot);
    assert_true(mf_f16_to_f32(s[0]) == 2.0f && mf_f16_to_f32(s[1]) == 0.5f);
    free(s);
    mf_type b = TT(MF_BOOL, 2);
    assert_int_equal(mf_op_infer(MF_OP_SQRT, NULL, 1, &b, &ot), MF_ERR_DTYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scatter_elements),        cmocka_unit_test(test_scatter_nd_and_gather_nd),
        cmocka_unit_test(test_max_unpool_and_bit_shift), cmocka_unit_test(test_det_reverse_sequence_dft),
        cmocka_unit_test(test_index_out_of_range),      cmocka_unit_test(test_wider_dtypes),
    };
    return cmocka_run_group_tests_name("ref_scatter", tests, NULL, NULL);
}
