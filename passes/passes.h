/* passes.h — graph passes over the IR (passes/ depends on ir/ only): one file a pass, one
 * entry point `mf_status mf_pass_NAME(mf_graph *g, ...)`. */
#ifndef MF_PASSES_H
#define MF_PASSES_H

#include "ir/ir.h"

/* Marks MLU subgraphs on g (node->subgraph, numbered 0..*nsubgraphs-1; -1 for ops that
 * run on the CPU).  fuse false: every MLU op is its own subgraph (DISABLE_MLU_FUSION). */
mf_status mf_pass_segment(mf_graph *g, bool fuse, int *nsubgraphs);

/* Removes nodes whose results are never used and bypasses dropout; *removed (may be
 * NULL) counts the nodes removed. */
mf_status mf_pass_dce(mf_graph *g, int *removed);

#endif
