/* warn.c — the runtime's warnings: conditions that are not failures (pinned memory that
 * could not be locked, a malformed environment variable) are recorded where a caller can
 * read them (mf_runtime_warning) and logged (mf_logf) when MLUFUSE_LOG asks for the
 * runtime's messages ("runtime" or "all" in its comma-separated list). */
#include <stdio.h>
#include <string.h>

#include "rt_internal.h"

static pthread_mutex_t warn_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_warning[512];
static size_t nwarnings;

void mf_rt_warn(const char *fmt, ...)
{
    char msg[sizeof last_warning];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&warn_mu);
    memcpy(last_warning, msg, sizeof msg);
    nwarnings++;
    pthread_mutex_unlock(&warn_mu);
    mf_logf(MF_LOG_INFO, "runtime", "warning: %s", msg);
}

size_t mf_runtime_warning(char *buf, size_t cap)
{
    pthread_mutex_lock(&warn_mu);
    if (buf && cap)
        snprintf(buf, cap, "%s", last_warning);
    size_t n = nwarnings;
    pthread_mutex_unlock(&warn_mu);
    return n;
}
