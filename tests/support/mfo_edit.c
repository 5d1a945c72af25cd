/* mfo_edit.c — see mfo_edit.h; follows the layout of docs/mfo.md. */
#include <string.h>

#include "runtime/mfo.h"
#include "tests/support/mfo_edit.h"

static uint32_t nsections(const unsigned char *data, size_t n)
{
    uint32_t nsec;
    if (n < MF_MFO_HEADER_BYTES)
        return 0;
    memcpy(&nsec, data + 12, 4);
    if (nsec > MF_MFO_MAX_SECTIONS || MF_MFO_HEADER_BYTES + (size_t)nsec * MF_MFO_SECTION_BYTES > n)
        return 0;
    return nsec;
}

int tsupport_mfo_section(const unsigned char *data, size_t n, int index, uint32_t *kind, size_t *offset,
                         size_t *size)
{
    if (index < 0 || (uint32_t)index >= nsections(data, n))
        return 0;
    const unsigned char *e = data + MF_MFO_HEADER_BYTES + (size_t)index * MF_MFO_SECTION_BYTES;
    uint64_t off, sz;
    memcpy(kind, e, 4);
    memcpy(&off, e + 8, 8);
    memcpy(&sz, e + 16, 8);
    if (off > n || sz > n - off)
        return 0;
    *offset = (size_t)off;
    *size = (size_t)sz;
    return 1;
}

void tsupport_mfo_reseal(unsigned char *data, size_t n)
{
    uint32_t nsec = nsections(data, n);
    if (!nsec)
        return;
    for (uint32_t i = 0; i < nsec; i++) {
        uint32_t kind;
        size_t off, size;
        if (!tsupport_mfo_section(data, n, (int)i, &kind, &off, &size))
            continue;
        uint64_t sum = mf_mfo_checksum(data + off, size);
        memcpy(data + MF_MFO_HEADER_BYTES + (size_t)i * MF_MFO_SECTION_BYTES + 24, &sum, 8);
    }
    uint64_t t = mf_mfo_checksum(data + MF_MFO_HEADER_BYTES, (size_t)nsec * MF_MFO_SECTION_BYTES);
    memcpy(data + 48, &t, 8);
    uint64_t h = mf_mfo_checksum(data, 56);
    memcpy(data + 56, &h, 8);
}
