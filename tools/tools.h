/* tools.h — what the `mlufuse` command's subcommands share: their entry points (each
 * `int mf_cmd_NAME(int argc, char **argv)`, returning the exit code: 0 ok, 1 bad input or
 * mismatch, 2 usage or internal error) and the error printer. */
#ifndef MF_TOOLS_H
#define MF_TOOLS_H

#include <stdio.h>

#include "mlufuse/mlufuse.h"

/* Prints "mlufuse: message" to stderr and returns rc. */
int mf_tool_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A model by its extension: .mfir text IR, anything else ONNX (batch: dim 0 of every
 * input, 0 to keep the file's). */
mf_status mf_tool_load_model(const char *path, int64_t batch, mf_graph **g);
/* An ONNX model with graph inputs bound to values known at import (bind.c): specs[i] is
 * "NAME=FILE.npy" (--bind of command cmd), the input NAME becomes a constant of the file's
 * tensor; 0, or the exit code after printing the error. */
#define MF_TOOL_MAX_BIND 16
int mf_tool_load_bound(const char *cmd, const char *path, int64_t batch, int n, char *const *specs, mf_graph **g);
/* --custom-ops DECL.txt:LIB.so of command cmd: loads the declarations and the library
 * (mf_custom_ops_load); 0, or the exit code after printing the error. */
int mf_tool_custom_ops(const char *cmd, const char *arg);
/* s as a JSON string, quoted and escaped. */
void mf_tool_json_str(FILE *f, const char *s);

int mf_cmd_run(int argc, char **argv);
int mf_cmd_opt(int argc, char **argv);
int mf_cmd_cache(int argc, char **argv);
int mf_cmd_genoff(int argc, char **argv);
int mf_cmd_quantize(int argc, char **argv);

/* mkdir -p path (0777 less the umask); 0, or -1 with errno set. */
int mf_tool_mkdirs(const char *path);

#endif
