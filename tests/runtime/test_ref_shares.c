/* test_ref_shares.c — the reference kernels that compute a share of their output's rows
 * (mf_ref_call's part and nparts; mf_rt_ref_splits names them), which a plan runs on the core
 * pool: for every such op (concat shares bytes, not rows), on shapes whose rows do not divide evenly (and fewer rows than
 * shares, rank 1, no elements, broadcast operands, 1- to 8-byte elements), the shares of 2, 3, 4, 7 and 16
 * together write exactly the whole call's bytes and nothing past their rows; and a plan at
 * core_number 4 gives what it gives at 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "runtime/runtime.h"
#include "tests/support/ref_call.h"

typedef struct share_case {
    const char *what;
    mf_op op;
    int nin;
    mf_type in[3];
    void (*attrs)(mf_op op, mf_attr *a);
} share_case;

static void perm_0231(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "perm", 0, 2, 3, 1);
}

static void perm_10(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "perm", 1, 0);
}

static void concat_dim1(mf_op op, mf_attr *a)
{
    tref_set_int(op, a, "dim", 1);
}

static void upsample_2x3(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "scale", 2, 3);
}

static void slice_backwards(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "starts", -1, 4);
    TREF_INTS(op, a, "ends", -100, 0);
    TREF_INTS(op, a, "axes", 1, 2);
    TREF_INTS(op, a, "steps", -2, -1);
}

static void pad_reflect(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "pads", 0, 2, 1, 0, 1, 2);
    tref_set_int(op, a, "mode", 1);
}

static void pad_constant(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "pads", 1, 0, 2, 1);
    tref_set_float(op, a, "value", 3.5);
}

static void tile_2x3(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "repeats", 2, 1, 3);
}

static void expand_to(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "shape", 5, 3, 7);
}

static void expand_to_empty(mf_op op, mf_attr *a)
{
    TREF_INTS(op, a, "shape", 3, 0, 4);
}


/* Random bytes for an operand; bools 0 or 1, small integers so that equal meets equals. */
static void *operand(const mf_type *t, uint64_t seed)
{
    size_t n = (size_t)mf_type_numel(t), es = mf_dtype_size(t->dtype);
    unsigned char *p = malloc(n * es + 1);
    assert_non_null(p);
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tref_next(&st);
        if (t->dtype == MF_BOOL)
            p[i] = r & 1;
        else if (t->dtype == MF_F32)
            ((float *)p)[i] = (float)(r % 7) - 3.0f;
        else if (t->dtype == MF_I32)
            ((int32_t *)p)[i] = (int32_t)(r % 3);
        else
            for (size_t b = 0; b < es; b++)
                p[i * es + b] = (unsigned char)(r >> (8 * b));
    }
    return p;
}

static void test_shares_write_the_whole(void **state)
{
    (void)state;
    const share_case cases[] = { /* TT() is a call: an automatic array */
        {"permute rank 4", MF_OP_PERMUTE, 1, {TT(MF_F32, 2, 3, 5, 7)}, perm_0231},
        {"permute 1-byte", MF_OP_PERMUTE, 1, {TT(MF_I8, 11, 3)}, perm_10},
        {"permute 8-byte", MF_OP_PERMUTE, 1, {TT(MF_I64, 5, 9)}, perm_10},
        {"concat", MF_OP_CONCAT, 3, {TT(MF_F32, 5, 2, 3), TT(MF_F32, 5, 1, 3), TT(MF_F32, 5, 4, 3)}, concat_dim1},
        {"concat 2-byte", MF_OP_CONCAT, 2, {TT(MF_F16, 3, 2, 7), TT(MF_F16, 3, 5, 7)}, concat_dim1},
        {"concat, one block an input", MF_OP_CONCAT, 2, {TT(MF_F32, 1, 3, 5), TT(MF_F32, 1, 2, 5)}, concat_dim1},
        {"upsample", MF_OP_UPSAMPLE_NEAREST2D, 1, {TT(MF_F32, 2, 3, 5, 4)}, upsample_2x3},
        {"slice backwards", MF_OP_SLICE, 1, {TT(MF_F32, 3, 9, 5)}, slice_backwards},
        {"pad reflect", MF_OP_PAD, 1, {TT(MF_F32, 3, 4, 5)}, pad_reflect},
        {"pad constant, rank 2", MF_OP_PAD, 1, {TT(MF_F32, 2, 3)}, pad_constant},
        {"tile", MF_OP_TILE, 1, {TT(MF_F32, 3, 5, 2)}, tile_2x3},
        {"expand", MF_OP_EXPAND, 1, {TT(MF_F32, 1, 3, 1)}, expand_to},
        {"where, broadcast", MF_OP_WHERE, 3, {TT(MF_BOOL, 5, 1, 7), TT(MF_F32, 5, 3, 7), TT(MF_F32, 1, 3, 1)}, NULL},
        {"greater, broadcast", MF_OP_GREATER, 2, {TT(MF_F32, 5, 3, 7), TT(MF_F32, 3, 1)}, NULL},
        {"equal, i32", MF_OP_EQUAL, 2, {TT(MF_I32, 6, 5), TT(MF_I32, 6, 5)}, NULL},
        {"logical_xor", MF_OP_LOGICAL_XOR, 2, {TT(MF_BOOL, 4, 9), TT(MF_BOOL, 9)}, NULL},
        {"rank 1", MF_OP_LESS, 2, {TT(MF_F32, 13), TT(MF_F32, 13)}, NULL},
        /* no elements: a dim of 0 before the last (each share's row index must not divide by it) */
        {"greater, empty", MF_OP_GREATER, 2, {TT(MF_F32, 0, 5), TT(MF_F32, 0, 5)}, NULL},
        {"where, empty", MF_OP_WHERE, 3, {TT(MF_BOOL, 0, 4), TT(MF_F32, 0, 4), TT(MF_F32, 1, 4)}, NULL},
        {"expand, empty", MF_OP_EXPAND, 1, {TT(MF_F32, 1, 4)}, expand_to_empty},
        {"tile, empty", MF_OP_TILE, 1, {TT(MF_F32, 0, 2, 3)}, tile_2x3},
        {"permute, empty", MF_OP_PERMUTE, 1, {TT(MF_F32, 2, 0, 5, 7)}, perm_0231},
        {"concat, empty input", MF_OP_CONCAT, 2, {TT(MF_F32, 5, 0, 3), TT(MF_F32, 5, 4, 3)}, concat_dim1},
    };
    static const int splits[] = {2, 3, 4, 7, 16};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const share_case *sc = &cases[k];
        assert_true(mf_rt_ref_splits(sc->op));
        mf_attr a[MF_MAX_ATTRS];
        mf_op_default_attrs(sc->op, a);
        if (sc->attrs)
            sc->attrs(sc->op, a);
        const void *in[3];
        for (int i = 0; i < sc->nin; i++)
            in[i] = operand(&sc->in[i], 77 + (uint64_t)(k * 3 + (size_t)i));
        mf_type ot;
        void *whole = tref_run(sc->op, a, sc->nin, sc->in, in, &ot);
        size_t nbytes = mf_type_nbytes(&ot);
        unsigned char *got = malloc(nbytes + 1);
        assert_non_null(got);
        for (size_t s = 0; s < sizeof splits / sizeof *splits; s++) {
            int n = splits[s];
            memset(got, 0xa5, nbytes);
            for (int part = 0; part < n; part++) {
                mf_ref_call call = {sc->op, a, sc->nin, in, sc->in, got, &ot, part, n};
                assert_int_equal(mf_rt_ref_kernel(sc->op)(&call), MF_OK);
            }
            if (memcmp(got, whole, nbytes))
                fail_msg("%s: %d shares differ from the whole call", sc->what, n);
            /* each share alone writes whole-call bytes, and every byte is written by exactly
             * one share: a byte is written when two runs over different fillings agree on it */
            unsigned char *other = malloc(nbytes + 1), *owner = calloc(nbytes + 1, 1);
            assert_non_null(other);
            assert_non_null(owner);
            for (int part = 0; part < n; part++) {
                mf_ref_call one = {sc->op, a, sc->nin, in, sc->in, got, &ot, part, n};
                memset(got, 0xa5, nbytes);
                assert_int_equal(mf_rt_ref_kernel(sc->op)(&one), MF_OK);
                one.out = other;
                memset(other, 0x5a, nbytes);
                assert_int_equal(mf_rt_ref_kernel(sc->op)(&one), MF_OK);
                for (size_t b = 0; b < nbytes; b++) {
                    if (got[b] != other[b])
                        continue; /* not this share's */
                    if (got[b] != ((unsigned char *)whole)[b] || owner[b]++)
                        fail_msg("%s: share %d of %d at byte %zu: %s", sc->what, part, n, b,
                                 owner[b] > 1 ? "written by two shares" : "not the whole call's");
                }
            }
            for (size_t b = 0; b < nbytes; b++)
                if (owner[b] != 1)
                    fail_msg("%s: %d shares: byte %zu written by none", sc->what, n, b);
            free(other);
            free(owner);
        }
        free(got);
        free(whole);
        for (int i = 0; i < sc->nin; i++)
            free((void *)in[i]);
    }
    assert_false(mf_rt_ref_splits(MF_OP_GATHER)); /* kernels that ignore the share */
    assert_false(mf_rt_ref_splits(MF_OP_SOFTMAX));
}

/* A plan's large CPU ops run in shares on the pool at core_number 4: same bytes as at 1. */
static void test_plan_shares_match_one_core(void **state)
{
    (void)state;
    static const char *const text =
        "graph @cpu_ops(%0: f32[1,64,40,40], %1: f32[1,64,1,40]) {\n"
        "  %2 = slice(%0) {starts=[0], ends=[40], axes=[3], steps=[2]} : f32[1,64,40,20]\n"
        "  %3 = permute(%2) {perm=[0,2,3,1]} : f32[1,40,20,64]\n"
        "  %4 = tile(%3) {repeats=[1,1,1,2]} : f32[1,40,20,128]\n"
        "  %5 = expand(%1) {shape=[1,64,40,40]} : f32[1,64,40,40]\n"
        "  %6 = greater(%0, %5) : bool[1,64,40,40]\n"
        "  %7 = where(%6, %0, %1) : f32[1,64,40,40]\n"
        "  %8 = pad(%7) {pads=[0,0,1,1,0,0,2,2], mode=2} : f32[1,64,43,43]\n"
        "  %9 = upsample_nearest2d(%8) {scale=[2,2]} : f32[1,64,86,86]\n"
        "  return %4, %9\n"
        "}\n";
    mf_graph *g = NULL;
    if (mf_graph_parse(text, "shares", &g))
        fail_msg("%s", mf_last_error());
    mf_tensor *in[2];
    for (int i = 0; i < 2; i++) {
        int rank;
        int64_t shape[MF_MAX_RANK];
        assert_int_equal(mf_graph_input_type(g, i, NULL, &rank, shape), MF_OK);
        assert_int_equal(mf_tensor_rand(MF_F32, rank, shape, 5 + (uint64_t)i, -1, 1, MF_DEVICE_MLU(0), &in[i]), MF_OK);
    }
    mf_tensor *out[2][2];
    for (int c = 0; c < 2; c++) {
        mf_module_options o = mf_module_default_options();
        o.core_number = c ? 4 : 1;
        mf_module *m = NULL;
        assert_int_equal(mf_module_create(g, &o, &m), MF_OK);
        assert_int_equal(mf_module_run(m, 2, in, 2, out[c]), MF_OK);
        mf_module_destroy(m);
    }
    for (int k = 0; k < 2; k++) {
        mf_tensor *a = NULL, *b = NULL;
        assert_int_equal(mf_tensor_to(out[0][k], MF_DEVICE_CPU, &a), MF_OK);
        assert_int_equal(mf_tensor_to(out[1][k], MF_DEVICE_CPU, &b), MF_OK);
        size_t n = mf_tensor_nbytes(a);
        assert_true(n >= (128 << 10)); /* large enough to be split */
        assert_memory_equal(mf_tensor_data(a), mf_tensor_data(b), n);
        mf_tensor_free(a);
        mf_tensor_free(b);
        mf_tensor_free(out[0][k]);
        mf_tensor_free(out[1][k]);
    }
    mf_tensor_free(in[0]);
    mf_tensor_free(in[1]);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares_write_the_whole),
        cmocka_unit_test(test_plan_shares_match_one_core),
    };
    return cmocka_run_group_tests_name("ref_shares", tests, NULL, NULL);
}
