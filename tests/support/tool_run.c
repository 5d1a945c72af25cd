/* tool_run.c — see tool_run.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool_run.h"

static const char *env_or(const char *name, const char *fallback)
{
    const char *s = getenv(name);
    return s && *s ? s : fallback;
}

const char *tsupport_build_dir(void)
{
    return env_or("MF_BUILD_DIR", "../../build");
}

const char *tsupport_source_dir(void)
{
    return env_or("MF_SOURCE_DIR", "../..");
}

const char *tsupport_shared_dir(void)
{
    return env_or("MF_SHARED_DIR", "../../../shared");
}

/* Everything f holds, NUL-terminated. */
static char *read_all(FILE *f, size_t *len)
{
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

char *tsupport_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = read_all(f, len);
    fclose(f);
    return text;
}

void tsupport_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s", path);
    int ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok)
        fail_msg("writing %s failed", path);
}

/* Runs the shell command line cmd (stderr merged into out, or apart). */
static tsupport_run run_line(const char *cmd, int merge)
{
    char errpath[] = "/tmp/mf-stderr-XXXXXX";
    if (!merge) {
        int fd = mkstemp(errpath);
        assert_true(fd >= 0);
        close(fd);
    }
    size_t cap = strlen(cmd) + sizeof errpath + 16;
    char *line = malloc(cap);
    assert_non_null(line);
    snprintf(line, cap, "%s 2>%s", cmd, merge ? "&1" : errpath);
    fflush(NULL);
    FILE *p = popen(line, "r");
    free(line);
    assert_non_null(p);
    tsupport_run r;
    r.out = read_all(p, NULL);
    int st = pclose(p);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (merge) {
        r.err = calloc(1, 1);
        assert_non_null(r.err);
    } else {
        r.err = tsupport_read_file(errpath, NULL);
        assert_non_null(r.err);
        unlink(errpath);
    }
    return r;
}

tsupport_run tsupport_run_progv(const char *prog, int merge, const char *fmt, va_list ap)
{
    char args[4096], exe[1024], cmd[5200];
    vsnprintf(args, sizeof args, fmt, ap);
    snprintf(exe, sizeof exe, "%s/%s", tsupport_build_dir(), prog);
    if (access(exe, X_OK) != 0)
        fail_msg("%s is not built (build the target `%s` first)", exe, prog);
    snprintf(cmd, sizeof cmd, "%s %s", exe, args);
    return run_line(cmd, merge);
}

tsupport_run tsupport_run_sh(int merge, const char *fmt, ...)
{
    char cmd[8192], group[8300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(group, sizeof group, "( %s )", cmd); /* one redirection for the whole line */
    return run_line(group, merge);
}

tsupport_run tsupport_run_prog(const char *prog, int merge, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsupport_run r = tsupport_run_progv(prog, merge, fmt, ap);
    va_end(ap);
    return r;
}

void tsupport_run_free(tsupport_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void tsupport_tmpdir(const char *tag, char *dir)
{
    snprintf(dir, 64, "/tmp/mf-%.32s-XXXXXX", tag);
    if (!mkdtemp(dir))
        fail_msg("mkdtemp %s failed", dir);
}

void tsupport_rmdir_all(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
