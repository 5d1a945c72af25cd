/* fuzz_custom_decl.c — the custom op declaration parser (ir/custom_decl.c) on arbitrary
 * text: a parse either fails with a FILE:LINE:COL message or gives declarations that keep
 * every invariant the registry, the loader and the caller rely on (a Tensor argument and an
 * output at least, slots and rule inputs in range, a symbol), and whose canonical text and
 * C argument list are computed without overrunning anything. */
#include <stdlib.h>
#include <string.h>

#include "ir/custom_ops.h"
#include "tests/fuzz/fuzz.h"

static void check(const mf_custom_decl *d)
{
    if (!d->name[0] || !d->symbol[0] || d->ntensors < 1 || d->noutputs < 1 || d->nrule_inputs < 0 ||
        d->ntensors > MF_CUSTOM_MAX_TENSORS || d->nscalars > MF_CUSTOM_MAX_SCALARS ||
        d->noutputs > MF_CUSTOM_MAX_OUTPUTS || d->nargs != d->ntensors + d->nscalars)
        abort();
    if (d->rule == MF_CUSTOM_SHAPE_FN ? !d->shape_symbol[0] : d->nrule_inputs < 1)
        abort();
    for (int i = 0; i < d->nrule_inputs; i++)
        if (d->rule_inputs[i] < 0 || d->rule_inputs[i] >= d->ntensors)
            abort();
    for (int i = 0; i < d->nargs; i++) {
        const mf_custom_arg *a = &d->args[i];
        int bound = a->kind == MF_CUSTOM_TENSOR_ARG ? d->ntensors : d->nscalars;
        if (a->index < 0 || a->index >= bound || !a->onnx_name[0])
            abort();
    }
    char buf[64]; /* short on purpose: the text is cut, never overrun */
    mf_custom_decl_str(d, buf, sizeof buf);
    mf_custom_ctype types[MF_CUSTOM_C_ARGS_MAX];
    if (mf_custom_c_args(d, types) > MF_CUSTOM_C_ARGS_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mf_custom_decl *decls = NULL;
    int n = 0;
    mf_status s = mf_custom_decl_parse((const char *)data, size, "fuzz.txt", &decls, &n);
    if (s == MF_OK) {
        for (int i = 0; i < n; i++)
            check(&decls[i]);
    } else if (s == MF_ERR_PARSE && strncmp(mf_last_error(), "fuzz.txt:", 9)) {
        abort(); /* a malformed declaration is always placed */
    }
    free(decls);
    return 0;
}
