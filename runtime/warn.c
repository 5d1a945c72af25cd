/* warn.c — the runtime's warnings: conditions that are not failures (pinned memory that
 * could not be locked, a malformed environment variable) are recorded where a caller can
 * read them (mf_runtime_warning) and logged (mf_logf) when MLUFUSE_LOG asks for the
 * runtime's messages ("runtime" or "all" in its comma-separated list); a malformed
 * environment variable always (mf_rt_warn_env). */
#include <stdio.h>
#include <string.h>

#include "rt_internal.h"

static pthread_mutex_t warn_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_warning[512];
static size_t nwarnings;

static void record(mf_log_level level, const char *fmt, va_list ap)
{
    char msg[sizeof last_warning];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&warn_mu);
    memcpy(last_warning, msg, sizeof msg);
    nwarnings++;
    pthread_mutex_unlock(&warn_mu);
    mf_logf(level, "runtime", level == MF_LOG_WARNING ? "%s" : "warning: %s", msg);
}

void mf_rt_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(MF_LOG_INFO, fmt, ap);
    va_end(ap);
}

void mf_rt_warn_env(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(MF_LOG_WARNING, fmt, ap);
    va_end(ap);
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
