/* test_perf_map.c — kernels are named after their core op, and with MLUFUSE_PERF_MAP=1
 * each kernel linked into the process gets a line "START SIZE NAME" in /tmp/perf-PID.map
 * whose range covers the kernel's address, so perf can attribute samples to it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"

static mf_graph *conv_relu(void)
{
    mf_graph *g = mf_graph_new("k");
    mf_type xt = {MF_F32, 4, {1, 4, 6, 6}}, wt = {MF_F32, 4, {8, 4, 3, 3}};
    mf_value *in[2] = {mf_graph_add_input(g, "x", &xt), mf_graph_add_input(g, "w", &wt)};
    mf_node *c, *r;
    assert_int_equal(mf_graph_add_node(g, MF_OP_CONV2D, 2, in, NULL, &c), MF_OK);
    assert_int_equal(mf_graph_add_node(g, MF_OP_RELU, 1, c->outputs, NULL, &r), MF_OK);
    assert_int_equal(mf_graph_set_outputs(g, 1, r->outputs), MF_OK);
    return g;
}

static void test_perf_map_names_kernels(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    remove(path);
    setenv("MLUFUSE_PERF_MAP", "1", 1);
    mf_graph *g = conv_relu();
    mf_cg_object obj;
    mf_kernel_fn fn;
    assert_int_equal(mf_cg_compile(g, NULL, &obj), MF_OK);
    assert_non_null(strstr(obj.symbol, "mf_k_conv2d_")); /* the anchor names it, not relu */
    assert_int_equal(mf_cg_load(&obj, &fn), MF_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long start = 0, size = 0;
    char name[80] = "";
    assert_int_equal(fscanf(f, "%llx %llx %79s", &start, &size, name), 3);
    fclose(f);
    remove(path);
    assert_string_equal(name, obj.symbol);
    assert_int_equal(start, (unsigned long long)(uintptr_t)fn);
    assert_true(size > 16 && size < 1 << 20); /* the symbol's real size, not a placeholder */
    mf_cg_object_free(&obj);
    mf_graph_destroy(g);
    unsetenv("MLUFUSE_PERF_MAP");
}

static void test_no_map_by_default(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
    remove(path);
    mf_graph *g = conv_relu();
    mf_graph_set_outputs(g, 1, (mf_value *[]){g->nodes[0]->outputs[0]}); /* another kernel */
    mf_cg_object obj;
    mf_kernel_fn fn;
    assert_int_equal(mf_cg_compile(g, NULL, &obj), MF_OK);
    assert_int_equal(mf_cg_load(&obj, &fn), MF_OK);
    assert_int_equal(access(path, F_OK), -1);
    mf_cg_object_free(&obj);
    mf_graph_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perf_map_names_kernels),
        cmocka_unit_test(test_no_map_by_default),
    };
    return cmocka_run_group_tests_name("perf_map", tests, NULL, NULL);
}
