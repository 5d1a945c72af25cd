/* profiler.h — the runtime's event collector (issue 17): while a profile is being collected,
 * plan runs, kernel launches and their partitions, CPU-fallback ops, layer-by-layer ops,
 * device/host copies and kernel compiles are recorded as timed events on tracks (host
 * threads, queues, cores).  The finished profile (struct mf_profile) is written as a Chrome
 * trace (profile_trace.c), drawn as SVG (profile_svg.c) and summarized per subgraph
 * (profile_summary.c).  When no profile is active every recording site costs one relaxed
 * atomic load and a branch. */
#ifndef MF_RUNTIME_PROFILER_H
#define MF_RUNTIME_PROFILER_H

#include <stdio.h>

#include "runtime.h"

typedef enum mf_rt_prof_kind {
    MF_PROF_RUN,     /* one run of a plan, or of the interpreter (layer by layer) */
    MF_PROF_KERNEL,  /* a kernel launch: all its partitions */
    MF_PROF_PART,    /* one partition of a launch, on its core's track */
    MF_PROF_CPU_OP,  /* a CPU-fallback op, or a layer-by-layer op on its reference kernel */
    MF_PROF_COPY,    /* a copy between device and host */
    MF_PROF_COMPILE, /* a kernel compiled during the profile */
    MF_PROF_LOAD,    /* a kernel loaded from the disk cache during the profile */
    MF_PROF_KIND_COUNT
} mf_rt_prof_kind;

/* What an event is: its name and the numbers the summary needs.  Plans keep one per step
 * (filled when the module builds the plan); the profiler copies a site into the profile the
 * first time an event names it, so plans may be freed before the profile ends. */
typedef struct mf_rt_prof_site {
    char name[96];    /* "subgraph 3 (conv2d+relu)", "cpu op 7 (concat)", "run @model" */
    char *ops;        /* malloc'd (owned by whoever owns the site): each op with its types */
    char shapes[192]; /* activation inputs -> outputs: "f32[1,64,56,56] -> f32[1,64,56,56]" */
    char key[17];     /* the kernel's cache key prefix; "" when none */
    double flops;     /* per call (ir/op_cost.c) */
    double bytes;     /* per call: every input (weights too) read once, every output written */
    int nsteps, nkernels; /* run sites: the plan's steps and kernel launches */
    int lanes;            /* kernels: f32 lanes of the target compiled for; 0: the host's */
    /* The profiler's, under its lock: the profile this site was copied into, and where. */
    uint64_t session;
    int index;
} mf_rt_prof_site;

typedef struct mf_rt_prof_track {
    char name[64]; /* "host thread 1", "mlu:0 default queue", "mlu:0 core 2" */
    int dev, core; /* core tracks: the device and core (mf_rt_pool_core); -1 for threads and queues */
    int sort;
} mf_rt_prof_track;

typedef struct mf_rt_prof_event {
    int64_t t0, t1; /* CLOCK_MONOTONIC nanoseconds */
    int site, track;
    short kind, part, nparts; /* part, nparts: partitions only (a call of a nested launch) */
    short width;              /* partitions: the launch's core_number */
    int launch;               /* partitions: which launch (numbered per profile) */
    size_t bytes;             /* copies: bytes moved */
} mf_rt_prof_event;

/* A profile: collected between mf_rt_prof_begin and mf_rt_prof_end, then read-only. */
struct mf_profile {
    uint64_t id;
    int64_t t_begin, t_end;
    double event_cost_ns; /* measured at begin: what recording one event costs */
    int ncpus;            /* online CPUs when the profile began */
    mf_rt_prof_event *ev;
    size_t nev, cap_ev, dropped; /* dropped: events lost to out-of-memory */
    mf_rt_prof_site *sites;      /* copies; ops owned by the profile */
    int nsites, cap_sites;
    int *table; /* open addressing over sites by content: index + 1, 0 empty */
    int table_cap;
    mf_rt_prof_track *tracks;
    int ntracks, cap_tracks;
    int nlaunches;
};

extern atomic_bool mf_rt_prof_active;

static inline bool mf_rt_prof_on(void)
{
    return atomic_load_explicit(&mf_rt_prof_active, memory_order_relaxed);
}

int64_t mf_rt_prof_now(void);
/* Starts a span: 0 when no profile is active (then mf_rt_prof_stop does nothing). */
static inline int64_t mf_rt_prof_start(void)
{
    return mf_rt_prof_on() ? mf_rt_prof_now() : 0;
}

/* Starts collecting; MF_ERR_INVALID when a profile is already being collected. */
mf_status mf_rt_prof_begin(void);
/* Stops collecting; *out gets the profile (free with mf_rt_prof_free).  MF_ERR_INVALID when
 * none was begun. */
mf_status mf_rt_prof_end(struct mf_profile **out);
void mf_rt_prof_free(struct mf_profile *p);

/* Records the span [t0, now) of site on the calling thread's track (t0 from
 * mf_rt_prof_start; nothing when it is 0).  Thread-safe; site->session/index are updated
 * under the profiler's lock. */
void mf_rt_prof_stop(mf_rt_prof_kind kind, const mf_rt_prof_site *site, int64_t t0);
/* The same for a site that lives only for the call (layer-by-layer ops, compiles): it is
 * matched by content (name, shapes, ops) with the sites seen before. */
void mf_rt_prof_stop_transient(mf_rt_prof_kind kind, const mf_rt_prof_site *site, int64_t t0);
/* A copy of n bytes between two devices, from t0 to now. */
void mf_rt_prof_copy(mf_device dst, mf_device src, size_t n, int64_t t0);
/* A profiled kernel launch: as mf_rt_launch_sync (mf_rt_launch_nested when `nested`),
 * recording the launch on the calling thread's track and each partition on the track of the
 * core that ran it (mf_rt_pool_core). */
mf_status mf_rt_prof_launch(mf_device dev, const mf_rt_prof_site *site, mf_rt_kernel_fn fn,
                            void *const *args, int core_number, bool nested);

/* Fills s for one op: name = the op's name, ops = "op(in types) -> out type" (in buf of
 * cap bytes, which s->ops then points to), shapes, flops and bytes. */
void mf_rt_prof_op_site(mf_rt_prof_site *s, mf_op op, const mf_attr *attrs, int nin,
                        const mf_type *in, const mf_type *out, char *buf, size_t cap);

/* ---- reading a profile (profile_trace.c, profile_svg.c, profile_summary.c) ---------- */

extern const char *const mf_rt_prof_kind_names[MF_PROF_KIND_COUNT];

/* The Chrome trace-event JSON of p (Perfetto and chrome://tracing open it). */
mf_status mf_rt_prof_write_trace(const struct mf_profile *p, FILE *f);
/* The timeline of p's last run as SVG: one row per core (and per thread that ran ops),
 * kernels as bars coloured and named by their ops. */
mf_status mf_rt_prof_write_svg(const struct mf_profile *p, FILE *f);

/* s as a JSON string, quoted and escaped (the trace and the summary's --json). */
void mf_rt_prof_json_str(FILE *f, const char *s);

/* This machine's ceilings (machine_limits.c), for the summary's fractions. */
/* Measures the ceilings (about half a second), or reads them from path when it holds a
 * measurement of this CPU and ISA; writes them there after measuring (path NULL: neither). */
mf_status mf_rt_limits_get(const char *path, mf_machine_limits *out);
/* The FMA peak of code with that many f32 lanes (16, 8, 4 or 1) measured now as the cached
 * one is (the best of 60 runs of about half a millisecond: the core's best clock of those
 * 30 ms), in GFLOP/s; 0 when the host cannot run such code.  For benchmarks that report
 * fractions of a peak measured in the same run. */
double mf_rt_limits_peak_now(int lanes);
/* One sample of that peak: the FMA loop run for about `seconds` (0 to 60) of this thread's
 * CPU time, in GFLOP/s (0 as above, or when the thread's clock fails).  Taken right after a
 * kernel's runs and about as long, it measures the clock the core ran at just then (a VM's
 * clock moves in steps of 100 MHz, and dense AVX-512 code lowers it for a millisecond or more
 * after it ends; the FMA loop alone lowers it less, so a long sample drifts back up). */
double mf_rt_limits_peak_sample(int lanes, double seconds);

typedef struct mf_rt_prof_row {
    const mf_rt_prof_site *site;
    mf_rt_prof_kind kind;
    int64_t calls, total_ns;
    double imbalance; /* mean over launches of (busiest core / mean core) - 1: cores' time in partitions */
    int nparts;       /* the largest core_number launched */
} mf_rt_prof_row;

typedef struct mf_rt_prof_summary {
    mf_rt_prof_row *rows; /* kernels and CPU ops, by total time, longest first */
    int nrows;
    int64_t runs, run_ns;
    int64_t copies[2], copy_ns[2]; /* [0] inside runs, [1] outside (uploads, results read) */
    size_t copy_bytes[2];
    double flops; /* of every row's calls */
} mf_rt_prof_summary;

mf_status mf_rt_prof_summarize(const struct mf_profile *p, mf_rt_prof_summary *out);
void mf_rt_prof_summary_free(mf_rt_prof_summary *s);
/* The summary as a text table or as one JSON object. */
void mf_rt_prof_print_summary(const struct mf_profile *p, const mf_rt_prof_summary *s,
                              const mf_machine_limits *lim, FILE *f, bool json);

#endif /* MF_RUNTIME_PROFILER_H */
