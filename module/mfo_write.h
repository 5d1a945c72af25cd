/* mfo_write.h — the .mfo writer (mfo_write.c, format in docs/mfo.md), shared by genoff (an
 * offline model for several CPU levels) and the plan cache (a module's compiled plan for the
 * host, plan_cache.c). */
#ifndef MF_MODULE_MFO_WRITE_H
#define MF_MODULE_MFO_WRITE_H

#include "codegen/codegen.h"
#include "runtime/plan.h"

/* One CPU level of a file: its target, the instruction sets its code may use (checked by the
 * loader against the host), its plan (the kernel steps name their kernel by step->segment,
 * 0..nkernels-1) for graph g (the names of its inputs and outputs), and one object per
 * kernel, in the plan's kernel order.  Each level is the graph compiled for its target, its
 * weights packed for that target's kernels. */
typedef struct mf_mfo_level {
    const mf_cg_target *target;
    const char *features;
    const mf_plan *plan;
    const mf_graph *g;
    int nkernels;
    const mf_cg_object *objs;
} mf_mfo_level;

/* Writes the meta lines producer, model, batch_size, core_number, levels and subgraphs (a
 * count a level) followed by extra_meta ("key=value" lines, may be NULL), each level's plan
 * and code, and the constants (once each: levels share the equal ones), to path: a temporary
 * file renamed into place, so a reader sees no file or the whole one.  The levels' graphs
 * have the same inputs and outputs. */
mf_status mf_mod_mfo_write(const char *path, const mf_mfo_level *levels, int nlevels,
                           const char *extra_meta);

#endif
