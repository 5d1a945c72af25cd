/* version.h — the compiler version the cache key and disk entries record: the release and
 * a hash of codegen/'s sources, generated at build time (scripts/codegen_id.cmake), so a
 * changed code generator never reuses kernels another one made. */
#ifndef MF_CACHE_VERSION_H
#define MF_CACHE_VERSION_H

#include "codegen_id.h"

#define MF_COMPILER_VERSION "mlufuse-0.1.0+" MF_CODEGEN_ID

#endif
