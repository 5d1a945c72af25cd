/* mfo_edit.h — editing offline model files in tests and the fuzz harness: after bytes of a
 * section were changed on purpose, reseal recomputes every checksum (sections, table,
 * header) so the loader's deeper checks are reached, not only the checksums. */
#ifndef MF_TEST_MFO_EDIT_H
#define MF_TEST_MFO_EDIT_H

#include <stddef.h>
#include <stdint.h>

/* Recomputes the checksums of every section lying inside the n bytes, then of the section
 * table and the header; does nothing to a file too short for its header or table. */
void tsupport_mfo_reseal(unsigned char *data, size_t n);
/* The offset and size of the index-th section (0 when there is no such section). */
int tsupport_mfo_section(const unsigned char *data, size_t n, int index, uint32_t *kind, size_t *offset,
                         size_t *size);

#endif
