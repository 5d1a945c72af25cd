/* int_arg.h — an int flag of the tools (mlufuse and mlufuse-offline): the whole argument must
 * be a decimal integer within int's range.  A cast of strtol's long wrapped 4294967297 to 1
 * and took "" for 0. */
#ifndef MF_TOOLS_INT_ARG_H
#define MF_TOOLS_INT_ARG_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

/* true with *out set, or false (and *out unchanged) when s is not such an integer */
static inline bool tool_int_arg(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < INT_MIN || v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

#endif
