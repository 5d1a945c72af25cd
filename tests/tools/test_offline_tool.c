/* test_offline_tool.c — `mlufuse genoff` and `mlufuse-offline` as a user runs them: every
 * shared model compiled offline matches PyTorch's output and equals the fused JIT run bit
 * for bit; batch 8 on 4 cores gives each image's batch-1 output; the seed's spellings work;
 * hostile files (truncated, a flipped byte, a wrong version), settings out of range (genoff's
 * flags exit 2, a file's edited values 1) and hostile pictures exit with a message; the
 * YOLOv3-tiny example: the picture's preprocessing matches input.npy (PNG) and
 * input_jpg.npy (JPEG) within 1/255 and its detections match detections.npy; a classifier
 * prints its top-5 with labels. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "runtime/mfo.h"
#include "tests/support/mfo_edit.h"
#include "tests/support/tool_run.h"

static char dir[64];

static int setup(void **state)
{
    /* The offline file's best level is this machine's code, so the JIT it is compared with bit
     * for bit must compile for this machine too, even when the suite runs with MLUFUSE_CPU. */
    unsetenv("MLUFUSE_CPU");
    tsupport_tmpdir("offline_tool", dir);
    return 0;
}

static int teardown(void **state)
{
    tsupport_rmdir_all(dir);
    return 0;
}

/* Runs PROG ARGS with stderr merged; fails the test unless it exits rc; returns its
 * output (the caller frees it). */
static char *expect_rc(int rc, const char *prog, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *expect_rc(int rc, const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsupport_run r = tsupport_run_progv(prog, 1, fmt, ap);
    va_end(ap);
    if (r.rc != rc)
        fail_msg("%s exited %d, not %d:\n%s", prog, r.rc, rc, r.out);
    char *out = r.out;
    r.out = NULL;
    tsupport_run_free(&r);
    return out;
}

static void check_model(const char *name)
{
    const char *m = tsupport_shared_dir();
    /* the default levels (this machine's and x86-64-v3), each the JIT's own pipeline for its
     * CPU: the host's runs here */
    free(
        expect_rc(0, "mlufuse", "genoff %s/models/%s/model.onnx -o %s/%s.mfo", m, name, dir, name));
    char *out = expect_rc(0, "mlufuse-offline", "%s/%s.mfo -i %s/models/%s/input.npy --expect %s/models/%s/output.npy "
                          "--output-dir %s/%s", dir, name, m, name, m, name, dir, name);
    if (!strstr(out, "output 0 matches"))
        fail_msg("%s: %s", name, out);
    free(out);
    /* the JIT's fused run against the offline output, bit for bit (on its compiled tier:
     * tier 0's generic kernels keep NCHW, which sums in another order than the blocked
     * layout's kernels) */
    out = expect_rc(
        0, "mlufuse",
        "run %s/models/%s/model.onnx -i %s/models/%s/input.npy --expect %s/%s/output0.npy "
        "--rtol 0 --atol 0 --tier full",
        m, name, m, name, dir, name);
    if (!strstr(out, "expected outputs: match (max abs error 0,"))
        fail_msg("%s: offline and JIT differ: %s", name, out);
    free(out);
}

static void test_shared_models(void **state)
{
    check_model("mnist_net");
    check_model("elementwise_chain");
    check_model("mobilenet_v2");
    check_model("resnet18");
    /* one level, this machine's, gives the same */
    const char *m = tsupport_shared_dir();
    free(expect_rc(0, "mlufuse",
                   "genoff %s/models/mobilenet_v2/model.onnx --cpu host -o %s/host.mfo", m, dir));
    char *out = expect_rc(0, "mlufuse-offline",
                          "%s/host.mfo -i %s/models/mobilenet_v2/input.npy --expect "
                          "%s/mobilenet_v2/output0.npy --rtol 0 --atol 0",
                          dir, m, dir);
    if (!strstr(out, "output 0 matches"))
        fail_msg("one level: %s", out);
    free(out);
}

/* 8 images: a batch-1 file runs them one by one, a batch-8 file on 4 cores at once; each
 * image's result agrees (the kernels differ by batch, so within rounding). */
static void test_batch_8_core_number_4(void **state)
{
    const char *m = tsupport_shared_dir();
    mf_tensor *x;
    char path[256];
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){8, 1, 28, 28}, 11, 0, 1, MF_DEVICE_CPU, &x), MF_OK);
    snprintf(path, sizeof path, "%s/eight.npy", dir);
    assert_int_equal(mf_tensor_save_npy(x, path), MF_OK);
    mf_tensor_free(x);
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/b1.mfo", m, dir));
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx --batch-size 8 --core-number 4 -o %s/b8.mfo",
                   m, dir));
    free(expect_rc(0, "mlufuse-offline", "%s/b1.mfo -i %s --output-dir %s/b1", dir, path, dir));
    char *out = expect_rc(0, "mlufuse-offline", "%s/b8.mfo -i %s --expect %s/b1/output0.npy --rtol 1e-5 --json",
                          dir, path, dir);
    if (!strstr(out, "\"shape\": [8,10]"))
        fail_msg("%s", out);
    free(out);
    /* a batch-8 file on 3 images: one partial batch */
    assert_int_equal(mf_tensor_rand(MF_F32, 4, (int64_t[]){3, 1, 28, 28}, 11, 0, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_save_npy(x, path), MF_OK);
    mf_tensor_free(x);
    out = expect_rc(0, "mlufuse-offline", "%s/b8.mfo -i %s --json", dir, path);
    if (!strstr(out, "\"shape\": [3,10]"))
        fail_msg("%s", out);
    free(out);
    out = expect_rc(1, "mlufuse-offline", "%s/b8.mfo -i %s --batch-size 4", dir, path);
    if (!strstr(out, "compiled for batch 8"))
        fail_msg("%s", out);
    free(out);
}

static void test_seed_spellings(void **state)
{
    const char *m = tsupport_shared_dir();
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/s.mfo --core-number 4 --input-format 1",
                   m, dir));
    char *out = expect_rc(0, "mlufuse-offline", "-offlinemodel %s/s.mfo -input %s/models/mnist_net/input.npy "
                          "-core_number 16 -batch_size 1 -simple_compile 1 --expect %s/models/mnist_net/output.npy",
                          dir, m, m);
    free(out);
    out = expect_rc(2, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/s.mfo --core-number 3", m, dir);
    free(out);
    out = expect_rc(2, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/s.mfo --input-format yuv", m, dir);
    free(out);
}

static void write_bytes(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void expect_refused(const char *what, const char *needle)
{
    const char *m = tsupport_shared_dir();
    char *out = expect_rc(1, "mlufuse-offline", "%s/bad.mfo -i %s/models/mnist_net/input.npy", dir, m);
    if (!strstr(out, needle))
        fail_msg("%s: \"%s\" not in: %s", what, needle, out);
    free(out);
}

static void test_hostile_files(void **state)
{
    const char *m = tsupport_shared_dir();
    char path[256], bad[256];
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/h.mfo", m, dir));
    snprintf(path, sizeof path, "%s/h.mfo", dir);
    snprintf(bad, sizeof bad, "%s/bad.mfo", dir);
    size_t n;
    char *file = tsupport_read_file(path, &n);
    assert_non_null(file);
    write_bytes(bad, file, n / 2);
    expect_refused("truncated", "outside the file");
    write_bytes(bad, file, 40);
    expect_refused("a stub", "not an offline model");
    file[n - 100] ^= 1; /* in the weights, the last section */
    write_bytes(bad, file, n);
    expect_refused("flipped", "fails its checksum");
    file[n - 100] ^= 1;
    file[8] = 9;
    write_bytes(bad, file, n);
    expect_refused("version", "format version 9");
    file[8] = MF_MFO_VERSION;
    /* every level asks for XOP (AMD before Zen) and AVX512-FP16 (Intel since Sapphire
     * Rapids): no CPU has both */
    uint32_t kind;
    size_t off, size;
    for (int i = 0; tsupport_mfo_section((unsigned char *)file, n, i, &kind, &off, &size); i++) {
        if (kind != 4)
            continue;
        uint32_t cpu_len;
        memcpy(&cpu_len, file + off, 4);
        assert_true(8 + cpu_len + 17 < size);
        memcpy(file + off + 8 + cpu_len, "+xop,+avx512fp16,", 17);
    }
    tsupport_mfo_reseal((unsigned char *)file, n);
    write_bytes(bad, file, n);
    expect_refused("no level", "no code level in the file runs on this CPU");
    free(file);
    char *out = expect_rc(1, "mlufuse-offline", "%s -i x.npy", dir);
    free(out);
}

/* genoff refuses image-mode settings outside the table (tools/offline/settings.c) with exit
 * 2, and the runner refuses a file whose metadata was edited past it with exit 1, naming the
 * key: a stride of 0 was a division by zero, NaN thresholds and zero std went through. */
static void test_hostile_settings(void **state)
{
    const char *m = tsupport_shared_dir();
    static const char *bad_flags[] = {
        "--strides 0",           "--strides 2.5",          "--anchors 1,2,3",  "--anchors 1,1,1,1,1,nan",
        "--conf-threshold 1.5",  "--nms-threshold nan",    "--topk 0",         "--topk 65",
        "--std 0",               "--mean 1,2,",            "--mean 1,2,3,4,5", "--scale -1",
        "--resize 99999999999x4", "--resize 0x4",          "--resize 4x",      "--postprocess boxes",
    };
    for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
        char *out = expect_rc(2, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/x.mfo %s", m, dir, bad_flags[i]);
        if (!strstr(out, "genoff: --") || !strstr(out, "takes"))
            fail_msg("%s: %s", bad_flags[i], out);
        free(out);
    }
    /* a file with every setting, then each value edited in place (same length, resealed) */
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/meta.mfo --postprocess yolo "
                   "--anchors 1,1,1,1,1,1 --strides 16 --conf-threshold 0.5 --std 0.5 --mean 0.1 --topk 5 "
                   "--scale 0.003", m, dir));
    char path[256], bad[256], list[256];
    snprintf(path, sizeof path, "%s/meta.mfo", dir);
    snprintf(bad, sizeof bad, "%s/bad.mfo", dir);
    snprintf(list, sizeof list, "%s/one_png.txt", dir);
    tsupport_write_file(list, "image.png\n");
    size_t n;
    char *file = tsupport_read_file(path, &n);
    assert_non_null(file);
    static const struct {
        const char *from, *to, *says;
    } edits[] = {
        {"strides=16", "strides=00", "the file's strides=00: strides takes"},
        {"strides=16", "strides=64", "stride 64 is more than the input's 28x28"},
        {"strides=16", "strides=1z", "the file's strides=1z"},
        {"conf_threshold=0.5", "conf_threshold=nan", "the file's conf_threshold=nan"},
        {"std=0.5", "std=0.0", "the file's std=0.0: std takes"},
        {"mean=0.1", "mean=inf", "the file's mean=inf"},
        {"topk=5", "topk=0", "the file's topk=0"},
        {"scale=0.003", "scale=-1e99", "the file's scale=-1e99"},
        {"anchors=1,1,1,1,1,1", "anchors=1,1,1,1,1,-", "the file's anchors="},
        {"postprocess=yolo", "postprocess=yolX", "the file's postprocess=yolX"},
        {"input_format=rgb", "input_format=yuv", "the file's input_format=yuv"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        size_t len = strlen(edits[i].from);
        assert_int_equal(strlen(edits[i].to), len);
        char *at = memmem(file, n, edits[i].from, len);
        assert_non_null(at);
        memcpy(at, edits[i].to, len);
        tsupport_mfo_reseal((unsigned char *)file, n);
        write_bytes(bad, file, n);
        memcpy(at, edits[i].from, len);
        char *out = expect_rc(1, "mlufuse-offline", "%s --images %s --dataset-path %s/models/yolov3_tiny", bad, list, m);
        if (!strstr(out, edits[i].says))
            fail_msg("%s -> %s: \"%s\" not in: %s", edits[i].from, edits[i].to, edits[i].says, out);
        free(out);
    }
    /* a bad recorded post-processing or channel order is not read when the command line
     * replaces it */
    char *at = memmem(file, n, "postprocess=yolo", 16);
    assert_non_null(at);
    memcpy(at, "postprocess=yolX", 16);
    char *fmt = memmem(file, n, "input_format=rgb", 16);
    assert_non_null(fmt);
    memcpy(fmt, "input_format=yuv", 16);
    tsupport_mfo_reseal((unsigned char *)file, n);
    write_bytes(bad, file, n);
    memcpy(at, "postprocess=yolo", 16);
    memcpy(fmt, "input_format=rgb", 16);
    free(expect_rc(0, "mlufuse-offline", "%s --images %s --dataset-path %s/models/yolov3_tiny --postprocess none "
                   "--input-format bgr", bad, list, m));
    /* unedited, the settings pass and the run gets to the output (mnist's is no YOLO head) */
    char *out = expect_rc(1, "mlufuse-offline", "%s --images %s --dataset-path %s/models/yolov3_tiny", path, list, m);
    if (!strstr(out, "does not fit the YOLO heads"))
        fail_msg("%s", out);
    free(out);
    free(file);
}

/* Pictures that are no pictures, truncated, corrupt or claim billions of pixels: exit 1 with
 * the file named and why (the fuzz corpus's hostile seeds, tests/fuzz/corpus/image). */
static void test_hostile_images(void **state)
{
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/gray.mfo --postprocess softmax-topk",
                   tsupport_shared_dir(), dir));
    static const struct {
        const char *file, *says;
    } cases[] = {
        {"text.txt", "text.txt: neither PNG nor JPEG"},
        {"soi_only.jpg", "soi_only.jpg: cannot read, or too short for a picture"},
        {"truncated.png", "truncated.png: truncated (the PNG data ends early)"},
        {"signature_only.png", "signature_only.png: truncated"},
        {"bad_crc.png", "bad_crc.png: "},
        {"truncated.jpg", "truncated.jpg: Premature end of JPEG file"},
        {"cmyk_4x4.jpg", "cmyk_4x4.jpg: Unsupported color conversion request"},
        {"huge_header.png", "huge_header.png: 100000x100000 pixels, more than the 134217728 this runner decodes"},
        {"huge_sof.jpg", "huge_sof.jpg: 65500x65500 pixels, more than the 134217728"},
        {"nonexistent.png", "nonexistent.png: cannot read"},
    };
    char list[256];
    snprintf(list, sizeof list, "%s/hostile.txt", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s\n", cases[i].file);
        tsupport_write_file(list, line);
        char *out = expect_rc(1, "mlufuse-offline", "%s/gray.mfo --images %s --dataset-path %s/tests/fuzz/corpus/image",
                              dir, list, tsupport_source_dir());
        if (!strstr(out, cases[i].says))
            fail_msg("%s: \"%s\" not in: %s", cases[i].file, cases[i].says, out);
        free(out);
    }
    /* the tiny good ones of the corpus run, gray or colour, 1 to 19 pixels wide */
    tsupport_write_file(list, "gray_1x1.png\nrgba16_2x2.png\npalette_4x3.png\ngray_interlaced_5x5.png\n"
                              "gray_5x3.jpg\nprogressive_19x11.jpg\nrestarts_24x16.jpg\n");
    char *out = expect_rc(0, "mlufuse-offline", "%s/gray.mfo --images %s --dataset-path %s/tests/fuzz/corpus/image",
                          dir, list, tsupport_source_dir());
    if (!strstr(out, "7 images in 7 batches of 1"))
        fail_msg("%s", out);
    free(out);
    /* topk=1e1 is the integer 10 the settings table let through (atoi read it as 1) */
    free(expect_rc(0, "mlufuse", "genoff %s/models/mnist_net/model.onnx -o %s/top10.mfo --postprocess softmax-topk "
                   "--topk 1e1", tsupport_shared_dir(), dir));
    tsupport_write_file(list, "gray_1x1.png\n");
    out = expect_rc(0, "mlufuse-offline", "%s/top10.mfo --images %s --dataset-path %s/tests/fuzz/corpus/image", dir,
                    list, tsupport_source_dir());
    int classes = 0;
    for (const char *p = out; (p = strstr(p, "class ")); p++)
        classes++;
    if (classes != 10)
        fail_msg("%d classes, want 10: %s", classes, out);
    free(out);
}

/* A fused chain of 100 adds of distinct constants is one kernel of 102 arguments: the JIT's
 * plan refused more than 70 ("plan step ...: 102 arguments"), and so did the .mfo reader. */
static void test_wide_kernel(void **state)
{
    char path[256], text[16384] = "graph @wide(%x: f32[4]) {\n";
    size_t n = strlen(text);
    for (int k = 0; k < 100; k++)
        n += (size_t)snprintf(text + n, sizeof text - n, "  %%k%d = const f32[4] dense<%d.5, 1, 2, %d.25>\n", k, k, k);
    for (int k = 0; k < 100; k++) {
        char prev[16] = "%x";
        if (k)
            snprintf(prev, sizeof prev, "%%a%d", k - 1);
        n += (size_t)snprintf(text + n, sizeof text - n, "  %%a%d = add(%s, %%k%d) : f32[4]\n", k, prev, k);
    }
    snprintf(text + n, sizeof text - n, "  return %%a99\n}\n");
    snprintf(path, sizeof path, "%s/wide.mfir", dir);
    tsupport_write_file(path, text);
    free(expect_rc(0, "mlufuse", "genoff %s -o %s/wide.mfo", path, dir));
    char npy[256];
    snprintf(npy, sizeof npy, "%s/x4.npy", dir);
    mf_tensor *x;
    assert_int_equal(mf_tensor_rand(MF_F32, 1, (int64_t[]){4}, 5, -1, 1, MF_DEVICE_CPU, &x), MF_OK);
    assert_int_equal(mf_tensor_save_npy(x, npy), MF_OK);
    mf_tensor_free(x);
    free(expect_rc(0, "mlufuse", "run %s -i %s --mode eager --output-dir %s/wide_eager", path, npy, dir));
    char *out = expect_rc(0, "mlufuse-offline", "%s/wide.mfo -i %s --expect %s/wide_eager/output0.npy", dir, npy, dir);
    if (!strstr(out, "output 0 matches"))
        fail_msg("%s", out);
    free(out);
    out = expect_rc(0, "mlufuse", "run %s -i %s --mode fused --tier full --expect %s/wide_eager/output0.npy", path, npy,
                    dir);
    if (!strstr(out, "expected outputs: match"))
        fail_msg("%s", out);
    free(out);
}

/* max |a - b| of two f32 .npy files of one shape */
static double npy_max_diff(const char *a, const char *b, int64_t *rows)
{
    mf_tensor *x, *y;
    if (mf_tensor_load_npy(a, &x) || mf_tensor_load_npy(b, &y))
        fail_msg("%s", mf_last_error());
    if (mf_tensor_numel(x) != mf_tensor_numel(y) || mf_tensor_dtype(x) != MF_F32 || mf_tensor_dtype(y) != MF_F32)
        fail_msg("%s and %s differ in shape or dtype", a, b);
    const float *p = mf_tensor_data(x), *q = mf_tensor_data(y);
    double d = 0;
    for (int64_t i = 0; i < mf_tensor_numel(x); i++)
        d = fabs((double)p[i] - q[i]) > d ? fabs((double)p[i] - q[i]) : d;
    if (rows)
        *rows = mf_tensor_dim(x, 0);
    mf_tensor_free(x);
    mf_tensor_free(y);
    return d;
}

static void test_yolo_detection_example(void **state)
{
    const char *m = tsupport_shared_dir();
    char list[256], path[512], want[512];
    free(expect_rc(0, "mlufuse", "genoff %s/models/yolov3_tiny/model.onnx -o %s/yolo.mfo --postprocess yolo "
                   "--anchors 81,82,135,169,344,319,10,14,23,27,37,58 --strides 32,16 --conf-threshold 0.25 "
                   "--nms-threshold 0.45 --resize 416x416", m, dir));
    snprintf(list, sizeof list, "%s/pictures.txt", dir);
    tsupport_write_file(list, "image.png\nimage.jpg\n");
    char *out = expect_rc(0, "mlufuse-offline", "%s/yolo.mfo --images %s --dataset-path %s/models/yolov3_tiny "
                          "--labels %s/models/yolov3_tiny/labels.txt --output-dir %s/yolo", dir, list, m, m, dir);
    if (!strstr(out, "image.png: 25 detections") || !strstr(out, "2 images in 2 batches of 1"))
        fail_msg("%s", out);
    free(out);
    /* preprocessing: within 1/255 of what PyTorch made of each picture */
    snprintf(path, sizeof path, "%s/yolo/image_png.input.npy", dir);
    snprintf(want, sizeof want, "%s/models/yolov3_tiny/input.npy", m);
    assert_true(npy_max_diff(path, want, NULL) <= 1.0 / 255);
    snprintf(path, sizeof path, "%s/yolo/image_jpg.input.npy", dir);
    snprintf(want, sizeof want, "%s/models/yolov3_tiny/input_jpg.npy", m);
    assert_true(npy_max_diff(path, want, NULL) <= 1.0 / 255);
    /* the detections: the same boxes, classes and order; scores within 1e-3 */
    int64_t rows;
    snprintf(path, sizeof path, "%s/yolo/image_png.detections.npy", dir);
    snprintf(want, sizeof want, "%s/models/yolov3_tiny/detections.npy", m);
    double d = npy_max_diff(path, want, &rows);
    if (rows != 25 || d > 1e-3)
        fail_msg("%lld detections, max difference %g", (long long)rows, d);
    snprintf(path, sizeof path, "%s/yolo/image_png.detections.png", dir);
    char *png = tsupport_read_file(path, NULL);
    assert_non_null(png);
    free(png);
}

static void test_classifier_top5(void **state)
{
    const char *m = tsupport_shared_dir();
    char list[256], labels[256], text[20000] = "";
    free(expect_rc(0, "mlufuse", "genoff %s/models/resnet18/model.onnx -o %s/r18.mfo --postprocess softmax-topk "
                   "--mean 0.485,0.456,0.406 --std 0.229,0.224,0.225", m, dir));
    snprintf(list, sizeof list, "%s/one.txt", dir);
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    tsupport_write_file(list, "image.jpg\n");
    for (int i = 0; i < 1000; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "label%d\n", i);
    tsupport_write_file(labels, text);
    char *out = expect_rc(0, "mlufuse-offline", "%s/r18.mfo --images %s --dataset-path %s/models/yolov3_tiny --labels %s",
                          dir, list, m, labels);
    /* by default one batch in flight per core, but never more than there are batches */
    if (!strstr(out, "image.jpg: label") || !strstr(out, "1 images in 1 batches of 1, 1 threads"))
        fail_msg("%s", out);
    free(out);
    out = expect_rc(1, "mlufuse-offline", "%s/r18.mfo --images %s --dataset-path /nonexistent", dir, list);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_models),
        cmocka_unit_test(test_batch_8_core_number_4),
        cmocka_unit_test(test_seed_spellings),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_hostile_settings),
        cmocka_unit_test(test_hostile_images),
        cmocka_unit_test(test_wide_kernel),
        cmocka_unit_test(test_yolo_detection_example),
        cmocka_unit_test(test_classifier_top5),
    };
    return cmocka_run_group_tests_name("offline_tool", tests, setup, teardown);
}
