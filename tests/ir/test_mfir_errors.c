/* test_mfir_errors.c — malformed .mfir text: every case fails with MF_ERR_PARSE, a message
 * "<string>:LINE:COL: reason" pointing at the offending token, a reason that says what was
 * expected and found, no graph, and (under the sanitizers) no leak. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct bad_case {
    const char *what;
    const char *text;
    int line, col;
    const char *phrase;
} bad_case;

#define HDR "graph @g(%x: f32[1,4,8,8]) {\n"
#define W "  %w = const f32[8,4,3,3] opaque\n"

static const bad_case cases[] = {
    {"empty input", "", 1, 1, "expected 'graph', found end of input"},
    {"only a comment", "# nothing\n", 2, 1, "expected 'graph', found end of input"},
    {"not a graph", "grph @g() {}", 1, 1, "expected 'graph', found 'grph'"},
    {"missing graph name", "graph g() {", 1, 7, "expected a graph name (@name) after 'graph', found 'g'"},
    {"unterminated graph", HDR "  %y = relu(%x) : f32[1,4,8,8]\n", 3, 1,
     "unterminated graph: expected a statement or 'return', found end of input"},
    {"missing return", HDR "  %y = relu(%x) : f32[1,4,8,8]\n}\n", 3, 1, "expected 'return' before '}'"},
    {"return nothing", HDR "  return\n}\n", 3, 1, "expected a value (%name) after 'return', found '}'"},
    {"missing closing brace", HDR "  return %x\n", 3, 1, "expected '}' after the returned values, found end of input"},
    {"garbage after the graph", HDR "  return %x\n}\ngraph @h() {\n", 4, 1,
     "expected end of input after the graph's '}', found 'graph'"},
    {"unknown dtype", "graph @g(%x: f8[2]) {\n  return %x\n}\n", 1, 14, "unknown dtype 'f8'"},
    {"type without brackets", "graph @g(%x: f32) {\n  return %x\n}\n", 1, 17, "expected '[' after the dtype, found ')'"},
    {"rank above 8", "graph @g(%x: f32[1,1,1,1,1,1,1,1,1]) {\n  return %x\n}\n", 1, 34,
     "type has more than 8 dimensions"},
    {"negative dim", "graph @g(%x: f32[2,-3]) {\n  return %x\n}\n", 1, 20, "negative dimension -3"},
    {"fractional dim", "graph @g(%x: f32[2.5]) {\n  return %x\n}\n", 1, 18,
     "expected a dimension (an integer), found '2.5'"},
    {"bad number", "graph @g(%x: f32[2x]) {\n  return %x\n}\n", 1, 18, "bad number '2x'"},
    {"bad dense number", HDR "  %k = const f32[2] dense<1.5.2, 3>\n  return %k\n}\n", 2, 27,
     "bad number '1.5.2'"},
    {"stray character", HDR "  %y = relu(%x) ; f32[1,4,8,8]\n  return %y\n}\n", 2, 17,
     "unexpected character ';'"},
    {"unknown op", HDR W "  %y = conv4d(%x, %w) : f32[1,8,6,6]\n  return %y\n}\n", 3, 8, "unknown op 'conv4d'"},
    {"unknown attribute", HDR W "  %y = conv2d(%x, %w) {strid=[2,2]} : f32[1,8,3,3]\n  return %y\n}\n", 3, 24,
     "conv2d has no attribute 'strid'"},
    {"duplicate attribute", HDR W "  %y = conv2d(%x, %w) {groups=1, groups=1} : f32[1,8,6,6]\n  return %y\n}\n",
     3, 34, "attribute groups of conv2d is given twice"},
    {"mistyped attribute (int for ints)", HDR W "  %y = conv2d(%x, %w) {stride=2} : f32[1,8,3,3]\n  return %y\n}\n",
     3, 31, "attribute stride of conv2d expects a list of ints like [1,1], found '2'"},
    {"mistyped attribute (float for int)", HDR W "  %y = conv2d(%x, %w) {groups=1.5} : f32[1,8,6,6]\n  return %y\n}\n",
     3, 31, "attribute groups of conv2d expects an int, found '1.5'"},
    {"mistyped attribute (list for float)", HDR "  %y = clamp(%x) {min=[0]} : f32[1,4,8,8]\n  return %y\n}\n",
     2, 23, "attribute min of clamp expects a float, found '['"},
    {"too many list entries", HDR "  %y = reshape(%x) {shape=[1,1,1,1,1,1,1,1,256]} : f32[256]\n  return %y\n}\n",
     2, 44, "attribute shape of reshape has more than 8 entries"},
    {"missing required attribute", HDR "  %y = max_pool2d(%x) {stride=[2,2]} : f32[1,4,4,4]\n  return %y\n}\n",
     2, 8, "max_pool2d requires attribute 'kernel'"},
    {"cast without 'to'", HDR "  %y = cast(%x) : i64[1,4,8,8]\n  return %y\n}\n", 2, 8,
     "cast requires attribute 'to'"},
    {"cast to no dtype", HDR "  %y = cast(%x) {to=13} : i64[1,4,8,8]\n  return %y\n}\n", 2, 8,
     "cast(f32[1,4,8,8]): to = 13 is not a dtype (0 f32, 1 f16, 2 i8, 3 i32, 4 i64, 5 bool, 6 u8, 7 i16, "
     "8 u16, 9 u32, 10 u64, 11 f64, 12 bf16)"},
    {"cast to a negative dtype", HDR "  %y = cast(%x) {to=-1} : i64[1,4,8,8]\n  return %y\n}\n", 2, 8,
     "cast(f32[1,4,8,8]): to = -1 is not a dtype"},
    {"cast declared with the input's dtype", HDR "  %y = cast(%x) {to=4} : f32[1,4,8,8]\n  return %y\n}\n", 2, 26,
     "cast result declared f32[1,4,8,8] but inferred i64[1,4,8,8]"},
    {"missing '='", HDR "  %y = clamp(%x) {min 0} : f32[1,4,8,8]\n  return %y\n}\n", 2, 23,
     "expected '=' after the attribute name, found '0'"},
    {"use before def", HDR "  %y = relu(%z) : f32[1,4,8,8]\n  %z = relu(%x) : f32[1,4,8,8]\n  return %y\n}\n",
     2, 13, "value %z is used before it is defined"},
    {"self use", HDR "  %y = relu(%y) : f32[1,4,8,8]\n  return %y\n}\n", 2, 13,
     "value %y is used before it is defined"},
    {"undefined output", HDR "  return %nope\n}\n", 2, 10, "value %nope is used before it is defined"},
    {"redefinition", HDR "  %x = relu(%x) : f32[1,4,8,8]\n  return %x\n}\n", 2, 3, "%x is defined twice"},
    {"duplicate graph input", "graph @g(%x: f32[1], %x: f32[1]) {\n  return %x\n}\n", 1, 22, "%x is defined twice"},
    {"wrong arity", HDR "  %y = add(%x) : f32[1,4,8,8]\n  return %y\n}\n", 2, 8, "add takes 2 inputs, found 1"},
    {"wrong arity (range)", HDR "  %y = conv2d(%x) : f32[1,4,8,8]\n  return %y\n}\n", 2, 8,
     "conv2d takes 2 to 3 inputs, found 1"},
    {"no inputs for concat", HDR "  %y = concat() : f32[1,4,8,8]\n  return %y\n}\n", 2, 8,
     "concat takes at least 1 input, found 0"},
    {"shape mismatch in inference", HDR "  %w = const f32[8,3,3,3] opaque\n  %y = conv2d(%x, %w) : f32[1,8,6,6]\n  return %y\n}\n",
     3, 8, "conv2d(f32[1,4,8,8], f32[8,3,3,3]): weight expects 3 input channels per group"},
    {"broadcast failure", "graph @g(%a: f32[2,3], %b: f32[4]) {\n  %y = add(%a, %b) : f32[2,3]\n  return %y\n}\n", 2, 8,
     "cannot broadcast"},
    {"declared type mismatch", HDR W "  %y = conv2d(%x, %w) : f32[1,2]\n  return %y\n}\n", 3, 25,
     "conv2d result declared f32[1,2] but inferred f32[1,8,6,6]"},
    {"declared dtype mismatch", HDR "  %y = relu(%x) : f16[1,4,8,8]\n  return %y\n}\n", 2, 19,
     "relu result declared f16[1,4,8,8] but inferred f32[1,4,8,8]"},
    {"missing result type", HDR "  %y = relu(%x)\n  return %y\n}\n", 3, 3,
     "expected ':' and the result type of relu, found 'return'"},
    {"missing ')' after inputs", HDR W "  %y = conv2d(%x, %w {stride=[1,1]} : f32[1,8,6,6]\n  return %y\n}\n", 3, 22,
     "expected ')' after the inputs of conv2d, found '{'"},
    {"input is not a value", HDR "  %y = relu(x) : f32[1,4,8,8]\n  return %y\n}\n", 2, 13,
     "expected an input value (%name) or ')', found 'x'"},
    {"too few dense values", HDR "  %k = const f32[3] dense<1, 2>\n  return %k\n}\n", 2, 21,
     "dense has 2 values, but f32[3] holds 3"},
    {"too many dense values", HDR "  %k = const f32[] dense<1, 2>\n  return %k\n}\n", 2, 20,
     "dense has 2 values, but f32[] holds 1"},
    {"int constant out of range", HDR "  %k = const i8[2] dense<1, 128>\n  return %k\n}\n", 2, 29,
     "128 is out of range for i8"},
    {"float in an int constant", HDR "  %k = const i32[1] dense<1.5>\n  return %k\n}\n", 2, 27,
     "expected an integer for i32, found '1.5'"},
    {"bool other than 0/1", HDR "  %k = const bool[1] dense<2>\n  return %k\n}\n", 2, 28, "2 is out of range for bool"},
    {"float overflow", HDR "  %k = const f32[1] dense<1e39>\n  return %k\n}\n", 2, 27, "1e39 is out of range for f32"},
    {"integer overflow", "graph @g(%x: f32[99999999999999999999]) {\n  return %x\n}\n", 1, 18,
     "integer 99999999999999999999 is out of range"},
    {"const without data", HDR "  %k = const f32[1]\n  return %k\n}\n", 3, 3,
     "expected 'dense<...>' or 'opaque' after the constant's type, found 'return'"},
    {"bad subgraph suffix", HDR "  %y = relu(%x) : f32[1,4,8,8] @sgx\n  return %y\n}\n", 2, 32,
     "expected a subgraph @sgN (N >= 0), found '@sgx'"},
    {"empty value name", HDR "  % = relu(%x) : f32[1,4,8,8]\n  return %x\n}\n", 2, 3,
     "expected a value name after '%'"},
    {"statement without a name", HDR "  relu(%x) : f32[1,4,8,8]\n  return %x\n}\n", 2, 3,
     "expected a statement (%name = ...) or 'return', found 'relu'"},
    {"NUL-free non-ASCII byte", HDR "  %y = relu(%x) \xc3 : f32[1,4,8,8]\n  return %y\n}\n", 2, 17,
     "unexpected character '\\xc3'"},
};

/* Quantization parameters are attributes and operands: bad ones fail where the node is. */
#define QHDR HDR "  %w = const i8[8,4,3,3] opaque\n  %s = const f32[8] opaque\n"
static const bad_case quant_cases[] = {
    {"negative scale", HDR "  %q = quantize(%x) {scale=-0.1} : i8[1,4,8,8]\n  return %q\n}\n", 2, 8,
     "quantize(f32[1,4,8,8]): scale = -0.1, must be finite and positive"},
    {"zero point out of int8", HDR "  %q = quantize(%x) {scale=0.1, zero_point=200} : i8[1,4,8,8]\n  return %q\n}\n",
     2, 8, "zero_point = 200, must be in -128..127"},
    {"quantize without a scale", HDR "  %q = quantize(%x) : i8[1,4,8,8]\n  return %q\n}\n", 2, 8,
     "quantize requires attribute 'scale'"},
    {"wrong number of weight scales",
     HDR "  %w = const i8[8,4,3,3] opaque\n  %s = const f32[3] opaque\n  %q = quantize(%x) {scale=0.1} : i8[1,4,8,8]\n"
         "  %y = qconv2d(%q, %w, %s) {x_scale=0.1, y_scale=0.2} : i8[1,8,6,6]\n  return %y\n}\n",
     5, 8, "weight scales must be [8] (per output channel) or [1]"},
    {"f32 into qconv2d", QHDR "  %y = qconv2d(%x, %w, %s) {x_scale=0.1, y_scale=0.2} : i8[1,8,6,6]\n  return %y\n}\n",
     4, 8, "qconv2d(f32[1,4,8,8], i8[8,4,3,3], f32[8]): input 0 is f32, expected i8"},
    {"qconv2d without x_scale",
     QHDR "  %q = quantize(%x) {scale=0.1} : i8[1,4,8,8]\n  %y = qconv2d(%q, %w, %s) {y_scale=0.2} : i8[1,8,6,6]\n  return %y\n}\n",
     5, 8, "qconv2d requires attribute 'x_scale'"},
    {"empty clamp range",
     QHDR "  %q = quantize(%x) {scale=0.1} : i8[1,4,8,8]\n"
          "  %y = qconv2d(%q, %w, %s) {x_scale=0.1, y_scale=0.2, min=1, max=0} : i8[1,8,6,6]\n  return %y\n}\n",
     5, 8, "min = 1 is not at most max = 0"},
    {"qconv2d taps_first 2",
     QHDR "  %q = quantize(%x) {scale=0.1} : i8[1,4,8,8]\n"
          "  %y = qconv2d(%q, %w, %s) {x_scale=0.1, y_scale=0.2, taps_first=2} : i8[1,8,6,6]\n  return %y\n}\n",
     5, 8, "taps_first = 2, must be 0 or 1"},
    {"packed qconv2d weights of groups 2",
     HDR "  %w = const i8[8,2,3,3] opaque\n  %s = const f32[8] opaque\n  %q = quantize(%x) {scale=0.1} : i8[1,4,8,8]\n"
         "  %y = qconv2d(%q, %w, %s) {x_scale=0.1, y_scale=0.2, groups=2, packed=8} : i8[1,8,6,6]\n  return %y\n}\n",
     5, 8, "packed = 8 needs groups 1 and weight rows of whole quads (18 bytes)"},
    {"dequantize of f32", HDR "  %d = dequantize(%x) {scale=0.1} : f32[1,4,8,8]\n  return %d\n}\n", 2, 8,
     "dequantize(f32[1,4,8,8]): input 0 is f32, expected i8"},
    {"qadd of two shapes",
     HDR "  %q = quantize(%x) {scale=0.1} : i8[1,4,8,8]\n  %r = reshape(%q) {shape=[4,64]} : i8[4,64]\n"
         "  %y = qadd(%q, %r) {a_scale=1, b_scale=1, y_scale=1} : i8[1,4,8,8]\n  return %y\n}\n",
     4, 8, "operands must have the same shape"},
};

static void test_malformed_quantization(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof quant_cases / sizeof *quant_cases; i++) {
        const bad_case *c = &quant_cases[i];
        mf_graph *g = (mf_graph *)0x1;
        mf_status s = mf_graph_parse(c->text, NULL, &g);
        char loc[64];
        snprintf(loc, sizeof loc, "<string>:%d:%d: ", c->line, c->col);
        const char *msg = mf_last_error();
        if (s != MF_ERR_PARSE || g != NULL || strncmp(msg, loc, strlen(loc)) || !strstr(msg, c->phrase)) {
            print_error("case '%s': status %s, message \"%s\"; want %s\"...%s...\"\n", c->what,
                        mf_status_name(s), msg, loc, c->phrase);
            failures++;
        }
        if (s == MF_OK)
            mf_graph_destroy(g);
    }
    assert_int_equal(failures, 0);
}

static void test_each_malformed_input(void **state)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bad_case *c = &cases[i];
        mf_graph *g = (mf_graph *)0x1;
        mf_status s = mf_graph_parse(c->text, NULL, &g);
        char loc[64];
        snprintf(loc, sizeof loc, "<string>:%d:%d: ", c->line, c->col);
        const char *msg = mf_last_error();
        bool ok = s == MF_ERR_PARSE && g == NULL && !strncmp(msg, loc, strlen(loc)) &&
                  strstr(msg, c->phrase);
        if (!ok) {
            print_error("case '%s': status %s, message \"%s\"; want %s\"...%s...\"\n", c->what,
                        mf_status_name(s), msg, loc, c->phrase);
            failures++;
        }
        if (s == MF_OK)
            mf_graph_destroy(g);
    }
    assert_int_equal(failures, 0);
}

static void test_case_count(void **state)
{
    assert_true(sizeof cases / sizeof *cases >= 25);
}

static void test_filename_in_message(void **state)
{
    mf_graph *g;
    assert_int_equal(mf_graph_parse("graph @g() {\n  return %x\n}\n", "model.mfir", &g), MF_ERR_PARSE);
    assert_string_equal(mf_last_error(), "model.mfir:2:10: value %x is used before it is defined");
}

static void test_load_reports_path(void **state)
{
    char path[] = "/tmp/mf_bad_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("graph @g(%x: f32[2]) {\n  %y = relu(%x) : f32[3]\n  return %y\n}\n", f);
    fclose(f);
    mf_graph *g;
    assert_int_equal(mf_graph_load(path, &g), MF_ERR_PARSE);
    char want[128];
    snprintf(want, sizeof want, "%s:2:19: relu result declared f32[3] but inferred f32[2]", path);
    assert_string_equal(mf_last_error(), want);
    remove(path);
}

/* Text with a NUL inside, read from a file: the NUL is an error, not an early end. */
static void test_load_embedded_nul(void **state)
{
    char path[] = "/tmp/mf_nul_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    static const char text[] = "graph @g(%x: f32[2]) {\n  return %x\n}\n\0junk";
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    mf_graph *g;
    assert_int_equal(mf_graph_load(path, &g), MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), ":4:1: expected end of input after the graph's '}', found '\\x00'"));
    remove(path);
}

/* Every prefix of a valid text fails cleanly (no crash, no leak under the sanitizers). */
static void test_every_prefix_fails_cleanly(void **state)
{
    static const char text[] = HDR W "  %k = const f32[2] dense<1, -inf>\n"
                               "  %y = conv2d(%x, %w) {stride=[2,2], groups=1} : f32[1,8,3,3] @sg0\n"
                               "  %z = clamp(%y) {min=0, max=6} : f32[1,8,3,3]\n"
                               "  return %z, %k\n"
                               "}\n";
    char buf[sizeof text];
    for (size_t n = 0; n + 1 < sizeof text; n++) {
        memcpy(buf, text, n);
        buf[n] = 0;
        mf_graph *g = NULL;
        mf_status s = mf_graph_parse(buf, NULL, &g);
        if (s == MF_OK) { /* only the text minus its final newline may parse */
            assert_true(n == sizeof text - 2);
            mf_graph_destroy(g);
        } else {
            assert_int_equal(s, MF_ERR_PARSE);
            assert_null(g);
        }
    }
    mf_graph *g;
    assert_int_equal(mf_graph_parse(text, NULL, &g), MF_OK);
    mf_graph_destroy(g);
}

static void test_null_arguments(void **state)
{
    mf_graph *g;
    assert_int_equal(mf_graph_parse(NULL, NULL, &g), MF_ERR_INVALID);
    assert_int_equal(mf_graph_parse("", NULL, NULL), MF_ERR_INVALID);
    assert_int_equal(mf_graph_load(NULL, &g), MF_ERR_INVALID);
    char *t;
    assert_int_equal(mf_graph_print(NULL, 0, &t), MF_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_malformed_input),
        cmocka_unit_test(test_malformed_quantization),
        cmocka_unit_test(test_case_count),
        cmocka_unit_test(test_filename_in_message),
        cmocka_unit_test(test_load_reports_path),
        cmocka_unit_test(test_load_embedded_nul),
        cmocka_unit_test(test_every_prefix_fails_cleanly),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests_name("mfir_errors", tests, NULL, NULL);
}
