/* fuzz_npy.c — the .npy loader on arbitrary bytes: a load either fails with a message or
 * gives a tensor whose byte count the input actually held. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/runtime.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_stream(data, size);
    if (!f)
        return 0;
    mf_tensor *t;
    if (mf_rt_npy_read(f, "fuzz.npy", &t) == MF_OK) {
        if (mf_tensor_nbytes(t) > size)
            abort(); /* more data than the input had */
        mf_tensor_free(t);
    }
    fclose(f);
    return 0;
}
