/* bench_args.h — the kernel benchmarks' command line: nothing (code for this machine) or
 * `--cpu NAME` (code for LLVM CPU NAME). */
#ifndef MF_BENCH_ARGS_H
#define MF_BENCH_ARGS_H

#include <stdbool.h>

#include "codegen/codegen.h"

/* *target = the target `--cpu NAME` names (initialized in *named), or NULL without arguments
 * (the host).  Anything else: the usage or the error on stderr, and false (exit 2). */
bool bench_cpu_arg(int argc, char **argv, mf_cg_target *named, const mf_cg_target **target);
/* target, or this machine's (kept in static storage) where target is NULL: the target whose
 * lanes and peak a benchmark reports; NULL after printing why the host's could not be read. */
const mf_cg_target *bench_target_or_host(const mf_cg_target *target);
/* bench_cpu_arg, then bench_target_or_host: *target for the compile options (NULL: the host)
 * and the target to report, or NULL after printing why (exit 2). */
const mf_cg_target *bench_target_arg(int argc, char **argv, const mf_cg_target **target);

#endif
