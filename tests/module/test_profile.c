/* test_profile.c — the profiler end to end on a small traced network (conv2d+relu, a
 * CPU-fallback permute with its copies, linear, matmul): the Chrome trace parses as JSON in
 * trace-event form, every launch of the plan appears in every run, the events inside a run
 * are its steps exactly (counted, so the rest of the run's time is bookkeeping between
 * them) and their durations add up to no more than the run, partitions lie inside their
 * launch on their core's track, FLOPs add up to the hand-computed figure, the layer-by-layer
 * mode is profiled too, the SVG timeline is well formed with a bar per partition, and
 * profiling changes no output bit.  No assertion depends on how long anything took. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/json.h"
#include "tests/support/text.h"
#include "tests/support/tool_run.h"

#define CHECK(call)                                      \
    do {                                                 \
        if ((call) != MF_OK)                             \
            fail_msg("%s: %s", #call, mf_last_error()); \
    } while (0)

/* conv2d [1,3,8,8] by [4,3,3,3] (+bias) -> [1,4,6,6]: 144 outputs x 27 MACs; relu: 144;
 * permute (CPU) and flatten: none; linear 144 -> 10: 10 x 144 MACs; matmul [1,10] x [10,5]:
 * 5 x 10 MACs. */
#define NET_FLOPS (2.0 * 144 * 27 + 144 + 2.0 * 10 * 144 + 2.0 * 5 * 10)
#define ROUNDING_US 0.0015 /* ts and dur are printed in microseconds with 3 decimals */

static mf_graph *graph;
static mf_tensor *x_cpu, *x_mlu;

static mf_tensor *rand_t(int rank, const int64_t *shape, uint64_t seed)
{
    mf_tensor *t;
    CHECK(mf_tensor_rand(MF_F32, rank, shape, seed, -1, 1, MF_DEVICE_CPU, &t));
    return t;
}

static int setup(void **state)
{
    mf_tensor *w = rand_t(4, (int64_t[]){4, 3, 3, 3}, 2), *b = rand_t(1, (int64_t[]){4}, 3);
    mf_tensor *w2 = rand_t(2, (int64_t[]){10, 144}, 4), *b2 = rand_t(1, (int64_t[]){10}, 5);
    mf_tensor *w3 = rand_t(2, (int64_t[]){10, 5}, 6);
    x_cpu = rand_t(4, (int64_t[]){1, 3, 8, 8}, 1);
    mf_tensor *t[6];
    CHECK(mf_trace_begin(1, &x_cpu));
    CHECK(mf_conv2d(x_cpu, w, b, MF_CONV2D_DEFAULT, &t[0]));
    CHECK(mf_relu(t[0], &t[1]));
    CHECK(mf_permute(t[1], (int[]){0, 2, 3, 1}, &t[2]));
    CHECK(mf_flatten(t[2], 1, -1, &t[3]));
    CHECK(mf_linear(t[3], w2, b2, &t[4]));
    CHECK(mf_matmul(t[4], w3, &t[5]));
    CHECK(mf_trace_end(1, &t[5], &graph));
    for (int i = 0; i < 6; i++)
        mf_tensor_free(t[i]);
    mf_tensor *ws[] = {w, b, w2, b2, w3};
    for (int i = 0; i < 5; i++)
        mf_tensor_free(ws[i]);
    CHECK(mf_tensor_to(x_cpu, MF_DEVICE_MLU(0), &x_mlu));
    return 0;
}

static int teardown(void **state)
{
    mf_tensor_free(x_cpu);
    mf_tensor_free(x_mlu);
    mf_graph_destroy(graph);
    return 0;
}

static mf_module *make_module(int cores)
{
    mf_module_options o = mf_module_default_options();
    o.core_number = cores;
    mf_module *m;
    CHECK(mf_module_create(graph, &o, &m));
    return m;
}

/* Runs m n times, returning the last output on the host. */
static mf_tensor *run_n(mf_module *m, int n)
{
    mf_tensor *out = NULL, *host;
    for (int i = 0; i < n; i++) {
        mf_tensor_free(out);
        CHECK(mf_module_run(m, 1, &x_mlu, 1, &out));
    }
    CHECK(mf_tensor_to(out, MF_DEVICE_CPU, &host));
    mf_tensor_free(out);
    return host;
}

/* ---- reading a trace back ------------------------------------------------------------- */

typedef struct trace {
    tjson *root;
    const tjson *events; /* the traceEvents array */
} trace;

static trace read_trace(const mf_profile *p)
{
    char dir[64], path[128], err[128];
    tsupport_tmpdir("mf-profile", dir);
    snprintf(path, sizeof path, "%s/trace.json", dir);
    CHECK(mf_profile_write_trace(p, path));
    char *text = tsupport_read_file(path, NULL);
    assert_non_null(text);
    trace t = {tjson_parse(text, err, sizeof err), NULL};
    if (!t.root)
        fail_msg("the trace is not JSON: %s", err);
    free(text);
    tsupport_rmdir_all(dir);
    t.events = tjson_get(t.root, "traceEvents");
    assert_non_null(t.events);
    assert_int_equal(t.events->type, TJSON_ARRAY);
    return t;
}

static bool is_cat(const tjson *e, const char *cat)
{
    const char *c = tjson_str(e, "cat");
    return c && !strcmp(c, cat);
}

static double ts_of(const tjson *e)
{
    return tjson_num(e, "ts", NAN);
}

static double end_of(const tjson *e)
{
    return tjson_num(e, "ts", NAN) + tjson_num(e, "dur", NAN);
}

/* e lies within outer's interval (up to the printing's rounding). */
static bool inside(const tjson *e, const tjson *outer)
{
    return ts_of(e) >= ts_of(outer) - ROUNDING_US && end_of(e) <= end_of(outer) + ROUNDING_US;
}

static double arg_num(const tjson *e, const char *key)
{
    return tjson_num(tjson_get(e, "args"), key, NAN);
}

static const char *track_name(const trace *t, double tid)
{
    for (int i = 0; i < t->events->n; i++) {
        const tjson *e = t->events->items[i];
        const char *name = tjson_str(e, "name");
        if (name && !strcmp(name, "thread_name") && tjson_num(e, "tid", -1) == tid)
            return tjson_str(tjson_get(e, "args"), "name");
    }
    return NULL;
}

/* Every event has the fields of the trace-event format; complete events have their
 * track named; the number of them is the one otherData states. */
static void check_format(const trace *t)
{
    int complete = 0;
    for (int i = 0; i < t->events->n; i++) {
        const tjson *e = t->events->items[i];
        const char *ph = tjson_str(e, "ph");
        assert_non_null(tjson_str(e, "name"));
        assert_non_null(ph);
        assert_true(tjson_num(e, "pid", -1) >= 0 && tjson_num(e, "tid", -1) >= 0);
        assert_non_null(tjson_get(e, "args"));
        if (!strcmp(ph, "M"))
            continue;
        assert_string_equal(ph, "X");
        assert_non_null(tjson_str(e, "cat"));
        assert_true(ts_of(e) >= 0 && tjson_num(e, "dur", -1) >= 0);
        assert_non_null(track_name(t, tjson_num(e, "tid", -1)));
        complete++;
    }
    assert_int_equal(tjson_num(tjson_get(t->root, "otherData"), "events", -1), complete);
}

typedef struct run_check {
    int steps, kernels, cpu_ops, copies;
    double step_us, run_us, flops;
} run_check;

/* The steps of the run event r: the events on its track inside it. */
static run_check check_run(const trace *t, const tjson *r)
{
    run_check c = {0};
    c.run_us = tjson_num(r, "dur", NAN);
    for (int i = 0; i < t->events->n; i++) {
        const tjson *e = t->events->items[i];
        if (e == r || tjson_num(e, "tid", -1) != tjson_num(r, "tid", -2) || !inside(e, r))
            continue;
        bool kernel = is_cat(e, "kernel"), cpu = is_cat(e, "cpu_op"), copy = is_cat(e, "copy");
        if (!kernel && !cpu && !copy)
            continue;
        c.steps++;
        c.kernels += kernel;
        c.cpu_ops += cpu;
        c.copies += copy;
        c.step_us += tjson_num(e, "dur", NAN);
        if (!copy)
            c.flops += arg_num(e, "flops");
    }
    return c;
}

/* Each launch inside run r is covered once by partitions inside it, named as the launch is,
 * each on the track of the core that ran it: nparts partitions, or with a nested launch
 * (runtime/core_pool.c) finer ones and runs of them (part of nparts x 2^k, k <= 2). */
static void check_partitions(const trace *t, const tjson *r, int nparts)
{
    enum { UNITS = 64 }; /* a launch's work in 64ths: nparts x 2^k divides it */
    for (int i = 0; i < t->events->n; i++) {
        const tjson *k = t->events->items[i];
        if (!is_cat(k, "kernel") || !inside(k, r))
            continue;
        uint64_t seen = 0;
        for (int j = 0; j < t->events->n; j++) {
            const tjson *p = t->events->items[j];
            if (!is_cat(p, "partition") || !inside(p, k) || strcmp(tjson_str(p, "name"), tjson_str(k, "name")))
                continue;
            int part = (int)arg_num(p, "part"), np = (int)arg_num(p, "nparts"), core = -1, end = 0;
            const char *track = track_name(t, tjson_num(p, "tid", -1));
            assert_int_equal(sscanf(track, "mlu:0 core %d%n", &core, &end), 1);
            assert_true(core >= 0 && core <= 16 && track[end] == 0);
            assert_true(np >= 1 && np <= 4 * nparts && UNITS % np == 0 && part >= 0 && part < np);
            for (int u = part * UNITS / np; u < (part + 1) * UNITS / np; u++) {
                assert_false(seen & (1ull << u));
                seen |= 1ull << u;
            }
        }
        assert_true(seen == ~0ull);
    }
}

/* ---- the tests --------------------------------------------------------------------------- */

static void check_profiled_module(int cores)
{
    CHECK(mf_module_profile_begin());
    mf_module *m = make_module(cores);
    mf_tensor_free(run_n(m, 3));
    mf_profile *p;
    CHECK(mf_module_profile_end(&p));
    mf_module_destroy(m);
    trace t = read_trace(p);
    check_format(&t);
    int runs = 0, compiles = 0;
    for (int i = 0; i < t.events->n; i++) {
        const tjson *e = t.events->items[i];
        compiles += is_cat(e, "compile") || is_cat(e, "load");
        if (!is_cat(e, "run"))
            continue;
        runs++;
        run_check c = check_run(&t, e);
        /* every step of the plan is one event: nothing else ran between them */
        assert_int_equal(c.steps, arg_num(e, "steps"));
        assert_int_equal(c.kernels, arg_num(e, "kernel_launches"));
        assert_true(c.kernels >= 2 && c.cpu_ops == 1 && c.copies == 2);
        assert_true(c.step_us <= c.run_us + ROUNDING_US * (c.steps + 1));
        assert_true(c.flops == NET_FLOPS);
        check_partitions(&t, e, cores);
    }
    assert_int_equal(runs, 3);
    if (cores == 1) /* the first module of the process compiles its kernels while profiled */
        assert_true(compiles >= 2);
    tjson_free(t.root);
    mf_profile_destroy(p);
}

static void test_trace_one_core(void **state)
{
    check_profiled_module(1);
}

static void test_trace_four_cores(void **state)
{
    check_profiled_module(4);
}

static void assert_same_bits(const mf_tensor *a, const mf_tensor *b)
{
    assert_int_equal(mf_tensor_nbytes(a), mf_tensor_nbytes(b));
    assert_memory_equal(mf_tensor_data(a), mf_tensor_data(b), mf_tensor_nbytes(a));
}

static void test_outputs_unchanged(void **state)
{
    for (int cores = 1; cores <= 4; cores += 3) {
        mf_module *m = make_module(cores);
        mf_tensor *plain = run_n(m, 1);
        mf_profile *p;
        CHECK(mf_module_profile_begin());
        mf_tensor *profiled = run_n(m, 1);
        CHECK(mf_module_profile_end(&p));
        assert_same_bits(plain, profiled);
        mf_tensor_free(plain);
        mf_tensor_free(profiled);
        mf_profile_destroy(p);
        mf_module_destroy(m);
    }
    mf_tensor *plain, *profiled, *ph, *qh;
    mf_profile *p;
    CHECK(mf_graph_interpret(graph, 1, &x_mlu, 1, &plain));
    CHECK(mf_module_profile_begin());
    CHECK(mf_graph_interpret(graph, 1, &x_mlu, 1, &profiled));
    CHECK(mf_module_profile_end(&p));
    CHECK(mf_tensor_to(plain, MF_DEVICE_CPU, &ph));
    CHECK(mf_tensor_to(profiled, MF_DEVICE_CPU, &qh));
    assert_same_bits(ph, qh);
    mf_tensor *tensors[] = {plain, profiled, ph, qh};
    for (int i = 0; i < 4; i++)
        mf_tensor_free(tensors[i]);
    mf_profile_destroy(p);
}

/* The layer-by-layer mode: an interpreter run is a run event with one op event per op that
 * computes (views do not), and an op on an mlu runs on its queue's track. */
static void test_eager_profiled(void **state)
{
    mf_tensor *out, *y, *host;
    mf_profile *p;
    CHECK(mf_module_profile_begin());
    CHECK(mf_graph_interpret(graph, 1, &x_mlu, 1, &out));
    CHECK(mf_relu(x_mlu, &y));
    CHECK(mf_tensor_to(y, MF_DEVICE_CPU, &host)); /* waits for the queue */
    CHECK(mf_module_profile_end(&p));
    trace t = read_trace(p);
    check_format(&t);
    int runs = 0, queued = 0;
    for (int i = 0; i < t.events->n; i++) {
        const tjson *e = t.events->items[i];
        if (is_cat(e, "run")) {
            runs++;
            assert_string_equal(tjson_str(e, "name"), "interpret @traced");
            run_check c = check_run(&t, e);
            assert_int_equal(c.cpu_ops, 5); /* conv2d, relu, permute, linear, matmul */
            assert_true(c.flops == NET_FLOPS);
            assert_true(c.step_us <= c.run_us + ROUNDING_US * (c.steps + 1));
        } else if ((is_cat(e, "kernel") || is_cat(e, "cpu_op")) && !strcmp(tjson_str(e, "name"), "relu") &&
                   !strcmp(track_name(&t, tjson_num(e, "tid", -1)), "mlu:0 default queue")) {
            queued++;
        }
    }
    assert_int_equal(runs, 1);
    assert_int_equal(queued, 1);
    tjson_free(t.root);
    mf_profile_destroy(p);
    mf_tensor_free(out);
    mf_tensor_free(y);
    mf_tensor_free(host);
}

/* p's summary as JSON, parsed (freed with tjson_free, then *text with free). */
static tjson *summary_json(const mf_profile *p, char **text)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    CHECK(mf_profile_print_summary(p, f, 1));
    long n = ftell(f);
    rewind(f);
    char err[128];
    *text = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(*text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    tjson *s = tjson_parse(*text, err, sizeof err);
    if (!s)
        fail_msg("summary JSON: %s\n%s", err, *text);
    return s;
}

static void test_summary(void **state)
{
    mf_module *m = make_module(1);
    mf_profile *p;
    CHECK(mf_module_profile_begin());
    mf_tensor_free(run_n(m, 4));
    CHECK(mf_module_profile_end(&p));
    mf_module_destroy(m);
    mf_profile_stats st;
    mf_profile_get_stats(p, &st);
    assert_int_equal(st.runs, 4);
    assert_true(fabs(st.gflop * 1e9 - 4 * NET_FLOPS) < 1e-3);
    assert_true(st.events > 0 && st.event_cost_ns > 0);

    char *text;
    tjson *s = summary_json(p, &text);
    assert_int_equal(tjson_num(s, "runs", -1), 4);
    assert_true(tjson_num(s, "flops_per_run", -1) == NET_FLOPS);
    assert_true(tjson_num(s, "peak_gflops_per_core", -1) > 0 && tjson_num(s, "bandwidth_gbs", -1) > 0);
    /* the permute's two copies in each run; outside, the last result read back */
    assert_int_equal(tjson_num(s, "copies_in_runs", -1), 4 * 2);
    assert_int_equal(tjson_num(s, "copies_outside_runs", -1), 1);
    const tjson *rows = tjson_get(s, "subgraphs");
    assert_true(rows && rows->n >= 3);
    double share = 0, prev = INFINITY, flops = 0;
    for (int i = 0; i < rows->n; i++) {
        const tjson *r = rows->items[i];
        assert_int_equal(tjson_num(r, "calls", -1), 4);
        assert_true(tjson_num(r, "total_ms", -1) <= prev); /* longest first */
        prev = tjson_num(r, "total_ms", -1);
        share += tjson_num(r, "share", -1);
        flops += tjson_num(r, "flops", -1);
        const char *bound = tjson_str(r, "bound");
        assert_true(bound && (!strcmp(bound, "compute") || !strcmp(bound, "memory")));
    }
    assert_true(share <= 1.0 + 1e-3);
    assert_true(flops == NET_FLOPS);
    tjson_free(s);
    free(text);
    mf_profile_destroy(p);
}

/* Tags nest and close; returns the number of elements named `name`. */
static int check_xml(const char *s, const char *name)
{
    const char *stack[64];
    size_t lens[64];
    int depth = 0, count = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        if (p[1] == '?')
            continue;
        const char *end = strchr(p, '>');
        assert_non_null(end);
        if (p[1] == '/') {
            assert_true(depth > 0);
            depth--;
            assert_true(!strncmp(p + 2, stack[depth], lens[depth]) && p[2 + lens[depth]] == '>');
            continue;
        }
        size_t len = strcspn(p + 1, " />");
        count += len == strlen(name) && !strncmp(p + 1, name, len);
        if (end[-1] == '/')
            continue;
        assert_true(depth < 64);
        stack[depth] = p + 1;
        lens[depth++] = len;
    }
    assert_int_equal(depth, 0);
    return count;
}

static void test_svg(void **state)
{
    mf_module *m = make_module(4);
    mf_profile *p;
    CHECK(mf_module_profile_begin());
    mf_tensor_free(run_n(m, 2));
    CHECK(mf_module_profile_end(&p));
    mf_module_destroy(m);
    char dir[64], path[128];
    tsupport_tmpdir("mf-profile-svg", dir);
    snprintf(path, sizeof path, "%s/timeline.svg", dir);
    CHECK(mf_profile_write_svg(p, path));
    char *svg = tsupport_read_file(path, NULL);
    assert_non_null(svg);
    tsupport_rmdir_all(dir);
    assert_true(!strncmp(svg, "<?xml", 5) && strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_int_equal(check_xml(svg, "svg"), 1);

    /* what the last run did, from the trace of the same profile */
    trace t = read_trace(p);
    const tjson *last = NULL;
    for (int i = 0; i < t.events->n; i++)
        if (is_cat(t.events->items[i], "run"))
            last = t.events->items[i];
    assert_non_null(last);
    run_check c = check_run(&t, last);
    int parts = 0; /* a launch's partitions: 4, or finer ones and runs of them (nested launches) */
    for (int i = 0; i < t.events->n; i++)
        parts += is_cat(t.events->items[i], "partition") && inside(t.events->items[i], last);
    assert_true(parts >= 2 * c.kernels && parts <= 16 * c.kernels);
    int bars = parts + c.cpu_ops + c.copies; /* partitions; ops and copies on the host */
    assert_int_equal(tsupport_count(svg, "<g class=\"bar\">"), bars);
    assert_int_equal(tsupport_count(svg, "<g class=\"bar\"><rect "), bars);
    assert_non_null(strstr(svg, "<g class=\"legend\">"));
    assert_non_null(strstr(svg, "font-weight=\"bold\">run @traced: "));
    assert_int_equal(check_xml(svg, "title"), bars);
    /* a row per core that ran partitions (the submitter's, core 0, always does) and the host
     * thread's */
    int rows = 1;
    for (int core = 0; core <= 16; core++) {
        char row[64];
        snprintf(row, sizeof row, ">mlu:0 core %d</text>", core);
        rows += strstr(svg, row) != NULL;
        if (core == 0)
            assert_non_null(strstr(svg, row));
    }
    assert_int_equal(tsupport_count(svg, "<g class=\"row\">"), rows);
    assert_non_null(strstr(svg, "<title>subgraph 0 (conv2d+relu): f32[1,3,8,8] -&gt; f32[1,4,6,6]"));
    tjson_free(t.root);
    free(svg);

    /* the summary counts the partitions launched (core_number), not the calls they ran as,
     * and the imbalance is of cores: at most min(4, CPUs) - 1 */
    char *text;
    tjson *s = summary_json(p, &text);
    const tjson *sites = tjson_get(s, "subgraphs");
    assert_true(sites && sites->n >= 3);
    for (int i = 0; i < sites->n; i++) {
        double launched = tjson_num(sites->items[i], "partitions", -1);
        double imb = tjson_num(sites->items[i], "imbalance", -1);
        assert_true(launched == 1 || launched == 4);
        assert_true(imb >= 0 && imb <= 3);
    }
    tjson_free(s);
    free(text);
    mf_profile_destroy(p);
}

static void test_sessions(void **state)
{
    mf_profile *p = NULL;
    assert_int_equal(mf_module_profile_end(&p), MF_ERR_INVALID);
    assert_null(p);
    mf_module *m = make_module(1);
    mf_tensor_free(run_n(m, 2)); /* not profiled: nothing is kept */
    CHECK(mf_module_profile_begin());
    assert_int_equal(mf_module_profile_begin(), MF_ERR_INVALID);
    CHECK(mf_module_profile_end(&p));
    mf_profile_stats st;
    mf_profile_get_stats(p, &st);
    assert_int_equal(st.events, 0);
    assert_int_equal(st.runs, 0);
    mf_profile_destroy(p);
    mf_module_destroy(m);
    assert_int_equal(mf_profile_write_trace(NULL, "x.json"), MF_ERR_INVALID);
}

int main(void)
{
    /* These tests examine compiled kernels (tier 1) as module creation makes them; the
     * tiers themselves are test_tiers.c's. */
    setenv("MLUFUSE_TIER", "full", 1);
    /* every launch split, small as these kernels are: the tests follow partitions on cores */
    setenv("MLUFUSE_LAUNCH_GRAIN_US", "0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_one_core), /* first: it sees the compiles */
        cmocka_unit_test(test_trace_four_cores),
        cmocka_unit_test(test_outputs_unchanged),
        cmocka_unit_test(test_eager_profiled),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_sessions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
