/* profiler.c — collecting a profile: one process-wide session at a time, guarded by one
 * mutex (a documented registry, like the device table).  Events go into a growing array;
 * sites are copied into the profile on first sight, so an event costs two clock reads, a
 * lock and an append.  Tracks are made on demand: one per host thread or queue thread
 * (remembered in a thread-local), one per core (partition index) of each device. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiler.h"
#include "rt_internal.h"

atomic_bool mf_rt_prof_active;

static pthread_mutex_t prof_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mf_profile *cur;  /* guarded by prof_mu */
static uint64_t next_id = 1;    /* guarded by prof_mu */
static int next_thread, next_queue; /* track numbering of the current profile */

static _Thread_local uint64_t tl_session;
static _Thread_local int tl_track;

int64_t mf_rt_prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- growing arrays (prof_mu held) ---------------------------------------------------- */

static bool grow(void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return true;
    int nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

static mf_rt_prof_event *new_event(struct mf_profile *p)
{
    if (p->nev == p->cap_ev) {
        size_t nc = p->cap_ev ? p->cap_ev * 2 : 4096;
        mf_rt_prof_event *e = realloc(p->ev, nc * sizeof *e);
        if (!e) {
            p->dropped++;
            return NULL;
        }
        p->ev = e;
        p->cap_ev = nc;
    }
    return &p->ev[p->nev++];
}

static int new_track(struct mf_profile *p, const char *name, int dev, int core, int sort)
{
    if (!grow((void **)&p->tracks, &p->cap_tracks, p->ntracks, sizeof *p->tracks))
        return -1;
    mf_rt_prof_track *t = &p->tracks[p->ntracks];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dev = dev;
    t->core = core;
    t->sort = sort;
    return p->ntracks++;
}

/* The calling thread's track: its queue's when it runs one, else a host thread's. */
static int thread_track(struct mf_profile *p)
{
    if (tl_session == p->id)
        return tl_track;
    char name[64];
    mf_queue *q = mf_rt_queue_running();
    int sort;
    if (q) {
        if (mf_rt_queue_is_default(q))
            snprintf(name, sizeof name, "mlu:%d default queue", mf_queue_device(q));
        else
            snprintf(name, sizeof name, "mlu:%d queue %d", mf_queue_device(q), ++next_queue);
        sort = 1000 + next_queue;
    } else {
        snprintf(name, sizeof name, "host thread %d", ++next_thread);
        sort = next_thread;
    }
    int t = new_track(p, name, -1, -1, sort);
    if (t >= 0) {
        tl_session = p->id;
        tl_track = t;
    }
    return t;
}

static int core_track(struct mf_profile *p, int dev, int core)
{
    for (int i = 0; i < p->ntracks; i++)
        if (p->tracks[i].dev == dev && p->tracks[i].core == core)
            return i;
    char name[64];
    snprintf(name, sizeof name, "mlu:%d core %d", dev, core);
    return new_track(p, name, dev, core, 2000 + dev * 100 + core);
}

/* ---- sites (prof_mu held) -------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static uint64_t site_hash(const mf_rt_prof_site *s)
{
    return fnv(fnv(fnv(14695981039346656037u, s->name), s->shapes), s->ops);
}

static bool same_site(const mf_rt_prof_site *a, const mf_rt_prof_site *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->shapes, b->shapes) &&
           !strcmp(a->ops ? a->ops : "", b->ops ? b->ops : "");
}

/* Copies s into the profile (its ops string too); -1 when out of memory. */
static int copy_site(struct mf_profile *p, const mf_rt_prof_site *s)
{
    if (!grow((void **)&p->sites, &p->cap_sites, p->nsites, sizeof *p->sites))
        return -1;
    mf_rt_prof_site *c = &p->sites[p->nsites];
    *c = *s;
    c->ops = s->ops ? strdup(s->ops) : NULL;
    if (s->ops && !c->ops)
        return -1;
    c->session = p->id;
    c->index = p->nsites;
    return p->nsites++;
}

static bool table_insert(struct mf_profile *p, int index)
{
    if (2 * (p->nsites + 1) > p->table_cap) { /* rehash at half full */
        int nc = p->table_cap ? p->table_cap * 2 : 256;
        int *t = calloc((size_t)nc, sizeof *t);
        if (!t)
            return false;
        for (int i = 0; i < p->table_cap; i++) {
            if (!p->table[i])
                continue;
            size_t h = site_hash(&p->sites[p->table[i] - 1]) % (size_t)nc;
            while (t[h])
                h = (h + 1) % (size_t)nc;
            t[h] = p->table[i];
        }
        free(p->table);
        p->table = t;
        p->table_cap = nc;
    }
    size_t h = site_hash(&p->sites[index]) % (size_t)p->table_cap;
    while (p->table[h])
        h = (h + 1) % (size_t)p->table_cap;
    p->table[h] = index + 1;
    return true;
}

static int intern_by_content(struct mf_profile *p, const mf_rt_prof_site *s)
{
    if (p->table_cap) {
        size_t h = site_hash(s) % (size_t)p->table_cap;
        for (; p->table[h]; h = (h + 1) % (size_t)p->table_cap)
            if (same_site(&p->sites[p->table[h] - 1], s))
                return p->table[h] - 1;
    }
    int i = copy_site(p, s);
    if (i >= 0 && !table_insert(p, i))
        return -1;
    return i;
}

/* A plan's site: copied once per profile, then found by the index it keeps. */
static int intern(struct mf_profile *p, const mf_rt_prof_site *site)
{
    mf_rt_prof_site *s = (mf_rt_prof_site *)site; /* the bookkeeping fields are ours */
    if (s->session == p->id)
        return s->index;
    int i = intern_by_content(p, s);
    if (i >= 0) {
        s->session = p->id;
        s->index = i;
    }
    return i;
}

/* ---- recording ------------------------------------------------------------------------- */

static mf_rt_prof_event *add(struct mf_profile *p, mf_rt_prof_kind kind, int site, int track,
                             int64_t t0, int64_t t1)
{
    mf_rt_prof_event *e = track < 0 ? NULL : new_event(p);
    if (e)
        *e = (mf_rt_prof_event){t0, t1, site, track, (short)kind, 0, 0, 0, 0, 0};
    return e;
}

void mf_rt_prof_stop(mf_rt_prof_kind kind, const mf_rt_prof_site *site, int64_t t0)
{
    if (!t0)
        return;
    int64_t t1 = mf_rt_prof_now();
    pthread_mutex_lock(&prof_mu);
    if (cur)
        add(cur, kind, site ? intern(cur, site) : -1, thread_track(cur), t0, t1);
    pthread_mutex_unlock(&prof_mu);
}

void mf_rt_prof_stop_transient(mf_rt_prof_kind kind, const mf_rt_prof_site *site, int64_t t0)
{
    if (!t0)
        return;
    int64_t t1 = mf_rt_prof_now();
    pthread_mutex_lock(&prof_mu);
    if (cur)
        add(cur, kind, intern_by_content(cur, site), thread_track(cur), t0, t1);
    pthread_mutex_unlock(&prof_mu);
}

void mf_rt_prof_copy(mf_device dst, mf_device src, size_t n, int64_t t0)
{
    if (!t0)
        return;
    int64_t t1 = mf_rt_prof_now();
    mf_rt_prof_site s = {.bytes = (double)n};
    if (dst.type == MF_CPU)
        snprintf(s.name, sizeof s.name, "copy mlu:%d -> host", src.index);
    else if (src.type == MF_CPU)
        snprintf(s.name, sizeof s.name, "copy host -> mlu:%d", dst.index);
    else
        snprintf(s.name, sizeof s.name, "copy mlu:%d -> mlu:%d", src.index, dst.index);
    pthread_mutex_lock(&prof_mu);
    mf_rt_prof_event *e = cur ? add(cur, MF_PROF_COPY, intern_by_content(cur, &s), thread_track(cur), t0, t1) : NULL;
    if (e)
        e->bytes = n;
    pthread_mutex_unlock(&prof_mu);
}

/* ---- launches: each partition timed on the core that ran it --------------------------- */

typedef struct part_ctx {
    mf_rt_kernel_fn fn;
    void *const *args;
    uint64_t session;
    int site, dev, launch, width;
} part_ctx;

static void timed_part(void *const *box, int64_t part, int64_t nparts)
{
    const part_ctx *c = box[0];
    int64_t t0 = mf_rt_prof_now();
    c->fn(c->args, part, nparts);
    int64_t t1 = mf_rt_prof_now();
    pthread_mutex_lock(&prof_mu);
    mf_rt_prof_event *e = NULL;
    if (cur && cur->id == c->session) {
        int track = core_track(cur, c->dev, mf_rt_pool_core());
        if (track >= 0 && (e = new_event(cur)))
            *e = (mf_rt_prof_event){t0, t1, c->site, track, MF_PROF_PART, (short)part, (short)nparts,
                                    (short)c->width, c->launch, 0};
    }
    pthread_mutex_unlock(&prof_mu);
}

mf_status mf_rt_prof_launch(mf_device dev, const mf_rt_prof_site *site, mf_rt_kernel_fn fn,
                            void *const *args, int core_number, bool nested)
{
    mf_status (*run)(mf_device, mf_rt_kernel_fn, void *const *, int) =
        nested ? mf_rt_launch_nested : mf_rt_launch_sync;
    part_ctx c = {fn, args, 0, -1, dev.index, 0, core_number};
    pthread_mutex_lock(&prof_mu);
    if (cur) {
        c.session = cur->id;
        c.site = intern(cur, site);
        c.launch = cur->nlaunches++;
    }
    pthread_mutex_unlock(&prof_mu);
    if (!c.session)
        return run(dev, fn, args, core_number);
    void *box[1] = {&c};
    int64_t t0 = mf_rt_prof_now();
    mf_status s = run(dev, timed_part, box, core_number);
    mf_rt_prof_stop(MF_PROF_KERNEL, site, t0);
    return s;
}

/* ---- sessions ---------------------------------------------------------------------------- */

/* What one event costs to record, measured by recording some into a scratch profile that is
 * then dropped: the trace states it, so the overhead of a profile can be read off it. */
static double measure_event_cost(void)
{
    enum { N = 512 };
    mf_rt_prof_site s = {.name = "calibration"};
    int64_t t0 = mf_rt_prof_now();
    for (int i = 0; i < N; i++)
        mf_rt_prof_stop(MF_PROF_CPU_OP, &s, mf_rt_prof_start());
    int64_t t1 = mf_rt_prof_now();
    return (double)(t1 - t0) / N;
}

/* Publishes p as the profile being collected (prof_mu held). */
static void publish(struct mf_profile *p)
{
    p->id = next_id++;
    p->ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    p->t_begin = mf_rt_prof_now();
    next_thread = next_queue = 0;
    cur = p;
    atomic_store(&mf_rt_prof_active, true);
}

mf_status mf_rt_prof_begin(void)
{
    struct mf_profile *p = calloc(1, sizeof *p), *scratch = calloc(1, sizeof *scratch);
    if (!p || !scratch) {
        free(p);
        free(scratch);
        return mf_error(MF_ERR_NOMEM, "profile_begin: out of memory");
    }
    pthread_mutex_lock(&prof_mu);
    if (cur) {
        pthread_mutex_unlock(&prof_mu);
        free(p);
        free(scratch);
        return mf_error(MF_ERR_INVALID, "profile_begin: a profile is already being collected "
                                        "(MLUFUSE_PROFILE, or a begin without an end)");
    }
    publish(scratch);
    pthread_mutex_unlock(&prof_mu);
    double cost = measure_event_cost();
    pthread_mutex_lock(&prof_mu);
    bool ended = cur != scratch; /* another thread's end took the scratch profile */
    if (!ended) {
        p->event_cost_ns = cost;
        publish(p); /* events other threads recorded meanwhile go with the scratch profile */
    }
    pthread_mutex_unlock(&prof_mu);
    if (ended) {
        free(p);
        return mf_error(MF_ERR_INVALID, "profile_begin: another thread ended the profile as it began");
    }
    mf_rt_prof_free(scratch);
    return MF_OK;
}

mf_status mf_rt_prof_end(struct mf_profile **out)
{
    if (!out)
        return mf_error(MF_ERR_INVALID, "profile_end: out is NULL");
    *out = NULL;
    pthread_mutex_lock(&prof_mu);
    struct mf_profile *p = cur;
    cur = NULL;
    atomic_store(&mf_rt_prof_active, false);
    pthread_mutex_unlock(&prof_mu);
    if (!p)
        return mf_error(MF_ERR_INVALID, "profile_end: no profile is being collected");
    p->t_end = mf_rt_prof_now();
    *out = p;
    return MF_OK;
}

void mf_rt_prof_free(struct mf_profile *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsites; i++)
        free(p->sites[i].ops);
    free(p->sites);
    free(p->table);
    free(p->tracks);
    free(p->ev);
    free(p);
}

/* ---- describing one op ------------------------------------------------------------------- */

void mf_rt_prof_op_site(mf_rt_prof_site *s, mf_op op, const mf_attr *attrs, int nin,
                        const mf_type *in, const mf_type *out, char *buf, size_t cap)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", mf_op_get(op)->name);
    size_t n = (size_t)snprintf(buf, cap, "%s(", mf_op_get(op)->name);
    char t[128];
    for (int i = 0; i < nin; i++) {
        s->bytes += (double)mf_type_nbytes(&in[i]);
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", mf_type_str(&in[i], t, sizeof t));
    }
    if (n < cap)
        snprintf(buf + n, cap - n, ") -> %s", mf_type_str(out, t, sizeof t));
    s->ops = buf;
    char a[128];
    snprintf(s->shapes, sizeof s->shapes, "%s -> %s", nin ? mf_type_str(&in[0], a, sizeof a) : "()",
             mf_type_str(out, t, sizeof t));
    s->bytes += (double)mf_type_nbytes(out);
    s->flops = mf_op_flops(op, attrs, nin, in, out);
}
