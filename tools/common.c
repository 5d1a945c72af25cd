/* common.c — what several subcommands need: loading a model by its extension, and JSON
 * string quoting for --json output. */
#include <stdio.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
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
