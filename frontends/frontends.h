/* frontends.h — internals shared by the frontends: the trace recorder's hook, called by
 * every public op after its eager computation. */
#ifndef MF_FRONTENDS_H
#define MF_FRONTENDS_H

#include "runtime/runtime.h"

/* Records op(in) -> out as a node when the calling thread is tracing; MF_OK otherwise. */
mf_status mf_fe_trace_record(mf_op op, const mf_attr *attrs, int nin, const mf_tensor *const *in,
                             const mf_tensor *out);

#endif
