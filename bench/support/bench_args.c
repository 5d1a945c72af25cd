/* bench_args.c — `[--cpu NAME]` for the kernel benchmarks (bench_args.h). */
#include "support/bench_args.h"

#include <stdio.h>
#include <string.h>

#include "mlufuse/mlufuse.h"

bool bench_cpu_arg(int argc, char **argv, mf_cg_target *named, const mf_cg_target **target)
{
    *target = NULL;
    if (argc == 1)
        return true;
    if (argc == 3 && !strcmp(argv[1], "--cpu")) {
        char why[320];
        if (mf_cg_target_init(argv[2], named)) {
            fprintf(stderr, "--cpu %s: %s\n", argv[2], mf_last_error());
            return false;
        }
        /* the benchmarks run what they compile */
        if (!mf_cg_target_runs_here(named, why, sizeof why)) {
            fprintf(stderr, "--cpu %s: %s\n", argv[2], why);
            return false;
        }
        *target = named;
        return true;
    }
    fprintf(stderr, "usage: %s [--cpu NAME]\n", argv[0]);
    return false;
}

const mf_cg_target *bench_target_or_host(const mf_cg_target *target)
{
    static mf_cg_target host;
    if (target)
        return target;
    if (mf_cg_target_init(NULL, &host)) {
        fprintf(stderr, "this machine's target: %s\n", mf_last_error());
        return NULL;
    }
    return &host;
}

const mf_cg_target *bench_target_arg(int argc, char **argv, const mf_cg_target **target)
{
    static mf_cg_target named;
    return bench_cpu_arg(argc, argv, &named, target) ? bench_target_or_host(*target) : NULL;
}
