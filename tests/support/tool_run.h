/* tool_run.h — running the project's built programs from tests as a user runs them:
 * through the shell, from the build directory ($MF_BUILD_DIR, which ctest sets; else
 * ../../build from a test's source folder), stdout and stderr captured apart or merged;
 * plus the paths and file helpers such tests need.  Failures to start a program or read
 * its output fail the test through cmocka. */
#ifndef MF_TEST_TOOL_RUN_H
#define MF_TEST_TOOL_RUN_H

#include <stdarg.h>
#include <stddef.h>

typedef struct tsupport_run {
    int rc;    /* exit status; -1 when the program did not exit (a signal killed it) */
    char *out; /* stdout, NUL-terminated (stdout and stderr when merged) */
    char *err; /* stderr, NUL-terminated ("" when merged) */
} tsupport_run;

/* Runs `BUILD_DIR/PROG ARGS`, ARGS formatted printf-style and split by /bin/sh (quote what
 * needs it), in the current environment (setenv before, to set a variable for the run).
 * merge: stderr into out, in order.  Fails the test when PROG is not built.  Free the
 * result with tsupport_run_free. */
tsupport_run tsupport_run_prog(const char *prog, int merge, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
tsupport_run tsupport_run_progv(const char *prog, int merge, const char *fmt, va_list ap);
/* Runs a shell command line (commands outside the build too: cc, cmake, python3). */
tsupport_run tsupport_run_sh(int merge, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tsupport_run_free(tsupport_run *r);

/* $MF_BUILD_DIR, $MF_SOURCE_DIR, $MF_SHARED_DIR, else the paths relative to a test's source
 * folder (tests/FOLDER): ../../build, ../.., ../../../shared. */
const char *tsupport_build_dir(void);
const char *tsupport_source_dir(void);
const char *tsupport_shared_dir(void);

/* The whole file, NUL-terminated (*len: its length; may be NULL); NULL when unreadable. */
char *tsupport_read_file(const char *path, size_t *len);
/* Writes text to path, failing the test on an error. */
void tsupport_write_file(const char *path, const char *text);
/* A new empty directory under /tmp named after tag (mkdtemp), into dir (at least 64
 * bytes); tsupport_rmdir_all removes it and the files in it (one level, no subfolders). */
void tsupport_tmpdir(const char *tag, char *dir);
void tsupport_rmdir_all(const char *dir);

#endif /* MF_TEST_TOOL_RUN_H */
