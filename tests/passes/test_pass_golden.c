/* test_pass_golden.c — golden tests of the graph passes.  Every data/NAME.mfir (other than
 * the *.expected.mfir files) names its pipeline on its first line, `# passes: a,b`, and may
 * set `# fold_limit: BYTES` on a following comment line.  The graph is loaded, the pipeline
 * runs with the verifier after every pass and constant folding by the reference kernels
 * (mf_mod_ref_eval), and the printed result must equal data/NAME.expected.mfir byte for byte.
 *
 * After an intended change of a pass, regenerate the expected files with
 *     MLUFUSE_UPDATE_GOLDEN=1 ctest -R test_pass_golden
 * and read every file that changed: a golden file is only as right as its review. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "module/module.h"
#include "passes/passes.h"

#define DATA "data/"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* The value of the header comment `# KEY: VALUE` among the leading comment lines, copied
 * into buf; NULL when absent. */
static const char *header(const char *text, const char *key, char *buf, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *p = text; *p == '#'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
        const char *q = p + 1 + strspn(p + 1, " ");
        if (strncmp(q, key, klen) || q[klen] != ':')
            continue;
        q += klen + 1;
        q += strspn(q, " ");
        size_t len = strcspn(q, "\r\n");
        while (len && q[len - 1] == ' ')
            len--;
        snprintf(buf, cap, "%.*s", (int)len, q);
        return buf;
    }
    return NULL;
}

/* Fails with the first differing line and both texts. */
static void assert_same_text(const char *name, const char *want, const char *got)
{
    if (!strcmp(want, got))
        return;
    int line = 1;
    for (const char *a = want, *b = got; *a && *a == *b; a++, b++)
        line += *a == '\n';
    fail_msg("%s: the passes' output differs from the golden file from line %d\n"
             "--- %s (expected)\n%s+++ result\n%s"
             "(if the change is intended: MLUFUSE_UPDATE_GOLDEN=1, then review the file)",
             name, line, name, want, got);
}

static void run_case(void **state)
{
    const char *file = *state; /* NAME.mfir */
    char path[512], expected_path[512], passes[256], limit[64];
    snprintf(path, sizeof path, DATA "%s", file);
    snprintf(expected_path, sizeof expected_path, DATA "%.*s.expected.mfir",
             (int)(strlen(file) - strlen(".mfir")), file);
    char *source = read_file(path);
    assert_non_null(source);
    if (!header(source, "passes", passes, sizeof passes))
        fail_msg("%s: the first line must be '# passes: a,b'", path);

    mf_graph *g = NULL;
    if (mf_graph_load(path, &g))
        fail_msg("%s", mf_last_error());
    mf_pass_ctx ctx = mf_pass_ctx_default();
    ctx.eval = mf_mod_ref_eval;
    if (header(source, "fold_limit", limit, sizeof limit))
        ctx.fold_limit = (size_t)strtoull(limit, NULL, 10);
    if (mf_pipeline_run(g, passes, &ctx, true, NULL, NULL, NULL, NULL))
        fail_msg("%s: %s", path, mf_last_error());
    char *got = NULL;
    assert_int_equal(mf_graph_print(g, 0, &got), MF_OK);

    const char *update = getenv("MLUFUSE_UPDATE_GOLDEN");
    if (update && *update && strcmp(update, "0")) {
        FILE *f = fopen(expected_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(got, 1, strlen(got), f), strlen(got));
        fclose(f);
        print_message("updated %s\n", expected_path);
    } else {
        char *want = read_file(expected_path);
        if (!want)
            fail_msg("%s is missing (MLUFUSE_UPDATE_GOLDEN=1 writes it)", expected_path);
        assert_same_text(expected_path, want, got);
        free(want);
    }
    free(got);
    free(source);
    mf_pass_ctx_release(&ctx);
    mf_graph_destroy(g);
}

static bool is_case(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".mfir") &&
           !(n > 14 && !strcmp(name + n - 14, ".expected.mfir"));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct CMUnitTest *)a)->name, ((const struct CMUnitTest *)b)->name);
}

int main(void)
{
    DIR *d = opendir(DATA);
    if (!d) {
        fprintf(stderr, "cannot open %s (run from tests/passes)\n", DATA);
        return 1;
    }
    struct CMUnitTest *tests = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_case(e->d_name))
            continue;
        tests = realloc(tests, sizeof *tests * (n + 1));
        char *name = strdup(e->d_name);
        if (!tests || !name)
            return 1;
        tests[n++] = (struct CMUnitTest){name, run_case, NULL, NULL, name};
    }
    closedir(d);
    if (!n) {
        fprintf(stderr, "no golden cases in %s\n", DATA);
        return 1;
    }
    qsort(tests, n, sizeof *tests, by_name);
    int failed = _cmocka_run_group_tests("pass_golden", tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free((void *)tests[i].initial_state);
    free(tests);
    return failed;
}
