/* profile_trace.c — a profile as Chrome trace-event JSON (the "JSON Object Format" that
 * Perfetto and chrome://tracing open): one process, one track (tid) per host thread, queue
 * and core; every event a complete ("X") event in microseconds from the profile's start,
 * with args naming the subgraph's ops, shapes, cache key prefix, FLOPs and bytes. */
#include <stdio.h>

#include "profiler.h"

const char *const mf_rt_prof_kind_names[MF_PROF_KIND_COUNT] = {
    [MF_PROF_RUN] = "run",       [MF_PROF_KERNEL] = "kernel", [MF_PROF_PART] = "partition",
    [MF_PROF_CPU_OP] = "cpu_op", [MF_PROF_COPY] = "copy",     [MF_PROF_COMPILE] = "compile",
    [MF_PROF_LOAD] = "load",
};

void mf_rt_prof_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void metadata(const struct mf_profile *p, FILE *f)
{
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,"
               "\"args\":{\"name\":\"mlufuse\"}}");
    for (int i = 0; i < p->ntracks; i++) {
        fprintf(f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":", i + 1);
        mf_rt_prof_json_str(f, p->tracks[i].name);
        fprintf(f, "}},\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,"
                   "\"args\":{\"sort_index\":%d}}", i + 1, p->tracks[i].sort);
    }
}

static void site_args(const mf_rt_prof_site *s, double dur_ns, FILE *f)
{
    fputs(",\"shapes\":", f);
    mf_rt_prof_json_str(f, s->shapes);
    if (s->ops) {
        fputs(",\"ops\":", f);
        mf_rt_prof_json_str(f, s->ops);
    }
    if (s->key[0])
        fprintf(f, ",\"key\":\"%s\"", s->key);
    fprintf(f, ",\"flops\":%.0f,\"bytes\":%.0f", s->flops, s->bytes);
    if (dur_ns > 0 && s->flops > 0)
        fprintf(f, ",\"gflops_per_s\":%.3f", s->flops / dur_ns);
    if (dur_ns > 0 && s->bytes > 0)
        fprintf(f, ",\"gb_per_s\":%.3f", s->bytes / dur_ns);
}

static void event_args(const struct mf_profile *p, const mf_rt_prof_event *e, FILE *f)
{
    const mf_rt_prof_site *s = e->site >= 0 ? &p->sites[e->site] : NULL;
    double dur = (double)(e->t1 - e->t0);
    fprintf(f, "\"args\":{\"kind\":\"%s\"", mf_rt_prof_kind_names[e->kind]);
    switch ((mf_rt_prof_kind)e->kind) {
    case MF_PROF_RUN:
        if (s)
            fprintf(f, ",\"steps\":%d,\"kernel_launches\":%d", s->nsteps, s->nkernels);
        break;
    case MF_PROF_COPY: fprintf(f, ",\"bytes\":%zu", e->bytes); break;
    case MF_PROF_COMPILE:
    case MF_PROF_LOAD:
        if (s) {
            fputs(",\"inputs\":", f);
            mf_rt_prof_json_str(f, s->shapes);
            fprintf(f, ",\"key\":\"%s\"", s->key);
        }
        break;
    case MF_PROF_PART:
        fprintf(f, ",\"part\":%d,\"nparts\":%d", e->part, e->nparts);
        if (s)
            site_args(s, 0, f); /* a partition does a share of the work */
        break;
    default:
        if (s)
            site_args(s, dur, f);
    }
    fputc('}', f);
}

static void event(const struct mf_profile *p, const mf_rt_prof_event *e, FILE *f)
{
    const mf_rt_prof_site *s = e->site >= 0 ? &p->sites[e->site] : NULL;
    fputs(",\n{\"name\":", f);
    mf_rt_prof_json_str(f, s && s->name[0] ? s->name : mf_rt_prof_kind_names[e->kind]); /* undescribed: its kind */
    fprintf(f, ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,\"tid\":%d,",
            mf_rt_prof_kind_names[e->kind], (double)(e->t0 - p->t_begin) / 1e3,
            (double)(e->t1 - e->t0) / 1e3, e->track + 1);
    event_args(p, e, f);
    fputc('}', f);
}

mf_status mf_rt_prof_write_trace(const struct mf_profile *p, FILE *f)
{
    fputs("{\"traceEvents\":[\n", f);
    metadata(p, f);
    for (size_t i = 0; i < p->nev; i++)
        event(p, &p->ev[i], f);
    fprintf(f, "\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{\"producer\":\"mlufuse\","
               "\"events\":%zu,\"dropped_events\":%zu,\"event_cost_ns\":%.1f,"
               "\"estimated_overhead_ms\":%.4f,\"duration_ms\":%.4f}}\n",
            p->nev, p->dropped, p->event_cost_ns, (double)p->nev * p->event_cost_ns / 1e6,
            (double)(p->t_end - p->t_begin) / 1e6);
    return ferror(f) ? mf_error(MF_ERR_IO, "profile: writing the trace failed") : MF_OK;
}
