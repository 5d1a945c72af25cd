/* log.c — the library's one logging path: a diagnostic that is not an error returned to
 * the caller (a refused cache directory, a recompile storm, a CPU fallback) goes through
 * mf_logf, gated by MLUFUSE_LOG, and is written to stderr in one line.  Nothing else in the
 * library writes to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Whether the comma-separated list s names word (whole entries only). */
static bool lists(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !memcmp(p, word, n))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

bool mf_log_enabled(mf_log_level level, const char *subsystem)
{
    const char *s = getenv("MLUFUSE_LOG");
    if (!s || !*s)
        return level == MF_LOG_WARNING;
    if (lists(s, "none") || !strcmp(s, "0"))
        return false;
    return level == MF_LOG_WARNING || !strcmp(s, "1") || lists(s, "all") || lists(s, subsystem);
}

void mf_logf(mf_log_level level, const char *subsystem, const char *fmt, ...)
{
    if (!mf_log_enabled(level, subsystem))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one fprintf: lines of concurrent threads do not interleave */
    fprintf(stderr, level == MF_LOG_WARNING ? "mlufuse: warning: %s\n" : "mlufuse: %s\n", msg);
}
