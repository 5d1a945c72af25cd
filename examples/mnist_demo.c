/* mnist_demo.c — the seed's MNIST network end to end: seeded random weights on mlu:0, run
 * layer by layer, traced into a static graph, printed as .mfir, run again from the graph,
 * and checked against the layer-by-layer result.  `make run` runs it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/mnist.h"

#define CHECK(call)                                                               \
    do {                                                                          \
        if ((call) != MF_OK) {                                                    \
            fprintf(stderr, "mnist_demo: %s\n  in %s\n", mf_last_error(), #call); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static mf_tensor *to_cpu(mf_tensor *t)
{
    mf_tensor *c;
    CHECK(mf_tensor_to(t, MF_DEVICE_CPU, &c));
    mf_tensor_free(t);
    return c;
}

static float max_abs_diff(const mf_tensor *a, const mf_tensor *b)
{
    const float *x = mf_tensor_data(a), *y = mf_tensor_data(b);
    float d = 0;
    for (int64_t i = 0; i < mf_tensor_numel(a); i++)
        d = fmaxf(d, fabsf(x[i] - y[i]));
    return d;
}

int main(void)
{
    mnist_net net;
    mf_tensor *input, *eager, *traced, *replayed;
    mf_graph *g;
    char *text;

    CHECK(mnist_init(&net, 1, MF_DEVICE_MLU(0)));
    CHECK(mf_tensor_rand(MF_F32, 4, (int64_t[]){1, 1, 28, 28}, 42, 0, 1, MF_DEVICE_MLU(0), &input));

    printf("== layer by layer on mlu:0\n");
    CHECK(mnist_forward(&net, input, &eager));
    eager = to_cpu(eager);

    printf("== tracing into a static graph\n");
    CHECK(mf_trace_begin(1, &input));
    CHECK(mnist_forward(&net, input, &traced));
    CHECK(mf_trace_end(1, &traced, &g));
    mf_tensor_free(traced);
    CHECK(mf_graph_verify(g));
    CHECK(mf_graph_print(g, 1, &text));
    printf("%s", text);
    free(text);

    printf("== running the traced graph\n");
    CHECK(mf_graph_interpret(g, 1, &input, 1, &replayed));
    replayed = to_cpu(replayed);

    const float *p = mf_tensor_data(eager);
    printf("log-probabilities:");
    for (int i = 0; i < 10; i++)
        printf(" %.4f", p[i]);
    float d = max_abs_diff(eager, replayed);
    printf("\neager and traced agree: %s (max abs difference %.3g)\n", d <= 1e-5f ? "yes" : "NO", d);

    mf_tensor_free(replayed);
    mf_tensor_free(eager);
    mf_tensor_free(input);
    mf_graph_destroy(g);
    mnist_free(&net);
    return d <= 1e-5f ? 0 : 1;
}
