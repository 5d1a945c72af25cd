/* mfo_read.h — the loader's view of an offline model's bytes (mfo_read.c): the sections,
 * each already checked against its checksum, and the plan they describe. */
#ifndef MF_RUNTIME_MFO_READ_H
#define MF_RUNTIME_MFO_READ_H

#include "mfo.h"

typedef struct mf_mfo_section {
    uint32_t kind;
    const unsigned char *data;
    size_t size, offset;
} mf_mfo_section;

typedef struct mf_mfo_file {
    char producer[32];
    int nsections, nlevels;
    mf_mfo_section sections[MF_MFO_MAX_SECTIONS];
    const mf_mfo_section *meta, *weights; /* exactly one each */
    /* a CPU level each: the k-th plan section and the k-th code section, in file order */
    const mf_mfo_section *plans[MF_MFO_MAX_LEVELS], *codes[MF_MFO_MAX_LEVELS];
} mf_mfo_file;

/* Checks the header (magic, version, checksum) and the section table, and every section
 * against its checksum; name is the file's name in messages. */
mf_status mf_rt_mfo_sections(const unsigned char *data, size_t n, const char *name, mf_mfo_file *f);
/* The plan of f's level-th CPU level, every slot, step and operand checked; its kernel
 * steps hold the index of their kernel in step->segment (and no function yet), its
 * constants point into f's weights.  *in_names and *out_names are malloc'ed arrays of the
 * input and output names. */
mf_status mf_rt_mfo_plan(const mf_mfo_file *f, int level, const char *name, mf_plan **out,
                         int *nkernels, char (**in_names)[128], char (**out_names)[128]);

/* The plan of a loaded offline model, its kernels linked (owned by m): the plan cache runs it
 * inside a module (module/plan_cache.c). */
typedef struct mf_offline_model mf_offline_model;
mf_plan *mf_rt_offline_plan(mf_offline_model *m);

#endif
