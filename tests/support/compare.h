/* compare.h — comparing result tensors in tests: the largest absolute difference over the
 * largest magnitude of the expected tensor (the seed's "max abs error over max abs
 * output"), for tensors on any device. */
#ifndef MF_TEST_COMPARE_H
#define MF_TEST_COMPARE_H

#include "mlufuse/mlufuse.h"

/* max|got - want| / max(max|want|, floor); NaN differences count as infinite.  The
 * tensors must hold the same number of f32 elements (asserted). */
double tsupport_rel_diff(const mf_tensor *got, const mf_tensor *want, double floor);

#endif
