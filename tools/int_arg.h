/* int_arg.h — the numeric flags of the tools (mlufuse and mlufuse-offline): the whole argument
 * must be a number of the flag's type.  strtol's long cast to int wrapped 4294967297 to 1,
 * strtoll clamped 99999999999999999999 to LLONG_MAX, and all of them took "" for 0. */
#ifndef MF_TOOLS_INT_ARG_H
#define MF_TOOLS_INT_ARG_H

#include <errno.h>
#include <limits.h>
#include <math.h>
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

static inline bool tool_ll_arg(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* a seed: no sign (strtoull reads "-1" as 2^64 - 1) */
static inline bool tool_u64_arg(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno == ERANGE || *s == '-')
        return false;
    *out = v;
    return true;
}

/* a finite number (NaN and infinities are no tolerance, size or time) */
static inline bool tool_double_arg(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

#endif
