/* test_opt_tool.c — `mlufuse opt` as a user runs it: usage and exit codes (0 ok, 1 bad input
 * with the problem named on stderr, 2 usage), the optimized graph on stdout and in -o
 * (parseable, annotated with @sgN), --print-after(-all), --dot clusters, --stats, --json
 * (valid JSON with the planned numbers of a small graph worked out by hand), fusion off by
 * flag and by DISABLE_MLU_FUSION=1, ONNX input; and the acceptance of the fusion report on
 * examples/mnist.mfir and examples/resnet_block.mfir: what fused with what. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/compare.h"
#include "tests/support/text.h"
#include "tests/support/tool_run.h"

/* ---- fixtures ------------------------------------------------------------------------ */

/* A small graph whose plan is worked out by hand: relu (sg0) -> permute (no MLU code: a
 * CPU op) -> sigmoid, tanh (sg1).  Units run sg0, permute, sg1 (steps 0, 1, 2); the values
 * that leave their unit are %a (128 bytes, live steps 0-1), %t (128, 1-2) and the output
 * %c (128, 2-end): %a and %c share an offset, so the peak is 256 bytes against 384. */
static const char small_mfir[] =
    "graph @small(%x: f32[4,8]) {\n"
    "  %a = relu(%x) : f32[4,8]\n"
    "  %t = permute(%a) {perm=[1,0]} : f32[8,4]\n"
    "  %b = sigmoid(%t) : f32[8,4]\n"
    "  %c = tanh(%b) : f32[8,4]\n"
    "  return %c\n"
    "}\n";

static const char bad_mfir[] =
    "graph @g(%x: f32[2,3]) {\n  %0 = relu(%x) : f32[2,3]\n  %1 = conv4d(%0) : f32[2,3]\n  return %1\n}\n";

static char dir[64], small[128], bad[128], mnist[512], block[512];

static int setup(void **state)
{
    tsupport_tmpdir("opt-tool", dir);
    snprintf(small, sizeof small, "%s/small.mfir", dir);
    snprintf(bad, sizeof bad, "%s/bad.mfir", dir);
    tsupport_write_file(small, small_mfir);
    tsupport_write_file(bad, bad_mfir);
    snprintf(mnist, sizeof mnist, "%s/examples/mnist.mfir", tsupport_source_dir());
    snprintf(block, sizeof block, "%s/examples/resnet_block.mfir", tsupport_source_dir());
    unsetenv("DISABLE_MLU_FUSION");
    unsetenv("DEBUG");
    /* the reports below are of direct convolutions (test_onnx_model shows Winograd's) */
    setenv("MLUFUSE_WINOGRAD", "0", 1);
    return 0;
}

static int teardown(void **state)
{
    tsupport_rmdir_all(dir);
    return 0;
}

/* `mlufuse opt ARGS`, stdout and stderr apart. */
static tsupport_run opt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static tsupport_run opt(const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return tsupport_run_prog("mlufuse", 0, "opt %s", args);
}

/* Fails with everything the run printed unless it exited rc. */
static void expect_rc(const tsupport_run *r, int rc)
{
    if (r->rc != rc)
        fail_msg("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->rc, rc, r->out, r->err);
}

static void expect_in(const char *text, const char *what)
{
    if (!strstr(text, what))
        fail_msg("'%s' not found in:\n%s", what, text);
}

/* ---- a small JSON reader: validates the whole text and finds top-level numbers --------- */

typedef struct json {
    const char *p;
    int depth;
} json;

static void ws(json *j)
{
    while (isspace((unsigned char)*j->p))
        j->p++;
}

static int value(json *j);

static int string(json *j)
{
    if (*j->p != '"')
        return 0;
    for (j->p++; *j->p != '"'; j->p++) {
        if ((unsigned char)*j->p < 0x20)
            return 0;
        if (*j->p == '\\') {
            j->p++;
            if (*j->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)j->p[i]))
                        return 0;
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", *j->p) || !*j->p) {
                return 0;
            }
        }
    }
    j->p++;
    return 1;
}

static int number(json *j)
{
    char *end;
    if (!(*j->p == '-' || isdigit((unsigned char)*j->p)))
        return 0;
    strtod(j->p, &end);
    j->p = end;
    return 1;
}

static int members(json *j, char close, int keyed)
{
    j->p++;
    ws(j);
    if (*j->p == close)
        return j->p++, 1;
    for (;;) {
        ws(j);
        if (keyed) {
            if (!string(j))
                return 0;
            ws(j);
            if (*j->p++ != ':')
                return 0;
        }
        if (!value(j))
            return 0;
        ws(j);
        if (*j->p == close)
            return j->p++, 1;
        if (*j->p++ != ',')
            return 0;
    }
}

static int value(json *j)
{
    ws(j);
    if (++j->depth > 32)
        return 0;
    int ok;
    if (*j->p == '{')
        ok = members(j, '}', 1);
    else if (*j->p == '[')
        ok = members(j, ']', 0);
    else if (*j->p == '"')
        ok = string(j);
    else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4))
        ok = 1, j->p += 4;
    else if (!strncmp(j->p, "false", 5))
        ok = 1, j->p += 5;
    else
        ok = number(j);
    j->depth--;
    return ok;
}

/* Is text exactly one JSON object (and whitespace)?  *at: where reading stopped. */
static int json_ok(const char *text, const char **at)
{
    json j = {text, 0};
    ws(&j);
    int ok = *j.p == '{' && value(&j);
    if (ok)
        ws(&j);
    *at = j.p;
    return ok && !*j.p;
}

static void expect_json(const char *text)
{
    const char *at;
    if (!json_ok(text, &at))
        fail_msg("not one JSON object (at offset %td):\n%s", at - text, text);
}

/* The reader above is what --json is held to: it must refuse what is not JSON. */
static void test_json_reader(void **state)
{
    static const char *const valid[] = {"{}", " {\"a\": [1, -2.5e3, null, true, false, \"x\\\"\\u00e9\"]}\n",
                                        "{\"a\": {\"b\": []}}"};
    static const char *const invalid[] = {"", "[]", "{", "{\"a\": 1,}", "{\"a\" 1}", "{\"a\": 01x}", "{\"a\": \"\\q\"}",
                                          "{\"a\": \"tab\there\"}", "{a: 1}", "{} {}", "{\"a\": nul}", "{\"a\": [1 2]}"};
    const char *at;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (!json_ok(valid[i], &at))
            fail_msg("refused %s", valid[i]);
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        if (json_ok(invalid[i], &at))
            fail_msg("accepted %s", invalid[i]);
}

/* The number after `"key": ` (the first occurrence: top-level keys here are unique). */
static long long json_int(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(text, pat);
    if (!p)
        fail_msg("no key %s in %s", key, text);
    char *end;
    long long v = strtoll(p + strlen(pat), &end, 10);
    if (end == p + strlen(pat))
        fail_msg("%s is not a number in %s", key, text);
    return v;
}

/* ---- subgraphs as the reports show them -------------------------------------------------- */

#define MAXSG 32

typedef struct subgraphs {
    int n;
    char ops[MAXSG][256]; /* "conv2d,relu": op names in order */
} subgraphs;

/* Appends ",op" (or "op") to list. */
static void add_op(char *list, const char *op)
{
    size_t n = strlen(list);
    assert_true(n + strlen(op) + 2 <= sizeof ((subgraphs *)0)->ops[0]);
    snprintf(list + n, sizeof ((subgraphs *)0)->ops[0] - n, "%s%s", n ? "," : "", op);
}

/* From --explain: the "  sgN: conv2d %9, relu %10" lines (N in order). */
static subgraphs explain_subgraphs(const char *text)
{
    subgraphs s = {0};
    for (const char *at = text; *at;) {
        char line[1024];
        size_t len = strcspn(at, "\n");
        snprintf(line, sizeof line, "%.*s", (int)len, at);
        at += len + (at[len] == '\n');
        int id, used;
        if (sscanf(line, "  sg%d:%n", &id, &used) != 1)
            continue;
        assert_int_equal(id, s.n);
        assert_true(s.n < MAXSG);
        for (const char *p = line + used; *p;) { /* " op %name," ... */
            char op[64];
            used = 0;
            if (sscanf(p, " %63[a-z0-9_] %%%*[^,]%n", op, &used) != 1 || !used)
                fail_msg("cannot read '%s' in '%s'", p, line);
            add_op(s.ops[s.n], op);
            p += used;
            p += *p == ',';
        }
        s.n++;
    }
    return s;
}

/* From --dot: the op names of the nodes inside each `subgraph cluster_sgN {`, in order;
 * grey: the op names of the nodes outside every cluster (CPU ops), each of which must be
 * filled grey, as no node inside a cluster may be. */
static subgraphs dot_subgraphs(const char *text, char *grey, size_t cap)
{
    subgraphs s = {0};
    int in = -1;
    grey[0] = 0;
    for (const char *at = text; *at;) {
        char line[512], op[64];
        size_t len = strcspn(at, "\n");
        snprintf(line, sizeof line, "%.*s", (int)len, at);
        at += len + (at[len] == '\n');
        int id;
        if (sscanf(line, "  subgraph cluster_sg%d {", &id) == 1) {
            assert_int_equal(id, s.n);
            assert_true(s.n < MAXSG);
            in = s.n++;
        } else if (!strcmp(line, "  }")) {
            in = -1;
        } else if (sscanf(line, " n%*d [label=\"%63[a-z0-9_]\\n", op) == 1) {
            int filled = strstr(line, ", style=filled, fillcolor=grey85]") != NULL;
            if (in >= 0) {
                if (filled)
                    fail_msg("an MLU node is filled grey: %s", line);
                add_op(s.ops[in], op);
            } else {
                if (!filled)
                    fail_msg("a CPU node is not filled grey: %s", line);
                snprintf(grey + strlen(grey), cap - strlen(grey), "%s%s", grey[0] ? "," : "", op);
            }
        }
    }
    return s;
}

static int has_subgraph(const subgraphs *s, const char *ops)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += !strcmp(s->ops[i], ops);
    return n;
}

static void expect_same(const subgraphs *a, const subgraphs *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++)
        assert_string_equal(a->ops[i], b->ops[i]);
}

/* ---- usage --------------------------------------------------------------------------- */

static void test_help_and_list(void **state)
{
    tsupport_run r = opt("--help");
    expect_rc(&r, 0);
    static const char *const options[] = {"--passes", "--list-passes", "--no-fusion", "--fold-limit",
                                          "--batch", "--print-after-all", "--print-after=PASS", "--dot",
                                          "--explain", "--stats", "--json", "-o, --output", "--verify",
                                          "-h, --help", "usage: mlufuse opt MODEL"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        expect_in(r.out, options[i]);
    assert_string_equal(r.err, "");
    tsupport_run_free(&r);

    r = opt("--list-passes");
    expect_rc(&r, 0);
    char want[512];
    snprintf(want, sizeof want, "default pipeline: %s\n", mf_opt_default_pipeline());
    expect_in(r.out, want);
    assert_true(mf_opt_num_passes() >= 7);
    for (int i = 0; i < mf_opt_num_passes(); i++) { /* "  NAME       SUMMARY" per pass */
        const char *summary, *name = mf_opt_pass_name(i, &summary);
        snprintf(want, sizeof want, "\n  %-16s %s\n", name, summary);
        expect_in(r.out, want);
    }
    assert_int_equal(tsupport_count(r.out, "\n"), 1 + mf_opt_num_passes());
    tsupport_run_free(&r);
}

static void test_usage_errors_exit_2(void **state)
{
    tsupport_run r = opt("%s --frobnicate", small);
    expect_rc(&r, 2);
    expect_in(r.err, "unrecognized option '--frobnicate'");
    expect_in(r.err, "usage: mlufuse opt MODEL");
    assert_string_equal(r.out, "");
    tsupport_run_free(&r);

    r = opt("--explain");
    expect_rc(&r, 2);
    expect_in(r.err, "expected one MODEL, got 0");
    tsupport_run_free(&r);

    r = opt("%s %s", small, small);
    expect_rc(&r, 2);
    expect_in(r.err, "expected one MODEL, got 2");
    tsupport_run_free(&r);

    r = opt("%s --print-after=fuse", small);
    expect_rc(&r, 2);
    expect_in(r.err, "--print-after names no pass: 'fuse'");
    assert_string_equal(r.out, "");
    tsupport_run_free(&r);

    r = opt("%s --fold-limit lots", small);
    expect_rc(&r, 2);
    expect_in(r.err, "bad number 'lots'");
    tsupport_run_free(&r);
}

static void test_bad_input_exit_1(void **state)
{
    tsupport_run r = opt("%s/missing.mfir", dir);
    expect_rc(&r, 1);
    expect_in(r.err, "missing.mfir");
    expect_in(r.err, "No such file or directory");
    assert_string_equal(r.out, "");
    tsupport_run_free(&r);

    r = opt("%s --explain", bad);
    expect_rc(&r, 1);
    char where[160];
    snprintf(where, sizeof where, "%s:3:", bad); /* FILE:LINE:COL */
    expect_in(r.err, where);
    expect_in(r.err, "unknown op 'conv4d'");
    assert_string_equal(r.out, "");
    tsupport_run_free(&r);

    r = opt("%s --passes dce,fuse,segment", small);
    expect_rc(&r, 1);
    expect_in(r.err, "unknown pass 'fuse'");
    char known[512] = "known: "; /* every pass, as --list-passes names them */
    for (int i = 0; i < mf_opt_num_passes(); i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", mf_opt_pass_name(i, NULL));
    expect_in(r.err, known);
    assert_string_equal(r.out, "");
    tsupport_run_free(&r);

    r = opt("%s --passes dce --explain", small); /* nothing to explain without segment */
    expect_rc(&r, 1);
    expect_in(r.err, "--explain needs the segment pass");
    tsupport_run_free(&r);
}

/* ---- what it prints -------------------------------------------------------------------- */

static void test_default_output_is_the_optimized_graph(void **state)
{
    tsupport_run r = opt("%s", small);
    expect_rc(&r, 0);
    assert_string_equal(r.err, "");
    mf_graph *g;
    if (mf_graph_parse(r.out, "stdout", &g))
        fail_msg("%s\n%s", mf_last_error(), r.out);
    assert_int_equal(mf_graph_num_nodes(g), 4);
    int want[] = {0, -1, 1, 1}; /* relu | permute on the CPU | sigmoid, tanh */
    for (int i = 0; i < 4; i++)
        assert_int_equal(mf_graph_node_subgraph(g, i), want[i]);
    mf_graph_destroy(g);
    expect_in(r.out, "%a = relu(%x) : f32[4,8] @sg0\n");
    expect_in(r.out, "%t = permute(%a) {perm=[1,0]} : f32[8,4]\n");
    expect_in(r.out, "%c = tanh(%b) : f32[8,4] @sg1\n");
    tsupport_run_free(&r);
}

static void test_output_file(void **state)
{
    char path[160];
    snprintf(path, sizeof path, "%s/block.opt.mfir", dir);
    tsupport_run r = opt("%s -o %s", block, path);
    expect_rc(&r, 0);
    assert_string_equal(r.out, ""); /* -o alone prints nothing */
    tsupport_run_free(&r);
    char *text = tsupport_read_file(path, NULL);
    assert_non_null(text);
    assert_null(strstr(text, "batch_norm"));
    assert_null(strstr(text, "opaque")); /* constants whole */
    assert_int_equal(tsupport_count(text, " @sg0\n"), 2);
    assert_int_equal(tsupport_count(text, " @sg1\n"), 3);
    free(text);

    /* it parses, and computes what the block before conv-bn folding computes */
    mf_graph *before, *after;
    assert_int_equal(mf_graph_load(block, &before), MF_OK);
    assert_int_equal(mf_graph_load(path, &after), MF_OK);
    assert_int_equal(mf_graph_num_nodes(after), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(mf_graph_node_subgraph(after, i), i < 2 ? 0 : 1);
    mf_tensor *x, *want, *got;
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 8, 8, 8}, 3, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_graph_interpret(before, 1, &x, 1, &want), MF_OK);
    assert_int_equal(mf_graph_interpret(after, 1, &x, 1, &got), MF_OK);
    double d = tsupport_rel_diff(got, want, 1e-30);
    if (!(d <= 1e-5))
        fail_msg("the optimized block computes something else: relative difference %g", d);
    mf_tensor_free(x);
    mf_tensor_free(want);
    mf_tensor_free(got);
    mf_graph_destroy(before);
    mf_graph_destroy(after);

    r = opt("%s -o %s/no/such/dir/x.mfir", small, dir);
    expect_rc(&r, 1);
    expect_in(r.err, "cannot write graph");
    tsupport_run_free(&r);
}

static void test_print_after(void **state)
{
    tsupport_run r = opt("%s --print-after-all", small);
    expect_rc(&r, 0);
    char pipeline[256];
    snprintf(pipeline, sizeof pipeline, "%s", mf_opt_default_pipeline());
    int npasses = 0;
    const char *at = r.out;
    for (char *save, *pass = strtok_r(pipeline, ",", &save); pass; pass = strtok_r(NULL, ",", &save)) {
        char head[64];
        snprintf(head, sizeof head, "# after %s: ", pass);
        const char *p = strstr(at, head);
        if (!p)
            fail_msg("no '%s' block after offset %td in\n%s", head, at - r.out, r.out);
        at = p + strlen(head); /* one block per pass, in pipeline order */
        npasses++;
    }
    assert_int_equal(npasses, 14);
    assert_int_equal(tsupport_count(r.out, "# after "), npasses);
    assert_int_equal(tsupport_count(r.out, "graph @small("), npasses);
    assert_int_equal(tsupport_count(r.out, "@sg"), 2 * 3); /* after segment and after plan */
    tsupport_run_free(&r);

    r = opt("%s --print-after=segment", block);
    expect_rc(&r, 0);
    assert_int_equal(tsupport_count(r.out, "# after "), 1);
    assert_true(!strncmp(r.out, "# after segment: 5 nodes\ngraph @resnet_block(", 45));
    assert_int_equal(tsupport_count(r.out, "graph @"), 1); /* nothing else printed */
    assert_null(strstr(r.out, "batch_norm"));
    mf_graph *g;
    if (mf_graph_parse(strchr(r.out, '\n') + 1, "print-after", &g))
        fail_msg("%s", mf_last_error());
    mf_graph_destroy(g);
    tsupport_run_free(&r);

    r = opt("%s --print-after simplify --passes dce,simplify,simplify", small); /* each run of it */
    expect_rc(&r, 0);
    assert_int_equal(tsupport_count(r.out, "# after simplify: 4 nodes\n"), 2);
    assert_int_equal(tsupport_count(r.out, "# after "), 2);
    tsupport_run_free(&r);

    r = opt("%s --print-after=segment --json", small); /* the JSON stays clean: graphs to stderr */
    expect_rc(&r, 0);
    expect_json(r.out);
    expect_in(r.err, "# after segment: 4 nodes\n");
    tsupport_run_free(&r);
}

static void test_dot(void **state)
{
    char path[160], grey[256];
    snprintf(path, sizeof path, "%s/small.dot", dir);
    tsupport_run r = opt("%s --dot %s", small, path);
    expect_rc(&r, 0);
    assert_string_equal(r.out, "");
    tsupport_run_free(&r);
    char *text = tsupport_read_file(path, NULL);
    assert_non_null(text);
    assert_true(!strncmp(text, "digraph \"small\" {\n", 18));
    assert_int_equal(tsupport_count(text, "subgraph cluster_sg"), 2);
    subgraphs s = dot_subgraphs(text, grey, sizeof grey);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ops[0], "relu");
    assert_string_equal(s.ops[1], "sigmoid,tanh");
    assert_string_equal(grey, "permute");
    assert_int_equal(tsupport_count(text, "fillcolor=grey"), 1);
    expect_in(text, "  v0 [shape=oval, label=\"%x\"];\n");
    expect_in(text, "  out0 [shape=oval, label=\"return %c\"];\n");
    assert_int_equal(tsupport_count(text, " -> "), 5); /* x->relu->permute->sigmoid->tanh->return */
    assert_true(strlen(text) > 2 && !strcmp(text + strlen(text) - 2, "}\n"));
    free(text);
}

static void test_stats(void **state)
{
    tsupport_run r = opt("%s --stats", small);
    expect_rc(&r, 0);
    /* the pass column as wide as the longest name (qconv-winograd) */
    assert_true(!strncmp(r.out, "pass           nodes before  after  changes        ms\n", 54));
    char pipeline[256];
    snprintf(pipeline, sizeof pipeline, "%s", mf_opt_default_pipeline());
    const char *at = r.out;
    for (char *save, *pass = strtok_r(pipeline, ",", &save); pass; pass = strtok_r(NULL, ",", &save)) {
        char head[64];
        snprintf(head, sizeof head, "\n%-14s %12d %6d ", pass, 4, 4); /* nothing to remove */
        const char *p = strstr(at, head);
        if (!p)
            fail_msg("no stats line for %s after offset %td in\n%s", pass, at - r.out, r.out);
        at = p + 1;
    }
    char line[64];
    snprintf(line, sizeof line, "\n%-14s %12d %6d %8d ", "segment", 4, 4, 2); /* changes: subgraphs */
    expect_in(r.out, line);
    expect_in(r.out, ", 4 nodes after\n");
    expect_in(r.out, "\nsubgraphs: 2 MLU, 1 CPU ops, 2 unfused edges; nodes per subgraph: 1 2\n");
    expect_in(r.out, "\nmemory plan: 3 buffers, peak 0.2 KiB with reuse, 0.4 KiB as one buffer per value (0.67)\n");
    /* relu's result to the host for permute, permute's back for sigmoid */
    expect_in(r.out, "\nboundary copies per run: 1 device -> host, 1 host -> device\n");
    assert_int_equal(tsupport_count(r.out, "\n"), 1 + 14 + 4);
    tsupport_run_free(&r);
}

static void test_json(void **state)
{
    tsupport_run r = opt("%s --json", small);
    expect_rc(&r, 0);
    assert_string_equal(r.err, "");
    expect_json(r.out);
    assert_int_equal(json_int(r.out, "nodes"), 4);
    assert_int_equal(json_int(r.out, "subgraphs"), 2);
    assert_int_equal(json_int(r.out, "copies_to_host"), 1);
    assert_int_equal(json_int(r.out, "copies_to_device"), 1);
    assert_int_equal(json_int(r.out, "cpu_ops"), 1);
    assert_int_equal(json_int(r.out, "peak_bytes"), 256);
    assert_int_equal(json_int(r.out, "naive_bytes"), 384);
    assert_int_equal(json_int(r.out, "buffers"), 3);
    expect_in(r.out, "\"subgraph_sizes\": [1, 2]");
    assert_int_equal(tsupport_count(r.out, "{\"name\": "), 14);
    assert_int_equal(tsupport_count(r.out, "\"reason\": \"unsupported op\""), 2);
    expect_in(r.out, "{\"from\": \"%a\", \"from_op\": \"relu\", \"from_subgraph\": 0, \"to\": \"%t\", "
                     "\"to_op\": \"permute\", \"to_subgraph\": -1, \"reason\": \"unsupported op\", \"text\": "
                     "\"%a (relu, sg0) -> %t (permute, cpu): unsupported op: permute has no MLU code and runs "
                     "on the CPU, with copies at the boundary\"}");
    tsupport_run_free(&r);

    /* without segment and plan their numbers are null, not made up */
    r = opt("%s --json --passes dce,cse", small);
    expect_rc(&r, 0);
    expect_json(r.out);
    expect_in(r.out, "\"subgraphs\": null, \"cpu_ops\": null, \"peak_bytes\": null");
    expect_in(r.out, "\"pipeline\": \"dce,cse\"");
    assert_int_equal(tsupport_count(r.out, "{\"name\": "), 2);
    tsupport_run_free(&r);
}

static void test_fusion_off(void **state)
{
    /* one subgraph per MLU op; every edge between two of them is blamed on the switch (the
     * residual x -> add comes from the graph's input: no edge) */
    tsupport_run r = opt("%s --json --no-fusion", block);
    expect_rc(&r, 0);
    expect_json(r.out);
    assert_int_equal(json_int(r.out, "nodes"), 5);
    assert_int_equal(json_int(r.out, "subgraphs"), 5);
    expect_in(r.out, "\"subgraph_sizes\": [1, 1, 1, 1, 1]");
    assert_int_equal(tsupport_count(r.out, "\"reason\": "), 4);
    assert_int_equal(tsupport_count(r.out, "\"reason\": \"DISABLE_MLU_FUSION\""), 4);
    assert_int_equal(tsupport_count(r.out, "fusion is switched off: every MLU op is its own subgraph"), 4);
    tsupport_run_free(&r);

    setenv("DISABLE_MLU_FUSION", "1", 1);
    r = opt("%s --explain", block);
    unsetenv("DISABLE_MLU_FUSION");
    expect_rc(&r, 0);
    expect_in(r.out, "subgraphs: 5 MLU, 0 CPU ops\n");
    subgraphs s = explain_subgraphs(r.out);
    assert_int_equal(s.n, 5);
    static const char *const ops[] = {"conv2d", "relu", "conv2d", "add", "relu"};
    for (int i = 0; i < 5; i++)
        assert_string_equal(s.ops[i], ops[i]);
    expect_in(r.out, "unfused edges: 4\n");
    assert_int_equal(tsupport_count(r.out, ": DISABLE_MLU_FUSION: fusion is switched off"), 4);
    tsupport_run_free(&r);

    setenv("DISABLE_MLU_FUSION", "0", 1); /* "0" is not set */
    r = opt("%s --json", block);
    unsetenv("DISABLE_MLU_FUSION");
    expect_rc(&r, 0);
    assert_int_equal(json_int(r.out, "subgraphs"), 2);
    assert_null(strstr(r.out, "DISABLE_MLU_FUSION"));
    tsupport_run_free(&r);
}

static void test_verify_flag(void **state)
{
    tsupport_run r = opt("%s --verify --json", block);
    expect_rc(&r, 0);
    assert_int_equal(json_int(r.out, "subgraphs"), 2);
    tsupport_run_free(&r);
}

/* ---- the issue's acceptance: the examples' fusion report --------------------------------- */

/* --explain and --dot of one run; the two must show the same subgraphs. */
static subgraphs report(const char *model, const char *name, char **explain)
{
    char path[160], grey[256];
    snprintf(path, sizeof path, "%s/%s.dot", dir, name);
    tsupport_run r = opt("%s --explain --dot %s", model, path);
    expect_rc(&r, 0);
    assert_string_equal(r.err, "");
    subgraphs s = explain_subgraphs(r.out);
    char *dot = tsupport_read_file(path, NULL);
    assert_non_null(dot);
    subgraphs d = dot_subgraphs(dot, grey, sizeof grey);
    expect_same(&s, &d);
    assert_string_equal(grey, ""); /* everything runs on the MLU */
    assert_int_equal(tsupport_count(dot, "subgraph cluster_sg"), s.n);
    free(dot);
    *explain = r.out;
    free(r.err);
    return s;
}

static void test_mnist_report(void **state)
{
    char *text;
    subgraphs s = report(mnist, "mnist", &text);
    expect_in(text, "subgraphs: 6 MLU, 0 CPU ops\n");
    assert_int_equal(has_subgraph(&s, "conv2d,relu"), 2); /* conv + bias + relu, twice */
    assert_int_equal(has_subgraph(&s, "flatten,linear,relu"), 1); /* fc1 + bias + relu, flatten free */
    assert_int_equal(has_subgraph(&s, "max_pool2d"), 1);
    assert_int_equal(has_subgraph(&s, "linear"), 1);
    assert_int_equal(has_subgraph(&s, "log_softmax"), 1);
    assert_null(strstr(text, "dropout")); /* identities at inference: gone */
    expect_in(text, "unfused edges: 5\n");
    expect_in(text, "  %10 (relu, sg0) -> %11 (conv2d, sg1): second anchor: sg0 already has conv2d %9 "
                    "(one anchor per subgraph)\n");
    expect_in(text, "  %17 (relu, sg3) -> %19 (linear, sg4): second anchor: sg3 already has linear %16 "
                    "(one anchor per subgraph)\n");
    free(text);
}

static void test_resnet_block_report(void **state)
{
    char *text;
    subgraphs s = report(block, "resnet_block", &text);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ops[0], "conv2d,relu");     /* conv-bn folded, relu its epilogue */
    assert_string_equal(s.ops[1], "conv2d,add,relu"); /* the residual epilogue in one kernel */
    assert_null(strstr(text, "batch_norm"));
    expect_in(text, "subgraphs: 2 MLU, 0 CPU ops\n");
    expect_in(text, "unfused edges: 1\n");
    expect_in(text, "(relu, sg0) -> %14 (conv2d, sg1): second anchor: sg0 already has conv2d %11");
    free(text);

    /* before conv-bn, the batch norms are there to fold */
    char *orig = tsupport_read_file(block, NULL);
    assert_non_null(orig);
    assert_int_equal(tsupport_count(orig, "= batch_norm("), 2);
    free(orig);
}

static void test_onnx_model(void **state)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/mnist_net/model.onnx", tsupport_shared_dir());
    if (access(path, R_OK) != 0) {
        print_message("skipping: %s is missing\n", path);
        skip();
    }
    tsupport_run r = opt("%s --json", path); /* direct convolutions, as the example's */
    expect_rc(&r, 0);
    expect_json(r.out);
    assert_int_equal(json_int(r.out, "nodes"), 10);
    assert_int_equal(json_int(r.out, "subgraphs"), 6); /* as examples/mnist.mfir's */
    assert_int_equal(json_int(r.out, "cpu_ops"), 0);
    expect_in(r.out, "\"subgraph_sizes\": [2, 2, 1, 3, 1, 1]");
    long long peak1 = json_int(r.out, "peak_bytes");
    assert_true(peak1 > 0 && peak1 < json_int(r.out, "naive_bytes"));
    tsupport_run_free(&r);

    /* the 32->64 3x3 conv as Winograd: input, matmul, output, three kernels (its 162 KiB of
     * transformed tiles stay in L2 between them) */
    setenv("MLUFUSE_WINOGRAD", "1", 1);
    r = opt("%s --json", path);
    setenv("MLUFUSE_WINOGRAD", "0", 1);
    expect_rc(&r, 0);
    assert_int_equal(json_int(r.out, "nodes"), 12);
    assert_int_equal(json_int(r.out, "subgraphs"), 8);
    tsupport_run_free(&r);

    r = opt("%s --json --batch 4", path); /* dim 0 of the input: activations grow */
    expect_rc(&r, 0);
    assert_true(json_int(r.out, "peak_bytes") > 3 * peak1);
    tsupport_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_help_and_list),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_bad_input_exit_1),
        cmocka_unit_test(test_default_output_is_the_optimized_graph),
        cmocka_unit_test(test_output_file),
        cmocka_unit_test(test_print_after),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_fusion_off),
        cmocka_unit_test(test_verify_flag),
        cmocka_unit_test(test_mnist_report),
        cmocka_unit_test(test_resnet_block_report),
        cmocka_unit_test(test_onnx_model),
    };
    return cmocka_run_group_tests_name("opt_tool", tests, setup, teardown);
}
