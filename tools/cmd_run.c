/* cmd_run.c — `mlufuse run MODEL`: runs an ONNX or .mfir model on .npy (or seeded random)
 * inputs, layer by layer or fused, writes the outputs as .npy, compares them with expected
 * ones, times repeated runs, and profiles them (a Chrome trace, a per-subgraph summary, an
 * SVG timeline).  Uses the public API only. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlufuse/mlufuse.h"
#include "int_arg.h"
#include "tools.h"

#define MAX_IO 16

typedef struct run_opts {
    const char *model, *inputs[MAX_IO], *expect[MAX_IO], *output_dir, *cpu;
    const char *profile, *profile_svg; /* --profile FILE.json, --profile-svg FILE.svg */
    int ninputs, nexpect, core_number, bench, json, random, fused, explain, batch_given;
    int profile_summary;
    int time_compile, compile_threads; /* --time-compile, --compile-threads N */
    int opt_level;                     /* --opt-level N */
    mf_tier_mode tier;                 /* --tier fast|full|auto (default: MLUFUSE_TIER, auto) */
    double start_ms;                   /* when the command began, before loading the model */
    const char *passes;                /* --passes LIST */
    char *bind[MF_TOOL_MAX_BIND];      /* --bind NAME=FILE.npy */
    int nbind;
    int unfused; /* compiled with one op per kernel (DISABLE_MLU_FUSION=1) */
    int64_t batch, new_batch; /* --batch N, --new-batch N */
    double min_time_s; /* --min-time S: --bench goes on until S seconds are timed */
    uint64_t seed;
    double rtol, atol;
} run_opts;

static const char usage[] =
    "usage: mlufuse run MODEL [options]\n"
    "Runs an ONNX (.onnx) or mlufuse IR (.mfir) model.\n"
    "  -i, --input FILE.npy      an input, in the model's input order (repeat for several)\n"
    "      --random              seeded random inputs in [0, 1) instead (--seed N, default 1)\n"
    "  -o, --output-dir DIR      write output0.npy, output1.npy, ... into DIR\n"
    "      --expect FILE.npy     compare output k with the k-th --expect; exit 1 on mismatch\n"
    "      --rtol R --atol A     match when max|got-want| <= atol + rtol * max|want|\n"
    "                            (defaults 1e-3 and 0)\n"
    "      --mode eager|fused    layer by layer on the reference kernels, or compiled (default)\n"
    "      --core-number 1|4|16  partitions per kernel launch (default 1)\n"
    "      --cpu NAME            generate code for an LLVM CPU (the seed's core_version),\n"
    "                            e.g. x86-64-v3; default: this machine's\n"
    "      --batch N             batch size (dim 0 of every input; ONNX only)\n"
    "      --bind NAME=FILE.npy  specialize the model on graph input NAME's value (ONNX only;\n"
    "                            repeatable): NAME becomes a constant at import, so shape-like\n"
    "                            inputs (Reshape's shape, Range's bounds, OneHot's depth, ...)\n"
    "                            resolve; -i then gives the other inputs, in order\n"
    "      --bench N             time N runs after 3 warm-up runs\n"
    "      --min-time S          with --bench: go on past N runs until S seconds are timed\n"
    "                            (at most 2000 runs), as ../shared/bench/ort_bench.js does\n"
    "      --json                print one JSON object instead of text\n"
    "      --profile FILE.json   write a Chrome trace of everything run (compiles, runs,\n"
    "                            launches per core, CPU ops, copies): open it in\n"
    "                            https://ui.perfetto.dev or chrome://tracing\n"
    "      --profile-summary     print one row per subgraph, by time: share of the run,\n"
    "                            GFLOP/s and GB/s against this machine's measured limits,\n"
    "                            compute or memory bound, imbalance (in --json: \"profile\")\n"
    "      --profile-svg FILE.svg  draw the last run's timeline, one row per core\n"
    "      --explain-misses      for each kernel compiled, the nearest disk cache entry and\n"
    "                            the key components that differ (on stderr)\n"
    "      --time-compile        where the compile went: per kernel, its source (compiled,\n"
    "                            disk cache, memory) and the ms of building LLVM IR, LLVM's\n"
    "                            passes, instruction selection and emission, loading; totals\n"
    "                            and wall time (in --json: \"compile_timing\")\n"
    "      --compile-threads N   kernels compiled at once (default: one per core)\n"
    "      --opt-level 0-3       LLVM optimization level of the kernels (default 3)\n"
    "      --tier fast|full|auto fast: generic kernels only, no compile; full: compile every\n"
    "                            kernel before the first run; auto (default, or MLUFUSE_TIER):\n"
    "                            run at once on the generic kernels while the specialized ones\n"
    "                            compile in the background (reported: the first run's tier, and\n"
    "                            when tier-up finished; --bench waits for it)\n"
    "      --new-batch N         after the first run (and tier-up), one run of random inputs\n"
    "                            with dim 0 N: what a new batch size of the compiled module\n"
    "                            costs (in --json: new_batch_ms, _tier, _slices)\n"
    "      --load-pass LIB.so    load a library of passes of your own (repeatable)\n"
    "      --custom-ops DECL.txt:LIB.so  load custom ops: their declarations and the\n"
    "                            library that implements them (repeatable;\n"
    "                            docs/custom_ops.md)\n"
    "      --passes A,B,...,segment  the module's pass pipeline (ending with segment)\n"
    "  -h, --help                this text\n";

static int parse_args(int argc, char **argv, run_opts *o)
{
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'},   {"random", no_argument, 0, 'r'},
        {"seed", required_argument, 0, 's'},    {"output-dir", required_argument, 0, 'o'},
        {"expect", required_argument, 0, 'e'},  {"rtol", required_argument, 0, 'R'},
        {"atol", required_argument, 0, 'A'},    {"mode", required_argument, 0, 'm'},
        {"core-number", required_argument, 0, 'c'}, {"batch", required_argument, 0, 'b'},
        {"bench", required_argument, 0, 'B'},   {"json", no_argument, 0, 'j'},
        {"explain-misses", no_argument, 0, 'x'}, {"cpu", required_argument, 0, 'C'},
        {"profile", required_argument, 0, 'P'}, {"profile-summary", no_argument, 0, 'S'},
        {"profile-svg", required_argument, 0, 'G'}, {"time-compile", no_argument, 0, 'T'},
        {"compile-threads", required_argument, 0, 'J'}, {"opt-level", required_argument, 0, 'O'},
        {"load-pass", required_argument, 0, 'l'}, {"passes", required_argument, 0, 'p'},
        {"custom-ops", required_argument, 0, 'U'}, {"tier", required_argument, 0, 'Y'},
        {"bind", required_argument, 0, 'K'},
        {"new-batch", required_argument, 0, 'N'}, {"min-time", required_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    *o = (run_opts){.core_number = 1, .rtol = 1e-3, .seed = 1, .fused = 1, .opt_level = 3};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "i:o:h", longopts, NULL)) != -1;) {
        char *end = NULL;
        bool bad = false; /* a numeric flag that is no such number (int_arg.h) */
        long long ll = 0;
        unsigned long long u = 0;
        switch (c) {
        case 'i':
            if (o->ninputs == MAX_IO)
                return mf_tool_fail(2, "run: more than %d inputs", MAX_IO);
            o->inputs[o->ninputs++] = optarg;
            break;
        case 'K':
            if (o->nbind == MF_TOOL_MAX_BIND)
                return mf_tool_fail(2, "run: more than %d --bind values", MF_TOOL_MAX_BIND);
            o->bind[o->nbind++] = optarg;
            break;
        case 'e':
            if (o->nexpect == MAX_IO)
                return mf_tool_fail(2, "run: more than %d --expect files", MAX_IO);
            o->expect[o->nexpect++] = optarg;
            break;
        case 'r': o->random = 1; break;
        case 's': bad = !tool_u64_arg(optarg, &u), o->seed = u; break;
        case 'o': o->output_dir = optarg; break;
        case 'R': bad = !tool_double_arg(optarg, &o->rtol); break;
        case 'A': bad = !tool_double_arg(optarg, &o->atol); break;
        case 'c': bad = !tool_int_arg(optarg, &o->core_number); break;
        case 'b': bad = !tool_ll_arg(optarg, &ll), o->batch = ll, o->batch_given = 1; break;
        case 'B': bad = !tool_int_arg(optarg, &o->bench); break;
        case 'j': o->json = 1; break;
        case 'x': o->explain = 1; break;
        case 'C': o->cpu = optarg; break;
        case 'P': o->profile = optarg; break;
        case 'S': o->profile_summary = 1; break;
        case 'G': o->profile_svg = optarg; break;
        case 'T': o->time_compile = 1; break;
        case 'J': bad = !tool_int_arg(optarg, &o->compile_threads); break;
        case 'O': bad = !tool_int_arg(optarg, &o->opt_level); break;
        case 'p': o->passes = optarg; break;
        case 'N': bad = !tool_ll_arg(optarg, &ll), o->new_batch = ll; break;
        case 'M': bad = !tool_double_arg(optarg, &o->min_time_s); break;
        case 'Y':
            if (!strcmp(optarg, "fast"))
                o->tier = MF_TIER_FAST;
            else if (!strcmp(optarg, "full"))
                o->tier = MF_TIER_FULL;
            else if (!strcmp(optarg, "auto"))
                o->tier = MF_TIER_AUTO;
            else
                return mf_tool_fail(2, "run: --tier must be fast, full or auto, not '%s'", optarg);
            break;
        case 'l':
            if (mf_pass_load(optarg))
                return mf_tool_fail(1, "run: --load-pass: %s", mf_last_error());
            break;
        case 'U': {
            int rc = mf_tool_custom_ops("run", optarg);
            if (rc)
                return rc;
            break;
        }
        case 'm':
            if (strcmp(optarg, "eager") && strcmp(optarg, "fused"))
                return mf_tool_fail(2, "run: --mode must be eager or fused, not '%s'", optarg);
            o->fused = !strcmp(optarg, "fused");
            break;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
        if (bad || (end && *end))
            return mf_tool_fail(2, "run: bad number '%s'", optarg);
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return mf_tool_fail(2, "run: expected one MODEL, got %d", argc - optind);
    }
    o->model = argv[optind];
    if (o->core_number != 1 && o->core_number != 4 && o->core_number != 16)
        return mf_tool_fail(2, "run: --core-number must be 1, 4 or 16, not %d", o->core_number);
    if (o->bench < 0 || o->batch < 0 || !(o->rtol >= 0) || !(o->atol >= 0)) /* NaN too */
        return mf_tool_fail(2, "run: --bench, --batch, --rtol and --atol must be numbers >= 0");
    if (!(o->min_time_s >= 0 && o->min_time_s <= 3600))
        return mf_tool_fail(2, "run: --min-time must be 0 to 3600 seconds");
    if (o->new_batch < 0)
        return mf_tool_fail(2, "run: --new-batch must be at least 1");
    if (o->batch_given && o->batch == 0)
        return mf_tool_fail(2, "run: --batch must be at least 1");
    if (o->opt_level < 0 || o->opt_level > 3)
        return mf_tool_fail(2, "run: --opt-level must be 0 to 3, not %d", o->opt_level);
    if (o->compile_threads < 0 || o->compile_threads > 64)
        return mf_tool_fail(2, "run: --compile-threads must be 1 to 64, not %d", o->compile_threads);
    if (o->cpu && mf_cpu_check(o->cpu))
        return mf_tool_fail(2, "run: --cpu: %s", mf_last_error());
    /* code for a CPU this host cannot run: refused before it compiles (--cpu or MLUFUSE_CPU);
     * tier fast runs the host's generic kernels (unless MLUFUSE_VERIFY asks for compiled ones),
     * eager mode the reference kernels */
    const char *env_tier = getenv("MLUFUSE_TIER"), *verify = getenv("MLUFUSE_VERIFY");
    bool fast = o->tier == MF_TIER_FAST || (o->tier == MF_TIER_ENV && env_tier && !strcmp(env_tier, "fast"));
    if (verify && *verify && strcmp(verify, "0"))
        fast = false;
    mf_status st = o->fused && !fast ? mf_cpu_check_runs(o->cpu) : MF_OK;
    if (st == MF_ERR_UNSUPPORTED)
        return mf_tool_fail(2, "run: %s: %s", o->cpu ? "--cpu" : "MLUFUSE_CPU", mf_last_error());
    if (st) /* MLUFUSE_CPU unknown or empty: its message names it */
        return mf_tool_fail(2, "run: %s", mf_last_error());
    return 0;
}

static void print_miss(const char *why, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "%s\n", why);
}

/* "compiling model.onnx: 12/33 subgraphs" on stderr, rewritten in place. */
static void progress(int done, int total, void *ctx)
{
    fprintf(stderr, "\rcompiling %s: %d/%d subgraphs", (const char *)ctx, done, total);
    if (done == total)
        fputc('\n', stderr);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Inputs from .npy files or seeded random data, on dev. */
static int make_inputs(const run_opts *o, const mf_graph *g, mf_device dev, mf_tensor **in)
{
    int n = mf_graph_num_inputs(g);
    if (!o->random && o->ninputs != n)
        return mf_tool_fail(1, "run: the model takes %d input%s, %d given (use -i or --random)", n,
                            n == 1 ? "" : "s", o->ninputs);
    for (int i = 0; i < n; i++) {
        mf_tensor *host;
        mf_dtype dt;
        int rank;
        int64_t shape[MF_MAX_RANK];
        mf_graph_input_type(g, i, &dt, &rank, shape);
        mf_status s = o->random ? mf_tensor_rand(dt, rank, shape, o->seed + (uint64_t)i, 0, 1, MF_DEVICE_CPU, &host)
                                : mf_tensor_load_npy(o->inputs[i], &host);
        if (s)
            return mf_tool_fail(1, "run: input %d: %s", i, mf_last_error());
        s = mf_tensor_to(host, dev, &in[i]);
        mf_tensor_free(host);
        if (s)
            return mf_tool_fail(1, "run: input %d: %s", i, mf_last_error());
    }
    return 0;
}

/* One run of the model: the interpreter (layer by layer) or the compiled module. */
static mf_status run_once(const run_opts *o, const mf_graph *g, mf_module *m, mf_tensor **in,
                          mf_tensor **out)
{
    int ni = mf_graph_num_inputs(g), no = mf_graph_num_outputs(g);
    return o->fused ? mf_module_run(m, ni, in, no, out) : mf_graph_interpret(g, ni, in, no, out);
}

static bool is_float(mf_dtype t)
{
    return t == MF_F32 || t == MF_F16 || t == MF_F64 || t == MF_BF16;
}

/* Element i of a cpu copy from host_copy (f64, i64 or bool) as a double. */
static double elem(const mf_tensor *t, int64_t i)
{
    const void *p = mf_tensor_data(t);
    switch (mf_tensor_dtype(t)) {
    case MF_F64: return ((const double *)p)[i];
    case MF_I64: return (double)((const int64_t *)p)[i];
    default: return ((const uint8_t *)p)[i] != 0;
    }
}

static bool same_shape(const mf_tensor *a, const mf_tensor *b)
{
    if (mf_tensor_dtype(a) != mf_tensor_dtype(b) || mf_tensor_rank(a) != mf_tensor_rank(b))
        return false;
    for (int i = 0; i < mf_tensor_rank(a); i++)
        if (mf_tensor_dim(a, i) != mf_tensor_dim(b, i))
            return false;
    return true;
}

/* A cpu copy of t in one dtype per kind, so one reader compares every dtype: floats as
 * f64 (exact), integers as i64 (u64 as its bits: equality stays exact), bool as is. */
static mf_status host_copy(const mf_tensor *t, mf_tensor **out)
{
    mf_tensor *h;
    mf_status s = mf_tensor_to(t, MF_DEVICE_CPU, &h);
    mf_dtype dt = s ? MF_BOOL : mf_tensor_dtype(h), wide = is_float(dt) ? MF_F64 : MF_I64;
    if (s || dt == MF_BOOL || dt == wide) {
        *out = s ? NULL : h;
        return s;
    }
    s = mf_cast(h, wide, out);
    mf_tensor_free(h);
    return s;
}

/* Compares output got with the .npy at path: the dtype and shape must be the file's; then
 * max|got - want| and max|want|.  *exact: integer and bool data, which must be equal. */
static int compare(const mf_tensor *got, const char *path, double *err, double *scale, bool *exact)
{
    mf_tensor *file, *want = NULL, *host = NULL;
    if (mf_tensor_load_npy(path, &file))
        return mf_tool_fail(1, "run: --expect: %s", mf_last_error());
    int rc = 0;
    if (!same_shape(got, file)) {
        char a[128], b[128];
        mf_tensor_describe(got, a, sizeof a);
        mf_tensor_describe(file, b, sizeof b);
        bool dtype_differs = mf_tensor_dtype(got) != mf_tensor_dtype(file);
        bool shape_differs = mf_tensor_rank(got) != mf_tensor_rank(file);
        for (int i = 0; !shape_differs && i < mf_tensor_rank(got); i++)
            shape_differs = mf_tensor_dim(got, i) != mf_tensor_dim(file, i);
        rc = mf_tool_fail(1, "run: output is %s but %s holds %s: the %s", a, path, b,
                          dtype_differs && shape_differs ? "dtype and the shape differ"
                          : dtype_differs                ? "dtype differs"
                                                         : "shape differs");
    } else if (host_copy(got, &host) || host_copy(file, &want)) {
        rc = mf_tool_fail(1, "run: %s", mf_last_error());
    } else {
        *exact = !is_float(mf_tensor_dtype(file));
        *err = *scale = 0;
        for (int64_t i = 0; i < mf_tensor_numel(want); i++) {
            double x = elem(host, i), y = elem(want, i), d = fabs(x - y);
            if (isnan(x) && isnan(y))
                continue; /* NaN where NaN is expected matches */
            if (*exact && mf_tensor_dtype(want) == MF_I64) /* exact beyond 2^53 too */
                d = fmax(d, ((const int64_t *)mf_tensor_data(host))[i] != ((const int64_t *)mf_tensor_data(want))[i]);
            *err = isnan(d) ? INFINITY : fmax(*err, d);
            *scale = fmax(*scale, fabs(y));
        }
    }
    mf_tensor_free(host);
    mf_tensor_free(want);
    mf_tensor_free(file);
    return rc;
}

/* --time-compile: every kernel's timing, in the order they became ready. */
typedef struct compile_times {
    mf_kernel_timing *k; /* label and key copied into names */
    char (*names)[2][80];
    int n, cap;
    bool nomem;
} compile_times;

typedef struct run_report {
    double compile_ms, median_ms, p90_ms, throughput, max_err, max_ref;
    int runs; /* runs --bench timed (N, or more with --min-time) */
    double first_run_ms;      /* module creation + the first run */
    double load_ms;           /* reading the model, before module creation */
    mf_module_tier_info tier; /* first_run_tier: tier.last_run_tier after the first run */
    int first_run_tier, first_run_slices; /* slices: of a plan another batch size compiled */
    int first_run_saved;      /* the first run's plan came from the plan cache */
    double new_batch_ms;      /* --new-batch: the specialization and first run of that batch */
    int new_batch_tier, new_batch_slices;
    char tier_up_error[256];
    uint64_t compiled, loaded, cache_hits;
    int match; /* -1: not compared */
    compile_times times;
} run_report;

static void record_kernel(const mf_kernel_timing *t, void *ctx)
{
    compile_times *ct = ctx;
    if (ct->n == ct->cap) {
        int cap = ct->cap ? 2 * ct->cap : 64;
        mf_kernel_timing *k = realloc(ct->k, sizeof *k * (size_t)cap);
        if (k)
            ct->k = k;
        char(*names)[2][80] = k ? realloc(ct->names, sizeof *names * (size_t)cap) : NULL;
        if (!names) {
            ct->nomem = true;
            return;
        }
        ct->names = names;
        ct->cap = cap;
    }
    snprintf(ct->names[ct->n][0], sizeof ct->names[0][0], "%s", t->label);
    snprintf(ct->names[ct->n][1], sizeof ct->names[0][1], "%s", t->key);
    ct->k[ct->n] = *t;
    ct->k[ct->n].label = ct->names[ct->n][0];
    ct->k[ct->n].key = ct->names[ct->n][1];
    ct->n++;
}

static const char *source_name(mf_kernel_source s)
{
    return s == MF_KERNEL_COMPILED ? "compiled" : s == MF_KERNEL_FROM_DISK ? "disk" : "memory";
}

/* Per kernel and in total: where the compile's time went. */
static void print_compile_times(const run_opts *o, const run_report *r)
{
    const compile_times *ct = &r->times;
    mf_kernel_timing sum = {0};
    for (int i = 0; i < ct->n; i++) {
        sum.build_ms += ct->k[i].build_ms;
        sum.optimize_ms += ct->k[i].optimize_ms;
        sum.emit_ms += ct->k[i].emit_ms;
        sum.load_ms += ct->k[i].load_ms;
        sum.total_ms += ct->k[i].total_ms;
    }
    if (o->json) {
        printf(", \"compile_timing\": {\"wall_ms\": %.3f, \"build_ms\": %.3f, \"optimize_ms\": %.3f, "
               "\"emit_ms\": %.3f, \"load_ms\": %.3f, \"kernel_ms\": %.3f, \"kernels\": [",
               r->compile_ms, sum.build_ms, sum.optimize_ms, sum.emit_ms, sum.load_ms, sum.total_ms);
        for (int i = 0; i < ct->n; i++) {
            const mf_kernel_timing *t = &ct->k[i];
            printf("%s{\"label\": ", i ? ", " : "");
            mf_tool_json_str(stdout, t->label);
            printf(", \"key\": \"%s\", \"source\": \"%s\", \"build_ms\": %.3f, \"optimize_ms\": %.3f, "
                   "\"emit_ms\": %.3f, \"load_ms\": %.3f, \"total_ms\": %.3f}",
                   t->key, source_name(t->source), t->build_ms, t->optimize_ms, t->emit_ms, t->load_ms,
                   t->total_ms);
        }
        printf("]}");
        return;
    }
    printf("compile time by kernel (ms; build = LLVM IR, optimize = LLVM passes, emit = instruction\n"
           "selection and emission, load = disk read and linking):\n");
    printf("  %-9s %9s %9s %9s %9s %9s  %s\n", "source", "build", "optimize", "emit", "load", "total",
           "kernel");
    for (int i = 0; i < ct->n; i++) {
        const mf_kernel_timing *t = &ct->k[i];
        printf("  %-9s %9.1f %9.1f %9.1f %9.1f %9.1f  %s\n", source_name(t->source), t->build_ms,
               t->optimize_ms, t->emit_ms, t->load_ms, t->total_ms, t->label);
    }
    printf("  %-9s %9.1f %9.1f %9.1f %9.1f %9.1f  %d kernels; wall time of the compile %.1f ms\n", "sum",
           sum.build_ms, sum.optimize_ms, sum.emit_ms, sum.load_ms, sum.total_ms, ct->n, r->compile_ms);
    if (ct->nomem)
        printf("  (out of memory: some kernels are missing from this table)\n");
}

static bool profiling(const run_opts *o)
{
    return o->profile || o->profile_svg || o->profile_summary;
}

static const char *mode_name(const run_opts *o, bool json)
{
    if (!o->fused)
        return json ? "eager" : "eager (layer by layer)";
    return o->unfused ? (json ? "unfused" : "compiled, one op per kernel (fusion off)") : "fused";
}

static const char *tier_name(mf_tier_mode t)
{
    return t == MF_TIER_FAST ? "fast" : t == MF_TIER_FULL ? "full" : "auto";
}

static void print_report(const run_opts *o, const run_report *r, int64_t batch, const mf_profile *prof)
{
    if (o->json) {
        printf("{\"model\": ");
        mf_tool_json_str(stdout, o->model);
        printf(", \"mode\": \"%s\", \"core_number\": %d, \"batch\": %lld, "
               "\"compile_ms\": %.3f, \"compiled\": %llu, \"loaded\": %llu, \"cache_hits\": %llu",
               mode_name(o, true), o->core_number, (long long)batch, r->compile_ms,
               (unsigned long long)r->compiled, (unsigned long long)r->loaded, (unsigned long long)r->cache_hits);
        if (o->fused) {
            /* from the command's start (model loading included): first answer, full speed */
            double full = r->tier.tier_up_ms > 0 ? r->load_ms + r->tier.tier_up_ms : r->load_ms + r->first_run_ms;
            printf(", \"tier\": \"%s\", \"first_run_tier\": %d, \"first_run_slices\": %d, "
                   "\"first_run_saved_plan\": %s, \"first_run_ms\": %.3f, "
                   "\"tier_up_ms\": %.3f, \"tier_up_failed\": %d, \"load_ms\": %.3f, "
                   "\"first_output_ms\": %.3f, \"full_speed_ms\": %.3f",
                   tier_name(r->tier.mode), r->first_run_tier, r->first_run_slices,
                   r->first_run_saved ? "true" : "false", r->first_run_ms, r->tier.tier_up_ms,
                   r->tier.failed, r->load_ms, r->load_ms + r->first_run_ms, full);
            if (o->new_batch)
                printf(", \"new_batch\": %lld, \"new_batch_ms\": %.3f, \"new_batch_tier\": %d, "
                       "\"new_batch_slices\": %d", (long long)o->new_batch, r->new_batch_ms,
                       r->new_batch_tier, r->new_batch_slices);
            if (*r->tier_up_error) {
                printf(", \"tier_up_error\": ");
                mf_tool_json_str(stdout, r->tier_up_error);
            }
        }
        if (o->bench)
            printf(", \"runs\": %d, \"median_ms\": %.4f, \"p90_ms\": %.4f, \"throughput\": %.3f", r->runs,
                   r->median_ms, r->p90_ms, r->throughput);
        if (r->match >= 0)
            printf(", \"match\": %s, \"max_abs_error\": %.6g, \"max_abs_expected\": %.6g",
                   r->match ? "true" : "false", r->max_err, r->max_ref);
        if (o->time_compile && o->fused)
            print_compile_times(o, r);
        if (prof) {
            printf(", \"profile\": ");
            fflush(stdout);
            mf_profile_print_summary(prof, stdout, 1);
        }
        printf("}\n");
        return;
    }
    printf("%s: %s, core_number %d, batch %lld\n", o->model, mode_name(o, false), o->core_number,
           (long long)batch);
    if (o->fused)
        printf("compile: %.1f ms, %llu kernels compiled, %llu loaded from the disk cache, %llu cache hits\n",
               r->compile_ms, (unsigned long long)r->compiled, (unsigned long long)r->loaded,
               (unsigned long long)r->cache_hits);
    if (o->fused) {
        printf("tier %s: first run on tier %d", tier_name(r->tier.mode), r->first_run_tier);
        if (r->first_run_slices > 1)
            printf(" (%d slices of a saved plan)", r->first_run_slices);
        else if (r->first_run_saved)
            printf(" (its saved plan: no pass, no compile)");
        printf(", %.1f ms after module creation began", r->first_run_ms);
        if (r->tier.tier_up_ms > 0)
            printf("; tier-up done %.1f ms after it", r->tier.tier_up_ms);
        else if (r->tier.pending)
            printf("; tier-up still compiling");
        printf("\n");
        if (*r->tier_up_error)
            printf("tier-up failed (tier 0 kept): %s\n", r->tier_up_error);
        if (o->new_batch)
            printf("new batch %lld: %.1f ms on tier %d (%d slice%s)\n", (long long)o->new_batch,
                   r->new_batch_ms, r->new_batch_tier, r->new_batch_slices, r->new_batch_slices == 1 ? "" : "s");
    }
    if (o->bench)
        printf("latency: median %.3f ms, p90 %.3f ms over %d runs; throughput %.1f images/s\n", r->median_ms,
               r->p90_ms, r->runs, r->throughput);
    if (r->match >= 0)
        printf("expected outputs: %s (max abs error %.3g, max abs expected %.3g)\n",
               r->match ? "match" : "MISMATCH", r->max_err, r->max_ref);
    if (o->time_compile && o->fused)
        print_compile_times(o, r);
    if (prof && o->profile_summary)
        mf_profile_print_summary(prof, stdout, 0);
}

/* Ends the profile and writes what was asked for; *prof keeps it for the report. */
static int finish_profile(const run_opts *o, mf_profile **prof)
{
    if (mf_module_profile_end(prof))
        return mf_tool_fail(2, "run: %s", mf_last_error());
    if (o->profile && mf_profile_write_trace(*prof, o->profile))
        return mf_tool_fail(1, "run: --profile: %s", mf_last_error());
    if (o->profile_svg && mf_profile_write_svg(*prof, o->profile_svg))
        return mf_tool_fail(1, "run: --profile-svg: %s", mf_last_error());
    mf_machine_limits lim; /* measured before the report, so a failure exits cleanly */
    if ((o->profile_summary || o->json) && mf_machine_limits_get(&lim))
        return mf_tool_fail(2, "run: %s", mf_last_error());
    return 0;
}

static int bench(const run_opts *o, const mf_graph *g, mf_module *m, mf_tensor **in, run_report *r,
                 int64_t batch)
{
    enum { MAX_RUNS = 2000 }; /* --min-time's cap, as ort_bench.js's */
    int no = mf_graph_num_outputs(g), cap = o->bench > MAX_RUNS || o->min_time_s == 0 ? o->bench : MAX_RUNS;
    double *t = malloc(sizeof *t * (size_t)cap), timed = 0;
    if (!t)
        return mf_tool_fail(2, "run: out of memory");
    int n = 0;
    for (int i = -3; n < o->bench || (timed < o->min_time_s * 1e3 && n < cap); i++) {
        mf_tensor *out[MAX_IO];
        double t0 = now_ms();
        if (run_once(o, g, m, in, out)) {
            free(t);
            return mf_tool_fail(1, "run: %s", mf_last_error());
        }
        for (int k = 0; k < no; k++) { /* reading the results back is part of a run */
            mf_tensor *host;
            if (!mf_tensor_to(out[k], MF_DEVICE_CPU, &host))
                mf_tensor_free(host);
            mf_tensor_free(out[k]);
        }
        if (i >= 0)
            timed += t[n++] = now_ms() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    r->runs = n;
    r->median_ms = t[n / 2];
    r->p90_ms = t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
    r->throughput = r->median_ms > 0 ? 1e3 * (double)batch / r->median_ms : 0;
    free(t);
    return 0;
}

static int write_outputs(const run_opts *o, int no, mf_tensor **out)
{
    if (o->output_dir && mf_tool_mkdirs(o->output_dir))
        return mf_tool_fail(1, "run: --output-dir %s: %s", o->output_dir, strerror(errno));
    for (int k = 0; k < no && o->output_dir; k++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/output%d.npy", o->output_dir, k) >= (int)sizeof path)
            return mf_tool_fail(1, "run: --output-dir %s: %s", o->output_dir, strerror(ENAMETOOLONG));
        if (mf_tensor_save_npy(out[k], path))
            return mf_tool_fail(1, "run: %s", mf_last_error());
    }
    return 0;
}

/* --new-batch: one run of m on seeded random inputs of batch o->new_batch, timed from the
 * call (inputs made before), with the tier and slices it ran on. */
static int run_new_batch(const run_opts *o, const mf_graph *g, mf_module *m, run_report *r)
{
    int ni = mf_graph_num_inputs(g), no = mf_graph_num_outputs(g), rc = 0;
    mf_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0};
    for (int i = 0; i < ni && !rc; i++) {
        mf_dtype dt;
        int rank;
        int64_t shape[MF_MAX_RANK];
        mf_graph_input_type(g, i, &dt, &rank, shape);
        shape[0] = o->new_batch;
        if (rank < 1 || mf_tensor_rand(dt, rank, shape, o->seed + (uint64_t)i, 0, 1, MF_DEVICE_MLU(0), &in[i]))
            rc = mf_tool_fail(1, "run: --new-batch: input %d: %s", i, rank < 1 ? "a scalar" : mf_last_error());
    }
    double t0 = now_ms();
    if (!rc && mf_module_run(m, ni, in, no, out))
        rc = mf_tool_fail(1, "run: --new-batch %lld: %s", (long long)o->new_batch, mf_last_error());
    r->new_batch_ms = now_ms() - t0;
    mf_module_tier_info info;
    mf_module_get_tier_info(m, &info);
    r->new_batch_tier = info.last_run_tier;
    r->new_batch_slices = info.last_run_slices;
    for (int k = 0; k < MAX_IO; k++) {
        mf_tensor_free(in[k]);
        mf_tensor_free(out[k]);
    }
    return rc;
}

static int run_model(run_opts *o, const mf_graph *g)
{
    int ni = mf_graph_num_inputs(g), no = mf_graph_num_outputs(g), rc = 0;
    if (ni > MAX_IO || no > MAX_IO)
        return mf_tool_fail(1, "run: at most %d inputs and outputs", MAX_IO);
    if (o->nexpect > no)
        return mf_tool_fail(2, "run: %d --expect files for %d outputs", o->nexpect, no);
    mf_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0};
    mf_module *m = NULL;
    mf_profile *prof = NULL;
    bool collecting = false;
    run_report r = {.match = o->nexpect ? 1 : -1};
    mf_dtype dt;
    int rank = 0; /* the batch (input 0's dim 0) is 1 for a model of no inputs */
    int64_t shape[MF_MAX_RANK] = {1};
    if (ni > 0)
        mf_graph_input_type(g, 0, &dt, &rank, shape);
    if ((rc = make_inputs(o, g, MF_DEVICE_MLU(0), in)))
        goto out;
    if (profiling(o)) { /* from before the compile, so compiles and loads are events too */
        if (mf_module_profile_begin()) {
            rc = mf_tool_fail(2, "run: %s", mf_last_error());
            goto out;
        }
        collecting = true;
    }
    mf_kernel_cache_stats before, after;
    mf_kernel_cache_get_stats(&before);
    double t0 = now_ms();
    r.load_ms = t0 - o->start_ms;
    if (o->fused) {
        mf_module_options mo = mf_module_default_options();
        mo.core_number = o->core_number;
        mo.cpu = o->cpu;
        mo.compile_threads = o->compile_threads;
        mo.opt_level = o->opt_level;
        mo.passes = o->passes;
        mo.tier = o->tier;
        if (!o->json && !o->explain) {
            mo.progress = progress;
            mo.progress_ctx = (void *)o->model;
        }
        if (o->time_compile) {
            mo.on_kernel = record_kernel;
            mo.on_kernel_ctx = &r.times;
        }
        if (mf_module_create(g, &mo, &m)) {
            rc = mf_tool_fail(1, "run: %s", mf_last_error());
            goto out;
        }
        o->unfused = !mf_module_fusion(m);
    }
    r.compile_ms = now_ms() - t0;
    mf_kernel_cache_get_stats(&after);
    r.compiled = after.compiled - before.compiled;
    r.loaded = after.loaded - before.loaded;
    r.cache_hits = after.hits - before.hits;
    if (run_once(o, g, m, in, out)) {
        rc = mf_tool_fail(1, "run: %s", mf_last_error());
        goto out;
    }
    r.first_run_ms = now_ms() - t0;
    if (o->fused) {
        mf_module_get_tier_info(m, &r.tier);
        r.first_run_tier = r.tier.last_run_tier;
        r.first_run_slices = r.tier.last_run_slices;
        r.first_run_saved = r.tier.last_run_saved;
        /* the report's compile figures and --bench's steady state need tier 1 in place */
        if ((o->time_compile || o->json || o->bench || o->new_batch) && mf_module_wait_tier_up(m))
            snprintf(r.tier_up_error, sizeof r.tier_up_error, "%s", mf_last_error());
        mf_module_get_tier_info(m, &r.tier);
        if (o->new_batch && (rc = run_new_batch(o, g, m, &r)))
            goto out;
    }
    for (int k = 0; k < o->nexpect && !rc; k++) {
        double err = 0, scale = 0;
        bool exact = false;
        rc = compare(out[k], o->expect[k], &err, &scale, &exact);
        r.max_err = fmax(r.max_err, err);
        r.max_ref = fmax(r.max_ref, scale);
        if (!rc && !(exact ? err == 0 : err <= o->atol + o->rtol * scale))
            r.match = 0;
    }
    if (!rc)
        rc = write_outputs(o, no, out);
    if (!rc && o->bench)
        rc = bench(o, g, m, in, &r, rank ? shape[0] : 1);
    if (collecting) {
        collecting = false;
        int prc = finish_profile(o, &prof);
        rc = rc ? rc : prc;
    }
    if (!rc) {
        print_report(o, &r, rank ? shape[0] : 1, prof);
        rc = r.match == 0;
    }
out:
    if (collecting && !mf_module_profile_end(&prof))
        collecting = false;
    mf_profile_destroy(prof);
    for (int k = 0; k < MAX_IO; k++) {
        mf_tensor_free(in[k]);
        mf_tensor_free(out[k]);
    }
    mf_module_destroy(m);
    free(r.times.k);
    free(r.times.names);
    return rc;
}

/* A failed staged run: the static import's refusal `why` first (the model may simply be
 * unsupported), then what stopped the staged run. */
static int staged_fail(int rc, const char *why, const char *what)
{
    return mf_tool_fail(rc, "run: %s (run in stages: %s)", why, what);
}

/* A model whose shapes depend on its data, run in stages (mf_onnx_program) after the static
 * import refused it with `why`: the inputs from -i, each stage compiled with the module
 * options; --expect and --output-dir apply. */
static int run_staged(const run_opts *o, const char *why)
{
    if (o->json || o->bench || o->new_batch || profiling(o) || o->explain || o->time_compile)
        return mf_tool_fail(2, "run: %s runs in stages (%s), where --json, --bench, --new-batch, --profile, "
                            "--explain and --time-compile are not supported", o->model, why);
    mf_module_options mo = mf_module_default_options();
    mo.core_number = o->core_number, mo.cpu = o->cpu, mo.opt_level = o->opt_level, mo.tier = o->tier;
    mo.fusion = o->fused ? -1 : 0;
    mo.compile_threads = o->compile_threads, mo.passes = o->passes; /* as the static path's module */
    mf_onnx_program *p;
    if (mf_onnx_program_load(o->model, &mo, &p))
        return mf_tool_fail(1, "run: %s (in stages: %s)", why, mf_last_error());
    int ni = mf_onnx_program_num_inputs(p), no = mf_onnx_program_num_outputs(p), rc = 0;
    mf_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0};
    char what[512];
    snprintf(what, sizeof what, "the model takes %d input%s, %d given with -i", ni, ni == 1 ? "" : "s", o->ninputs);
    if (ni > MAX_IO || no > MAX_IO)
        rc = staged_fail(1, why, "more than 16 inputs or outputs");
    else if (o->ninputs != ni)
        rc = staged_fail(1, why, what);
    else if (o->nexpect > no)
        rc = mf_tool_fail(2, "run: %d --expect files for %d outputs", o->nexpect, no);
    for (int i = 0; i < ni && !rc; i++)
        if (mf_tensor_load_npy(o->inputs[i], &in[i]))
            rc = mf_tool_fail(1, "run: input %d: %s", i, mf_last_error());
    double t0 = now_ms();
    if (!rc && mf_onnx_program_run(p, ni, in, no, out))
        rc = staged_fail(1, why, mf_last_error());
    double ms = now_ms() - t0;
    int match = o->nexpect ? 1 : -1;
    double max_err = 0, max_ref = 0;
    for (int k = 0; k < o->nexpect && !rc; k++) {
        double err = 0, scale = 0;
        bool exact = false;
        rc = compare(out[k], o->expect[k], &err, &scale, &exact);
        max_err = fmax(max_err, err), max_ref = fmax(max_ref, scale);
        if (!rc && !(exact ? err == 0 : err <= o->atol + o->rtol * scale))
            match = 0;
    }
    if (!rc)
        rc = write_outputs(o, no, out);
    if (!rc) {
        printf("model: %s, run in %d stages (its shapes depend on its data), %.1f ms\n", o->model,
               mf_onnx_program_num_stages(p), ms);
        for (int k = 0; k < no; k++) {
            char d[128];
            mf_tensor_describe(out[k], d, sizeof d);
            printf("output %d: %s\n", k, d);
        }
        if (match >= 0)
            printf("expected outputs: %s (max abs error %.3g, max abs expected %.3g)\n", match ? "match" : "MISMATCH",
                   max_err, max_ref);
        rc = match == 0;
    }
    for (int k = 0; k < MAX_IO; k++) {
        mf_tensor_free(in[k]);
        mf_tensor_free(out[k]);
    }
    mf_onnx_program_destroy(p);
    return rc;
}

/* The model; an ONNX model given input files is imported for their shapes (its dynamic
 * axes take them), unless --batch says otherwise. */
static mf_status load_model(const run_opts *o, mf_graph **g)
{
    size_t len = strlen(o->model);
    if (o->ninputs == 0 || o->batch_given || (len > 5 && !strcmp(o->model + len - 5, ".mfir")))
        return mf_tool_load_model(o->model, o->batch, g);
    mf_tensor *in[MAX_IO] = {0};
    mf_status s = MF_OK;
    for (int i = 0; i < o->ninputs && !s; i++)
        s = mf_tensor_load_npy(o->inputs[i], &in[i]);
    if (!s)
        s = mf_onnx_load_shaped(o->model, o->ninputs, in, g);
    for (int i = 0; i < o->ninputs; i++)
        mf_tensor_free(in[i]);
    return s;
}

int mf_cmd_run(int argc, char **argv)
{
    run_opts o;
    double start = now_ms();
    int rc = parse_args(argc, argv, &o);
    o.start_ms = start;
    if (rc)
        return rc < 0 ? 0 : rc;
    mf_graph *g;
    if (o.nbind && (rc = mf_tool_load_bound("run", o.model, o.batch, o.nbind, o.bind, &g)))
        return rc;
    mf_status s = o.nbind ? MF_OK : load_model(&o, &g);
    size_t len = strlen(o.model);
    if (s == MF_ERR_UNSUPPORTED && len > 5 && !strcmp(o.model + len - 5, ".onnx") && !o.batch_given) {
        /* refused for a shape that depends on the data, maybe: try the staged run */
        char why[1024];
        snprintf(why, sizeof why, "%s", mf_last_error());
        return run_staged(&o, why);
    }
    if (s)
        return mf_tool_fail(1, "run: %s", mf_last_error());
    if (o.explain)
        mf_kernel_cache_on_miss(print_miss, NULL);
    rc = run_model(&o, g);
    mf_kernel_cache_on_miss(NULL, NULL);
    mf_graph_destroy(g);
    return rc;
}
