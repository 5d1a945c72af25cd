/* fuzz_onnx.c — the ONNX importer on arbitrary bytes: an import either fails with a
 * message or gives a graph that verifies. */
#include <stdlib.h>

#include "mlufuse/mlufuse.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mf_graph *g = NULL;
    if (mf_onnx_parse(data, size, "fuzz.onnx", 0, &g) == MF_OK) {
        if (mf_graph_verify(g))
            abort();
        mf_graph_destroy(g);
    }
    return 0;
}
