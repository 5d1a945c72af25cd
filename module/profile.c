/* profile.c — the public face of the profiler (issue 17): mf_module_profile_begin/end and
 * the writers over the runtime's collector (runtime/profiler.h), compile and load events
 * around the keyed instruction map (which the runtime may not see), the machine limits kept
 * in the cache directory, and MLUFUSE_PROFILE=FILE, which profiles a whole program and
 * writes the trace when it exits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/disk_store.h"
#include "module.h"

mf_status mf_module_profile_begin(void)
{
    return mf_rt_prof_begin();
}

mf_status mf_module_profile_end(mf_profile **out)
{
    return mf_rt_prof_end(out);
}

void mf_profile_destroy(mf_profile *p)
{
    mf_rt_prof_free(p);
}

typedef mf_status (*writer_fn)(const mf_profile *p, FILE *f);

static mf_status write_file(const mf_profile *p, const char *path, writer_fn w, const char *what)
{
    if (!p || !path)
        return mf_error(MF_ERR_INVALID, "profile: writing the %s: %s is NULL", what, p ? "path" : "profile");
    FILE *f = fopen(path, "w");
    if (!f)
        return mf_error(MF_ERR_IO, "profile: cannot write the %s to %s", what, path);
    mf_status s = w(p, f);
    if (fclose(f) && !s)
        s = mf_error(MF_ERR_IO, "profile: writing the %s to %s failed", what, path);
    return s;
}

mf_status mf_profile_write_trace(const mf_profile *p, const char *path)
{
    return write_file(p, path, mf_rt_prof_write_trace, "trace");
}

mf_status mf_profile_write_svg(const mf_profile *p, const char *path)
{
    return write_file(p, path, mf_rt_prof_write_svg, "timeline");
}

/* ---- machine limits: measured once per process, kept in the cache directory ------------ */

static pthread_mutex_t limits_mu = PTHREAD_MUTEX_INITIALIZER;
static mf_machine_limits limits; /* guarded by limits_mu */
static bool have_limits;

mf_status mf_machine_limits_get(mf_machine_limits *out)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "machine_limits_get: out is NULL");
    pthread_mutex_lock(&limits_mu);
    mf_status s = MF_OK;
    if (!have_limits) {
        const char *dir = mf_disk_dir();
        char path[4096];
        if (dir)
            snprintf(path, sizeof path, "%s/machine-limits.txt", dir);
        s = mf_rt_limits_get(dir ? path : NULL, &limits);
        have_limits = !s;
    }
    *out = limits;
    pthread_mutex_unlock(&limits_mu);
    return s;
}

mf_status mf_profile_print_summary(const mf_profile *p, FILE *f, int json)
{
    if (!p || !f)
        return mf_error(MF_ERR_INVALID, "profile_print_summary: NULL argument");
    mf_machine_limits lim;
    mf_rt_prof_summary sum;
    mf_status s = mf_machine_limits_get(&lim);
    if (!s)
        s = mf_rt_prof_summarize(p, &sum);
    if (s)
        return s;
    mf_rt_prof_print_summary(p, &sum, &lim, f, json);
    mf_rt_prof_summary_free(&sum);
    return ferror(f) ? mf_error(MF_ERR_IO, "profile: writing the summary failed") : MF_OK;
}

void mf_profile_get_stats(const mf_profile *p, mf_profile_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    mf_rt_prof_summary sum;
    if (!p || mf_rt_prof_summarize(p, &sum))
        return;
    out->events = p->nev;
    out->runs = (uint64_t)sum.runs;
    out->run_ms = (double)sum.run_ns / 1e6;
    out->gflop = sum.flops / 1e9;
    out->event_cost_ns = p->event_cost_ns;
    out->overhead_ms = (double)p->nev * p->event_cost_ns / 1e6;
    mf_rt_prof_summary_free(&sum);
}

/* ---- compile events ----------------------------------------------------------------------- */

static void record_made(const mf_graph *sub, const char *what, const mf_kernel *k, int64_t t0)
{
    mf_rt_prof_site site = {0};
    snprintf(site.name, sizeof site.name, "%s %s", k->loaded ? "load" : "compile", what);
    snprintf(site.key, sizeof site.key, "%s", k->key);
    char t[128];
    size_t n = 0;
    for (int i = 0; i < sub->ninputs && n < sizeof site.shapes; i++)
        n += (size_t)snprintf(site.shapes + n, sizeof site.shapes - n, "%s%s", i ? ", " : "",
                              mf_type_str(&sub->inputs[i]->type, t, sizeof t));
    mf_rt_prof_stop_transient(k->loaded ? MF_PROF_LOAD : MF_PROF_COMPILE, &site, t0);
}

mf_status mf_mod_cache_get(const mf_graph *sub, const mf_cache_options *co, const char *what,
                           const mf_kernel **out, bool *made)
{
    int64_t t0 = mf_rt_prof_start();
    bool made_here;
    mf_status s = mf_cache_get_ex(sub, co, out, &made_here);
    if (t0 && !s && made_here) /* in memory already: nothing was compiled or loaded */
        record_made(sub, what, *out, t0);
    if (made)
        *made = made_here;
    return s;
}

/* ---- MLUFUSE_PROFILE=FILE: the whole program ------------------------------------------- */

static const char *env_path;

/* At exit: the trace of everything the program ran.  There is no caller to return an error
 * to, so a failure is logged as a warning. */
static void write_env_profile(void)
{
    mf_profile *p;
    if (mf_rt_prof_end(&p))
        return; /* the program ended it itself */
    if (mf_profile_write_trace(p, env_path))
        mf_logf(MF_LOG_WARNING, "module", "MLUFUSE_PROFILE: %s", mf_last_error());
    mf_rt_prof_free(p);
}

__attribute__((constructor)) static void profile_from_env(void)
{
    const char *path = getenv("MLUFUSE_PROFILE");
    if (!path || !*path)
        return;
    env_path = path;
    if (!mf_rt_prof_begin())
        atexit(write_env_profile);
}
