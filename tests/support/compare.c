/* compare.c — see compare.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "compare.h"

double tsupport_rel_diff(const mf_tensor *got, const mf_tensor *want, double floor)
{
    mf_tensor *a, *b;
    assert_int_equal(mf_tensor_to(got, MF_DEVICE_CPU, &a), MF_OK);
    assert_int_equal(mf_tensor_to(want, MF_DEVICE_CPU, &b), MF_OK);
    assert_int_equal(mf_tensor_numel(a), mf_tensor_numel(b));
    assert_int_equal(mf_tensor_dtype(a), MF_F32);
    const float *p = mf_tensor_data(a), *q = mf_tensor_data(b);
    double err = 0, scale = 0;
    for (int64_t i = 0; i < mf_tensor_numel(b); i++) {
        double d = fabs((double)p[i] - q[i]);
        err = isnan(d) ? INFINITY : fmax(err, d);
        scale = fmax(scale, fabs((double)q[i]));
    }
    mf_tensor_free(a);
    mf_tensor_free(b);
    return err / fmax(scale, floor);
}

int tsupport_load_npys(const char *dir, const char *stem, int max, mf_tensor **out)
{
    int n = 0;
    for (; n < max; n++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s_%d.npy", dir, stem, n);
        FILE *f = fopen(path, "rb");
        if (!f)
            break;
        fclose(f);
        if (mf_tensor_load_npy(path, &out[n]))
            fail_msg("%s", mf_last_error());
    }
    return n;
}
