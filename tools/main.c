/* main.c — the `mlufuse` command: a table of subcommands, each in its own cmd_NAME.c.
 * Adding a subcommand is one line in the table and one declaration in tools.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_cache.h"
#include "tools.h"

static const struct {
    const char *name, *summary;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"run", "run an ONNX or .mfir model, compare and time it", mf_cmd_run},
    {"opt", "run graph passes and show how a model fuses (fusion debugging)", mf_cmd_opt},
    {"cache", "inspect and maintain the on-disk kernel cache", mf_cmd_cache},
    {"genoff", "compile a model into an offline model file (.mfo)", mf_cmd_genoff},
    {"quantize", "quantize a model to int8 after calibrating it", mf_cmd_quantize},
};

int mf_tool_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mlufuse: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return rc;
}

static void usage(FILE *f)
{
    fputs("usage: mlufuse COMMAND [options]   (mlufuse COMMAND --help for its options)\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        /* A mistyped cache variable is a usage error, not a silent default. */
        if (mf_kernel_cache_check_env())
            return mf_tool_fail(2, "%s", mf_last_error());
        return commands[i].run(argc - 1, argv + 1);
    }
    usage(stderr);
    return mf_tool_fail(2, "unknown command '%s'", argv[1]);
}
