/* profile_svg.c — the timeline of a profile's last run as an SVG picture: one row per core
 * (the partitions of kernel launches) and per thread or queue that ran CPU ops, layer-by-layer
 * ops or copies; each event a bar coloured by its ops (the same subgraph kind, the same
 * colour), named inside when it is wide enough, with a tooltip (<title>) giving the full
 * name, shapes and duration; a time axis in milliseconds on top, a legend of the colours
 * below. */
#include <stdio.h>
#include <string.h>

#include "profiler.h"

#define WIDTH 1400
#define LEFT 150 /* the row labels */
#define TOP 40   /* the axis */
#define ROW 26
#define BAR 20
#define LEGEND 16 /* one legend line */
#define MAX_KEYS 24

/* The window drawn: the last run, or the whole profile when there was none. */
static void window(const struct mf_profile *p, int64_t *t0, int64_t *t1)
{
    const mf_rt_prof_event *last = NULL;
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].kind == MF_PROF_RUN && (!last || p->ev[i].t0 > last->t0))
            last = &p->ev[i];
    *t0 = last ? last->t0 : p->t_begin;
    *t1 = last ? last->t1 : p->t_end;
    if (*t1 <= *t0)
        *t1 = *t0 + 1;
}

/* "run @model" for the last run drawn, "profile" when there was no run. */
static const char *window_title(const struct mf_profile *p, int64_t t0)
{
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].kind == MF_PROF_RUN && p->ev[i].t0 == t0 && p->ev[i].site >= 0)
            return p->sites[p->ev[i].site].name;
    return "profile";
}

static bool is_queue(const mf_rt_prof_track *t)
{
    return t->sort >= 1000 && t->sort < 2000;
}

/* Partitions on cores; CPU ops, copies and (on queues) layer-by-layer kernels on threads.
 * A plan's launch is not drawn on its thread: its partitions show it. */
static bool drawn(const struct mf_profile *p, const mf_rt_prof_event *e)
{
    switch ((mf_rt_prof_kind)e->kind) {
    case MF_PROF_PART:
    case MF_PROF_CPU_OP:
    case MF_PROF_COPY: return true;
    case MF_PROF_KERNEL: return is_queue(&p->tracks[e->track]);
    default: return false;
    }
}

static bool in_window(const mf_rt_prof_event *e, int64_t t0, int64_t t1)
{
    return e->t0 >= t0 && e->t1 <= t1;
}

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* The ops part of a name: "subgraph 3 (conv2d+relu)" -> "conv2d+relu". */
static void ops_of(const char *name, char *buf, size_t cap)
{
    const char *open = strchr(name, '(');
    const char *close = open ? strrchr(open, ')') : NULL;
    if (open && close && close > open + 1)
        snprintf(buf, cap, "%.*s", (int)(close - open - 1), open + 1);
    else
        snprintf(buf, cap, "%s", name);
}

static unsigned colour_of(const char *ops)
{
    unsigned h = 2166136261u;
    for (; *ops; ops++)
        h = (h ^ (unsigned char)*ops) * 16777619u;
    return h % 360;
}

static void bar(FILE *f, const struct mf_profile *p, const mf_rt_prof_event *e, int row, int64_t t0,
                double scale)
{
    const mf_rt_prof_site *s = e->site >= 0 ? &p->sites[e->site] : NULL;
    const char *name = s ? s->name : mf_rt_prof_kind_names[e->kind];
    char ops[96];
    ops_of(name, ops, sizeof ops);
    double x = LEFT + (double)(e->t0 - t0) * scale, w = (double)(e->t1 - e->t0) * scale;
    int y = TOP + row * ROW + (ROW - BAR) / 2;
    unsigned hue = e->kind == MF_PROF_COPY ? 0 : colour_of(ops);
    int sat = e->kind == MF_PROF_COPY ? 0 : 65;
    fprintf(f, "<g class=\"bar\"><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
               "fill=\"hsl(%u,%d%%,62%%)\" stroke=\"#333\" stroke-width=\"0.3\"><title>",
            x, y, w < 0.5 ? 0.5 : w, BAR, hue, sat);
    xml_text(f, name);
    if (s && s->shapes[0]) {
        fputs(": ", f);
        xml_text(f, s->shapes);
    }
    fprintf(f, " (%.1f us)</title></rect>", (double)(e->t1 - e->t0) / 1e3);
    size_t fits = w > 12 ? (size_t)((w - 4) / 6.2) : 0;
    if (fits >= 3) {
        fprintf(f, "<text x=\"%.2f\" y=\"%d\">", x + 2, y + BAR - 6);
        char label[96];
        snprintf(label, sizeof label, "%.*s", (int)(fits < sizeof label - 1 ? fits : sizeof label - 1), ops);
        xml_text(f, label);
        fputs("</text>", f);
    }
    fputs("</g>\n", f);
}

/* What is drawn: the window, and the row of each track (0: not drawn; 1-based). */
typedef struct view {
    int64_t t0, t1;
    int ntr, nrows;
    int rows[1024];
} view;

static bool shown(const struct mf_profile *p, const view *v, const mf_rt_prof_event *e)
{
    return e->track < v->ntr && v->rows[e->track] > 0 && drawn(p, e) && in_window(e, v->t0, v->t1);
}

/* The tracks with something drawn, numbered in their sort order. */
static void number_rows(const struct mf_profile *p, view *v)
{
    v->ntr = p->ntracks < 1024 ? p->ntracks : 1024;
    for (int i = 0; i < v->ntr; i++)
        v->rows[i] = -1;
    for (size_t i = 0; i < p->nev; i++)
        if (p->ev[i].track < v->ntr && drawn(p, &p->ev[i]) && in_window(&p->ev[i], v->t0, v->t1))
            v->rows[p->ev[i].track] = 0;
    for (;;) {
        int best = -1;
        for (int i = 0; i < v->ntr; i++)
            if (v->rows[i] == 0 && (best < 0 || p->tracks[i].sort < p->tracks[best].sort))
                best = i;
        if (best < 0)
            return;
        v->rows[best] = ++v->nrows;
    }
}

/* The distinct ops names of the bars drawn, in order of appearance (at most MAX_KEYS). */
static int legend_keys(const struct mf_profile *p, const view *v, char keys[][96])
{
    int n = 0;
    for (size_t i = 0; i < p->nev && n < MAX_KEYS; i++) {
        const mf_rt_prof_event *e = &p->ev[i];
        if (!shown(p, v, e) || e->site < 0)
            continue;
        char ops[96];
        ops_of(p->sites[e->site].name, ops, sizeof ops);
        int k = 0;
        while (k < n && strcmp(keys[k], ops))
            k++;
        if (k == n)
            snprintf(keys[n++], sizeof keys[0], "%s", ops);
    }
    return n;
}

static void legend(FILE *f, char keys[][96], int n, int y)
{
    fputs("<g class=\"legend\">\n", f);
    for (int k = 0; k < n; k++) {
        int x = LEFT + (k % 4) * 300, yy = y + (k / 4) * LEGEND;
        bool copy = !strncmp(keys[k], "copy", 4);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"10\" fill=\"hsl(%u,%d%%,62%%)\"/>"
                   "<text x=\"%d\" y=\"%d\">", x, yy, copy ? 0 : colour_of(keys[k]), copy ? 0 : 65, x + 16, yy + 9);
        xml_text(f, keys[k]);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

static void axis(FILE *f, int64_t span, double scale, int height)
{
    static const double grow[] = {2, 2.5, 2}; /* ticks every 1, 2, 5, 10, 20, 50 ... us */
    double ms = (double)span / 1e6, step = 0.001;
    for (int k = 0; ms / step > 12; k++)
        step *= grow[k % 3];
    fprintf(f, "<g class=\"axis\">\n");
    for (double t = 0; t <= ms + 1e-12; t += step) {
        double x = LEFT + t * 1e6 * scale;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#ccc\"/>"
                   "<text x=\"%.2f\" y=\"%d\">%.3g ms</text>\n",
                x, TOP - 6, x, height, x + 2, TOP - 10, t);
    }
    fprintf(f, "</g>\n");
}

static void row_labels(const struct mf_profile *p, const view *v, FILE *f)
{
    for (int i = 0; i < v->ntr; i++) {
        if (v->rows[i] <= 0)
            continue;
        fprintf(f, "<g class=\"row\"><text x=\"4\" y=\"%d\">", TOP + (v->rows[i] - 1) * ROW + ROW / 2 + 4);
        xml_text(f, p->tracks[i].name);
        fputs("</text></g>\n", f);
    }
}

mf_status mf_rt_prof_write_svg(const struct mf_profile *p, FILE *f)
{
    view v = {0};
    window(p, &v.t0, &v.t1);
    number_rows(p, &v);
    char keys[MAX_KEYS][96];
    int nkeys = legend_keys(p, &v, keys);
    int rows_end = TOP + v.nrows * ROW + 10;
    int height = rows_end + ((nkeys + 3) / 4) * LEGEND + 6;
    double scale = (double)(WIDTH - LEFT - 10) / (double)(v.t1 - v.t0);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"monospace\" font-size=\"10\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"4\" y=\"12\" font-weight=\"bold\">",
            WIDTH, height, WIDTH, height);
    xml_text(f, window_title(p, v.t0));
    fprintf(f, ": %.3f ms</text>\n", (double)(v.t1 - v.t0) / 1e6);
    axis(f, v.t1 - v.t0, scale, rows_end);
    legend(f, keys, nkeys, rows_end + 2);
    row_labels(p, &v, f);
    for (size_t i = 0; i < p->nev; i++)
        if (shown(p, &v, &p->ev[i]))
            bar(f, p, &p->ev[i], v.rows[p->ev[i].track] - 1, v.t0, scale);
    fputs("</svg>\n", f);
    return ferror(f) ? mf_error(MF_ERR_IO, "profile: writing the timeline failed") : MF_OK;
}
