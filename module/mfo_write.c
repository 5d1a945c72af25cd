/* mfo_write.c — writes a plan and its kernels' objects per CPU level and their constants as
 * one .mfo file (docs/mfo.md), which runtime/offline.c loads with the runtime alone.  Used by
 * genoff and by the plan cache. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mfo_write.h"
#include "runtime/mfo.h"

#define MAX_SECTIONS (2 + 2 * MF_MFO_MAX_LEVELS) /* meta, weights, a plan and code a level */

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

/* The constants written so far, to share equal ones between levels (packed for one target,
 * a weight may equal another target's packing, and biases are the same everywhere). */
typedef struct written {
    uint64_t bytes, sum, offset; /* the bytes: the section's own, at offset */
} written;

typedef struct weights {
    mf_strbuf w; /* the section */
    written *done;
    int n, cap;
} weights;

/* The offset of a constant's bytes in the weights section: an equal one's, or appended
 * (64-byte aligned). */
static uint64_t put_const(weights *ws, const void *data, uint64_t bytes)
{
    uint64_t sum = mf_mfo_checksum(data, bytes);
    for (int i = 0; i < ws->n; i++)
        if (bytes && ws->done[i].sum == sum && ws->done[i].bytes == bytes && !ws->w.oom &&
            !memcmp(ws->w.p + ws->done[i].offset, data, bytes))
            return ws->done[i].offset;
    pad_to(&ws->w, MF_MFO_CONST_ALIGN);
    uint64_t at = ws->w.n;
    mf_sb_put(&ws->w, data, bytes);
    if (ws->n == ws->cap) {
        int cap = ws->cap ? 2 * ws->cap : 64;
        written *d = realloc(ws->done, sizeof *d * (size_t)cap);
        if (!d) {
            ws->w.oom = true; /* reported as the section's */
            return at;
        }
        ws->done = d, ws->cap = cap;
    }
    ws->done[ws->n++] = (written){bytes, sum, at};
    return at;
}

/* A level's plan section, its constants put into the weights. */
static void put_plan(mf_strbuf *b, weights *ws, const mf_plan *p, const mf_graph *g, int nkernels)
{
    put_u32(b, (uint32_t)p->core_number);
    put_u32(b, (uint32_t)p->nslots);
    put_u32(b, (uint32_t)p->nsteps);
    put_u32(b, (uint32_t)p->ninputs);
    put_u32(b, (uint32_t)p->noutputs);
    put_u32(b, (uint32_t)p->nconsts);
    put_u32(b, (uint32_t)nkernels);
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
        put_str(b, value_name(g->inputs[i], buf, sizeof buf));
    }
    for (int i = 0; i < p->noutputs; i++) {
        put_u32(b, (uint32_t)p->outputs[i]);
        put_str(b, value_name(g->outputs[i], buf, sizeof buf));
    }
    for (int i = 0; i < p->nconsts && const_bytes; i++) {
        put_u64(b, put_const(ws, p->consts[i]->data, const_bytes[i]));
        put_u64(b, const_bytes[i]);
    }
    if (!const_bytes)
        b->oom = true;
    free(const_bytes);
}

/* One level's code section: its target, then each kernel's symbol, scratch, and object. */
static void put_code(mf_strbuf *b, const mf_mfo_level *l, int nkernels)
{
    const mf_cg_target *t = l->target;
    put_str(b, t->cpu);
    put_str(b, l->features);
    put_u32(b, (uint32_t)t->shape.lanes);
    put_u32(b, (uint32_t)nkernels);
    size_t table = b->n, at = table;
    for (int k = 0; k < nkernels; k++)
        at += 4 + strlen(l->objs[k].symbol) + 24;
    for (int k = 0; k < nkernels; k++) {
        const mf_cg_object *o = &l->objs[k];
        at = (at + 15) / 16 * 16;
        put_str(b, o->symbol);
        put_u64(b, o->scratch_bytes);
        put_u64(b, at);
        put_u64(b, o->size);
        at += o->size;
    }
    for (int k = 0; k < nkernels; k++) {
        const mf_cg_object *o = &l->objs[k];
        pad_to(b, 16);
        mf_sb_put(b, o->data, o->size);
    }
}

/* fwrite of n bytes; an empty section may have no buffer at all (fwrite's pointer must not
 * be NULL even for 0 bytes). */
static bool write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n;
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
    for (int i = 0; i < n; i++)
        if (secs[i].bytes.oom)
            return mf_error(MF_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
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
    if (table.oom) {
        free(table.p);
        return mf_error(MF_ERR_NOMEM, "%s: out of memory", path);
    }
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
    static atomic_uint counter; /* two threads of one process may write one path */
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.%u", path, (int)getpid(), atomic_fetch_add(&counter, 1));
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(table.p);
        return mf_error(MF_ERR_IO, "cannot write %s", tmp);
    }
    bool ok = write_all(f, header, sizeof header) && write_all(f, table.p, table.n);
    for (int i = 0; i < n && ok; i++) {
        static const char zeros[MF_MFO_WEIGHT_ALIGN];
        long pos = ftell(f);
        ok = pos >= 0 && write_all(f, zeros, secs[i].offset - (uint64_t)pos) &&
             write_all(f, secs[i].bytes.p, secs[i].bytes.n);
    }
    free(table.p);
    ok = !fclose(f) && ok;
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        return mf_error(MF_ERR_IO, "cannot write %s", path);
    }
    return MF_OK;
}

mf_status mf_mod_mfo_write(const char *path, const mf_mfo_level *levels, int nlevels,
                           const char *extra_meta)
{
    if (nlevels < 1 || nlevels > MF_MFO_MAX_LEVELS)
        return mf_error(MF_ERR_INVALID, "%s: %d CPU levels (1 to %d)", path, nlevels,
                        MF_MFO_MAX_LEVELS);
    section secs[MAX_SECTIONS];
    memset(secs, 0, sizeof secs);
    secs[0].kind = MF_MFO_META;
    mf_strbuf *meta = &secs[0].bytes;
    const mf_graph *g = levels[0].g;
    mf_sb_printf(meta, "producer=%s\nmodel=%s\n", MF_MFO_PRODUCER, g->name ? g->name : "");
    mf_sb_printf(meta, "batch_size=%lld\ncore_number=%d\nlevels=",
                 g->ninputs && g->inputs[0]->type.rank ? (long long)g->inputs[0]->type.shape[0]
                                                       : 1LL,
                 levels[0].plan->core_number);
    for (int i = 0; i < nlevels; i++)
        mf_sb_printf(meta, "%s%s", i ? "," : "", levels[i].target->cpu);
    mf_sb_printf(meta, "\nsubgraphs=");
    for (int i = 0; i < nlevels; i++)
        mf_sb_printf(meta, "%s%d", i ? "," : "", levels[i].nkernels);
    mf_sb_printf(meta, "\n");
    if (extra_meta && *extra_meta)
        mf_sb_printf(meta, "%s%s", extra_meta, extra_meta[strlen(extra_meta) - 1] == '\n' ? "" : "\n");
    int n = 1;
    weights ws = {0};
    for (int lv = 0; lv < nlevels; lv++) { /* level k: the k-th plan and the k-th code section */
        secs[n].kind = MF_MFO_PLAN;
        put_plan(&secs[n++].bytes, &ws, levels[lv].plan, levels[lv].g, levels[lv].nkernels);
        secs[n].kind = MF_MFO_CODE;
        put_code(&secs[n++].bytes, &levels[lv], levels[lv].nkernels);
    }
    free(ws.done);
    secs[n].kind = MF_MFO_WEIGHTS; /* last, on its own pages */
    secs[n++].bytes = ws.w;
    mf_status s = write_file(path, secs, n);
    for (int i = 0; i < n; i++)
        free(secs[i].bytes.p);
    return s;
}
