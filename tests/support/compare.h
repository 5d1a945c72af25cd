/* compare.h — comparing result tensors in tests: the largest absolute difference over the
 * largest magnitude of the expected tensor (the seed's "max abs error over max abs
 * output"), for tensors on any device. */
#ifndef MF_TEST_COMPARE_H
#define MF_TEST_COMPARE_H

#include "mlufuse/mlufuse.h"

/* max|got - want| / max(max|want|, floor); NaN differences count as infinite.  The
 * tensors must hold the same number of f32 elements (asserted). */
double tsupport_rel_diff(const mf_tensor *got, const mf_tensor *want, double floor);

/* Loads DIR/STEM_K.npy for K = 0, 1, ... up to max files (a model's reference inputs or
 * outputs) into out; how many there were.  Fails the test on a file it cannot load. */
int tsupport_load_npys(const char *dir, const char *stem, int max, mf_tensor **out);

#endif
