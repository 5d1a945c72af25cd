/* test_dump_mfir.c — examples/mnist.mfir and examples/resnet_block.mfir are what
 * examples/dump_mfir.c writes now, byte for byte (so they never go stale: after changing
 * the example networks, the printer or the trace recorder, run `build/dump_mfir examples`),
 * and they hold the networks the examples describe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/tool_run.h"

/* Fails unless examples/NAME equals fresh, naming the first line that differs. */
static void expect_current(const char *name, const char *fresh)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/%s", tsupport_source_dir(), name);
    char *committed = tsupport_read_file(path, NULL);
    if (!committed)
        fail_msg("cannot read %s", path);
    size_t i = 0, line = 1;
    for (; fresh[i] && fresh[i] == committed[i]; i++)
        line += fresh[i] == '\n';
    if (fresh[i] != committed[i])
        fail_msg("%s is stale: it differs from dump_mfir's output at line %zu; regenerate it with "
                 "`build/dump_mfir examples`", path, line);
    free(committed);
}

static void test_committed_files_are_current(void **state)
{
    char dir[64], path[128], want[256];
    tsupport_tmpdir("dump-mfir", dir);
    tsupport_run r = tsupport_run_prog("dump_mfir", 1, "%s", dir);
    snprintf(want, sizeof want, "wrote %s/mnist.mfir\nwrote %s/resnet_block.mfir\n", dir, dir);
    int rc = r.rc, said = !strcmp(r.out, want);
    snprintf(path, sizeof path, "%s/mnist.mfir", dir);
    char *mnist = tsupport_read_file(path, NULL);
    snprintf(path, sizeof path, "%s/resnet_block.mfir", dir);
    char *block = tsupport_read_file(path, NULL);
    tsupport_rmdir_all(dir); /* before any check can fail */
    if (rc != 0 || !said || !mnist || !block)
        fail_msg("dump_mfir exited %d, printing\n%s", rc, r.out);
    tsupport_run_free(&r);
    expect_current("mnist.mfir", mnist);
    expect_current("resnet_block.mfir", block);
    free(mnist);
    free(block);
}

/* What the files hold: the networks, parseable, weights elided in one and whole in the other. */
static void test_contents(void **state)
{
    char path[1024];
    mf_graph *g;
    snprintf(path, sizeof path, "%s/examples/mnist.mfir", tsupport_source_dir());
    if (mf_graph_load(path, &g))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_num_nodes(g), 12); /* conv relu conv relu pool drop flat fc relu drop fc lsm */
    assert_int_equal(mf_graph_num_inputs(g), 1);
    mf_dtype dt;
    int rank;
    int64_t shape[8];
    assert_int_equal(mf_graph_input_type(g, 0, &dt, &rank, shape), MF_OK);
    assert_int_equal(rank, 4);
    assert_true(shape[0] == 1 && shape[1] == 1 && shape[2] == 28 && shape[3] == 28);
    mf_graph_destroy(g);
    char *text = tsupport_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\ngraph @mnist(%0: f32[1,1,28,28]) {\n"));
    assert_non_null(strstr(text, " = const f32[128,9216] opaque\n"));
    assert_non_null(strstr(text, " = log_softmax(%19) {dim=1} : f32[1,10]\n"));
    free(text);

    snprintf(path, sizeof path, "%s/examples/resnet_block.mfir", tsupport_source_dir());
    if (mf_graph_load(path, &g))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_graph_num_nodes(g), 7); /* conv bn relu conv bn add relu */
    assert_int_equal(mf_graph_input_type(g, 0, &dt, &rank, shape), MF_OK);
    assert_true(rank == 4 && shape[0] == 1 && shape[1] == 8 && shape[2] == 8 && shape[3] == 8);
    mf_tensor *x, *y;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, shape, 9, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_graph_interpret(g, 1, &x, 1, &y), MF_OK); /* every weight is there */
    const float *p = mf_tensor_data(y);
    int positive = 0;
    for (int64_t i = 0; i < mf_tensor_numel(y); i++) {
        assert_true(p[i] >= 0); /* the final relu */
        positive += p[i] > 0;
    }
    assert_true(positive > 0);
    mf_tensor_free(x);
    mf_tensor_free(y);
    mf_graph_destroy(g);
    text = tsupport_read_file(path, NULL);
    assert_non_null(text);
    assert_null(strstr(text, "opaque"));
    assert_non_null(strstr(text, "\ngraph @resnet_block(%0: f32[1,8,8,8]) {\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_files_are_current),
        cmocka_unit_test(test_contents),
    };
    return cmocka_run_group_tests_name("dump_mfir", tests, NULL, NULL);
}
