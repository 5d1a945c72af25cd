/* mfo_write.h — the .mfo writer (mfo_write.c, format in docs/mfo.md), shared by genoff (an
 * offline model for several CPU levels) and the plan cache (a module's compiled plan for the
 * host, plan_cache.c). */
#ifndef MF_MODULE_MFO_WRITE_H
#define MF_MODULE_MFO_WRITE_H

#include "codegen/codegen.h"
#include "runtime/plan.h"

/* One CPU level of a file: its target, the instruction sets its code may use (checked by the
 * loader against the host) and one object per kernel, in the plan's kernel order. */
typedef struct mf_mfo_level {
    const mf_cg_target *target;
    const char *features;
    const mf_cg_object *objs;
} mf_mfo_level;

/* Writes plan p (its kernel steps name their kernel by step->segment, 0..nkernels-1), the
 * names of g's inputs and outputs, the meta lines producer, model, batch_size, core_number,
 * levels and subgraphs followed by extra_meta ("key=value" lines, may be NULL), each level's
 * code, and the constants, to path: a temporary file renamed into place, so a reader sees no
 * file or the whole one. */
mf_status mf_mod_mfo_write(const char *path, const mf_plan *p, const mf_graph *g, int nkernels,
                           const mf_mfo_level *levels, int nlevels, const char *extra_meta);

#endif
