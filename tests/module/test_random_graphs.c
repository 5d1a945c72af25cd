/* test_random_graphs.c — the property test of compiled code: seeded random DAGs of mixed
 * ops (tests/support/random_graph.h, its compiled distribution: elementwise chains with
 * broadcasting, convolutions with batch norm, pooling, reductions, softmax, linear
 * layers, views and CPU-only ops) compiled into modules, fused and unfused, at
 * core_number 1 and 4, must give the interpreter's outputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/module.h"
#include "tests/support/compare.h"
#include "tests/support/random_graph.h"

#define GRAPHS 40

static void test_random_graphs_compiled(void **state)
{
    int cpu_ops = 0, nodes = 0;
    for (uint64_t seed = 1; seed <= GRAPHS; seed++) {
        mf_graph *g = trg_random_graph(seed, &(trg_options){.pass_patterns = false});
        mf_tensor *x, *want[2];
        trg_random_inputs(g, seed, MF_DEVICE_MLU(0), &x);
        int nout = g->noutputs;
        assert_int_equal(mf_graph_interpret(g, 1, &x, nout, want), MF_OK);
        nodes += g->nnodes;
        for (int i = 0; i < g->nnodes; i++)
            cpu_ops += !mf_op_get(g->nodes[i]->op)->has_mlu;
        for (int variant = 0; variant < 3; variant++) {
            mf_module_options o = mf_module_default_options();
            o.fusion = variant != 1;
            o.core_number = variant == 2 ? 4 : 1;
            mf_module *m;
            mf_tensor *got[2];
            if (mf_module_create(g, &o, &m) || mf_module_run(m, 1, &x, nout, got)) {
                char *text;
                mf_graph_print(g, 0, &text);
                fail_msg("seed %llu variant %d: %s\n%s", (unsigned long long)seed, variant, mf_last_error(), text);
            }
            for (int k = 0; k < nout; k++) {
                double d = tsupport_rel_diff(got[k], want[k], 1);
                if (d > 2e-4)
                    fail_msg("seed %llu variant %d output %d: relative difference %g", (unsigned long long)seed,
                             variant, k, d);
                mf_tensor_free(got[k]);
            }
            mf_module_destroy(m);
        }
        for (int k = 0; k < nout; k++)
            mf_tensor_free(want[k]);
        mf_tensor_free(x);
        mf_graph_destroy(g);
    }
    assert_true(nodes > 5 * GRAPHS); /* the generator must not degenerate */
    assert_true(cpu_ops > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_graphs_compiled),
    };
    return cmocka_run_group_tests_name("random_graphs", tests, NULL, NULL);
}
