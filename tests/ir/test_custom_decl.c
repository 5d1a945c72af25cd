/* test_custom_decl.c — the parser of custom op declarations (ir/custom_decl.c): every part
 * of the format read into the declaration, the C argument list derived from it, and
 * malformed text refused with FILE:LINE:COL and what was expected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ir/custom_ops.h"

static mf_custom_decl *parse_ok(const char *text, int *n)
{
    mf_custom_decl *d = NULL;
    if (mf_custom_decl_parse(text, strlen(text), "ops.txt", &d, n))
        fail_msg("parse failed: %s", mf_last_error());
    return d;
}

static void test_every_part(void **state)
{
    (void)state;
    const char *text = "# comment line\n"
                       "\n"
                       "swish(Tensor x, float beta=1.5) -> Tensor : symbol=my_swish shape=same(x)  # trailing\n"
                       "  mm(Tensor a, int k, Tensor b, bool flag=true, float e=-inf) -> (Tensor lo, Tensor) : "
                       "shape=broadcast(a, b) symbol=mm_impl onnx(k=kk, flag=f)\n"
                       "rows(Tensor x, int times=-3) -> Tensor y : symbol=rows shape=fn(rows_shape)\n";
    int n;
    mf_custom_decl *d = parse_ok(text, &n);
    assert_int_equal(n, 3);
    assert_string_equal(d[0].name, "swish");
    assert_string_equal(d[0].symbol, "my_swish");
    assert_string_equal(d[0].where, "ops.txt:3");
    assert_int_equal(d[0].nargs, 2);
    assert_int_equal(d[0].ntensors, 1);
    assert_int_equal(d[0].nscalars, 1);
    assert_int_equal(d[0].noutputs, 1);
    assert_int_equal(d[0].args[1].kind, MF_CUSTOM_FLOAT);
    assert_true(d[0].args[1].has_default);
    assert_true(d[0].args[1].dflt == 1.5);
    assert_string_equal(d[0].args[1].onnx_name, "beta");
    assert_int_equal(d[0].rule, MF_CUSTOM_SAME);

    assert_int_equal(d[1].ntensors, 2);
    assert_int_equal(d[1].nscalars, 3);
    assert_int_equal(d[1].noutputs, 2);
    assert_int_equal(d[1].args[2].kind, MF_CUSTOM_TENSOR_ARG);
    assert_int_equal(d[1].args[2].index, 1); /* b is tensor input 1 */
    assert_int_equal(d[1].args[3].index, 1); /* flag is scalar 1 */
    assert_false(d[1].args[1].has_default);
    assert_string_equal(d[1].args[1].onnx_name, "kk");
    assert_string_equal(d[1].args[3].onnx_name, "f");
    assert_true(d[1].args[3].dflt == 1.0);
    assert_true(d[1].args[4].dflt < -1e308);
    assert_int_equal(d[1].rule, MF_CUSTOM_BROADCAST);
    assert_int_equal(d[1].nrule_inputs, 2);
    assert_int_equal(d[1].rule_inputs[1], 1);

    assert_int_equal(d[2].rule, MF_CUSTOM_SHAPE_FN);
    assert_string_equal(d[2].shape_symbol, "rows_shape");
    assert_true(d[2].args[1].dflt == -3.0);

    char buf[512];
    mf_custom_decl_str(&d[1], buf, sizeof buf);
    assert_string_equal(buf, "mm(Tensor a, int k @kk, Tensor b, bool flag=1 @f, float e=-inf) -> 2 : "
                             "symbol=mm_impl shape=broadcast(0,1)");
    free(d);
}

/* Outputs first, four C arguments a tensor, then each scalar its type, in schema order. */
static void test_c_arguments(void **state)
{
    (void)state;
    int n;
    mf_custom_decl *d = parse_ok("op(Tensor a, float s, Tensor b, int i, bool f=false) -> (Tensor, Tensor) : "
                                 "symbol=f shape=same(a)\n", &n);
    mf_custom_ctype t[MF_CUSTOM_C_ARGS_MAX];
    int k = mf_custom_c_args(&d[0], t);
    const mf_custom_ctype want[] = {MF_CT_PTR, MF_CT_I64, MF_CT_PTR, MF_CT_I32, /* out 0 */
                                    MF_CT_PTR, MF_CT_I64, MF_CT_PTR, MF_CT_I32, /* out 1 */
                                    MF_CT_PTR, MF_CT_I64, MF_CT_PTR, MF_CT_I32, /* a */
                                    MF_CT_F64,                                  /* s */
                                    MF_CT_PTR, MF_CT_I64, MF_CT_PTR, MF_CT_I32, /* b */
                                    MF_CT_I64, MF_CT_BOOL};
    assert_int_equal(k, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < k; i++)
        assert_int_equal(t[i], want[i]);
    free(d);
}

typedef struct bad_case {
    const char *text, *message;
} bad_case;

static void test_malformed(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"swish(Tensor x -> Tensor : symbol=s shape=same(x)\n", "ops.txt:1:16: expected ',' or ')' after an argument, found '->'"},
        {"swish(Tensor x) Tensor : symbol=s shape=same(x)\n", "ops.txt:1:17: expected '->' and the outputs, found 'Tensor'"},
        {"\n\nswish(Tensor x, double b) -> Tensor : symbol=s shape=same(x)\n",
         "ops.txt:3:17: expected an argument type (Tensor, float, int or bool), found 'double'"},
        {"swish(Tensor x, Tensor x) -> Tensor : symbol=s shape=same(x)\n", "ops.txt:1:24: argument 'x' is declared twice"},
        {"swish(float b) -> Tensor : symbol=s shape=same(b)\n", "ops.txt:1:6: swish has no Tensor argument"},
        {"swish(Tensor x) -> Tensor : shape=same(x)\n", "ops.txt:1:27: swish has no symbol=... clause"},
        {"swish(Tensor x) -> Tensor : symbol=s\n", "ops.txt:1:27: swish has no shape=... clause"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=same(y)\n", "ops.txt:1:49: 'y' is not a Tensor argument of swish"},
        {"swish(Tensor x, int k=1.5) -> Tensor : symbol=s shape=same(x)\n", "ops.txt:1:23: '1.5' is not an integer"},
        {"swish(Tensor x, bool k=2) -> Tensor : symbol=s shape=same(x)\n", "ops.txt:1:24: expected true or false, found '2'"},
        {"swish(Tensor x=1) -> Tensor : symbol=s shape=same(x)\n", "ops.txt:1:15: a Tensor argument takes no default"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=same(x) onnx(x=alpha)\n", "ops.txt:1:57: 'x' is not a scalar argument of swish"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=same(x) symbol=t\n", "ops.txt:1:52: clause symbol is given twice"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=same(x, x)\n", "ops.txt:1:50: expected ')' after same's one argument"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=whatever(x)\n",
         "ops.txt:1:44: expected a shape rule: same(x), broadcast(a, b, ...) or fn(symbol), found 'whatever'"},
        {"swish(Tensor x) -> () : symbol=s shape=same(x)\n", "ops.txt:1:21: swish has no outputs"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=same(x) $\n", "ops.txt:1:52: expected a clause"},
        {"a(Tensor x) -> Tensor : symbol=s shape=same(x)\na(Tensor x) -> Tensor : symbol=s shape=same(x)\n",
         "ops.txt:2:1: op 'a' is declared twice (first at ops.txt:1)"},
        {"swish(Tensor x) -> Tensor : symbol=s shape=same(x", "ops.txt:1:50: expected ')' after same's one argument, found the end of the line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_custom_decl *d = NULL;
        int n = -1;
        mf_status s = mf_custom_decl_parse(cases[i].text, strlen(cases[i].text), "ops.txt", &d, &n);
        if (s != MF_ERR_PARSE || !strstr(mf_last_error(), cases[i].message))
            fail_msg("case %zu: status %d, message '%s', wanted '%s'", i, (int)s, mf_last_error(), cases[i].message);
        assert_null(d);
    }
}

/* Limits: more tensors or scalars than the custom op's slots are refused, not truncated. */
static void test_limits(void **state)
{
    (void)state;
    char text[1024] = "many(Tensor x";
    for (int i = 0; i < MF_CUSTOM_MAX_SCALARS + 1; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), ", float s%d=0", i);
    strcat(text, ") -> Tensor : symbol=s shape=same(x)\n");
    mf_custom_decl *d = NULL;
    int n;
    assert_int_equal(mf_custom_decl_parse(text, strlen(text), "ops.txt", &d, &n), MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "more than 10 scalar arguments"));
    const char nul[] = "a(Tensor x) -> Tensor : symbol=s shape=same(x)\0\n";
    assert_int_equal(mf_custom_decl_parse(nul, sizeof nul - 1, "ops.txt", &d, &n), MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "ops.txt:1:1: a NUL byte"));
    assert_int_equal(mf_custom_decl_parse("", 0, "ops.txt", &d, &n), MF_OK);
    assert_int_equal(n, 0);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_part),
        cmocka_unit_test(test_c_arguments),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("custom_decl", tests, NULL, NULL);
}
