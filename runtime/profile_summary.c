/* profile_summary.c — a profile read per subgraph: for each kernel (and CPU op) site, its
 * calls, total time and share of the runs, the GFLOP/s and GB/s it reached against the
 * machine's FMA peak and measured bandwidth, which of the two its arithmetic intensity puts
 * it nearer to (the roofline's ridge point), and how unevenly its cores were busy. */
#include <stdlib.h>
#include <string.h>

#include "profiler.h"

typedef struct part_time {
    int launch, site, track, width;
    int64_t ns;
} part_time;

static int by_launch(const void *a, const void *b)
{
    const part_time *x = a, *y = b;
    return (x->launch > y->launch) - (x->launch < y->launch);
}

#define MAX_CORES 64 /* core tracks of one launch that the imbalance tells apart */

/* Imbalance per site: over its launches, the busiest core's time in the launch's partitions
 * over the mean of the cores it had (min(core_number, online CPUs): a core that ran nothing
 * counts, with 0), less 1.  By core, not by partition: a nested launch's partitions differ in
 * size (runtime/core_pool.c). */
static mf_status imbalance(const struct mf_profile *p, mf_rt_prof_row *by_site)
{
    part_time *pt = malloc(sizeof *pt * (p->nev + 1));
    if (!pt)
        return mf_error(MF_ERR_NOMEM, "profile summary: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].kind == MF_PROF_PART && p->ev[i].site >= 0)
            pt[n++] = (part_time){p->ev[i].launch, p->ev[i].site, p->ev[i].track, p->ev[i].width,
                                  p->ev[i].t1 - p->ev[i].t0};
    qsort(pt, n, sizeof *pt, by_launch);
    int *launches = calloc((size_t)p->nsites + 1, sizeof *launches);
    for (size_t i = 0, j; launches && i < n; i = j) {
        int tracks[MAX_CORES], ncores = 0;
        int64_t busy[MAX_CORES] = {0}, sum = 0, max = 0;
        for (j = i; j < n && pt[j].launch == pt[i].launch; j++) {
            int c = 0;
            while (c < ncores && tracks[c] != pt[j].track)
                c++;
            if (c == ncores && ncores < MAX_CORES)
                tracks[ncores++] = pt[j].track;
            if (c < ncores)
                busy[c] += pt[j].ns;
            sum += pt[j].ns;
        }
        for (int c = 0; c < ncores; c++)
            max = busy[c] > max ? busy[c] : max;
        mf_rt_prof_row *r = &by_site[pt[i].site];
        int width = pt[i].width, cores = width < p->ncpus ? width : p->ncpus;
        r->nparts = width > r->nparts ? width : r->nparts;
        if (sum > 0 && cores > 1)
            r->imbalance += (double)max * cores / (double)sum - 1;
        launches[pt[i].site]++;
    }
    for (int i = 0; launches && i < p->nsites; i++)
        if (launches[i])
            by_site[i].imbalance /= launches[i];
    free(launches);
    free(pt);
    return MF_OK;
}

static int by_total(const void *a, const void *b)
{
    const mf_rt_prof_row *x = a, *y = b;
    return (x->total_ns < y->total_ns) - (x->total_ns > y->total_ns);
}

static int by_start(const void *a, const void *b)
{
    const mf_rt_prof_event *x = *(const mf_rt_prof_event *const *)a, *y = *(const mf_rt_prof_event *const *)b;
    return (x->t0 > y->t0) - (x->t0 < y->t0);
}

/* Whether e lies inside one of the runs (sorted by start): the latest runs that started
 * before it are searched for one on its track that contains it. */
static bool in_a_run(const mf_rt_prof_event *e, const mf_rt_prof_event *const *runs, size_t n)
{
    size_t lo = 0, hi = n; /* the first run starting after e */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (runs[mid]->t0 <= e->t0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo, seen = 0; k-- > 0 && seen < 64; seen++)
        if (runs[k]->track == e->track && e->t1 <= runs[k]->t1)
            return true;
    return false;
}

static mf_status count_copies(const struct mf_profile *p, mf_rt_prof_summary *s)
{
    const mf_rt_prof_event **runs = malloc(sizeof *runs * (p->nev + 1));
    if (!runs)
        return mf_error(MF_ERR_NOMEM, "profile summary: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].kind == MF_PROF_RUN)
            runs[n++] = &p->ev[i];
    qsort(runs, n, sizeof *runs, by_start);
    for (size_t i = 0; i < p->nev; i++) {
        const mf_rt_prof_event *e = &p->ev[i];
        if (e->kind != MF_PROF_COPY)
            continue;
        int outside = !in_a_run(e, runs, n);
        s->copies[outside]++;
        s->copy_ns[outside] += e->t1 - e->t0;
        s->copy_bytes[outside] += e->bytes;
    }
    free(runs);
    return MF_OK;
}

static void count(const struct mf_profile *p, mf_rt_prof_row *by_site, mf_rt_prof_summary *s)
{
    for (size_t i = 0; i < p->nev; i++) {
        const mf_rt_prof_event *e = &p->ev[i];
        int64_t ns = e->t1 - e->t0;
        if (e->kind == MF_PROF_RUN) {
            s->runs++;
            s->run_ns += ns;
        } else if ((e->kind == MF_PROF_KERNEL || e->kind == MF_PROF_CPU_OP) && e->site >= 0) {
            mf_rt_prof_row *r = &by_site[e->site];
            r->site = &p->sites[e->site];
            r->kind = (mf_rt_prof_kind)e->kind;
            r->calls++;
            r->total_ns += ns;
            s->flops += r->site->flops;
        }
    }
}

mf_status mf_rt_prof_summarize(const struct mf_profile *p, mf_rt_prof_summary *out)
{
    memset(out, 0, sizeof *out);
    mf_rt_prof_row *by_site = calloc((size_t)p->nsites + 1, sizeof *by_site);
    if (!by_site)
        return mf_error(MF_ERR_NOMEM, "profile summary: out of memory");
    count(p, by_site, out);
    mf_status s = imbalance(p, by_site);
    if (!s)
        s = count_copies(p, out);
    if (s) {
        free(by_site);
        return s;
    }
    int n = 0;
    for (int i = 0; i < p->nsites; i++)
        if (by_site[i].calls)
            by_site[n++] = by_site[i];
    qsort(by_site, (size_t)n, sizeof *by_site, by_total);
    out->rows = by_site;
    out->nrows = n;
    return MF_OK;
}

void mf_rt_prof_summary_free(mf_rt_prof_summary *s)
{
    free(s->rows);
    s->rows = NULL;
}

/* ---- printing ----------------------------------------------------------------------------- */

typedef struct row_figures {
    double ms, share, gflops, peak_frac, gbs, bw_frac, intensity;
    const char *bound;
} row_figures;

/* One core's peak for code of a target with that many lanes (0: the host's widest). */
static double core_peak(const mf_machine_limits *lim, int lanes)
{
    if (lanes > 0 && lanes <= 16 && lim->peak_by_lanes[lanes] > 0)
        return lim->peak_by_lanes[lanes];
    return lim->peak_gflops;
}

static row_figures figures(const struct mf_profile *p, const mf_rt_prof_summary *s,
                           const mf_rt_prof_row *r, const mf_machine_limits *lim)
{
    row_figures f = {0};
    double ns = (double)r->total_ns, calls = (double)r->calls;
    int cores = r->nparts > 1 ? (r->nparts < p->ncpus ? r->nparts : p->ncpus) : 1;
    double peak = core_peak(lim, r->site->lanes) * cores;
    f.ms = ns / 1e6;
    f.share = s->run_ns ? ns / (double)s->run_ns : 0;
    f.gflops = ns > 0 ? r->site->flops * calls / ns : 0;
    f.gbs = ns > 0 ? r->site->bytes * calls / ns : 0;
    f.peak_frac = peak > 0 ? f.gflops / peak : 0;
    f.bw_frac = lim->bandwidth_gbs > 0 ? f.gbs / lim->bandwidth_gbs : 0;
    f.intensity = r->site->bytes > 0 ? r->site->flops / r->site->bytes : 0;
    double ridge = lim->bandwidth_gbs > 0 ? peak / lim->bandwidth_gbs : 0;
    f.bound = f.intensity >= ridge ? "compute" : "memory";
    return f;
}

static void print_json(const struct mf_profile *p, const mf_rt_prof_summary *s,
                       const mf_machine_limits *lim, FILE *f)
{
    double runs = s->runs ? (double)s->runs : 1;
    fputs("{\"cpu\": ", f);
    mf_rt_prof_json_str(f, lim->cpu);
    fprintf(f, ", \"isa\": \"%s\", \"peak_gflops_per_core\": %.2f, \"bandwidth_gbs\": %.2f, "
               "\"runs\": %lld, \"run_ms\": %.4f, \"ms_per_run\": %.4f, \"gflop_per_run\": %.4f, "
               "\"flops_per_run\": %.0f, "
               "\"copies_in_runs\": %lld, \"copy_ms_in_runs\": %.4f, \"copy_bytes_in_runs\": %zu, "
               "\"copies_outside_runs\": %lld, \"copy_ms_outside_runs\": %.4f, "
               "\"copy_bytes_outside_runs\": %zu, \"events\": %zu, "
               "\"event_cost_ns\": %.1f, \"estimated_overhead_ms\": %.4f, \"subgraphs\": [",
            lim->isa, lim->peak_gflops, lim->bandwidth_gbs, (long long)s->runs, (double)s->run_ns / 1e6,
            (double)s->run_ns / 1e6 / runs, s->flops / 1e9 / runs, s->flops / runs, (long long)s->copies[0],
            (double)s->copy_ns[0] / 1e6, s->copy_bytes[0], (long long)s->copies[1], (double)s->copy_ns[1] / 1e6,
            s->copy_bytes[1], p->nev, p->event_cost_ns,
            (double)p->nev * p->event_cost_ns / 1e6);
    for (int i = 0; i < s->nrows; i++) {
        const mf_rt_prof_row *r = &s->rows[i];
        row_figures x = figures(p, s, r, lim);
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        mf_rt_prof_json_str(f, r->site->name);
        fputs(", \"shapes\": ", f);
        mf_rt_prof_json_str(f, r->site->shapes);
        fprintf(f, ", \"kind\": \"%s\", \"key\": \"%s\", \"calls\": %lld, \"total_ms\": %.4f, "
                   "\"share\": %.4f, \"flops\": %.0f, \"bytes\": %.0f, \"gflops_per_s\": %.3f, "
                   "\"peak_fraction\": %.4f, \"gb_per_s\": %.3f, \"bandwidth_fraction\": %.4f, "
                   "\"intensity\": %.3f, \"bound\": \"%s\", \"partitions\": %d, \"imbalance\": %.4f, "
                   "\"target_lanes\": %d, \"target_peak_gflops_per_core\": %.2f}",
                mf_rt_prof_kind_names[r->kind], r->site->key, (long long)r->calls, x.ms, x.share,
                r->site->flops, r->site->bytes, x.gflops, x.peak_frac, x.gbs, x.bw_frac, x.intensity,
                x.bound, r->nparts ? r->nparts : 1, r->imbalance, r->site->lanes,
                core_peak(lim, r->site->lanes));
    }
    fputs("]}", f);
}

static void print_text(const struct mf_profile *p, const mf_rt_prof_summary *s,
                       const mf_machine_limits *lim, FILE *f)
{
    double runs = s->runs ? (double)s->runs : 1, run_ms = (double)s->run_ns / 1e6;
    double over = (double)p->nev * p->event_cost_ns / 1e6;
    fprintf(f, "profile: %lld runs, %.3f ms a run, %.4f GFLOP a run\n", (long long)s->runs, run_ms / runs,
            s->flops / 1e9 / runs);
    fprintf(f, "copies: %lld in runs (%.3f ms, %zu bytes), %lld outside (uploads, results read: %.3f ms, "
               "%zu bytes)\n", (long long)s->copies[0], (double)s->copy_ns[0] / 1e6, s->copy_bytes[0],
            (long long)s->copies[1], (double)s->copy_ns[1] / 1e6, s->copy_bytes[1]);
    fprintf(f, "machine: %s, %s: FMA peak %.1f GFLOP/s a core, bandwidth %.1f GB/s (%s)\n", lim->cpu,
            lim->isa, lim->peak_gflops, lim->bandwidth_gbs, lim->from_cache ? "cached" : "measured now");
    fprintf(f, "peak by target:");
    for (int lanes = 16; lanes >= 1; lanes--)
        if (lim->peak_by_lanes[lanes] > 0)
            fprintf(f, " %d lane%s %.1f", lanes, lanes > 1 ? "s" : "", lim->peak_by_lanes[lanes]);
    fprintf(f, " GFLOP/s a core (each kernel against its target's)\n");
    fprintf(f, "profiler: %zu events at %.0f ns each: ~%.3f ms (%.2f %% of the run time)\n", p->nev,
            p->event_cost_ns, over, run_ms > 0 ? 100 * over / run_ms : 0);
    fprintf(f, "%6s %9s %6s %8s %6s %7s %6s %7s %5s  %s\n", "time%", "total ms", "calls", "GFLOP/s",
            "%peak", "GB/s", "%bw", "bound", "imbal", "subgraph: shapes");
    for (int i = 0; i < s->nrows; i++) {
        const mf_rt_prof_row *r = &s->rows[i];
        row_figures x = figures(p, s, r, lim);
        char imb[16] = "-";
        if (r->nparts > 1)
            snprintf(imb, sizeof imb, "%.0f%%", 100 * r->imbalance);
        fprintf(f, "%6.1f %9.3f %6lld %8.1f %6.1f %7.2f %6.1f %7s %5s  %s: %s\n", 100 * x.share, x.ms,
                (long long)r->calls, x.gflops, 100 * x.peak_frac, x.gbs, 100 * x.bw_frac, x.bound, imb,
                r->site->name, r->site->shapes);
    }
}

void mf_rt_prof_print_summary(const struct mf_profile *p, const mf_rt_prof_summary *s,
                              const mf_machine_limits *lim, FILE *f, bool json)
{
    if (json)
        print_json(p, s, lim, f);
    else
        print_text(p, s, lim, f);
}
