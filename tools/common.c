/* common.c — what several subcommands need: loading a model by its extension, JSON
 * string quoting for --json output, and making an output directory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_custom_ops.h"
#include "tools.h"

mf_status mf_tool_load_model(const char *path, int64_t batch, mf_graph **g)
{
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".mfir"))
        return mf_graph_load(path, g);
    return mf_onnx_load(path, batch, g);
}

void mf_tool_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

int mf_tool_mkdirs(const char *path)
{
    char buf[4096];
    if (!*path) { /* the loop below starts past the first character */
        errno = ENOENT;
        return -1;
    }
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st))
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int mf_tool_custom_ops(const char *cmd, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return mf_tool_fail(2, "%s: --custom-ops takes DECL.txt:LIB.so, not '%s'", cmd, arg);
    char decl[4096];
    if ((size_t)(colon - arg) >= sizeof decl)
        return mf_tool_fail(2, "%s: --custom-ops: the declaration path is too long", cmd);
    snprintf(decl, sizeof decl, "%.*s", (int)(colon - arg), arg);
    if (mf_custom_ops_load(decl, colon + 1, NULL))
        return mf_tool_fail(1, "%s: --custom-ops: %s", cmd, mf_last_error());
    return 0;
}
