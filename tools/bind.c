/* bind.c — `--bind NAME=FILE.npy`: loads an ONNX model specialized on graph inputs whose
 * values the user knows (mf_onnx_load_bound), so that shape-like inputs (a Reshape's
 * shape, Range's bounds, a window's size, OneHot's depth, ...) resolve at import. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tools.h"

int mf_tool_load_bound(const char *cmd, const char *path, int64_t batch, int n, char *const *specs, mf_graph **g)
{
    size_t len = strlen(path);
    if (len > 5 && !strcmp(path + len - 5, ".mfir"))
        return mf_tool_fail(2, "%s: --bind: %s is no ONNX model (only ONNX graph inputs are bound)", cmd, path);
    const char *names[MF_TOOL_MAX_BIND] = {0};
    mf_tensor *values[MF_TOOL_MAX_BIND] = {0};
    char buf[MF_TOOL_MAX_BIND][256];
    int rc = 0;
    for (int i = 0; i < n && i < MF_TOOL_MAX_BIND && !rc; i++) {
        const char *eq = strchr(specs[i], '=');
        if (!eq || eq == specs[i] || !eq[1] || (size_t)(eq - specs[i]) >= sizeof buf[i]) {
            rc = mf_tool_fail(2, "%s: --bind '%s': expected NAME=FILE.npy", cmd, specs[i]);
            break;
        }
        snprintf(buf[i], sizeof buf[i], "%.*s", (int)(eq - specs[i]), specs[i]);
        names[i] = buf[i];
        if (mf_tensor_load_npy(eq + 1, &values[i]))
            rc = mf_tool_fail(1, "%s: --bind %s: %s", cmd, buf[i], mf_last_error());
    }
    if (!rc && mf_onnx_load_bound(path, batch, n, names, values, g))
        rc = mf_tool_fail(1, "%s: %s", cmd, mf_last_error());
    for (int i = 0; i < n && i < MF_TOOL_MAX_BIND; i++)
        mf_tensor_free(values[i]);
    return rc;
}
