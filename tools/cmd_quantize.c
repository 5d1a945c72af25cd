/* cmd_quantize.c — `mlufuse quantize MODEL -o OUT.mfir`: post-training int8 quantization
 * (the seed's quantize_dynamic_mlu) calibrated on .npy files or seeded random inputs, with
 * the seed's mean/std and firstconv, and an accuracy report on held-out inputs.  Uses the
 * public API only (mlufuse_quant.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_passes.h"
#include "int_arg.h"
#include "tools.h"

#define MAX_CALIB 4096
#define MAX_SETS 1000000 /* --calib-random, --held-out: sets x inputs stays an int */

typedef struct quant_opts {
    const char *model, *output, *calib[MAX_CALIB];
    int ncalib, calib_random, iterations, report, held_out;
    int64_t batch;
    uint64_t seed;
    mf_quantize_options q;
} quant_opts;

static const char usage[] =
    "usage: mlufuse quantize MODEL -o OUT.mfir [options]\n"
    "Quantizes an ONNX (.onnx) or mlufuse IR (.mfir) model to int8 after calibrating it.\n"
    "  -o, --output OUT.mfir     the quantized model (with its weights)\n"
    "      --dtype int8|half     storage type: int8 (calibrated), or half: inputs, weights\n"
    "                            and outputs stored as f16, compute in f32 (no calibration)\n"
    "      --calib FILE.npy ...  calibration inputs: one file per model input per set\n"
    "      --calib-random N      N sets of seeded random inputs in [0, 1) instead\n"
    "      --seed S              the random inputs' seed (default 1)\n"
    "      --iterations N        use at most N calibration sets\n"
    "      --method M            minmax (default), percentile=P (e.g. percentile=99.99) or\n"
    "                            entropy (least KL divergence, as TensorRT)\n"
    "      --per-channel         one weight scale per output channel (default: per tensor)\n"
    "      --ubsw-pairs          conv weights whose neighbour pairs of one sign sum to at most\n"
    "                            128 (a channel's scale grows where needed): AVX2 targets without\n"
    "                            VNNI then multiply by vpmaddubsw (faster) with no saturation\n"
    "      --ubsw-max-error E    with --ubsw-pairs: limit a layer's pairs only where its weights'\n"
    "                            relative rounding error stays at or below E (default 0.015;\n"
    "                            0: every layer)\n"
    "      --mean A,B,...        the seed's mean per input channel (one value: all)\n"
    "      --std A,B,...         the seed's std per input channel (1/255 is accepted)\n"
    "      --firstconv           fold (x - mean) / std into the first convolution, which\n"
    "                            then takes the raw input (otherwise an f32 prologue does)\n"
    "      --report              compare with the f32 model on held-out random inputs:\n"
    "                            relative L2 error, top-1 agreement, error added per layer\n"
    "      --held-out N          held-out sets for --report (default 20; seed S + 1000000)\n"
    "      --batch N             batch size (dim 0 of every input; ONNX only)\n"
    "      --cpu NAME            the LLVM CPU calibration compiles for (default: this one)\n"
    "  -h, --help                this text\n";

/* "0.5,1/255,3" into v (at most cap values); -1 when malformed. */
static int parse_floats(const char *s, float *v, int cap)
{
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        double a = strtod(p, &end);
        if (end == p || n == cap)
            return -1;
        if (*end == '/') {
            const char *q = end + 1;
            double b = strtod(q, &end);
            if (end == q || b == 0)
                return -1;
            a /= b;
        }
        v[n++] = (float)a;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return n;
}

static int parse_args(int argc, char **argv, quant_opts *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},   {"dtype", required_argument, 0, 'd'},
        {"calib", required_argument, 0, 'c'},    {"calib-random", required_argument, 0, 'r'},
        {"seed", required_argument, 0, 's'},     {"iterations", required_argument, 0, 'n'},
        {"method", required_argument, 0, 'm'},   {"per-channel", no_argument, 0, 'p'},
        {"mean", required_argument, 0, 'M'},     {"std", required_argument, 0, 'S'},
        {"firstconv", no_argument, 0, 'f'},      {"report", no_argument, 0, 'R'},
        {"held-out", required_argument, 0, 'H'}, {"batch", required_argument, 0, 'b'},
        {"cpu", required_argument, 0, 'C'},      {"help", no_argument, 0, 'h'},
        {"ubsw-pairs", no_argument, 0, 'u'},     {"ubsw-max-error", required_argument, 0, 'E'},
        {0, 0, 0, 0},
    };
    *o = (quant_opts){.seed = 1, .held_out = 20, .q = mf_quantize_default_options()};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1;) {
        char *end = NULL;
        bool bad = false; /* a numeric flag that is no such number (int_arg.h) */
        long long ll = 0;
        unsigned long long u = 0;
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'd':
            if (strcmp(optarg, "int8") && strcmp(optarg, "half"))
                return mf_tool_fail(2, "quantize: --dtype %s is not supported (int8, half)", optarg);
            o->q.dtype = strcmp(optarg, "half") ? MF_I8 : MF_F16;
            break;
        case 'c':
            if (o->ncalib == MAX_CALIB)
                return mf_tool_fail(2, "quantize: more than %d calibration files", MAX_CALIB);
            o->calib[o->ncalib++] = optarg;
            break;
        case 'r': bad = !tool_int_arg(optarg, &o->calib_random); break;
        case 's': bad = !tool_u64_arg(optarg, &u), o->seed = u; break;
        case 'n': bad = !tool_int_arg(optarg, &o->iterations); break;
        case 'H': bad = !tool_int_arg(optarg, &o->held_out); break;
        case 'b': bad = !tool_ll_arg(optarg, &ll), o->batch = ll; break;
        case 'm':
            if (!strcmp(optarg, "minmax")) {
                o->q.method = MF_QUANT_MINMAX;
            } else if (!strcmp(optarg, "entropy")) {
                o->q.method = MF_QUANT_ENTROPY;
            } else if (!strncmp(optarg, "percentile=", 11)) {
                o->q.method = MF_QUANT_PERCENTILE;
                bad = !tool_double_arg(optarg + 11, &o->q.percentile);
            } else {
                return mf_tool_fail(2, "quantize: --method %s: expected minmax, percentile=P or entropy", optarg);
            }
            break;
        case 'p': o->q.per_channel = 1; break;
        case 'u': o->q.ubsw_pairs = 1; break;
        case 'E':
            o->q.ubsw_max_error = strtod(optarg, &end);
            if (end == optarg || *end || !(o->q.ubsw_max_error >= 0)) /* NaN too */
                return mf_tool_fail(2, "quantize: --ubsw-max-error %s: expected a number >= 0", optarg);
            end = NULL;
            break;
        case 'M':
        case 'S': {
            float *v = c == 'M' ? o->q.mean : o->q.std;
            int n = parse_floats(optarg, v, MF_QUANT_MAX_CHANNELS);
            if (n < 1)
                return mf_tool_fail(2, "quantize: --%s %s: expected up to %d numbers separated by commas",
                                    c == 'M' ? "mean" : "std", optarg, MF_QUANT_MAX_CHANNELS);
            *(c == 'M' ? &o->q.nmean : &o->q.nstd) = n;
            break;
        }
        case 'f': o->q.firstconv = 1; break;
        case 'R': o->report = 1; break;
        case 'C': o->q.cpu = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
        if (bad || (end && *end))
            return mf_tool_fail(2, "quantize: bad number '%s'", optarg);
    }
    for (; optind < argc; optind++) { /* the model, then more --calib files */
        if (!o->model)
            o->model = argv[optind];
        else if (o->ncalib < MAX_CALIB)
            o->calib[o->ncalib++] = argv[optind];
    }
    if (!o->model || !o->output)
        return mf_tool_fail(2, "quantize: a MODEL and -o OUT.mfir are required\n%s", usage);
    if (o->q.dtype == MF_F16 && (o->ncalib || o->calib_random || o->report))
        return mf_tool_fail(2, "quantize: --dtype half takes no calibration and no --report");
    if (o->q.dtype != MF_F16 && (!o->ncalib == !o->calib_random || o->calib_random < 0))
        return mf_tool_fail(2, "quantize: give --calib FILES or --calib-random N (one of them)");
    if (o->report && o->held_out < 1)
        return mf_tool_fail(2, "quantize: --held-out must be at least 1");
    if (o->calib_random > MAX_SETS || o->held_out > MAX_SETS)
        return mf_tool_fail(2, "quantize: --calib-random and --held-out take at most %d sets", MAX_SETS);
    if (o->batch < 0)
        return mf_tool_fail(2, "quantize: --batch must not be negative");
    return 0;
}

/* nsets sets of g's inputs: seeded random (first set seed `seed`) or from files; 0, or 1
 * after saying why not. */
static int make_inputs(const mf_graph *g, int nsets, const char *const *files, uint64_t seed, mf_tensor ***out)
{
    int nin = mf_graph_num_inputs(g);
    if (nin && nsets > INT_MAX / nin)
        return mf_tool_fail(2, "quantize: %d sets of %d inputs are too many", nsets, nin);
    mf_tensor **t = calloc((size_t)nsets * (size_t)nin + 1, sizeof *t);
    if (!t)
        return mf_tool_fail(1, "quantize: out of memory for %d sets of %d inputs", nsets, nin);
    mf_status s = MF_OK;
    for (int i = 0; i < nsets * nin && !s; i++) {
        mf_dtype dt;
        int rank;
        int64_t shape[MF_MAX_RANK];
        s = mf_graph_input_type(g, i % nin, &dt, &rank, shape);
        if (!s)
            s = files ? mf_tensor_load_npy(files[i], &t[i])
                      : mf_tensor_rand(dt, rank, shape, seed * 1000003u + (uint64_t)i, 0, 1, MF_DEVICE_CPU, &t[i]);
    }
    if (s) {
        mf_tool_fail(1, "%s", mf_last_error());
        for (int i = 0; i < nsets * nin; i++)
            mf_tensor_free(t[i]);
        free(t);
        return 1;
    }
    *out = t;
    return 0;
}

static void free_inputs(mf_tensor **t, int n)
{
    for (int i = 0; t && i < n; i++)
        mf_tensor_free(t[i]);
    free(t);
}

static void print_report(const mf_quant_report *r)
{
    printf("held-out sets: %d\n", r->nsets);
    printf("relative L2 error: %.4f %%\n", 100 * r->rel_l2);
    printf("max |q - f| / max |f|: %.4f %%\n", 100 * r->max_rel);
    if (r->top1_total)
        printf("top-1 agreement: %d / %d (%.1f %%)\n", r->top1_agree, r->top1_total,
               100.0 * r->top1_agree / r->top1_total);
    int worst = -1;
    for (int i = 0; i < r->nlayers; i++)
        if (worst < 0 || r->layers[i].rel_l2 > r->layers[worst].rel_l2)
            worst = i;
    printf("error added per int8 layer (relative L2 of its result):\n");
    for (int i = 0; i < r->nlayers; i++)
        printf("  %8.4f %%  %s%s\n", 100 * r->layers[i].rel_l2, r->layers[i].name,
               i == worst ? "   <- worst" : "");
}

/* With --ubsw-pairs: how many ungrouped int8 convolutions got weights limited to
 * vpmaddubsw's pairs (w_pair_max), how many kept theirs (the limit's error past
 * --ubsw-max-error) and how many AVX2 runs as f32 Winograd, so a user sees what the AVX2
 * speed-up covers. */
static void print_pairs(const mf_graph *q, double max_error)
{
    int limited, kept, winograd;
    mf_quant_pair_counts(q, &limited, &kept, &winograd);
    printf("vpmaddubsw pairs: %d of %d convolutions limited, %d kept their weights (--ubsw-max-error %g%s), "
           "%d run as f32 Winograd without VNNI\n",
           limited, limited + kept, kept, max_error, max_error == 0 ? ": every layer" : "", winograd);
}

/* 0, or 1 after printing why path could not be written. */
static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f)
        ok &= fclose(f) == 0;
    return ok ? 0 : mf_tool_fail(1, "quantize: cannot write %s: %s", path, strerror(errno));
}

int mf_cmd_quantize(int argc, char **argv)
{
    quant_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    mf_graph *g = NULL, *q = NULL;
    mf_tensor **calib = NULL, **held = NULL;
    mf_quant_report rep = {0};
    char *text = NULL;
    mf_status s = mf_tool_load_model(o.model, o.batch, &g);
    if (s)
        return mf_tool_fail(1, "%s", mf_last_error());
    int nin = mf_graph_num_inputs(g);
    int nsets = o.ncalib ? (nin ? o.ncalib / nin : 0) : o.calib_random;
    if (o.ncalib && (!nin || o.ncalib % nin)) {
        mf_graph_destroy(g);
        return mf_tool_fail(2, "quantize: %d calibration files for a model of %d inputs", o.ncalib, nin);
    }
    if (o.iterations > 0 && o.iterations < nsets)
        nsets = o.iterations;
    if ((rc = make_inputs(g, nsets, o.ncalib ? o.calib : NULL, o.seed, &calib)) ||
        (o.report && (rc = make_inputs(g, o.held_out, NULL, o.seed + 1000000u, &held)))) {
        free_inputs(calib, calib ? nsets * nin : 0);
        mf_graph_destroy(g);
        return rc;
    }
    o.q.ncalib = nsets;
    o.q.calib = calib;
    if (!s)
        s = o.report ? mf_quantize_with_report(g, &o.q, o.held_out, held, &q, &rep)
                     : mf_quantize(g, &o.q, &q);
    if (!s)
        s = mf_graph_print(q, 0, &text);
    rc = s ? mf_tool_fail(1, "%s", mf_last_error()) : write_text(o.output, text);
    if (!rc) {
        printf("quantized %s (%d calibration set%s): %s\n", o.model, nsets, nsets == 1 ? "" : "s", o.output);
        if (o.q.ubsw_pairs)
            print_pairs(q, o.q.ubsw_max_error);
        if (o.report)
            print_report(&rep);
    }
    free(text);
    mf_quant_report_free(&rep);
    free_inputs(calib, nsets * nin);
    free_inputs(held, o.report ? o.held_out * nin : 0);
    mf_graph_destroy(q);
    mf_graph_destroy(g);
    return rc;
}
