/* mfo_read.c — parses an offline model's bytes (docs/mfo.md): the header and section table,
 * each section's checksum, and the plan, which becomes an mf_plan whose constants point into
 * the weights in place and whose every slot, step and operand is checked against the rest
 * of the plan, so that running it cannot touch memory outside what it allocates. */
#include <stdlib.h>
#include <string.h>

#include "mfo_read.h"

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case MF_MFO_META: return "meta";
    case MF_MFO_PLAN: return "plan";
    case MF_MFO_WEIGHTS: return "weights";
    case MF_MFO_CODE: return "code";
    }
    return "unknown";
}

mf_status mf_rt_mfo_sections(const unsigned char *data, size_t n, const char *name, mf_mfo_file *f)
{
    memset(f, 0, sizeof *f);
    if (n < MF_MFO_HEADER_BYTES || memcmp(data, MF_MFO_MAGIC, 8))
        return mf_error(MF_ERR_PARSE, "%s: not an offline model (.mfo): %s", name,
                        n < MF_MFO_HEADER_BYTES ? "shorter than its header" : "bad magic");
    mf_mfo_cursor c = {data, MF_MFO_HEADER_BYTES, 8, name, MF_OK};
    uint32_t version = mf_mfo_u32(&c), nsec = mf_mfo_u32(&c);
    memcpy(f->producer, data + 16, 32);
    f->producer[31] = 0;
    c.at = 48;
    uint64_t table_sum = mf_mfo_u64(&c), header_sum = mf_mfo_u64(&c);
    if (version != MF_MFO_VERSION)
        return mf_error(MF_ERR_UNSUPPORTED, "%s: format version %u (made by %s); this runtime reads version %d",
                        name, version, f->producer[0] ? f->producer : "an unknown producer", MF_MFO_VERSION);
    if (header_sum != mf_mfo_checksum(data, 56))
        return mf_error(MF_ERR_PARSE, "%s: the header's checksum does not match: the file is corrupt", name);
    if (nsec == 0 || nsec > MF_MFO_MAX_SECTIONS ||
        (size_t)nsec * MF_MFO_SECTION_BYTES > n - MF_MFO_HEADER_BYTES)
        return mf_error(MF_ERR_PARSE, "%s: %u sections do not fit the file (truncated?)", name, nsec);
    if (table_sum != mf_mfo_checksum(data + MF_MFO_HEADER_BYTES, (size_t)nsec * MF_MFO_SECTION_BYTES))
        return mf_error(MF_ERR_PARSE, "%s: the section table's checksum does not match: the file is corrupt", name);
    c = (mf_mfo_cursor){data + MF_MFO_HEADER_BYTES, (size_t)nsec * MF_MFO_SECTION_BYTES, 0, name, MF_OK};
    int nplans = 0, ncodes = 0;
    for (uint32_t i = 0; i < nsec; i++) {
        mf_mfo_section *s = &f->sections[i];
        s->kind = mf_mfo_u32(&c);
        mf_mfo_u32(&c);
        uint64_t off = mf_mfo_u64(&c), size = mf_mfo_u64(&c), sum = mf_mfo_u64(&c);
        if (off > n || size > n - off)
            return mf_error(MF_ERR_PARSE, "%s: section %u (%s) lies outside the file: truncated?", name, i,
                            kind_name(s->kind));
        s->data = data + off;
        s->size = size;
        s->offset = off;
        if (sum != mf_mfo_checksum(s->data, size))
            return mf_error(MF_ERR_PARSE, "%s: section %u (%s) fails its checksum: the file is corrupt", name,
                            i, kind_name(s->kind));
        const mf_mfo_section **one = s->kind == MF_MFO_META      ? &f->meta
                                     : s->kind == MF_MFO_WEIGHTS ? &f->weights
                                                                 : NULL;
        if (one && *one)
            return mf_error(MF_ERR_PARSE, "%s: two %s sections", name, kind_name(s->kind));
        if (one)
            *one = s;
        else if (s->kind == MF_MFO_PLAN || s->kind == MF_MFO_CODE) {
            int *k = s->kind == MF_MFO_PLAN ? &nplans : &ncodes;
            if (*k == MF_MFO_MAX_LEVELS)
                return mf_error(MF_ERR_PARSE, "%s: more than %d %s sections", name,
                                MF_MFO_MAX_LEVELS, kind_name(s->kind));
            (s->kind == MF_MFO_PLAN ? f->plans : f->codes)[(*k)++] = s;
        } else
            return mf_error(MF_ERR_PARSE, "%s: section %u has unknown kind %u", name, i, s->kind);
    }
    f->nsections = (int)nsec;
    f->nlevels = ncodes;
    if (!f->meta || !nplans || !f->weights || !ncodes)
        return mf_error(MF_ERR_PARSE, "%s: no %s section", name,
                        !f->meta      ? "meta"
                        : !nplans     ? "plan"
                        : !f->weights ? "weights"
                                      : "code");
    if (nplans != ncodes)
        return mf_error(MF_ERR_PARSE,
                        "%s: %d plan sections for %d code sections (one each a CPU level)", name,
                        nplans, ncodes);
    return MF_OK;
}

/* ---- the plan ----------------------------------------------------------------------------- */

static mf_status bad(mf_mfo_cursor *c, const char *fmt, const char *what, long a, long b)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what, a, b);
    if (!c->error)
        c->error = mf_error(MF_ERR_PARSE, "%s: %s", c->what, msg);
    return c->error;
}

static void read_type(mf_mfo_cursor *c, mf_type *t, const char *what, long i)
{
    uint32_t dt = mf_mfo_u32(c), rank = mf_mfo_u32(c);
    if (!c->error && (dt >= MF_DTYPE_COUNT || rank > MF_MAX_RANK)) {
        bad(c, "%s %ld has dtype %ld or a bad rank", what, i, (long)dt);
        return;
    }
    memset(t, 0, sizeof *t);
    t->dtype = (mf_dtype)dt;
    t->rank = (int)rank;
    for (uint32_t k = 0; k < rank && !c->error; k++)
        t->shape[k] = mf_mfo_i64(c);
    if (!c->error && mf_type_check(t, what, NULL, NULL))
        c->error = mf_error(MF_ERR_PARSE, "%s: %s", c->what, mf_last_error());
}

static bool fits(size_t off, size_t len, size_t total)
{
    return off <= total && len <= total - off;
}

static void read_slots(mf_mfo_cursor *c, mf_plan *p)
{
    for (int i = 0; i < p->nslots && !c->error; i++) {
        mf_plan_slot *s = &p->slots[i];
        read_type(c, &s->type, "slot", i);
        uint32_t kind = mf_mfo_u32(c), index = mf_mfo_u32(c);
        s->offset = mf_mfo_u64(c);
        s->kind = (mf_slot_kind)kind;
        s->index = (int)index;
        if (c->error)
            return;
        size_t nb = mf_type_nbytes(&s->type);
        bool ok;
        switch (kind) {
        case MF_SLOT_INPUT: ok = index < (uint32_t)p->ninputs; break;
        case MF_SLOT_OUTPUT: ok = index < (uint32_t)p->noutputs; break;
        case MF_SLOT_CONST: ok = index < (uint32_t)p->nconsts; break;
        case MF_SLOT_DEVICE: ok = fits(s->offset, nb, p->device_bytes); break;
        case MF_SLOT_HOST: ok = fits(s->offset, nb, p->host_bytes); break;
        case MF_SLOT_ALIAS:
            ok = index < (uint32_t)i && nb <= mf_type_nbytes(&p->slots[index].type);
            break;
        default: ok = false;
        }
        if (!ok)
            bad(c, "%s %ld (kind %ld) refers outside the plan", "slot", i, (long)kind);
    }
}

static void read_attrs(mf_mfo_cursor *c, mf_plan_step *st, long step)
{
    uint32_t n = mf_mfo_u32(c);
    const mf_op_info *info = mf_op_get(st->op);
    if (!c->error && n != (uint32_t)info->nattrs) {
        bad(c, "%s %ld has %ld attributes, not its op's", "step", step, (long)n);
        return;
    }
    for (uint32_t k = 0; k < n && !c->error; k++) {
        mf_attr *a = &st->attrs[k];
        uint32_t type = mf_mfo_u32(c), count = mf_mfo_u32(c);
        if (!c->error && (type != (uint32_t)info->attrs[k].type || count > MF_MAX_RANK)) {
            bad(c, "%s %ld: attribute %ld has the wrong type", "step", step, (long)k);
            return;
        }
        a->type = (mf_attr_type)type;
        a->n = (int)count;
        if (type == MF_ATTR_INT)
            a->i = mf_mfo_i64(c);
        else if (type == MF_ATTR_FLOAT)
            a->f = mf_mfo_f64(c);
        else
            for (uint32_t j = 0; j < count; j++)
                a->ints[j] = mf_mfo_i64(c);
    }
}

/* The operands of a step agree with what it does: a CPU op's output type is what shape
 * inference gives for its inputs and attributes (the reference kernels trust their types),
 * a copy moves equal types. */
static void check_step(mf_mfo_cursor *c, const mf_plan *p, const mf_plan_step *st, long i, int nkernels)
{
    if (st->kind == MF_STEP_KERNEL) {
        if (st->segment >= nkernels || st->scratch_bytes > p->scratch_bytes)
            bad(c, "%s %ld: kernel %ld is not in the file", "step", i, (long)st->segment);
        return;
    }
    if (st->kind == MF_STEP_COPY) {
        if (st->nout != 1 || st->nin != 1 ||
            !mf_type_equal(&p->slots[st->slots[0]].type, &p->slots[st->slots[1]].type))
            bad(c, "%s %ld: a copy between different types", "step", i, 0);
        return;
    }
    const mf_op_info *info = mf_op_get(st->op);
    mf_type in[MF_PLAN_MAX_CPU_ARGS], out;
    if (st->nout + st->nin > MF_PLAN_MAX_CPU_ARGS) {
        bad(c, "%s %ld: a CPU op of %ld operands", "step", i, (long)(st->nout + st->nin));
        return;
    }
    for (int k = 0; k < st->nin; k++)
        in[k] = p->slots[st->slots[1 + k]].type;
    if (st->nout != 1 || st->nin < info->min_inputs || (info->max_inputs >= 0 && st->nin > info->max_inputs) ||
        mf_op_infer(st->op, st->attrs, st->nin, in, &out) || !mf_type_equal(&out, &p->slots[st->slots[0]].type))
        bad(c, "%s %ld: its operands do not agree with its op", "step", i, 0);
}

static void read_steps(mf_mfo_cursor *c, mf_plan *p, int nkernels)
{
    for (int i = 0; i < p->nsteps && !c->error; i++) {
        mf_plan_step *st = &p->steps[i];
        uint32_t kind = mf_mfo_u32(c), nout = mf_mfo_u32(c), nin = mf_mfo_u32(c), kernel = mf_mfo_u32(c);
        st->scratch_bytes = mf_mfo_u64(c);
        char op[64];
        mf_mfo_str(c, op, sizeof op);
        if (c->error)
            return;
        if (kind > MF_STEP_COPY || nout < 1 || nout > MF_PLAN_MAX_ARGS || nin > MF_PLAN_MAX_ARGS ||
            nout + nin > MF_PLAN_MAX_ARGS) {
            bad(c, "%s %ld has kind %ld or a bad operand count", "step", i, (long)kind);
            return;
        }
        st->kind = (mf_step_kind)kind;
        st->nout = (int)nout;
        st->nin = (int)nin;
        st->segment = kernel > (uint32_t)nkernels ? nkernels : (int)kernel;
        if (kind == MF_STEP_CPU_OP) {
            if (!mf_op_from_name(op, strlen(op), &st->op)) {
                bad(c, "%s %ld runs an op this runtime does not know", "step", i, 0);
                return;
            }
            read_attrs(c, st, i);
        } else if (mf_mfo_u32(c) && !c->error) {
            bad(c, "%s %ld: attributes on a step that is not an op", "step", i, 0);
        }
        mf_mfo_str(c, st->label, sizeof st->label);
        snprintf(st->site.name, sizeof st->site.name, "%s", st->label);
        if (!(st->slots = calloc(nout + nin, sizeof(int)))) {
            c->error = mf_error(MF_ERR_NOMEM, "%s: out of memory", c->what);
            return;
        }
        for (uint32_t k = 0; k < nout + nin && !c->error; k++) {
            uint32_t s = mf_mfo_u32(c);
            if (s >= (uint32_t)p->nslots)
                bad(c, "%s %ld names slot %ld", "step", i, (long)s);
            st->slots[k] = (int)s;
        }
        if (!c->error)
            check_step(c, p, st, i, nkernels);
    }
}

/* Input and output lists: each names the one slot that stands for it. */
static void read_io(mf_mfo_cursor *c, mf_plan *p, bool output, char (*names)[128])
{
    int n = output ? p->noutputs : p->ninputs;
    int *ids = output ? p->outputs : p->inputs;
    for (int i = 0; i < n && !c->error; i++) {
        uint32_t s = mf_mfo_u32(c);
        mf_mfo_str(c, names[i], 128);
        if (c->error)
            return;
        mf_slot_kind want = output ? MF_SLOT_OUTPUT : MF_SLOT_INPUT;
        if (s >= (uint32_t)p->nslots || p->slots[s].kind != want || p->slots[s].index != i)
            bad(c, "%s %ld is slot %ld, which does not stand for it", output ? "output" : "input", i, (long)s);
        ids[i] = (int)s;
    }
    for (int s = 0; s < p->nslots && !c->error; s++) /* and every such slot is the listed one */
        if (p->slots[s].kind == (output ? MF_SLOT_OUTPUT : MF_SLOT_INPUT) && ids[p->slots[s].index] != s)
            bad(c, "%s %ld: a second slot for it", output ? "output" : "input", p->slots[s].index, 0);
}

static void free_view(mf_buffer *b)
{
    (void)b; /* the bytes belong to the file's mapping */
}

static void read_consts(mf_mfo_cursor *c, mf_plan *p, const mf_mfo_section *w)
{
    for (int i = 0; i < p->nconsts && !c->error; i++) {
        uint64_t off = mf_mfo_u64(c), nb = mf_mfo_u64(c);
        if (c->error)
            return;
        if (!fits(off, nb, w->size) || off % MF_MFO_CONST_ALIGN) {
            bad(c, "constant %s%ld lies outside the weights (or is misaligned)", "", i, 0);
            return;
        }
        mf_buffer *b = calloc(1, sizeof *b);
        if (!b) {
            c->error = mf_error(MF_ERR_NOMEM, "%s: out of memory", c->what);
            return;
        }
        atomic_init(&b->refs, 1);
        b->data = (void *)(w->data + off);
        b->nbytes = nb;
        b->device = p->device;
        b->free_fn = free_view;
        p->consts[i] = b;
    }
    for (int s = 0; s < p->nslots && !c->error; s++)
        if (p->slots[s].kind == MF_SLOT_CONST && mf_type_nbytes(&p->slots[s].type) != p->consts[p->slots[s].index]->nbytes)
            bad(c, "slot %s%ld: its constant has another size", "", s, 0);
}

static mf_status alloc_plan(mf_mfo_cursor *c, mf_plan *p, uint32_t limit)
{
    if (c->error)
        return c->error;
    if ((uint32_t)p->nslots > limit || (uint32_t)p->nsteps > limit || (uint32_t)p->ninputs > 256 ||
        (uint32_t)p->noutputs > 256 || (uint32_t)p->nconsts > (uint32_t)p->nslots)
        return bad(c, "%s: %ld slots or %ld steps, more than the section could hold", "plan", p->nslots, p->nsteps);
    p->slots = calloc((size_t)p->nslots + 1, sizeof *p->slots);
    p->steps = calloc((size_t)p->nsteps + 1, sizeof *p->steps);
    p->inputs = calloc((size_t)p->ninputs + 1, sizeof(int));
    p->outputs = calloc((size_t)p->noutputs + 1, sizeof(int));
    p->consts = calloc((size_t)p->nconsts + 1, sizeof *p->consts);
    if (!p->slots || !p->steps || !p->inputs || !p->outputs || !p->consts)
        return c->error = mf_error(MF_ERR_NOMEM, "%s: out of memory", c->what);
    return MF_OK;
}

mf_status mf_rt_mfo_plan(const mf_mfo_file *f, int level, const char *name, mf_plan **out,
                         int *nkernels, char (**in_names)[128], char (**out_names)[128])
{
    *out = NULL;
    *in_names = *out_names = NULL;
    if (level < 0 || level >= f->nlevels)
        return mf_error(MF_ERR_INVALID, "%s: no CPU level %d", name, level);
    const mf_mfo_section *plan = f->plans[level];
    char what[300];
    snprintf(what, sizeof what, "%s: the plan of level %d", name, level);
    mf_mfo_cursor c = {plan->data, plan->size, 0, what, MF_OK};
    mf_plan *p = calloc(1, sizeof *p);
    if (!p)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory", name);
    p->device = MF_DEVICE_MLU(0);
    p->core_number = (int)mf_mfo_u32(&c);
    p->nslots = (int)mf_mfo_u32(&c);
    p->nsteps = (int)mf_mfo_u32(&c);
    p->ninputs = (int)mf_mfo_u32(&c);
    p->noutputs = (int)mf_mfo_u32(&c);
    p->nconsts = (int)mf_mfo_u32(&c);
    *nkernels = (int)mf_mfo_u32(&c);
    p->device_bytes = mf_mfo_u64(&c);
    p->host_bytes = mf_mfo_u64(&c);
    p->scratch_bytes = mf_mfo_u64(&c);
    snprintf(p->run_site.name, sizeof p->run_site.name, "run %s", name);
    if (!c.error && (p->core_number != 1 && p->core_number != 4 && p->core_number != 16))
        bad(&c, "%s: core_number %ld%.0ld", "plan", p->core_number, 0);
    if (!c.error && (p->device_bytes > (size_t)MF_MAX_TENSOR_BYTES || p->host_bytes > (size_t)MF_MAX_TENSOR_BYTES ||
                     p->scratch_bytes > (size_t)MF_MAX_TENSOR_BYTES || *nkernels < 0 || *nkernels > 100000))
        bad(&c, "%s: arena sizes or a kernel count out of range%.0ld%.0ld", "plan", 0, 0);
    /* every slot and step takes at least 16 bytes of the section */
    if (!alloc_plan(&c, p, (uint32_t)(plan->size / 16))) { /* the counts are now bounded */
        *in_names = calloc((size_t)p->ninputs + 1, 128);
        *out_names = calloc((size_t)p->noutputs + 1, 128);
    }
    if (!c.error && (!*in_names || !*out_names))
        c.error = mf_error(MF_ERR_NOMEM, "%s: out of memory", name);
    if (!c.error)
        read_slots(&c, p);
    if (!c.error)
        read_steps(&c, p, *nkernels);
    if (!c.error)
        read_io(&c, p, false, *in_names);
    if (!c.error)
        read_io(&c, p, true, *out_names);
    if (!c.error)
        read_consts(&c, p, f->weights);
    if (!c.error && c.at != c.n)
        bad(&c, "%s: %ld bytes left over after the plan%.0ld", "plan", (long)(c.n - c.at), 0);
    if (c.error) {
        if (!p->steps) /* what alloc_plan did not make, mf_rt_plan_free must not walk */
            p->nsteps = 0;
        if (!p->consts)
            p->nconsts = 0;
        mf_rt_plan_free(p);
        free(*in_names);
        free(*out_names);
        *in_names = *out_names = NULL;
        return c.error;
    }
    *out = p;
    return MF_OK;
}
