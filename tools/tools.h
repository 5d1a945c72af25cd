/* tools.h — what the `mlufuse` command's subcommands share: their entry points (each
 * `int mf_cmd_NAME(int argc, char **argv)`, returning the exit code: 0 ok, 1 bad input or
 * mismatch, 2 usage or internal error) and the error printer. */
#ifndef MF_TOOLS_H
#define MF_TOOLS_H

/* Prints "mlufuse: message" to stderr and returns rc. */
int mf_tool_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int mf_cmd_run(int argc, char **argv);
int mf_cmd_cache(int argc, char **argv);

#endif
