/* bench_check.h — benchmarks stop at the first failing call, saying which and why. */
#ifndef MF_BENCH_CHECK_H
#define MF_BENCH_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "mlufuse/mlufuse.h"

#define BENCH_CHECK(call)                                                    \
    do {                                                                     \
        if ((call) != MF_OK) {                                               \
            fprintf(stderr, "bench: %s\n  in %s\n", mf_last_error(), #call); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

#endif
