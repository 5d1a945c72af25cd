/* status.c — errors as values: the calling thread's last error message, and the names of
 * statuses.  Every layer reports failures through mf_error so callers read one message. */
#include <stdio.h>
#include <string.h>

#include "ir.h"

#define MF_ERROR_CAP 2048

static _Thread_local char last_error[MF_ERROR_CAP];

mf_status mf_verror(mf_status s, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    return s;
}

mf_status mf_error(mf_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mf_verror(s, fmt, ap);
    va_end(ap);
    return s;
}

mf_status mf_error_context(mf_status s, const char *fmt, ...)
{
    char prefix[512], old[MF_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
    return s;
}

const char *mf_last_error(void)
{
    return last_error;
}

const char *mf_status_name(mf_status s)
{
    static const char *const names[] = {
        [MF_OK] = "ok",
        [MF_ERR_INVALID] = "invalid argument",
        [MF_ERR_SHAPE] = "shape mismatch",
        [MF_ERR_DTYPE] = "unsupported dtype",
        [MF_ERR_DEVICE] = "device error",
        [MF_ERR_NOMEM] = "out of memory",
        [MF_ERR_PARSE] = "parse error",
        [MF_ERR_IO] = "i/o error",
        [MF_ERR_UNSUPPORTED] = "unsupported",
        [MF_ERR_INTERNAL] = "internal error",
    };
    if ((unsigned)s >= sizeof names / sizeof names[0])
        return "unknown status";
    return names[s];
}
