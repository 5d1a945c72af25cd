/* version.c — the library's version, from the project's (CMakeLists.txt sets MF_VERSION). */
#include "mlufuse/mlufuse.h"

#ifndef MF_VERSION
#error "MF_VERSION must be defined by the build"
#endif

const char *mf_version(void)
{
    return MF_VERSION;
}
