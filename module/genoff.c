/* genoff.c — the seed's genoff: compiles a graph the way a module does (the compile
 * pipeline, segmentation, one kernel per MLU subgraph, a plan), once per CPU level, and
 * writes it as one .mfo file (docs/mfo.md) that the runtime alone can load
 * (runtime/offline.c).  The kernels come from the keyed instruction map's disk cache or are
 * compiled now, so the host level holds exactly the code a JIT run links. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/custom_ops.h"
#include "mlufuse/mlufuse_offline.h"
#include "module.h"
#include "passes/passes.h"
#include "runtime/mfo.h"

#define MAX_LEVELS 8

typedef struct levels {
    int n;
    char names[MAX_LEVELS][64]; /* as given; "host" for this machine */
    mf_cg_target targets[MAX_LEVELS];
    char features[MAX_LEVELS][4096]; /* the instruction sets each level's code may use */
} levels;

/* The compiled form of the graph: segments, and each level's object per segment. */
typedef struct compiled {
    mf_graph *g;
    mf_segment *segs;
    int nsegs;
    mf_cg_object *objs; /* [level * nsegs + seg] */
    mf_plan *plan;
} compiled;

/* ---- byte writing --------------------------------------------------------------------- */

static void put_u32(mf_strbuf *b, uint32_t v)
{
    mf_sb_put(b, (const char *)&v, 4);
}

static void put_u64(mf_strbuf *b, uint64_t v)
{
    mf_sb_put(b, (const char *)&v, 8);
}

static void put_str(mf_strbuf *b, const char *s)
{
    put_u32(b, (uint32_t)strlen(s));
    mf_sb_put(b, s, strlen(s));
}

static void pad_to(mf_strbuf *b, size_t align)
{
    static const char zeros[4096];
    if (b->n % align)
        mf_sb_put(b, zeros, align - b->n % align);
}

/* ---- compiling ------------------------------------------------------------------------- */

/* The instruction sets a level's code may contain, which the loader checks against the host
 * it runs on.  LLVM's C API does not say which features a CPU name implies, so the levels
 * are the host (its features, as detected) and the psABI's x86-64 levels, whose features
 * are fixed by the ABI. */
static mf_status level_features(const char *name, const mf_cg_target *host, char *out, size_t cap)
{
    static const char v1[] = "+sse,+sse2", v2[] = ",+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+sahf",
                      v3[] = ",+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe",
                      v4[] = ",+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl";
    if (!strcmp(name, "host") || !strcmp(name, host->cpu))
        snprintf(out, cap, "%s", host->features);
    else if (!strcmp(name, "x86-64"))
        snprintf(out, cap, "%s", v1);
    else if (!strcmp(name, "x86-64-v2"))
        snprintf(out, cap, "%s%s", v1, v2);
    else if (!strcmp(name, "x86-64-v3"))
        snprintf(out, cap, "%s%s%s", v1, v2, v3);
    else if (!strcmp(name, "x86-64-v4"))
        snprintf(out, cap, "%s%s%s%s", v1, v2, v3, v4);
    else
        return mf_error(MF_ERR_UNSUPPORTED, "genoff: CPU %s: an offline level is host, %s, x86-64, x86-64-v2, "
                        "x86-64-v3 or x86-64-v4 (the instruction sets other names imply are not known here)",
                        name, host->cpu);
    return MF_OK;
}

static mf_status parse_levels(const char *list, levels *l)
{
    l->n = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= sizeof l->names[0] || l->n == MAX_LEVELS)
            return mf_error(MF_ERR_INVALID, "genoff: bad CPU list \"%s\" (at most %d names)", list, MAX_LEVELS);
        memcpy(l->names[l->n], p, len);
        l->names[l->n][len] = 0;
        const char *cpu = strcmp(l->names[l->n], "host") ? l->names[l->n] : NULL;
        mf_cg_target host;
        mf_status s = mf_cache_check_cpu(cpu);
        if (!s)
            s = mf_cg_target_init(cpu, &l->targets[l->n]);
        if (!s)
            s = mf_cg_target_init(NULL, &host);
        if (!s)
            s = level_features(l->names[l->n], &host, l->features[l->n], sizeof l->features[0]);
        if (s == MF_ERR_UNSUPPORTED)
            return s;
        if (s)
            return mf_error_context(s, "genoff: CPU %s", l->names[l->n]);
        bool same = false; /* "host" may be one of the named CPUs */
        for (int i = 0; i < l->n; i++)
            same |= !strcmp(l->targets[i].cpu, l->targets[l->n].cpu) &&
                    !strcmp(l->targets[i].features, l->targets[l->n].features);
        l->n += !same;
        p += len + (end != NULL);
    }
    return l->n ? MF_OK : mf_error(MF_ERR_INVALID, "genoff: no CPU level");
}

/* Objects for every segment at level lv.  Segmentation formed only subgraphs codegen can
 * build (as in a module), so a failure is an error naming the segment and the level. */
static mf_status compile_level(compiled *c, const levels *l, int lv, int core_number)
{
    mf_cache_options co = {strcmp(l->names[lv], "host") ? l->names[lv] : NULL, 3, core_number};
    for (int k = 0; k < c->nsegs; k++) {
        mf_cg_target t;
        mf_cg_object *o = &c->objs[lv * c->nsegs + k];
        mf_status s = mf_cache_get_object(c->segs[k].sub, &co, &t, o);
        if (s) {
            memset(o, 0, sizeof *o);
            return mf_error_context(s, "genoff: %s for %s", c->segs[k].label, l->names[lv]);
        }
    }
    return MF_OK;
}

static mf_status compile(const mf_graph *src, const levels *l, int core_number, compiled *c)
{
    mf_status s = mf_graph_clone(src, NULL, &c->g);
    if (s)
        return s;
    mf_opt_options o = mf_opt_default_options();
    o.fusion = mf_pass_ctx_default().fuse;
    if (l->n == 1) { /* one level: weights packed, Winograd laid out, for its kernels */
        o.passes = MF_COMPILE_PIPELINE;
        o.cpu = strcmp(l->names[0], "host") ? l->names[0] : NULL;
        o.lanes = l->targets[0].shape.lanes;
    } else { /* one graph for every level's kernels: no target's weight layout in it */
        o.passes = MF_PORTABLE_PIPELINE;
    }
    if ((s = mf_graph_optimize(c->g, &o, NULL)))
        return s;
    int nsub = 0;
    for (int i = 0; i < c->g->nnodes; i++)
        if (c->g->nodes[i]->subgraph >= nsub)
            nsub = c->g->nodes[i]->subgraph + 1;
    c->segs = calloc((size_t)nsub + 1, sizeof *c->segs);
    c->objs = calloc((size_t)(nsub + 1) * (size_t)l->n, sizeof *c->objs);
    if (!c->segs || !c->objs)
        return mf_error(MF_ERR_NOMEM, "genoff: out of memory");
    for (; c->nsegs < nsub && !s; c->nsegs++)
        s = mf_mod_extract_segment(c->g, c->nsegs, &c->segs[c->nsegs]);
    for (int lv = 0; lv < l->n && !s; lv++)
        s = compile_level(c, l, lv, core_number);
    if (s)
        return s;
    mf_rt_kernel_fn *fns = calloc((size_t)c->nsegs + 1, sizeof *fns);
    size_t *scratch = calloc((size_t)c->nsegs + 1, sizeof *scratch);
    if (!fns || !scratch)
        s = mf_error(MF_ERR_NOMEM, "genoff: out of memory");
    for (int k = 0; k < c->nsegs && !s; k++)
        scratch[k] = c->objs[k].scratch_bytes; /* the plan's; each level has its own */
    if (!s)
        s = mf_mod_build_plan(c->g, c->segs, c->nsegs, fns, scratch, MF_DEVICE_MLU(0), core_number, &c->plan);
    free(fns);
    free(scratch);
    return s;
}

static void compiled_free(compiled *c, int nlevels)
{
    for (int k = 0; c->segs && k < c->nsegs; k++)
        mf_mod_segment_free(&c->segs[k]);
    free(c->segs);
    for (int i = 0; c->objs && i < c->nsegs * nlevels; i++)
        mf_cg_object_free(&c->objs[i]);
    free(c->objs);
    mf_rt_plan_free(c->plan);
    mf_graph_destroy(c->g);
}

/* ---- sections --------------------------------------------------------------------------- */

static void put_type(mf_strbuf *b, const mf_type *t)
{
    put_u32(b, (uint32_t)t->dtype);
    put_u32(b, (uint32_t)t->rank);
    for (int k = 0; k < t->rank; k++)
        put_u64(b, (uint64_t)t->shape[k]);
}

static void put_step(mf_strbuf *b, const mf_plan_step *st)
{
    put_u32(b, (uint32_t)st->kind);
    put_u32(b, (uint32_t)st->nout);
    put_u32(b, (uint32_t)st->nin);
    put_u32(b, st->kind == MF_STEP_KERNEL ? (uint32_t)st->segment : 0);
    put_u64(b, st->kind == MF_STEP_KERNEL ? st->scratch_bytes : 0);
    put_str(b, st->kind == MF_STEP_CPU_OP ? mf_op_get(st->op)->name : "");
    int nattrs = st->kind == MF_STEP_CPU_OP ? mf_op_get(st->op)->nattrs : 0;
    put_u32(b, (uint32_t)nattrs);
    for (int k = 0; k < nattrs; k++) {
        const mf_attr *a = &st->attrs[k];
        put_u32(b, (uint32_t)a->type);
        put_u32(b, a->type == MF_ATTR_INTS ? (uint32_t)a->n : 0);
        if (a->type == MF_ATTR_INT)
            put_u64(b, (uint64_t)a->i);
        else if (a->type == MF_ATTR_FLOAT)
            mf_sb_put(b, (const char *)&a->f, 8);
        else
            for (int j = 0; j < a->n; j++)
                put_u64(b, (uint64_t)a->ints[j]);
    }
    put_str(b, st->label);
    for (int k = 0; k < st->nout + st->nin; k++)
        put_u32(b, (uint32_t)st->slots[k]);
}

static const char *value_name(const mf_value *v, char *buf, size_t cap)
{
    if (v->name)
        return v->name;
    snprintf(buf, cap, "%d", v->id);
    return buf;
}

/* The plan section, and the weights it points into (each constant 64-byte aligned). */
static void put_plan(mf_strbuf *b, mf_strbuf *w, const compiled *c)
{
    const mf_plan *p = c->plan;
    put_u32(b, (uint32_t)p->core_number);
    put_u32(b, (uint32_t)p->nslots);
    put_u32(b, (uint32_t)p->nsteps);
    put_u32(b, (uint32_t)p->ninputs);
    put_u32(b, (uint32_t)p->noutputs);
    put_u32(b, (uint32_t)p->nconsts);
    put_u32(b, (uint32_t)c->nsegs);
    put_u64(b, p->device_bytes);
    put_u64(b, p->host_bytes);
    put_u64(b, p->scratch_bytes);
    size_t *const_bytes = calloc((size_t)p->nconsts + 1, sizeof *const_bytes);
    for (int i = 0; i < p->nslots; i++) {
        const mf_plan_slot *s = &p->slots[i];
        put_type(b, &s->type);
        put_u32(b, (uint32_t)s->kind);
        put_u32(b, (uint32_t)s->index);
        put_u64(b, s->offset);
        if (s->kind == MF_SLOT_CONST && const_bytes)
            const_bytes[s->index] = mf_type_nbytes(&s->type);
    }
    for (int i = 0; i < p->nsteps; i++)
        put_step(b, &p->steps[i]);
    char buf[32];
    for (int i = 0; i < p->ninputs; i++) {
        put_u32(b, (uint32_t)p->inputs[i]);
        put_str(b, value_name(c->g->inputs[i], buf, sizeof buf));
    }
    for (int i = 0; i < p->noutputs; i++) {
        put_u32(b, (uint32_t)p->outputs[i]);
        put_str(b, value_name(c->g->outputs[i], buf, sizeof buf));
    }
    for (int i = 0; i < p->nconsts && const_bytes; i++) {
        pad_to(w, MF_MFO_CONST_ALIGN);
        put_u64(b, w->n);
        put_u64(b, const_bytes[i]);
        mf_sb_put(w, p->consts[i]->data, const_bytes[i]);
    }
    if (!const_bytes)
        b->oom = true;
    free(const_bytes);
}

/* One level's code section: its target, then each kernel's symbol, scratch, and object. */
static void put_code(mf_strbuf *b, const compiled *c, const mf_cg_target *t, const char *features, int lv)
{
    put_str(b, t->cpu);
    put_str(b, features);
    put_u32(b, (uint32_t)t->shape.lanes);
    put_u32(b, (uint32_t)c->nsegs);
    size_t table = b->n, at = table;
    for (int k = 0; k < c->nsegs; k++)
        at += 4 + strlen(c->objs[lv * c->nsegs + k].symbol) + 24;
    for (int k = 0; k < c->nsegs; k++) {
        const mf_cg_object *o = &c->objs[lv * c->nsegs + k];
        at = (at + 15) / 16 * 16;
        put_str(b, o->symbol);
        put_u64(b, o->scratch_bytes);
        put_u64(b, at);
        put_u64(b, o->size);
        at += o->size;
    }
    for (int k = 0; k < c->nsegs; k++) {
        const mf_cg_object *o = &c->objs[lv * c->nsegs + k];
        pad_to(b, 16);
        mf_sb_put(b, o->data, o->size);
    }
}

static void put_meta(mf_strbuf *b, const compiled *c, const levels *l, const mf_genoff_options *o)
{
    const mf_graph *g = c->g;
    mf_sb_printf(b, "producer=%s\nmodel=%s\n", MF_MFO_PRODUCER, g->name ? g->name : "");
    mf_sb_printf(b, "batch_size=%lld\ncore_number=%d\nlevels=", g->ninputs && g->inputs[0]->type.rank ?
                 (long long)g->inputs[0]->type.shape[0] : 1LL, o->core_number);
    for (int i = 0; i < l->n; i++)
        mf_sb_printf(b, "%s%s", i ? "," : "", l->targets[i].cpu);
    mf_sb_printf(b, "\nsubgraphs=%d\n", c->nsegs);
    if (o->meta && *o->meta)
        mf_sb_printf(b, "%s%s", o->meta, o->meta[strlen(o->meta) - 1] == '\n' ? "" : "\n");
}

/* ---- the file ---------------------------------------------------------------------------- */

typedef struct section {
    uint32_t kind;
    mf_strbuf bytes;
    uint64_t offset;
} section;

static mf_status write_file(const char *path, section *secs, int n)
{
    unsigned char header[MF_MFO_HEADER_BYTES] = {0};
    mf_strbuf table = {0};
    uint64_t at = MF_MFO_HEADER_BYTES + (uint64_t)n * MF_MFO_SECTION_BYTES;
    for (int i = 0; i < n; i++) {
        if (secs[i].bytes.oom)
            return mf_error(MF_ERR_NOMEM, "genoff: out of memory");
        size_t align = secs[i].kind == MF_MFO_WEIGHTS ? MF_MFO_WEIGHT_ALIGN : 64;
        at = (at + align - 1) / align * align;
        secs[i].offset = at;
        at += secs[i].bytes.n;
        put_u32(&table, secs[i].kind);
        put_u32(&table, 0);
        put_u64(&table, secs[i].offset);
        put_u64(&table, secs[i].bytes.n);
        put_u64(&table, mf_mfo_checksum(secs[i].bytes.p, secs[i].bytes.n));
    }
    if (table.oom)
        return mf_error(MF_ERR_NOMEM, "genoff: out of memory");
    memcpy(header, MF_MFO_MAGIC, 8);
    uint32_t version = MF_MFO_VERSION, nsec = (uint32_t)n;
    memcpy(header + 8, &version, 4);
    memcpy(header + 12, &nsec, 4);
    snprintf((char *)header + 16, 32, "%s", MF_MFO_PRODUCER);
    uint64_t tsum = mf_mfo_checksum(table.p, table.n);
    memcpy(header + 48, &tsum, 8);
    uint64_t hsum = mf_mfo_checksum(header, 56);
    memcpy(header + 56, &hsum, 8);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(table.p);
        return mf_error(MF_ERR_IO, "genoff: cannot write %s", tmp);
    }
    bool ok = fwrite(header, 1, sizeof header, f) == sizeof header &&
              fwrite(table.p, 1, table.n, f) == table.n;
    for (int i = 0; i < n && ok; i++) {
        static const char zeros[MF_MFO_WEIGHT_ALIGN];
        long pos = ftell(f);
        ok = pos >= 0 && fwrite(zeros, 1, secs[i].offset - (uint64_t)pos, f) == secs[i].offset - (uint64_t)pos &&
             fwrite(secs[i].bytes.p, 1, secs[i].bytes.n, f) == secs[i].bytes.n;
    }
    free(table.p);
    ok = !fclose(f) && ok;
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        return mf_error(MF_ERR_IO, "genoff: cannot write %s", path);
    }
    return MF_OK;
}

/* A custom op cannot go into an .mfo: the offline runtime loads no libraries of the user's
 * code (docs/custom_ops.md).  Refused before anything compiles. */
static mf_status refuse_custom_ops(const mf_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const mf_node *n = g->nodes[i];
        const mf_custom_entry *e = n->op == MF_OP_CUSTOM ? mf_custom_get(n->attrs[0].i) : NULL;
        if (e)
            return mf_error(MF_ERR_UNSUPPORTED,
                            "genoff: the model calls custom op %s (declared at %s): an .mfo file cannot hold "
                            "custom ops, as the offline runtime loads no user libraries; run the model with "
                            "mlufuse run --custom-ops instead",
                            e->decl.name, e->decl.where);
    }
    return MF_OK;
}

mf_status mf_genoff(const mf_graph *g, const mf_genoff_options *opt, const char *path)
{
    if (!g || !path)
        return mf_error(MF_ERR_INVALID, "genoff: NULL %s", g ? "path" : "graph");
    mf_genoff_options o = opt ? *opt : (mf_genoff_options){.core_number = 1};
    if (o.core_number != 1 && o.core_number != 4 && o.core_number != 16)
        return mf_error(MF_ERR_INVALID, "genoff: core_number %d (must be 1, 4 or 16)", o.core_number);
    levels l;
    compiled c = {0};
    mf_status s = parse_levels(o.cpus && *o.cpus ? o.cpus : "host,x86-64-v3", &l);
    if (!s)
        s = mf_graph_verify(g);
    if (!s)
        s = refuse_custom_ops(g);
    if (!s)
        s = compile(g, &l, o.core_number, &c);
    if (!s && c.plan->ninputs > 256)
        s = mf_error(MF_ERR_UNSUPPORTED, "genoff: more than 256 inputs");
    section secs[3 + MAX_LEVELS];
    memset(secs, 0, sizeof secs);
    secs[0].kind = MF_MFO_META;
    secs[1].kind = MF_MFO_PLAN;
    int n = 2;
    if (!s) {
        put_meta(&secs[0].bytes, &c, &l, &o);
        mf_strbuf weights = {0};
        put_plan(&secs[1].bytes, &weights, &c);
        for (int lv = 0; lv < l.n; lv++) {
            secs[n].kind = MF_MFO_CODE;
            put_code(&secs[n++].bytes, &c, &l.targets[lv], l.features[lv], lv);
        }
        secs[n].kind = MF_MFO_WEIGHTS; /* last, on its own pages */
        secs[n++].bytes = weights;
        s = write_file(path, secs, n);
    }
    for (int i = 0; i < n; i++)
        free(secs[i].bytes.p);
    compiled_free(&c, l.n);
    return s;
}
