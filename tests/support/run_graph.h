/* run_graph.h — running a one-input, one-output graph in tests the two ways a user can: layer
 * by layer (the interpreter over the reference kernels) or fused (a module of compiled
 * kernels), on mlu:0, with the output brought back to the CPU. */
#ifndef MF_TEST_RUN_GRAPH_H
#define MF_TEST_RUN_GRAPH_H

#include <stdbool.h>

#include "mlufuse/mlufuse.h"

/* g's output for input x (any device), on the CPU in the output's own dtype; a failure fails
 * the test, naming `what` (may be NULL) and the way it ran.  Free the result. */
mf_tensor *tsupport_run_graph(const mf_graph *g, const mf_tensor *x, bool fused, const char *what);

#endif
