/* mlufuse_offline.c — the offline runner: runs a .mfo file (made by `mlufuse genoff`) on .npy
 * inputs with libmlufuse_rt alone — no compiler, no passes, no LLVM.  An input with more
 * rows than the file's batch runs in batches (the last one padded), and the outputs are put
 * back together.  Writes the outputs as .npy, prints a JSON summary, times repeated runs.
 * Uses the public API only (mlufuse_offline.h and the tensor calls). */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mlufuse/mlufuse.h"
#include "mlufuse/mlufuse_offline.h"
#include "../int_arg.h"
#include "run_images.h"
#include "settings.h"

#define MAX_IO 16

typedef struct opts {
    const char *model, *inputs[MAX_IO], *output_dir, *expect[MAX_IO];
    images_opts images;
    int ninputs, nexpect, core_number, bench, json;
    double rtol, atol;
    long long batch;
} opts;

static const char usage[] =
    "usage: mlufuse-offline MODEL.mfo -i INPUT.npy [options]\n"
    "Runs an offline model (made by `mlufuse genoff`) with the runtime alone.\n"
    "  -i, --input FILE.npy     an input, in the model's input order (repeat for several); a\n"
    "                           single input with more rows than the file's batch runs in\n"
    "                           batches of that size\n"
    "      --output-dir DIR     write output0.npy, output1.npy, ... into DIR\n"
    "      --batch-size N       must equal the file's (its kernels are compiled for it)\n"
    "      --core-number 1|4|16 partitions per kernel launch (default: the file's)\n"
    "      --expect FILE.npy    compare output k with the k-th --expect; exit 1 on mismatch\n"
    "      --rtol R --atol A    match when max|got-want| <= atol + rtol * max|want|\n"
    "                           (defaults 1e-3 and 0; 0 and 0: bit for bit)\n"
    "      --bench N            time N runs after 3 warm-up runs\n"
    "      --images LIST        run on pictures instead (PNG or JPEG, one path a line),\n"
    "                           preprocessed as the file records, in batches of its size\n"
    "      --dataset-path DIR   where the relative paths of LIST are\n"
    "      --labels FILE        class names, one a line\n"
    "      --input-format F     rgb, rgba, argb or bgr (0, 1, 2): overrides the file's\n"
    "      --postprocess P      none, softmax-topk or yolo: overrides the file's; with\n"
    "                           --output-dir, yolo writes NAME.detections.npy (x1, y1, x2, y2,\n"
    "                           score, class) and NAME.detections.png (the boxes drawn)\n"
    "      --threads N          image mode: N batches in flight at once (default: one\n"
    "                           per core, at most one per batch)\n"
    "      --json               print one JSON object instead of text\n"
    "  The seed's spellings are accepted too: -offlinemodel, -input, -batch_size,\n"
    "  -core_number, -output_dir (and -simple_compile, which is ignored).\n"
    "  -h, --help               this text\n";

static int fail(int rc, const char *fmt, const char *arg)
{
    fputs("mlufuse-offline: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return rc;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The seed's single-dash spellings, rewritten to ours before getopt sees them. */
static void seed_aliases(int argc, char **argv)
{
    static const char *alias[][2] = {
        {"-offlinemodel", "--model"},     {"-input", "--input"},          {"-batch_size", "--batch-size"},
        {"-core_number", "--core-number"}, {"-output_dir", "--output-dir"}, {"-simple_compile", "--simple-compile"},
        {"-images", "--images"}, {"-dataset_path", "--dataset-path"}, {"-labels", "--labels"},
        {"-input_format", "--input-format"},
    };
    for (int i = 1; i < argc; i++)
        for (size_t k = 0; k < sizeof alias / sizeof alias[0]; k++)
            if (!strcmp(argv[i], alias[k][0]))
                argv[i] = (char *)alias[k][1];
}

static int parse_args(int argc, char **argv, opts *o)
{
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'},       {"output-dir", required_argument, 0, 'o'},
        {"batch-size", required_argument, 0, 'b'},  {"core-number", required_argument, 0, 'c'},
        {"bench", required_argument, 0, 'B'},       {"json", no_argument, 0, 'j'},
        {"model", required_argument, 0, 'm'},       {"simple-compile", required_argument, 0, 'z'},
        {"expect", required_argument, 0, 'e'},      {"rtol", required_argument, 0, 'R'},
        {"atol", required_argument, 0, 'A'},
        {"images", required_argument, 0, 'I'},      {"dataset-path", required_argument, 0, 'D'},
        {"labels", required_argument, 0, 'L'},      {"input-format", required_argument, 0, 'F'},
        {"postprocess", required_argument, 0, 'P'}, {"threads", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0},
    };
    seed_aliases(argc, argv);
    *o = (opts){.rtol = 1e-3};
    for (int c; (c = getopt_long(argc, argv, "i:o:h", longopts, NULL)) != -1;) {
        char *end = NULL;
        bool bad = false;
        switch (c) {
        case 'i':
            if (o->ninputs == MAX_IO)
                return fail(2, "more than 16 inputs%s", "");
            o->inputs[o->ninputs++] = optarg;
            break;
        case 'o': o->output_dir = optarg; break;
        case 'b': bad = !tool_ll_arg(optarg, &o->batch); break;
        case 'c': bad = !tool_int_arg(optarg, &o->core_number); break;
        case 'B': bad = !tool_int_arg(optarg, &o->bench); break;
        case 'j': o->json = 1; break;
        case 'm': o->model = optarg; break;
        case 'z': break;
        case 'e':
            if (o->nexpect == MAX_IO)
                return fail(2, "more than 16 --expect files%s", "");
            o->expect[o->nexpect++] = optarg;
            break;
        case 'R': bad = !tool_double_arg(optarg, &o->rtol); break;
        case 'I': o->images.list = optarg; break;
        case 'D': o->images.dataset = optarg; break;
        case 'L': o->images.labels = optarg; break;
        case 'P': o->images.postprocess = optarg; break;
        case 'T': bad = !tool_int_arg(optarg, &o->images.threads); break;
        case 'F':
            if (!(o->images.input_format = offline_input_format(optarg)))
                return fail(2, "--input-format must be rgb, rgba, argb or bgr (0, 1, 2), not '%s'", optarg);
            break;
        case 'A': bad = !tool_double_arg(optarg, &o->atol); break;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
        if (bad || (end && *end))
            return fail(2, "bad number '%s'", optarg);
    }
    if (!o->model && optind == argc - 1)
        o->model = argv[optind++];
    if (!o->model || optind != argc) {
        fputs(usage, stderr);
        return fail(2, "expected one MODEL.mfo%s", "");
    }
    if (o->core_number && o->core_number != 1 && o->core_number != 4 && o->core_number != 16)
        return fail(2, "--core-number must be 1, 4 or 16%s", "");
    if (o->bench < 0 || o->batch < 0 || o->images.threads < 0 || o->images.threads > 64)
        return fail(2, "--bench and --batch-size must not be negative, --threads at most 64%s", "");
    o->images.output_dir = o->output_dir;
    o->images.json = o->json;
    return 0;
}

/* Rows [from, from+rows) of x as a tensor of the model's input type (zero rows past the
 * end of x: the last batch is partial). */
static mf_status batch_of(const mf_tensor *x, int64_t from, int64_t rows, int rank, const int64_t *shape,
                          mf_tensor **out)
{
    mf_status s = mf_tensor_zeros(mf_tensor_dtype(x), rank, shape, MF_DEVICE_CPU, out);
    if (s)
        return s;
    size_t row = mf_tensor_nbytes(x) / (size_t)mf_tensor_dim(x, 0);
    int64_t have = mf_tensor_dim(x, 0) - from < rows ? mf_tensor_dim(x, 0) - from : rows;
    memcpy(mf_tensor_data_mut(*out), (const char *)mf_tensor_data(x) + (size_t)from * row, (size_t)have * row);
    return MF_OK;
}

typedef struct job {
    mf_offline_model *m;
    mf_tensor *in[MAX_IO];
    int nin, nout, nbatches;
    int64_t rows, batch;   /* rows of the single batched input; the file's batch */
    mf_tensor *out[MAX_IO]; /* the whole outputs */
} job;

/* One pass over every input: batch by batch when the input has more rows than the file. */
static mf_status run_all(job *j)
{
    int rank;
    int64_t shape[MF_MAX_RANK];
    mf_status s = mf_offline_io(j->m, 0, 0, NULL, NULL, &rank, shape);
    for (int k = 0; k < j->nout; k++)
        mf_tensor_free(j->out[k]), j->out[k] = NULL;
    if (s || !j->rows) /* the input is exactly one batch */
        return s ? s : mf_offline_run(j->m, j->nin, j->in, j->nout, j->out);
    for (int b = 0; b < j->nbatches && !s; b++) {
        mf_tensor *x, *y[MAX_IO] = {0};
        s = batch_of(j->in[0], b * j->batch, j->batch, rank, shape, &x);
        if (!s)
            s = mf_offline_run(j->m, 1, &x, j->nout, y);
        mf_tensor_free(x);
        for (int k = 0; k < j->nout && !s; k++) {
            if (!j->out[k]) {
                int64_t oshape[MF_MAX_RANK];
                memcpy(oshape, mf_tensor_shape(y[k]), sizeof oshape);
                oshape[0] = j->rows;
                s = mf_tensor_empty(mf_tensor_dtype(y[k]), mf_tensor_rank(y[k]), oshape, MF_DEVICE_CPU, &j->out[k]);
            }
            if (s)
                break;
            size_t row = mf_tensor_nbytes(y[k]) / (size_t)j->batch;
            int64_t have = j->rows - b * j->batch < j->batch ? j->rows - b * j->batch : j->batch;
            memcpy((char *)mf_tensor_data_mut(j->out[k]) + (size_t)(b * j->batch) * row, mf_tensor_data(y[k]),
                   (size_t)have * row);
        }
        for (int k = 0; k < j->nout; k++)
            mf_tensor_free(y[k]);
    }
    return s;
}

/* Inputs must match the model's types; one input may have any number of rows instead. */
static int check_inputs(job *j, const opts *o)
{
    for (int i = 0; i < j->nin; i++) {
        const char *name;
        mf_dtype dt;
        int rank;
        int64_t shape[MF_MAX_RANK];
        mf_offline_io(j->m, 0, i, &name, &dt, &rank, shape);
        const mf_tensor *x = j->in[i];
        bool same = mf_tensor_dtype(x) == dt && mf_tensor_rank(x) == rank;
        for (int k = 1; k < rank && same; k++)
            same = mf_tensor_dim(x, k) == shape[k];
        if (!same || (j->nin > 1 && rank && mf_tensor_dim(x, 0) != shape[0]))
            return fail(1, "input %s does not have the model's type (dims after the first must match)", o->inputs[i]);
        if (rank && mf_tensor_dim(x, 0) != shape[0]) {
            j->rows = mf_tensor_dim(x, 0);
            j->batch = shape[0];
            j->nbatches = (int)((j->rows + j->batch - 1) / j->batch);
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_shape(FILE *f, const mf_tensor *t)
{
    fputc('[', f);
    for (int k = 0; k < mf_tensor_rank(t); k++)
        fprintf(f, "%s%lld", k ? "," : "", (long long)mf_tensor_dim(t, k));
    fputc(']', f);
}

static int report(const job *j, const opts *o, double load_ms, double first_ms, double *times, int n)
{
    if (n)
        qsort(times, (size_t)n, sizeof *times, cmp_double);
    double med = n ? times[n / 2] : 0, p90 = n ? times[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] : 0;
    double images = (double)(j->rows ? j->rows : j->nin && mf_tensor_rank(j->in[0]) ? mf_tensor_dim(j->in[0], 0) : 1);
    if (o->json) {
        printf("{\"model\": \"%s\", \"level\": \"%s\", \"load_ms\": %.3f, \"first_run_ms\": %.3f, \"outputs\": [",
               o->model, mf_offline_level(j->m), load_ms, first_ms);
        for (int k = 0; k < j->nout; k++) {
            const char *name;
            mf_offline_io(j->m, 1, k, &name, NULL, NULL, NULL);
            printf("%s{\"name\": \"%s\", \"shape\": ", k ? ", " : "", name);
            print_shape(stdout, j->out[k]);
            printf("}");
        }
        printf("]");
        if (n)
            printf(", \"bench\": {\"runs\": %d, \"median_ms\": %.4f, \"p90_ms\": %.4f, \"min_ms\": %.4f, "
                   "\"images_per_s\": %.2f}", n, med, p90, times[0], med > 0 ? images * 1e3 / med : 0);
        printf("}\n");
        return 0;
    }
    printf("model %s: code level %s, loaded in %.2f ms, first run %.2f ms\n", o->model,
           mf_offline_level(j->m), load_ms, first_ms);
    for (int k = 0; k < j->nout; k++) {
        const char *name;
        mf_offline_io(j->m, 1, k, &name, NULL, NULL, NULL);
        printf("output %d %s ", k, name);
        print_shape(stdout, j->out[k]);
        printf("\n");
    }
    if (n)
        printf("bench: %d runs, median %.3f ms, p90 %.3f ms, min %.3f ms, %.1f images/s\n", n, med, p90,
               times[0], med > 0 ? images * 1e3 / med : 0);
    return 0;
}

/* Each --expect against its output: same type, max|got-want| <= atol + rtol * max|want|. */
static int compare(const job *j, const opts *o)
{
    int rc = 0;
    for (int k = 0; k < o->nexpect; k++) {
        mf_tensor *want;
        if (k >= j->nout)
            return fail(1, "more --expect files than outputs%s", "");
        if (mf_tensor_load_npy(o->expect[k], &want))
            return fail(1, "%s", mf_last_error());
        const mf_tensor *got = j->out[k];
        bool same = mf_tensor_dtype(got) == MF_F32 && mf_tensor_dtype(want) == MF_F32 &&
                    mf_tensor_numel(got) == mf_tensor_numel(want);
        double err = 0, mag = 0;
        const float *g = mf_tensor_data(got), *w = mf_tensor_data(want);
        for (int64_t i = 0; same && i < mf_tensor_numel(got); i++) {
            double d = fabs((double)g[i] - w[i]);
            err = d > err || d != d ? d : err;
            mag = fabs((double)w[i]) > mag ? fabs((double)w[i]) : mag;
        }
        if (!same) {
            fprintf(stderr, "mlufuse-offline: output %d: not the f32 shape of %s\n", k, o->expect[k]);
            rc = 1;
        } else if (!(err <= o->atol + o->rtol * mag)) {
            fprintf(stderr, "mlufuse-offline: output %d: mismatch with %s (max abs error %g, max abs expected %g)\n",
                    k, o->expect[k], err, mag);
            rc = 1;
        } else if (!o->json) {
            printf("output %d matches %s (max abs error %g, max abs expected %g)\n", k, o->expect[k], err, mag);
        }
        mf_tensor_free(want);
    }
    return rc;
}

static int write_outputs(const job *j, const char *dir)
{
    mkdir(dir, 0777);
    for (int k = 0; k < j->nout; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/output%d.npy", dir, k);
        if (mf_tensor_save_npy(j->out[k], path))
            return fail(1, "%s", mf_last_error());
    }
    return 0;
}

static int run(const opts *o, double t0)
{
    job j = {.nbatches = 1};
    mf_offline_options lo = {o->core_number, NULL};
    if (mf_offline_load(o->model, &lo, &j.m))
        return fail(1, "%s", mf_last_error());
    double load_ms = now_ms() - t0;
    int rc = 0;
    j.nin = mf_offline_num_inputs(j.m);
    j.nout = mf_offline_num_outputs(j.m);
    const char *file_batch = mf_offline_meta(j.m, "batch_size");
    if (o->batch && (!file_batch || atoll(file_batch) != o->batch)) {
        fprintf(stderr, "mlufuse-offline: --batch-size %lld: the file is compiled for batch %s (run genoff again)\n",
                o->batch, file_batch ? file_batch : "?");
        rc = 1;
    } else if (o->images.list) {
        rc = offline_run_images(j.m, &o->images);
        mf_offline_destroy(j.m);
        return rc;
    } else if (o->ninputs != j.nin || j.nout > MAX_IO) {
        fprintf(stderr, "mlufuse-offline: the model takes %d inputs, %d given with -i\n", j.nin, o->ninputs);
        rc = 1;
    }
    for (int i = 0; i < j.nin && !rc; i++)
        if (mf_tensor_load_npy(o->inputs[i], &j.in[i]))
            rc = fail(1, "%s", mf_last_error());
    if (!rc)
        rc = check_inputs(&j, o);
    double first_ms = 0, *times = o->bench ? calloc((size_t)o->bench, sizeof *times) : NULL;
    if (!rc) {
        double t1 = now_ms();
        if (run_all(&j))
            rc = fail(1, "%s", mf_last_error());
        first_ms = now_ms() - t1;
    }
    for (int r = 0; r < 3 && !rc && o->bench; r++)
        if (run_all(&j))
            rc = fail(1, "%s", mf_last_error());
    for (int r = 0; r < o->bench && !rc && times; r++) {
        double t1 = now_ms();
        if (run_all(&j))
            rc = fail(1, "%s", mf_last_error());
        times[r] = now_ms() - t1;
    }
    if (!rc && o->output_dir)
        rc = write_outputs(&j, o->output_dir);
    if (!rc)
        rc = report(&j, o, load_ms, first_ms, times, times ? o->bench : 0);
    if (!rc)
        rc = compare(&j, o);
    free(times);
    for (int i = 0; i < MAX_IO; i++) {
        mf_tensor_free(j.in[i]);
        mf_tensor_free(j.out[i]);
    }
    mf_offline_destroy(j.m);
    return rc;
}

int main(int argc, char **argv)
{
    double t0 = now_ms();
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    return run(&o, t0);
}
