/* offline.c — the public API of offline models (mlufuse_offline.h) on the runtime alone:
 * map the file, check its sections (mfo_read.c), choose the best code level this CPU runs
 * (cpu_features.c), read that level's plan (its constants used in place in the mapping),
 * load its kernels with our own object loader (elf_load.c) into the plan, and run the plan
 * like a compiled module's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mfo_read.h"
#include "mlufuse/mlufuse_offline.h"

struct mf_offline_model {
    void *map; /* the file's mapping (NULL when loaded from caller's bytes) */
    size_t map_size;
    mf_plan *plan;
    int nkernels;
    mf_rt_code **code;
    char (*in_names)[128], (*out_names)[128];
    char *meta; /* the meta section's lines, each NUL-terminated */
    size_t meta_size;
    char level[128];
};

/* One code section's header and kernel table. */
typedef struct level {
    char cpu[64], features[4096];
    uint32_t lanes, nkernels;
    mf_mfo_cursor c; /* positioned at the kernel table */
} level;

static mf_status read_level(const mf_mfo_section *s, const char *name, level *l)
{
    l->c = (mf_mfo_cursor){s->data, s->size, 0, name, MF_OK};
    mf_mfo_str(&l->c, l->cpu, sizeof l->cpu);
    mf_mfo_str(&l->c, l->features, sizeof l->features);
    l->lanes = mf_mfo_u32(&l->c);
    l->nkernels = mf_mfo_u32(&l->c);
    return l->c.error;
}

/* The best level for this host (*index: its number in the file): the one enabling the most
 * known instruction sets among those the host runs.  None: a message naming each level and
 * what the host lacks. */
static mf_status choose_level(const mf_mfo_file *f, const char *name, const char *host, level *best,
                              int *index)
{
    char refused[1024] = "";
    size_t n = 0;
    int best_rank = -1;
    for (int i = 0; i < f->nlevels; i++) {
        char what[300];
        snprintf(what, sizeof what, "%s: the code of level %d", name, i);
        level l;
        mf_status s = read_level(f->codes[i], what, &l);
        if (s)
            return s;
        s = mf_rt_cpu_runs(l.features, host);
        if (s) {
            n += (size_t)snprintf(refused + n, n < sizeof refused ? sizeof refused - n : 0, "%s%s (%s)",
                                  n ? ", " : "", l.cpu, mf_last_error());
            if (n >= sizeof refused)
                n = sizeof refused - 1;
            continue;
        }
        int rank = mf_rt_cpu_rank(l.features);
        if (rank > best_rank) {
            best_rank = rank;
            *index = i;
            *best = l;
            best->c.what = NULL; /* points into `what`, which is gone; set again by the caller */
        }
    }
    if (best_rank < 0)
        return mf_error(MF_ERR_UNSUPPORTED, "%s: no code level in the file runs on this CPU: %s", name, refused);
    return MF_OK;
}

/* Loads every kernel of level l into the plan's kernel steps (and their scratch sizes,
 * which depend on the level). */
static mf_status load_kernels(mf_offline_model *m, level *l, const char *name)
{
    char what[300];
    snprintf(what, sizeof what, "%s: code for %s", name, l->cpu);
    l->c.what = what;
    if (l->nkernels != (uint32_t)m->nkernels)
        return mf_error(MF_ERR_PARSE, "%s: %u kernels, the plan runs %d", what, l->nkernels, m->nkernels);
    size_t *scratch = calloc((size_t)m->nkernels + 1, sizeof *scratch);
    m->code = calloc((size_t)m->nkernels + 1, sizeof *m->code);
    mf_rt_kernel_fn *fns = calloc((size_t)m->nkernels + 1, sizeof *fns);
    mf_status s = scratch && m->code && fns ? MF_OK : mf_error(MF_ERR_NOMEM, "%s: out of memory", name);
    for (int k = 0; k < m->nkernels && !s; k++) {
        char symbol[64], kname[400];
        mf_mfo_str(&l->c, symbol, sizeof symbol);
        scratch[k] = mf_mfo_u64(&l->c);
        uint64_t off = mf_mfo_u64(&l->c), size = mf_mfo_u64(&l->c);
        if ((s = l->c.error))
            break;
        if (off > l->c.n || size > l->c.n - off || scratch[k] > (size_t)MF_MAX_TENSOR_BYTES) {
            s = mf_error(MF_ERR_PARSE, "%s: kernel %d lies outside its section", what, k);
            break;
        }
        snprintf(kname, sizeof kname, "%d (%s) of %s", k, symbol, name);
        s = mf_rt_code_load(l->c.p + off, size, symbol, kname, &m->code[k], &fns[k]);
    }
    mf_plan *p = m->plan;
    p->scratch_bytes = 0;
    for (int i = 0; i < p->nsteps && !s; i++) {
        mf_plan_step *st = &p->steps[i];
        if (st->kind != MF_STEP_KERNEL)
            continue;
        st->kernel = fns[st->segment];
        st->scratch_bytes = scratch[st->segment];
        if (st->scratch_bytes > p->scratch_bytes)
            p->scratch_bytes = st->scratch_bytes;
    }
    snprintf(m->level, sizeof m->level, "%s (%u lanes)", l->cpu, l->lanes);
    free(scratch);
    free(fns);
    return s;
}

static mf_status read_meta(mf_offline_model *m, const mf_mfo_section *s, const char *name)
{
    if (memchr(s->data, 0, s->size))
        return mf_error(MF_ERR_PARSE, "%s: a NUL byte in the meta section", name);
    if (!(m->meta = malloc(s->size + 1)))
        return mf_error(MF_ERR_NOMEM, "%s: out of memory", name);
    memcpy(m->meta, s->data, s->size);
    m->meta[s->size] = 0;
    m->meta_size = s->size + 1;
    for (size_t i = 0; i < s->size; i++) /* values are then returned in place */
        if (m->meta[i] == '\n')
            m->meta[i] = 0;
    return MF_OK;
}

mf_status mf_offline_load_bytes(const void *data, size_t n, const char *name,
                                const mf_offline_options *opt, mf_offline_model **out)
{
    if (!data || !out)
        return mf_error(MF_ERR_INVALID, "offline_load: NULL argument");
    *out = NULL;
    name = name ? name : "offline model";
    mf_offline_options o = opt ? *opt : (mf_offline_options){0};
    if (o.core_number && o.core_number != 1 && o.core_number != 4 && o.core_number != 16)
        return mf_error(MF_ERR_INVALID, "offline_load: core_number %d (must be 1, 4 or 16)", o.core_number);
    mf_offline_model *m = calloc(1, sizeof *m);
    if (!m)
        return mf_error(MF_ERR_NOMEM, "%s: out of memory", name);
    mf_mfo_file f;
    level l;
    int lv = 0;
    mf_status s = mf_rt_mfo_sections(data, n, name, &f);
    if (!s)
        s = read_meta(m, f.meta, name);
    if (!s)
        s = choose_level(&f, name, o.host_features, &l, &lv);
    if (!s)
        s = mf_rt_mfo_plan(&f, lv, name, &m->plan, &m->nkernels, &m->in_names, &m->out_names);
    if (!s)
        s = load_kernels(m, &l, name);
    if (!s && o.core_number)
        m->plan->core_number = o.core_number;
    if (s)
        mf_offline_destroy(m);
    else
        *out = m;
    return s;
}

mf_status mf_offline_load(const char *path, const mf_offline_options *opt, mf_offline_model **out)
{
    if (!path || !out)
        return mf_error(MF_ERR_INVALID, "offline_load: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mf_error(MF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return mf_error(MF_ERR_IO, "%s: not a regular, non-empty file", path);
    }
    size_t n = (size_t)st.st_size;
    void *map = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return mf_error(MF_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    mf_status s = mf_offline_load_bytes(map, n, path, opt, out);
    if (s) {
        munmap(map, n);
        return s;
    }
    (*out)->map = map;
    (*out)->map_size = n;
    return MF_OK;
}

void mf_offline_destroy(mf_offline_model *m)
{
    if (!m)
        return;
    mf_rt_plan_free(m->plan);
    for (int k = 0; m->code && k < m->nkernels; k++)
        mf_rt_code_free(m->code[k]);
    free(m->code);
    free(m->in_names);
    free(m->out_names);
    free(m->meta);
    if (m->map)
        munmap(m->map, m->map_size);
    free(m);
}

int mf_offline_num_inputs(const mf_offline_model *m)
{
    return m ? m->plan->ninputs : 0;
}

int mf_offline_num_outputs(const mf_offline_model *m)
{
    return m ? m->plan->noutputs : 0;
}

mf_status mf_offline_io(const mf_offline_model *m, int output, int i, const char **name,
                        mf_dtype *dtype, int *rank, int64_t *shape)
{
    if (!m)
        return mf_error(MF_ERR_INVALID, "offline_io: NULL model");
    int n = output ? m->plan->noutputs : m->plan->ninputs;
    if (i < 0 || i >= n)
        return mf_error(MF_ERR_INVALID, "offline_io: %s %d of %d", output ? "output" : "input", i, n);
    const mf_type *t = &m->plan->slots[(output ? m->plan->outputs : m->plan->inputs)[i]].type;
    if (name)
        *name = output ? m->out_names[i] : m->in_names[i];
    if (dtype)
        *dtype = t->dtype;
    if (rank)
        *rank = t->rank;
    if (shape)
        memcpy(shape, t->shape, sizeof t->shape);
    return MF_OK;
}

const char *mf_offline_meta(const mf_offline_model *m, const char *key)
{
    if (!m || !key)
        return NULL;
    size_t k = strlen(key);
    for (size_t at = 0; at < m->meta_size; at += strlen(m->meta + at) + 1) {
        const char *line = m->meta + at;
        if (!strncmp(line, key, k) && line[k] == '=')
            return line + k + 1;
    }
    return NULL;
}

mf_plan *mf_rt_offline_plan(mf_offline_model *m)
{
    return m->plan;
}

const char *mf_offline_level(const mf_offline_model *m)
{
    return m ? m->level : "";
}

mf_status mf_offline_run(mf_offline_model *m, int n_in, mf_tensor *const *inputs, int n_out,
                         mf_tensor **outputs)
{
    if (!m || (n_in && !inputs) || !outputs)
        return mf_error(MF_ERR_INVALID, "offline_run: NULL argument");
    const mf_plan *p = m->plan;
    if (n_in != p->ninputs || n_out != p->noutputs)
        return mf_error(MF_ERR_INVALID, "offline_run: the model takes %d inputs and gives %d outputs, got %d and %d",
                        p->ninputs, p->noutputs, n_in, n_out);
    mf_tensor *in[256] = {0}, *res[256] = {0};
    mf_status s = MF_OK;
    for (int i = 0; i < n_in && !s; i++)
        s = inputs[i] ? mf_tensor_to(inputs[i], p->device, &in[i])
                      : mf_error(MF_ERR_INVALID, "offline_run: input %d is NULL", i);
    if (!s)
        s = mf_rt_plan_run(p, in, res);
    for (int i = 0; i < n_out; i++) {
        outputs[i] = NULL;
        if (!s)
            s = mf_tensor_to(res[i], MF_DEVICE_CPU, &outputs[i]);
    }
    for (int i = 0; i < 256; i++) {
        mf_tensor_free(in[i]);
        mf_tensor_free(res[i]);
    }
    if (s)
        for (int i = 0; i < n_out; i++)
            mf_tensor_free(outputs[i]), outputs[i] = NULL;
    return s ? mf_error_context(s, "offline_run") : MF_OK;
}
