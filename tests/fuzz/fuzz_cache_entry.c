/* fuzz_cache_entry.c — a kernel cache entry file on arbitrary bytes.  The harness appends
 * the right SHA-256 to the input, so the fuzzer explores the structure behind the
 * checksum (sizes, header fields, key text) instead of stopping at it. */
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "cache/disk_store.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size + SHA256_DIGEST_SIZE);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, size, data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, buf + size);
    mf_disk_entry e;
    if (mf_disk_parse(buf, size + SHA256_DIGEST_SIZE, &e) == MF_OK) {
        static const char *const fields[] = {"compiler", "llvm", "triple", "cpu", "features", "created",
                                             "compile_ms", "symbol", "scratch", "ops"};
        char value[256], hex[65];
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            mf_disk_header_field(&e, fields[i], value, sizeof value);
        if (e.object + e.object_len != buf + size)
            abort(); /* the sections must end where the checksum starts */
        mf_cache_key_hash(e.key_text, e.key_len, hex);
    }
    free(buf);
    return 0;
}
