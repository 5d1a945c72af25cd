/* mnist_demo.c — the seed's MNIST network end to end: seeded random weights on mlu:0, run
 * layer by layer, traced into a static graph, printed as .mfir, run again from the graph,
 * then compiled into fused MLU kernels (the fusion mode) and run with the keyed
 * instruction map's statistics: the same shapes again compile nothing, a new batch size
 * compiles once.  `make run` runs it. */
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

static void print_cache_stats(const char *when)
{
    mf_kernel_cache_stats st;
    mf_kernel_cache_get_stats(&st);
    printf("kernel cache %s: %llu compiled (%.0f ms), %llu loaded from disk (%.0f ms), %llu hits, "
           "%llu entries\n", when, (unsigned long long)st.compiled, st.compile_ms,
           (unsigned long long)st.loaded, st.load_ms, (unsigned long long)st.hits,
           (unsigned long long)st.entries);
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

    printf("== fusion mode: compiling the traced graph into MLU kernels\n");
    mf_module *m;
    mf_tensor *fused, *batch4, *out4;
    CHECK(mf_module_create(g, NULL, &m));
    print_cache_stats("after compiling");
    CHECK(mf_module_run(m, 1, &input, 1, &fused));
    fused = to_cpu(fused);
    float df = max_abs_diff(eager, fused);
    printf("fused and eager agree: %s (max abs difference %.3g)\n", df <= 1e-4f ? "yes" : "NO", df);
    mf_tensor_free(fused);
    CHECK(mf_module_run(m, 1, &input, 1, &fused));
    print_cache_stats("after a second run with the same shapes (nothing compiled)");
    mf_tensor_free(fused);
    CHECK(mf_tensor_rand(MF_F32, 4, (int64_t[]){4, 1, 28, 28}, 43, 0, 1, MF_DEVICE_MLU(0), &batch4));
    CHECK(mf_module_run(m, 1, &batch4, 1, &out4));
    print_cache_stats("after a run with batch 4 (one new specialization)");
    printf("specializations: %d\n", mf_module_num_specializations(m));
    mf_tensor_free(out4);
    mf_tensor_free(batch4);
    mf_module_destroy(m);
    d = fmaxf(d, df > 1e-4f ? df : 0);

    mf_tensor_free(replayed);
    mf_tensor_free(eager);
    mf_tensor_free(input);
    mf_graph_destroy(g);
    mnist_free(&net);
    return d <= 1e-5f ? 0 : 1;
}
