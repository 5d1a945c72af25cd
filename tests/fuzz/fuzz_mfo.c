/* fuzz_mfo.c — the offline model loader on arbitrary bytes.  The first byte picks what is
 * fuzzed: 0, the file as it is (the checksums stop nearly every change); 1, the file with
 * its checksums recomputed first, so the fuzzer explores the plan and the code sections
 * behind them; 2, one kernel's ELF object alone (a NUL-terminated symbol, then the object).
 * A load either fails with a message or succeeds; nothing loaded is run (kernels trust
 * their arguments).  The host is fixed to x86-64-v3's instruction sets, so every machine
 * explores the same paths. */
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse_offline.h"
#include "runtime/mfo.h"
#include "tests/fuzz/fuzz.h"
#include "tests/support/mfo_edit.h"

static const char v3_host[] = "sse,sse2,sse3,ssse3,sse4.1,sse4.2,popcnt,cx16,sahf,avx,avx2,bmi,bmi2,f16c,fma,lzcnt,movbe";

static void check_failed(mf_status s)
{
    if (s && !mf_last_error()[0])
        abort(); /* every refusal says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 3;
    unsigned char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1;
    if (mode == 2) {
        unsigned char *end = memchr(buf, 0, n);
        if (end) {
            mf_rt_code *c = NULL;
            mf_rt_kernel_fn fn;
            size_t at = (size_t)(end - buf) + 1;
            check_failed(mf_rt_code_load(buf + at, n - at, (const char *)buf, "fuzz", &c, &fn));
            mf_rt_code_free(c);
        }
    } else {
        if (mode == 1)
            tsupport_mfo_reseal(buf, n);
        mf_offline_options o = {0, v3_host};
        mf_offline_model *m = NULL;
        check_failed(mf_offline_load_bytes(buf, n, "fuzz.mfo", &o, &m));
        mf_offline_destroy(m);
    }
    free(buf);
    return 0;
}
