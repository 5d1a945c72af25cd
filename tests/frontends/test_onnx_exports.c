/* test_onnx_exports.c — transformer and detection models exported from PyTorch the way users
 * export them (tests/models/make_exports.py: BERT, nn.TransformerEncoder and Decoder,
 * MultiheadAttention, GPT with a causal mask, Hugging Face GPT-2's block, ViT, RoiAlign, NMS,
 * Resize, a YOLO head; export_zoo.py --tests: an LSTM under pack_padded_sequence, a decoder
 * step with a KV cache, a LLaMA block, T5's attention; opsets 11 to 17, some with dynamic
 * axes; and Scans, TfIdfVectorizers and a MelWeightMatrix built by make_helper_models.py,
 * with numpy's results) import for their inputs' shapes (mf_onnx_load_shaped) and match the
 * reference outputs within 1e-3, layer by layer and fused.  The NMS models select a data-dependent
 * number of boxes, so they run specialized on their inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlufuse/mlufuse.h"
#include "tests/support/compare.h"

#define MAX_IO 16

typedef struct example {
    char dir[1024];
    mf_tensor *in[MAX_IO], *want[MAX_IO];
    int nin, nout;
} example;

static const char *exports_dir(void)
{
    static char path[1024];
    const char *src = getenv("MF_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/models/exports", src ? src : "../..");
    return path;
}

static void load_example(const char *name, example *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "%s/%s", exports_dir(), name);
    e->nin = tsupport_load_npys(e->dir, "input", MAX_IO, e->in);
    e->nout = tsupport_load_npys(e->dir, "output", MAX_IO, e->want);
    assert_true(e->nin > 0 && e->nout > 0);
}

static void free_example(example *e)
{
    for (int i = 0; i < MAX_IO; i++) {
        mf_tensor_free(e->in[i]);
        mf_tensor_free(e->want[i]);
    }
}

/* Same dtype and shape; f32 within 1e-3 of the largest expected magnitude, f64 within 1e-6,
 * the others exactly. */
static void check_output(const char *what, const mf_tensor *got, const mf_tensor *want)
{
    mf_tensor *host;
    char a[128], b[128];
    assert_int_equal(mf_tensor_to(got, MF_DEVICE_CPU, &host), MF_OK);
    mf_tensor_describe(host, a, sizeof a);
    mf_tensor_describe(want, b, sizeof b);
    bool same_type = mf_tensor_dtype(host) == mf_tensor_dtype(want) && mf_tensor_rank(host) == mf_tensor_rank(want);
    for (int d = 0; same_type && d < mf_tensor_rank(want); d++)
        same_type = mf_tensor_dim(host, d) == mf_tensor_dim(want, d);
    if (!same_type)
        fail_msg("%s: got %s, expected %s", what, a, b);
    if (mf_tensor_dtype(want) == MF_F32) {
        double err = tsupport_rel_diff(host, want, 1e-30);
        if (!(err <= 1e-3))
            fail_msg("%s: relative error %.3g", what, err);
    } else if (mf_tensor_dtype(want) == MF_F64) { /* an export's double math: exp, sums */
        const double *p = mf_tensor_data(host), *q = mf_tensor_data(want);
        double err = 0, scale = 1e-30;
        for (int64_t i = 0; i < mf_tensor_numel(want); i++)
            err = fmax(err, fabs(p[i] - q[i])), scale = fmax(scale, fabs(q[i]));
        if (!(err <= 1e-6 * scale))
            fail_msg("%s: relative error %.3g", what, err / scale);
    } else if (memcmp(mf_tensor_data(host), mf_tensor_data(want), mf_tensor_nbytes(want))) {
        fail_msg("%s: %s differs from the expected values", what, a);
    }
    mf_tensor_free(host);
}

/* Runs g on e's inputs, layer by layer then fused. */
static void run_both(const char *name, const mf_graph *g, const example *e)
{
    int ni = mf_graph_num_inputs(g), no = mf_graph_num_outputs(g);
    assert_int_equal(no, e->nout);
    for (int mode = 0; mode < 2; mode++) {
        mf_tensor *dev[MAX_IO] = {0}, *got[MAX_IO] = {0};
        mf_module *m = NULL;
        for (int i = 0; i < ni; i++)
            assert_int_equal(mf_tensor_to(e->in[i], MF_DEVICE_MLU(0), &dev[i]), MF_OK);
        mf_status s = mode ? mf_module_create(g, NULL, &m) : MF_OK;
        if (!s)
            s = mode ? mf_module_run(m, ni, dev, no, got) : mf_graph_interpret(g, ni, dev, no, got);
        if (s)
            fail_msg("%s %s: %s", name, mode ? "fused" : "layer by layer", mf_last_error());
        for (int i = 0; i < no; i++) {
            char what[256];
            snprintf(what, sizeof what, "%s %s, output %d", name, mode ? "fused" : "layer by layer", i);
            check_output(what, got[i], e->want[i]);
        }
        for (int i = 0; i < MAX_IO; i++) {
            mf_tensor_free(dev[i]);
            mf_tensor_free(got[i]);
        }
        mf_module_destroy(m);
    }
}

/* NMS selects as many boxes as the values decide: refused on unknown boxes, it runs with
 * every input bound (graph inputs in0, in1, ... as make_exports.py names them). */
static mf_status load_specialized(const char *path, const example *e, mf_graph **g)
{
    if (mf_onnx_load(path, 0, g) == MF_OK)
        fail_msg("%s imports without its boxes known", path);
    assert_non_null(strstr(mf_last_error(), "must be a constant"));
    char names[MAX_IO][8];
    const char *np[MAX_IO];
    for (int i = 0; i < e->nin; i++)
        snprintf(names[i], sizeof names[i], "in%d", i), np[i] = names[i];
    return mf_onnx_load_bound(path, 0, e->nin, np, e->in, g);
}

static void test_every_export(void **state)
{
    (void)state;
    DIR *d = opendir(exports_dir());
    if (!d)
        fail_msg("cannot open %s", exports_dir());
    char names[64][128];
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 64;)
        if (de->d_name[0] != '.')
            snprintf(names[n++], sizeof names[0], "%s", de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    assert_true(n >= 20);
    for (int k = 0; k < n; k++) {
        example e;
        load_example(names[k], &e);
        char path[1200];
        snprintf(path, sizeof path, "%s/model.onnx", e.dir);
        mf_graph *g;
        bool nms = strstr(names[k], "nms") != NULL;
        mf_status s = nms ? load_specialized(path, &e, &g) : mf_onnx_load_shaped(path, e.nin, e.in, &g);
        if (s)
            fail_msg("%s: %s", names[k], mf_last_error());
        assert_int_equal(mf_graph_verify(g), MF_OK);
        run_both(names[k], g, &e);
        printf("%s: matches its reference, layer by layer and fused%s\n", names[k],
               nms ? " (specialized)" : "");
        mf_graph_destroy(g);
        free_example(&e);
    }
}

/* A model with dynamic axes: refused without shapes, imported for two sequence lengths,
 * and refused for inputs of the wrong rank or against a dim the model fixes. */
static void test_shaped_import(void **state)
{
    (void)state;
    example e;
    load_example("bert_op14_dyn", &e);
    char path[1200];
    snprintf(path, sizeof path, "%s/model.onnx", e.dir);
    mf_graph *g;
    assert_int_equal(mf_onnx_load(path, 0, &g), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "symbolic"));
    /* 5 tokens, not 8: every shape computation folds again for the new length */
    mf_tensor *short_in[2], *out[2] = {0};
    int64_t shape[2] = {2, 5};
    for (int i = 0; i < 2; i++)
        assert_int_equal(mf_tensor_zeros(MF_I64, 2, shape, MF_DEVICE_CPU, &short_in[i]), MF_OK);
    assert_int_equal(mf_onnx_load_shaped(path, 2, short_in, &g), MF_OK);
    if (mf_graph_interpret(g, 2, short_in, 2, out))
        fail_msg("%s", mf_last_error());
    assert_int_equal(mf_tensor_rank(out[0]), 3);
    assert_int_equal(mf_tensor_dim(out[0], 1), 5);
    for (int i = 0; i < 2; i++) {
        mf_tensor_free(short_in[i]);
        mf_tensor_free(out[i]);
    }
    mf_graph_destroy(g);
    mf_tensor *flat;
    int64_t n8 = 8;
    assert_int_equal(mf_tensor_empty(MF_I64, 1, &n8, MF_DEVICE_CPU, &flat), MF_OK);
    assert_int_equal(mf_onnx_load_shaped(path, 1, &flat, &g), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "rank"));
    mf_tensor_free(flat);
    free_example(&e);
    load_example("vit_op15_dyn", &e); /* batch is dynamic, the image size is not */
    snprintf(path, sizeof path, "%s/model.onnx", e.dir);
    mf_tensor *img;
    int64_t ishape[4] = {3, 3, 32, 16};
    assert_int_equal(mf_tensor_empty(MF_F32, 4, ishape, MF_DEVICE_CPU, &img), MF_OK);
    assert_int_equal(mf_onnx_load_shaped(path, 1, &img, &g), MF_ERR_SHAPE);
    assert_non_null(strstr(mf_last_error(), "dim 3"));
    mf_tensor_free(img);
    free_example(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_export),
        cmocka_unit_test(test_shaped_import),
    };
    return cmocka_run_group_tests_name("onnx_exports", tests, NULL, NULL);
}
