/* fuzz.h — the one entry point every fuzz harness defines: libFuzzer calls it with each
 * input (`make fuzz`), and replay.c calls it with each file of the harness's corpus as a
 * test of `make test`.  A harness returns 0; a defect shows as a sanitizer report or an
 * abort() on a broken invariant. */
#ifndef MF_FUZZ_H
#define MF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a read-only stream for a loader that reads a FILE; NULL for an empty input
 * (fmemopen refuses an empty buffer) or when the stream cannot be made. */
static inline FILE *fuzz_stream(const uint8_t *data, size_t size)
{
    return size ? fmemopen((void *)data, size, "rb") : NULL;
}

#endif
