/* run_images.c — see run_images.h.  Batches are independent: with --threads N, N threads
 * take batches in turn, each running the model on its own memory (mf_offline_run is
 * thread-safe), so the device's cores stay busy while another batch is being prepared. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "postprocess.h"
#include "run_images.h"
#include "settings.h"

#define MAX_DETECTIONS 1000

typedef struct list {
    char **items;
    int n;
} list;

static int read_lines(const char *path, const char *prefix, list *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mlufuse-offline: %s: cannot read\n", path);
        return 1;
    }
    char line[4096];
    out->items = NULL;
    out->n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] && prefix)
            continue; /* blank lines of an image list */
        char **items = realloc(out->items, sizeof *items * (size_t)(out->n + 1));
        size_t len = strlen(line) + (prefix ? strlen(prefix) + 2 : 1);
        char *s = malloc(len);
        if (!items || !s) {
            free(s);
            fclose(f);
            return 1;
        }
        out->items = items;
        if (prefix && line[0] != '/')
            snprintf(s, len, "%s/%s", prefix, line);
        else
            snprintf(s, len, "%s", line);
        out->items[out->n++] = s;
    }
    fclose(f);
    return 0;
}

static void free_list(list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

typedef struct context {
    mf_offline_model *m;
    const images_opts *o;
    list images, labels;
    prep p;
    int batch, c, nout;
    int threads; /* batches in flight */
    const char *post;
    int topk;
    yolo_params yolo;
    pthread_mutex_t lock; /* next batch, printing, the first error */
    int next, failed;
    double *latency; /* per batch, ms */
    char *json;      /* per image, appended in image order at the end */
    char **lines;    /* per image: what is printed */
    char err[512];   /* why the set-up failed */
} context;

static int say(context *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(context *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, sizeof x->err, fmt, ap);
    va_end(ap);
    return 1;
}

/* The file's value of key, checked against the settings table: 0 with *v (NULL when the
 * file has none), or 1 with the reason in x->err. */
static int setting(context *x, const char *key, const char **v)
{
    char why[160];
    *v = mf_offline_meta(x->m, key);
    if (*v && offline_setting_check(key, *v, why, sizeof why))
        return say(x, "the file's %s=%.40s: %s %s", key, *v, key, why);
    return 0;
}

/* mean or std: 1 to 4 numbers, the last repeated for the channels past them */
static int per_channel(context *x, const char *key, double dflt, double *out)
{
    const char *v;
    double t[4];
    if (setting(x, key, &v))
        return 1;
    int n = v ? offline_numbers(v, t, 4) : 0;
    for (int k = 0; k < 4; k++)
        out[k] = n ? t[k < n ? k : n - 1] : dflt;
    return 0;
}

static int setup_prep(context *x)
{
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    mf_offline_io(x->m, 0, 0, NULL, &dt, &rank, shape);
    if (mf_offline_num_inputs(x->m) != 1 || dt != MF_F32 || rank != 4)
        return say(x, "image mode needs one f32 NCHW input");
    if (shape[0] < 1 || shape[0] > 256 || shape[1] < 1 || shape[1] > 4 || shape[2] < 1 || shape[2] > 65536 ||
        shape[3] < 1 || shape[3] > 65536)
        return say(x, "image mode needs an input of 1 to 256 images of 1 to 4 channels of 1 to 65536 x 65536 "
                   "pixels, not [%lld, %lld, %lld, %lld]", (long long)shape[0], (long long)shape[1],
                   (long long)shape[2], (long long)shape[3]);
    x->batch = (int)shape[0];
    x->c = (int)shape[1];
    x->p = (prep){(int)shape[2], (int)shape[3], 1.0 / 255, {0, 0, 0, 0}, {1, 1, 1, 1}, "rgb"};
    const char *v;
    if (setting(x, "scale", &v))
        return 1;
    if (v)
        x->p.scale = strtod(v, NULL);
    if (per_channel(x, "mean", 0, x->p.mean) || per_channel(x, "std", 1, x->p.std))
        return 1;
    v = NULL; /* the file's channel order, checked only when --input-format does not replace it */
    if (!x->o->input_format && setting(x, "input_format", &v))
        return 1;
    const char *fmt = x->o->input_format ? x->o->input_format : offline_input_format(v);
    snprintf(x->p.format, sizeof x->p.format, "%s", fmt ? fmt : "rgb");
    if (setting(x, "resize", &v))
        return 1;
    int h = x->p.resize_h, w = x->p.resize_w;
    if (v && (offline_size(v, &h, &w) || h != x->p.resize_h || w != x->p.resize_w))
        return say(x, "resize %s is not the input's %dx%d", v, x->p.resize_h, x->p.resize_w);
    if (x->c != 1 && (size_t)x->c != strlen(x->p.format))
        return say(x, "input format %s for an input of %d channels", x->p.format, x->c);
    return 0;
}

static int setup_yolo(context *x)
{
    const char *va, *vs, *v;
    double a[48], s[8];
    if (setting(x, "anchors", &va) || setting(x, "strides", &vs))
        return 1;
    int na = va ? offline_numbers(va, a, 48) : 0, ns = vs ? offline_numbers(vs, s, 8) : 0;
    if (ns < 1 || na != 6 * ns)
        return say(x, "yolo post-processing needs strides and 3 anchors (w,h) per stride in the file");
    x->yolo.nheads = ns;
    int64_t rows = 0; /* the heads' rows, 3 anchors a cell: post_yolo counts them in an int */
    for (int h = 0; h < ns; h++) {
        if (s[h] > x->p.resize_h || s[h] > x->p.resize_w)
            return say(x, "the file's stride %g is more than the input's %dx%d", s[h], x->p.resize_h, x->p.resize_w);
        rows += 3 * (int64_t)(x->p.resize_h / (int)s[h]) * (x->p.resize_w / (int)s[h]);
        if (rows > 1 << 28)
            return say(x, "the file's strides give more than 2^28 YOLO rows for the input's %dx%d", x->p.resize_h,
                       x->p.resize_w);
        x->yolo.strides[h] = (int)s[h];
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 2; d++)
                x->yolo.anchors[h][k][d] = (float)a[6 * h + 2 * k + d];
    }
    x->yolo.input_h = x->p.resize_h;
    x->yolo.input_w = x->p.resize_w;
    if (setting(x, "conf_threshold", &v))
        return 1;
    x->yolo.conf = v ? strtof(v, NULL) : 0.25f;
    if (setting(x, "nms_threshold", &v))
        return 1;
    x->yolo.iou = v ? strtof(v, NULL) : 0.45f;
    return 0;
}

static int setup_post(context *x)
{
    const char *v = NULL, *k;
    double topk = 5;
    /* the file's post-processing, checked only when --postprocess does not replace it */
    if ((!x->o->postprocess && setting(x, "postprocess", &v)) || setting(x, "topk", &k))
        return 1;
    if (k)
        offline_numbers(k, &topk, 1); /* an integer from 1 to 64: "1e1" is 10 */
    x->topk = (int)topk;
    x->post = x->o->postprocess ? x->o->postprocess : v ? v : "none";
    if (!strcmp(x->post, "yolo"))
        return setup_yolo(x);
    if (strcmp(x->post, "softmax-topk") && strcmp(x->post, "none"))
        return say(x, "postprocess %s (none, softmax-topk or yolo)", x->post);
    return 0;
}

static const char *label(const context *x, int cls, char *buf, size_t cap)
{
    if (cls >= 0 && cls < x->labels.n)
        return x->labels.items[cls];
    snprintf(buf, cap, "class %d", cls);
    return buf;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "dir/name.png" -> DIR/name_png.SUFFIX (the extension kept: name.png and name.jpg differ) */
static void out_path(const context *x, const char *img, const char *suffix, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/", x->o->output_dir);
    for (const char *b = base_name(img); *b && n + 1 < (int)cap; b++)
        buf[n++] = *b == '.' ? '_' : *b;
    snprintf(buf + n, cap - (size_t)n, ".%s", suffix);
}

static void appendf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(char **s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = *s ? strlen(*s) : 0;
    char *t = realloc(*s, n + strlen(buf) + 1);
    if (!t)
        return;
    memcpy(t + n, buf, strlen(buf) + 1);
    *s = t;
}

static const unsigned char colours[6][3] = {{255, 64, 64}, {64, 255, 64}, {64, 160, 255},
                                            {255, 255, 64}, {255, 64, 255}, {64, 255, 255}};

static int detections_out(context *x, int i, const image *im, const detection *d, int n)
{
    char path[4096], err[512];
    out_path(x, x->images.items[i], "detections.npy", path, sizeof path);
    mf_tensor *t;
    if (mf_tensor_from_data(MF_F32, 2, (int64_t[]){n, 6}, d, sizeof *d * (size_t)n, &t) ||
        mf_tensor_save_npy(t, path)) {
        fprintf(stderr, "mlufuse-offline: %s\n", mf_last_error());
        return 1;
    }
    mf_tensor_free(t);
    image drawn = *im;
    if (!(drawn.rgb = malloc((size_t)im->w * (size_t)im->h * 3)))
        return 1;
    memcpy(drawn.rgb, im->rgb, (size_t)im->w * (size_t)im->h * 3);
    double sx = (double)im->w / x->p.resize_w, sy = (double)im->h / x->p.resize_h;
    for (int k = 0; k < n; k++) {
        char text[96], buf[32];
        snprintf(text, sizeof text, "%s %.0f%%", label(x, (int)d[k].cls, buf, sizeof buf), 100 * d[k].score);
        image_draw_box(&drawn, d[k].x1 * sx, d[k].y1 * sy, d[k].x2 * sx, d[k].y2 * sy, colours[(int)d[k].cls % 6], 2, text);
    }
    out_path(x, x->images.items[i], "detections.png", path, sizeof path);
    int rc = image_write_png(path, &drawn, err, sizeof err);
    if (rc)
        fprintf(stderr, "mlufuse-offline: %s\n", err);
    image_free(&drawn);
    return rc ? 1 : 0;
}

/* With --output-dir: the image as the model saw it, NAME.input.npy ([1, C, H, W]). */
static int input_out(context *x, int i, const float *plane)
{
    char path[4096];
    int64_t shape[4] = {1, x->c, x->p.resize_h, x->p.resize_w};
    size_t n = (size_t)x->c * (size_t)x->p.resize_h * (size_t)x->p.resize_w;
    mf_tensor *t;
    out_path(x, x->images.items[i], "input.npy", path, sizeof path);
    if (mf_tensor_from_data(MF_F32, 4, shape, plane, n * sizeof(float), &t) || mf_tensor_save_npy(t, path)) {
        fprintf(stderr, "mlufuse-offline: %s\n", mf_last_error());
        return 1;
    }
    mf_tensor_free(t);
    return 0;
}

/* What one image's output rows mean, as text and JSON. */
static int post_one(context *x, int i, const image *im, mf_tensor **out, int b)
{
    char buf[32];
    const float *row = (const float *)mf_tensor_data(out[0]) + (size_t)b * (size_t)(mf_tensor_numel(out[0]) / x->batch);
    int64_t per = mf_tensor_numel(out[0]) / x->batch;
    char **line = &x->lines[i];
    appendf(line, "%s:", x->images.items[i]);
    if (!strcmp(x->post, "softmax-topk")) {
        int k = x->topk < per ? x->topk : (int)per, idx[64];
        float prob[64];
        k = k > 64 ? 64 : k;
        post_topk(row, (int)per, k, idx, prob);
        appendf(&x->json, "%s{\"image\": \"%s\", \"top\": [", i ? ", " : "", x->images.items[i]);
        for (int j = 0; j < k; j++) {
            appendf(line, "%s %s (%.4f)", j ? "," : "", label(x, idx[j], buf, sizeof buf), prob[j]);
            appendf(&x->json, "%s[%d, %.6f]", j ? ", " : "", idx[j], prob[j]);
        }
        appendf(&x->json, "]}");
    } else if (!strcmp(x->post, "yolo")) {
        detection d[MAX_DETECTIONS];
        int width = mf_tensor_rank(out[0]) == 3 ? (int)mf_tensor_dim(out[0], 2) : 0;
        int n = width ? post_yolo(row, (int)(per / width), width, &x->yolo, d, MAX_DETECTIONS) : -1;
        if (n < 0) {
            fprintf(stderr, "mlufuse-offline: the output does not fit the YOLO heads recorded in the file\n");
            return 1;
        }
        appendf(line, " %d detections", n);
        appendf(&x->json, "%s{\"image\": \"%s\", \"detections\": [", i ? ", " : "", x->images.items[i]);
        for (int k = 0; k < n; k++) {
            appendf(line, "\n  %s %.3f at (%.1f, %.1f, %.1f, %.1f)", label(x, (int)d[k].cls, buf, sizeof buf),
                    d[k].score, d[k].x1, d[k].y1, d[k].x2, d[k].y2);
            appendf(&x->json, "%s[%.3f, %.3f, %.3f, %.3f, %.5f, %d]", k ? ", " : "", d[k].x1, d[k].y1, d[k].x2,
                    d[k].y2, d[k].score, (int)d[k].cls);
        }
        appendf(&x->json, "]}");
        if (x->o->output_dir && detections_out(x, i, im, d, n))
            return 1;
    } else {
        appendf(line, " %lld values", (long long)per);
        appendf(&x->json, "%s{\"image\": \"%s\"}", i ? ", " : "", x->images.items[i]);
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One batch: decode and preprocess its images, run, post-process in image order. */
static int run_batch(context *x, int first)
{
    int n = x->images.n - first < x->batch ? x->images.n - first : x->batch;
    int64_t shape[4] = {x->batch, x->c, x->p.resize_h, x->p.resize_w};
    size_t plane = (size_t)x->c * (size_t)x->p.resize_h * (size_t)x->p.resize_w;
    image ims[256] = {{0}};
    mf_tensor *in, *out[16] = {0};
    char err[512];
    int rc = mf_tensor_zeros(MF_F32, 4, shape, MF_DEVICE_CPU, &in) ? 1 : 0;
    for (int b = 0; b < n && !rc; b++) {
        if (image_load(x->images.items[first + b], &ims[b], err, sizeof err)) {
            fprintf(stderr, "mlufuse-offline: %s\n", err);
            rc = 1;
        } else {
            image_preprocess(&ims[b], &x->p, x->c, (float *)mf_tensor_data_mut(in) + (size_t)b * plane);
        }
    }
    double t0 = now_ms();
    if (!rc && mf_offline_run(x->m, 1, &in, x->nout, out)) {
        fprintf(stderr, "mlufuse-offline: %s\n", mf_last_error());
        rc = 1;
    }
    x->latency[first / x->batch] = now_ms() - t0;
    pthread_mutex_lock(&x->lock);
    for (int b = 0; b < n && !rc; b++) {
        rc = post_one(x, first + b, &ims[b], out, b);
        if (!rc && x->o->output_dir)
            rc = input_out(x, first + b, (const float *)mf_tensor_data(in) + (size_t)b * plane);
    }
    pthread_mutex_unlock(&x->lock);
    for (int b = 0; b < n; b++)
        image_free(&ims[b]);
    for (int k = 0; k < 16; k++)
        mf_tensor_free(out[k]);
    mf_tensor_free(in);
    return rc;
}

static void *worker(void *arg)
{
    context *x = arg;
    for (;;) {
        pthread_mutex_lock(&x->lock);
        int first = x->failed ? x->images.n : x->next;
        x->next += x->batch;
        pthread_mutex_unlock(&x->lock);
        if (first >= x->images.n)
            return NULL;
        if (run_batch(x, first)) {
            pthread_mutex_lock(&x->lock);
            x->failed = 1;
            pthread_mutex_unlock(&x->lock);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return p < q ? -1 : p > q;
}

static void summary(const context *x, double wall_ms)
{
    int nb = (x->images.n + x->batch - 1) / x->batch;
    double *l = malloc(sizeof *l * (size_t)nb);
    if (!l)
        return;
    memcpy(l, x->latency, sizeof *l * (size_t)nb);
    qsort(l, (size_t)nb, sizeof *l, cmp_double);
    double p50 = l[nb / 2], p90 = l[(nb * 9) / 10 < nb ? (nb * 9) / 10 : nb - 1],
           p99 = l[(nb * 99) / 100 < nb ? (nb * 99) / 100 : nb - 1];
    double ips = wall_ms > 0 ? x->images.n * 1e3 / wall_ms : 0;
    if (x->o->json)
        printf("{\"images\": %d, \"batch_size\": %d, \"threads\": %d, \"images_per_s\": %.2f, \"batch_latency_ms\": "
               "{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f}, \"results\": [%s]}\n",
               x->images.n, x->batch, x->threads, ips, p50, p90, p99, x->json ? x->json : "");
    else
        printf("%d images in %d batches of %d, %d threads: %.1f images/s; batch latency p50 %.2f ms, p90 %.2f ms, "
               "p99 %.2f ms\n", x->images.n, nb, x->batch, x->threads, ips, p50, p90, p99);
    free(l);
}

/* By default one batch in flight per online core (the next batch is decoded while one runs),
 * never more than there are batches. */
static int default_threads(int nimages, int batch)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int batches = (nimages + (batch > 0 ? batch : 1) - 1) / (batch > 0 ? batch : 1);
    int t = cores > 0 ? (int)(cores < 64 ? cores : 64) : 1;
    return t < batches ? t : batches > 0 ? batches : 1;
}

int offline_run_images(mf_offline_model *m, const images_opts *o)
{
    context x = {.m = m, .o = o, .nout = mf_offline_num_outputs(m)};
    pthread_mutex_init(&x.lock, NULL);
    int rc = read_lines(o->list, o->dataset, &x.images);
    if (!rc && o->labels)
        rc = read_lines(o->labels, NULL, &x.labels);
    if (!rc && (setup_prep(&x) || setup_post(&x))) {
        fprintf(stderr, "mlufuse-offline: %s\n", x.err);
        rc = 1;
    }
    if (!rc && (x.nout > 16 || x.images.n == 0)) {
        fprintf(stderr, "mlufuse-offline: %s\n", x.images.n ? "more than 16 outputs" : "no images");
        rc = 1;
    }
    if (!rc && o->output_dir)
        mkdir(o->output_dir, 0777);
    x.threads = o->threads > 0 ? o->threads : default_threads(x.images.n, x.batch);
    x.latency = calloc((size_t)(x.images.n / (x.batch ? x.batch : 1) + 2), sizeof *x.latency);
    x.lines = calloc((size_t)x.images.n + 1, sizeof *x.lines);
    if (!rc && (!x.latency || !x.lines))
        rc = 1;
    if (!rc) {
        int nt = x.threads;
        pthread_t th[64];
        double t0 = now_ms();
        int started = 0;
        for (; started < nt && started < 64; started++)
            if (pthread_create(&th[started], NULL, worker, &x))
                break;
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        double wall = now_ms() - t0;
        rc = x.failed || !started;
        if (!rc && !o->json)
            for (int i = 0; i < x.images.n; i++)
                printf("%s\n", x.lines[i] ? x.lines[i] : "");
        if (!rc)
            summary(&x, wall);
    }
    for (int i = 0; x.lines && i < x.images.n; i++)
        free(x.lines[i]);
    free(x.lines);
    free(x.latency);
    free(x.json);
    free_list(&x.images);
    free_list(&x.labels);
    pthread_mutex_destroy(&x.lock);
    return rc;
}
