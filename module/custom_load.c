/* custom_load.c — mf_custom_ops_load: reads a declaration file (ir/custom_decl.c), opens the
 * shared library, resolves every symbol it names, prepares one libffi call interface per op
 * from its C argument list, and registers the ops (ir/custom_registry.c) with the invoker
 * the `custom` kernel calls them through (runtime/ref_custom.c).  Everything is checked
 * before anything is registered; the library and the call interfaces live as long as the
 * process (registered ops are never removed). */
#include <dlfcn.h>
#include <ffi.h>
#include <stdlib.h>
#include <string.h>

#include "ir/custom_ops.h"

/* One op's prepared call: the cif and the argument types it points to. */
typedef struct prepared {
    ffi_cif cif;
    ffi_type *types[MF_CUSTOM_C_ARGS_MAX];
} prepared;

static int invoke(void *cif, void (*fn)(void), void **values)
{
    ffi_arg rc = 0;
    ffi_call(cif, fn, &rc, values);
    return (int)rc;
}

static ffi_type *ffi_type_of(mf_custom_ctype t)
{
    switch (t) {
    case MF_CT_PTR: return &ffi_type_pointer;
    case MF_CT_I64: return &ffi_type_sint64;
    case MF_CT_I32: return &ffi_type_sint32;
    case MF_CT_F64: return &ffi_type_double;
    default: return &ffi_type_uint8; /* bool */
    }
}

static mf_status prepare(const mf_custom_decl *d, prepared **out)
{
    mf_custom_ctype ct[MF_CUSTOM_C_ARGS_MAX];
    int n = mf_custom_c_args(d, ct);
    prepared *p = calloc(1, sizeof *p);
    if (!p)
        return mf_error(MF_ERR_NOMEM, "custom ops: out of memory");
    for (int i = 0; i < n; i++)
        p->types[i] = ffi_type_of(ct[i]);
    if (ffi_prep_cif(&p->cif, FFI_DEFAULT_ABI, (unsigned)n, &ffi_type_sint, p->types) != FFI_OK) {
        free(p);
        return mf_error(MF_ERR_INTERNAL, "%s: libffi cannot prepare a call of %s with %d arguments", d->where,
                        d->symbol, n);
    }
    *out = p;
    return MF_OK;
}

/* Resolves d's symbols in lib into e. */
static mf_status resolve(void *lib, const char *lib_path, const mf_custom_decl *d, mf_custom_entry *e)
{
    memset(e, 0, sizeof *e);
    e->decl = *d;
    snprintf(e->lib, sizeof e->lib, "%s", lib_path);
    *(void **)&e->fn = dlsym(lib, d->symbol);
    if (!e->fn)
        return mf_error(MF_ERR_INVALID, "%s: custom op %s: symbol '%s' is not in %s", d->where, d->name, d->symbol,
                        lib_path);
    if (d->rule == MF_CUSTOM_SHAPE_FN && !(*(void **)&e->shape_fn = dlsym(lib, d->shape_symbol)))
        return mf_error(MF_ERR_INVALID, "%s: custom op %s: shape function '%s' is not in %s", d->where, d->name,
                        d->shape_symbol, lib_path);
    e->invoke = invoke;
    return MF_OK;
}

static mf_status load_decls(const mf_custom_decl *decls, int n, const char *lib_path)
{
    void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        return mf_error(MF_ERR_IO, "custom ops: cannot open %s: %s", lib_path, why ? why : "unknown error");
    }
    mf_custom_entry *entries = calloc((size_t)n + 1, sizeof *entries);
    prepared **preps = calloc((size_t)n + 1, sizeof *preps);
    mf_status s = entries && preps ? MF_OK : mf_error(MF_ERR_NOMEM, "custom ops: out of memory");
    for (int i = 0; i < n && !s; i++)
        if (!(s = resolve(lib, lib_path, &decls[i], &entries[i])) && !(s = prepare(&decls[i], &preps[i])))
            entries[i].cif = &preps[i]->cif;
    for (int i = 0; i < n && !s; i++)
        s = mf_custom_check(&entries[i]);
    for (int i = 0; i < n && !s; i++) {
        int index;
        s = mf_custom_register(&entries[i], &index);
        if (!s && mf_custom_get(index)->cif == entries[i].cif)
            preps[i] = NULL; /* registered: it lives as long as the process */
    }
    for (int i = 0; preps && i < n; i++) /* unused: failed, or the op was loaded before */
        free(preps[i]);
    free(entries);
    free(preps);
    return s;
}

mf_status mf_custom_ops_load_text(const char *text, const char *filename, const char *lib_path, int *count)
{
    if (!text || !lib_path || !*lib_path)
        return mf_error(MF_ERR_INVALID, "custom ops: declarations and a library path are required");
    mf_custom_decl *decls = NULL;
    int n = 0;
    mf_status s = mf_custom_decl_parse(text, strlen(text), filename, &decls, &n);
    if (!s)
        s = load_decls(decls, n, lib_path);
    free(decls);
    if (!s && count)
        *count = n;
    return s;
}

mf_status mf_custom_ops_load(const char *decl_path, const char *lib_path, int *count)
{
    if (!decl_path || !*decl_path)
        return mf_error(MF_ERR_INVALID, "custom ops: no declaration file");
    char *text;
    size_t len;
    mf_status s = mf_file_read_all(decl_path, 1 << 20, &text, &len);
    if (s)
        return s;
    s = mf_custom_ops_load_text(text, decl_path, lib_path, count);
    free(text);
    return s;
}
