/* run_graph.c — a graph run layer by layer or fused, from tests (run_graph.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "run_graph.h"

mf_tensor *tsupport_run_graph(const mf_graph *g, const mf_tensor *x, bool fused, const char *what)
{
    mf_module *m = NULL;
    mf_tensor *dev, *y, *host;
    assert_int_equal(mf_tensor_to(x, MF_DEVICE_MLU(0), &dev), MF_OK);
    if (fused && mf_module_create(g, NULL, &m))
        fail_msg("%s fused: %s", what ? what : "graph", mf_last_error());
    mf_status s = fused ? mf_module_run(m, 1, &dev, 1, &y) : mf_graph_interpret(g, 1, &dev, 1, &y);
    if (s)
        fail_msg("%s %s: %s", what ? what : "graph", fused ? "fused" : "layer by layer", mf_last_error());
    assert_int_equal(mf_tensor_to(y, MF_DEVICE_CPU, &host), MF_OK);
    mf_tensor_free(y);
    mf_tensor_free(dev);
    mf_module_destroy(m);
    return host;
}
