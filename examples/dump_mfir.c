/* dump_mfir.c — writes the example networks as .mfir text, the input `mlufuse opt` reads:
 *
 *   build/dump_mfir examples        # OUTDIR/mnist.mfir and OUTDIR/resnet_block.mfir
 *   build/mlufuse opt examples/resnet_block.mfir --explain --dot block.dot
 *
 * mnist.mfir is the seed's MNIST network (examples/models/mnist.c) traced on a
 * [1,1,28,28] input, constants of more than 16 elements elided (`opaque`: the fusion
 * report needs shapes, not weights); resnet_block.mfir is a ResNet basic block
 * (examples/models/resnet_block.c) with 8 channels on 8x8, every constant kept, so
 * conv-bn folding has the weights it rewrites.  Weights are seeded, so the text is the same
 * on every machine: examples/mnist.mfir and resnet_block.mfir are this program's output, and
 * tests/examples/test_dump_mfir.c fails when they go stale.  Exit status 0 ok, 1 failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/mnist.h"
#include "models/resnet_block.h"

static int fail(const char *what)
{
    fprintf(stderr, "dump_mfir: %s: %s\n", what, mf_last_error());
    return 1;
}

/* Writes g (constants elided or not) to DIR/NAME.mfir as graph @NAME, under a comment
 * that says where the file comes from. */
static int write_graph(const char *dir, const char *name, const mf_graph *g, int elide)
{
    char path[4096], *text;
    snprintf(path, sizeof path, "%s/%s.mfir", dir, name);
    if (mf_graph_print(g, elide, &text))
        return fail(name);
    const char *body = strchr(text, '('); /* after "graph @traced", the recorder's name */
    FILE *f = fopen(path, "w");
    int ok = f && body &&
             fprintf(f, "# %s.mfir: written by examples/dump_mfir.c (`build/dump_mfir examples`); do not edit.\n"
                        "graph @%s%s", name, name, body) > 0;
    ok = f && fclose(f) == 0 && ok;
    free(text);
    if (!ok) {
        perror(path);
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}

static int dump_mnist(const char *dir)
{
    mnist_net net;
    mf_tensor *x, *y;
    mf_graph *g;
    if (mnist_init(&net, 1, MF_DEVICE_CPU))
        return fail("mnist_init");
    int rc = 1;
    if (mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, 28, 28}, 42, 0, 1, MF_DEVICE_CPU, &x)) {
        fail("input");
        goto out;
    }
    if (mf_trace_begin(1, &x) || mnist_forward(&net, x, &y)) {
        mf_trace_abort();
        fail("tracing mnist");
    } else {
        if (mf_trace_end(1, &y, &g))
            fail("mf_trace_end");
        else {
            rc = write_graph(dir, "mnist", g, 1);
            mf_graph_destroy(g);
        }
        mf_tensor_free(y);
    }
    mf_tensor_free(x);
out:
    mnist_free(&net);
    return rc;
}

static int dump_resnet_block(const char *dir)
{
    mf_graph *g;
    if (resnet_block_trace(8, 8, 1, MF_DEVICE_CPU, NULL, &g))
        return fail("tracing resnet_block");
    int rc = write_graph(dir, "resnet_block", g, 0);
    mf_graph_destroy(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: dump_mfir [OUTDIR]   (default: the current directory)\n");
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    const char *dir = argc == 2 ? argv[1] : ".";
    return dump_mnist(dir) || dump_resnet_block(dir);
}
