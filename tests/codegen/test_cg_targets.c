/* test_cg_targets.c — kernels are shaped by the target they are compiled for, on every
 * host: the shape derived for named CPUs (SSE 4 lanes, AVX2 8 lanes / 16 registers,
 * AVX-512 16 / 32), assembly that uses that target's registers and no wider ones, and a
 * numeric check of every engine (elementwise, conv pixel / output-channel / plane, matmul,
 * linear, reductions) compiled for each target this host can run (and on the scalar path,
 * one lane) against the reference kernels within the seed's per-op 0.3 %.  A target the host cannot
 * execute is compiled, never run; the test says how many it skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "mlufuse/mlufuse_cache.h"
#include "cg_check.h"
#include "cg_targets.h"

static void test_shapes(void **state)
{
    static const struct {
        const char *cpu;
        int lanes, vregs;
        bool fma;
    } want[] = {
        {"x86-64", 4, 16, false},      {"x86-64-v2", 4, 16, false},
        {"sandybridge", 8, 16, false}, {"ivybridge", 8, 16, false},
        {"haswell", 8, 16, true},      {"x86-64-v3", 8, 16, true},
        {"znver3", 8, 16, true},       {"skylake-avx512", 16, 32, true},
        {"x86-64-v4", 16, 32, true},   {"znver4", 16, 32, true},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(want[i].cpu, &t), MF_OK);
        if (t.shape.lanes != want[i].lanes || t.shape.vregs != want[i].vregs || t.shape.fma != want[i].fma)
            fail_msg("%s: %d lanes, %d registers, fma %d", want[i].cpu, t.shape.lanes, t.shape.vregs, t.shape.fma);
        assert_true(t.shape.l1d > 0 && t.shape.l2 > t.shape.l1d);
    }
    mf_cg_target host; /* whatever it is, a vector unit of a known kind */
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    assert_true(host.shape.lanes == 4 || host.shape.lanes == 8 || host.shape.lanes == 16);
}

/* Which hosts run which code: a host must have every feature the code uses (shape.uses, read
 * off the probes).  The hosts here are named CPUs, their features what their own code uses:
 * the same on every machine. */
static void test_uses_run_on(void **state)
{
    static const struct {
        const char *code, *host;
        const char *lacks; /* NULL: runs */
    } cases[] = {
        {"skylake-avx512", "haswell", "avx512f, avx512bw"},
        {"haswell", "skylake-avx512", NULL},
        {"haswell", "sandybridge", "avx2, fma, f16c"},
        {"sandybridge", "haswell", NULL},
        {"ivybridge", "sandybridge", "f16c"},
        {"sandybridge", "x86-64", "avx"},
        {"x86-64", "sandybridge", NULL},
        {"cascadelake", "skylake-avx512", "avx512vnni"},
        {"alderlake", "haswell", "avxvnni"},
        {"alderlake", "cascadelake", "avxvnni"}, /* VEX vpdpbusd: AVX-VNNI, not AVX-512 VNNI */
        {"haswell", "alderlake", NULL},
        {"sapphirerapids", "icelake-server", "avxvnni, avx512fp16"},
        {"sapphirerapids", "znver4", "avxvnni, avx512fp16"},
        {"znver4", "sapphirerapids", NULL},
        {"icelake-server", "cascadelake", "avx512vbmi"},
        {"knl", "skylake-avx512", NULL},
        {"skylake-avx512", "knl", "avx512bw"},
        {"bdver1", "haswell", "fma4"}, /* FMA4's vfmaddps, which Intel cores never had */
        {"haswell", "bdver1", "avx2, fma, f16c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mf_cg_target code, host;
        assert_int_equal(mf_cg_target_init(cases[i].code, &code), MF_OK);
        assert_int_equal(mf_cg_target_init(cases[i].host, &host), MF_OK);
        assert_true(mf_cg_uses_run_on(code.shape.uses, code.shape.uses, NULL, 0)); /* on itself */
        char why[64];
        bool runs = mf_cg_uses_run_on(code.shape.uses, host.shape.uses, why, sizeof why);
        if (runs != !cases[i].lacks || (cases[i].lacks && strcmp(why, cases[i].lacks)))
            fail_msg("%s code on %s: %s (lacks '%s')", cases[i].code, cases[i].host,
                     runs ? "runs" : "does not run", why);
    }
    /* LLVM's host list: "+" present, "-" absent; a name is matched whole */
    assert_true(mf_cg_uses_run_on("avx,avx2", "+sse2,+avx,-avx512f,+avx2", NULL, 0));
    assert_false(mf_cg_uses_run_on("avx512f", "+sse2,+avx,-avx512f,+avx2", NULL, 0));
    assert_false(mf_cg_uses_run_on("avx", "+avx2", NULL, 0));
    char tiny[4];
    assert_false(mf_cg_uses_run_on("avx512f,fma", "", tiny, sizeof tiny)); /* cut, terminated */
    assert_string_equal(tiny, "avx");
    mf_cg_target host; /* the host runs its own code */
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    assert_true(mf_cg_target_runs_here(&host, NULL, 0));
}

/* ---- the graphs: one per engine ------------------------------------------------------- */

static mf_value *conv(mf_graph *g, mf_value *x, int64_t cout, int64_t k, int64_t s, int64_t p)
{
    int64_t cin = x->type.shape[1];
    mf_value *in[3] = {x, cg_in(g, "w", (mf_type){MF_F32, 4, {cout, cin, k, k}}),
                       cg_in(g, "b", (mf_type){MF_F32, 1, {cout}})};
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_CONV2D, a);
    TREF_INTS(MF_OP_CONV2D, a, "stride", s, s);
    TREF_INTS(MF_OP_CONV2D, a, "padding", p, p);
    return cg_node(g, MF_OP_CONV2D, 3, in, a);
}

/* conv + bias + relu on x of shape [n, cin, h, w]. */
static mf_graph *conv_graph(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k,
                            int64_t s, int64_t p)
{
    mf_graph *g = mf_graph_new("conv");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {n, cin, h, w}});
    mf_value *y = CG1(g, MF_OP_RELU, conv(g, x, cout, k, s, p));
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static mf_graph *chain_graph(void)
{
    mf_graph *g = mf_graph_new("chain");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {2, 5, 9, 37}});
    mf_value *k = cg_in(g, "k", (mf_type){MF_F32, 3, {5, 1, 1}});
    mf_value *s = CG1(g, MF_OP_SIGMOID, CG2(g, MF_OP_MUL, x, k));
    mf_value *y = CG2(g, MF_OP_SUB, CG2(g, MF_OP_MUL, s, CG1(g, MF_OP_TANH, x)), CG1(g, MF_OP_EXP, x));
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static mf_graph *linear_graph(int64_t rows, int64_t k, int64_t m)
{
    mf_graph *g = mf_graph_new("linear");
    mf_value *in[3] = {cg_in(g, "x", (mf_type){MF_F32, 2, {rows, k}}), cg_in(g, "w", (mf_type){MF_F32, 2, {m, k}}),
                       cg_in(g, "b", (mf_type){MF_F32, 1, {m}})};
    mf_value *y = CG1(g, MF_OP_RELU, cg_node(g, MF_OP_LINEAR, 3, in, NULL));
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static mf_graph *matmul_graph(void)
{
    mf_graph *g = mf_graph_new("matmul");
    mf_value *a = cg_in(g, "a", (mf_type){MF_F32, 3, {2, 7, 13}});
    mf_value *b = cg_in(g, "b", (mf_type){MF_F32, 3, {2, 13, 37}});
    mf_value *y = CG2(g, MF_OP_MATMUL, a, b);
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

static mf_graph *reduce_graph(mf_op op)
{
    mf_graph *g = mf_graph_new("reduce");
    mf_value *x = cg_in(g, "x", (mf_type){MF_F32, 4, {1, 3, 13, 21}});
    mf_attr a[MF_MAX_ATTRS];
    mf_op_default_attrs(op, a);
    if (op == MF_OP_SOFTMAX)
        tref_set_int(op, a, "dim", -1);
    if (op == MF_OP_MAX_POOL2D || op == MF_OP_AVG_POOL2D) {
        TREF_INTS(op, a, "kernel", 3, 3);
        TREF_INTS(op, a, "stride", 2, 2);
        TREF_INTS(op, a, "padding", 1, 1);
    }
    if (op == MF_OP_MEAN)
        TREF_INTS(op, a, "dims", 2, 3);
    mf_value *y = cg_node(g, op, 1, &x, a);
    mf_graph_set_outputs(g, 1, &y);
    return g;
}

/* Every engine's graphs, each checked against the reference for target t. */
static void check_engines(const mf_cg_target *t)
{
    mf_graph *gs[] = {
        chain_graph(),
        conv_graph(1, 8, 20, 37, 16, 3, 1, 1),  /* pixel engine */
        conv_graph(1, 6, 17, 19, 10, 3, 2, 1),  /* pixel engine, stride 2 */
        conv_graph(1, 32, 9, 9, 40, 3, 2, 1),   /* output-channel engine */
        conv_graph(1, 64, 7, 7, 36, 3, 1, 1),   /* plane engine (7x7) */
        conv_graph(1, 16, 14, 14, 20, 3, 1, 1), /* plane engine (14x14) */
        conv_graph(1, 32, 3, 3, 20, 3, 1, 1),   /* plane engine below 16 pixels (8 lanes) */
        conv_graph(1, 16, 56, 56, 24, 3, 2, 1), /* output-channel engine, 28-pixel rows */
        matmul_graph(),
        linear_graph(5, 70, 19),
        linear_graph(1, 33, 10),
        reduce_graph(MF_OP_SOFTMAX),
        reduce_graph(MF_OP_MAX_POOL2D),
        reduce_graph(MF_OP_AVG_POOL2D),
        reduce_graph(MF_OP_MEAN),
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        cg_check_opts(gs[i], (cg_opts){.lo = -1, .hi = 1, .seed = i, .target = t, .relmax = 3e-3});
        mf_graph_destroy(gs[i]);
    }
}

static void test_engines_every_target(void **state)
{
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    int ran = 0, skipped = 0;
    for (int i = 0; i < NTARGETS; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(targets[i].cpu, &t), MF_OK);
        if (!host_runs(&host, &targets[i])) {
            printf("  %s: skipped, this host (%s) cannot run its code\n", targets[i].cpu, host.cpu);
            skipped++;
            continue;
        }
        check_engines(&t);
        ran++;
    }
    check_engines(&host);
    mf_cg_target scalar = host; /* the scalar path (a target without a vector unit) */
    scalar.shape.lanes = 1;
    check_engines(&scalar);
    printf("  engines checked for %d named targets + host %s + the scalar path; %d named targets skipped\n", ran,
           host.cpu, skipped);
}

/* ---- assembly: the target's registers, never wider ones ------------------------------- */

static void check_registers(mf_graph *g, const char *what)
{
    static const struct {
        const char *cpu, *has, *not1, *not2;
        bool fma;
    } cases[] = {
        {"skylake-avx512", "%zmm", NULL, NULL, true},
        {"haswell", "%ymm", "%zmm", NULL, true},
        {"sandybridge", "%ymm", "%zmm", NULL, false}, /* AVX's 8 lanes, a multiply and an add */
        {"x86-64", "%xmm", "%ymm", "%zmm", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = asm_for(g, cases[i].cpu);
        if (!strstr(text, cases[i].has) || (cases[i].not1 && strstr(text, cases[i].not1)) ||
            (cases[i].not2 && strstr(text, cases[i].not2)))
            fail_msg("%s for %s: expected %s registers and no wider", what, cases[i].cpu, cases[i].has);
        if ((strstr(text, "vfmadd") != NULL) != cases[i].fma)
            fail_msg("%s for %s: FMA %s", what, cases[i].cpu,
                     cases[i].fma ? "missing" : "where the target has none");
        free(text);
    }
}

static void test_registers_of_named_targets(void **state)
{
    mf_graph *gs[] = {conv_graph(1, 64, 56, 56, 64, 3, 1, 1), conv_graph(1, 64, 14, 14, 64, 3, 2, 1),
                      conv_graph(1, 64, 7, 7, 64, 3, 1, 1), linear_graph(4, 128, 64), chain_graph()};
    static const char *const names[] = {"conv pixel engine", "conv output-channel engine", "conv plane engine",
                                        "linear", "elementwise chain"};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        check_registers(gs[i], names[i]);
        mf_graph_destroy(gs[i]);
    }
}

/* Masked vector stores (VEX vmaskmovps / vpmaskmovd, microcoded on AMD cores) of the given
 * assembly: the store form names memory last. */
static int vex_masked_stores(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, "maskmov")); p++) {
        const char *eol = strchr(p, '\n');
        if (eol && eol > p && eol[-1] == ')')
            n++;
    }
    return n;
}

/* Without AVX-512's mask registers, stores under a constant mask are split into plain stores
 * (mf_cg_store_split): the epilogues of a 1x1 layer on a 7x7 plane (lanes along channels, 7 or
 * fewer pixels a store), of 14-pixel rows and of 28-pixel rows store no masked vector on AVX2;
 * AVX-512 targets keep one store under a k mask.  The numeric check of these engines on every
 * target the host runs is test_engines_every_target's. */
static void test_masked_stores(void **state)
{
    (void)state;
    static const struct { const char *cpu; bool mask_regs; } want[] = {
        {"x86-64-v2", false}, {"haswell", false}, {"znver3", false}, {"skylake-avx512", true}, {"znver4", true}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(want[i].cpu, &t), MF_OK);
        if (t.shape.mask_regs != want[i].mask_regs)
            fail_msg("%s: mask_regs %d, expected %d", want[i].cpu, t.shape.mask_regs, want[i].mask_regs);
    }
    mf_graph *gs[] = {conv_graph(1, 32, 7, 7, 96, 1, 1, 0), conv_graph(1, 16, 14, 14, 20, 3, 1, 1),
                      conv_graph(1, 16, 56, 56, 24, 3, 2, 1)};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        static const char *const avx2[] = {"haswell", "znver3"};
        for (int j = 0; j < 2; j++) {
            char *text = asm_for(gs[i], avx2[j]);
            int n = vex_masked_stores(text);
            free(text);
            if (n)
                fail_msg("graph %zu for %s: %d masked stores", i, avx2[j], n);
        }
        char *text = asm_for(gs[i], "skylake-avx512");
        bool kstore = strstr(text, ") {%k") != NULL; /* vmovups %zmm, (mem) {%k} */
        free(text);
        if (!kstore)
            fail_msg("graph %zu for skylake-avx512: no store under a mask register", i);
        mf_graph_destroy(gs[i]);
    }
}

/* FMA ports (codegen/target.c): two 512-bit ones on Intel's Xeon cores, one on Zen 4 and
 * Intel's AVX-512 client cores, AMX in the features making any 16-lane name a Xeon; two
 * 256-bit ones at 8 lanes (one on Zen 1, whose 256-bit FMAs take both 128-bit pipes); none without FMA.  Probes only: every host checks every name. */
static void test_fma_ports(void **state)
{
    (void)state;
    static const struct {
        const char *cpu;
        int ports;
    } want[] = {{"skylake-avx512", 2}, {"sapphirerapids", 2}, {"znver4", 1}, {"icelake-client", 1},
                {"rocketlake", 1},     {"haswell", 2},        {"znver3", 2}, {"znver1", 1},
                {"x86-64", 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(want[i].cpu, &t), MF_OK);
        if (t.shape.fma_ports != want[i].ports)
            fail_msg("%s: %d FMA ports, expected %d", want[i].cpu, t.shape.fma_ports, want[i].ports);
    }
    mf_cg_target_shape zmm = {.lanes = 16, .vregs = 32, .fma = true};
    assert_int_equal(mf_cg_fma_ports("rocketlake", "+avx512f,+amx-tile,+amx-bf16", &zmm), 2);
    assert_int_equal(mf_cg_fma_ports("rocketlake", "+avx512f,-amx-tile", &zmm), 1);
}

/* Kernels differ by target, so the cache key names the CPU and its features: the same
 * subgraph gets one key per target. */
static void test_cache_key_names_target(void **state)
{
    mf_graph *g = chain_graph();
    mf_cache_options o = {NULL, 3, 1};
    mf_cache_key k[2];
    static const char *const cpus[2] = {"haswell", "skylake-avx512"};
    for (int i = 0; i < 2; i++) {
        mf_cg_target t;
        assert_int_equal(mf_cg_target_init(cpus[i], &t), MF_OK);
        o.cpu = cpus[i];
        assert_int_equal(mf_cache_key_make(g, &o, &t, &k[i]), MF_OK);
        char line[128];
        snprintf(line, sizeof line, "\ncpu %s\nfeatures %s\n", t.cpu, t.features);
        assert_non_null(strstr(k[i].text, line));
    }
    assert_string_not_equal(k[0].hex, k[1].hex);
    mf_cache_key_free(&k[0]);
    mf_cache_key_free(&k[1]);
    mf_graph_destroy(g);
}

/* MLUFUSE_CPU replaces the host as the CPU that compiles mean when the caller names none; a
 * named CPU wins; a bad value is refused, naming the variable, by the CPU check and by the
 * cache's check of its environment.  The target "host" itself stays this machine. */
static void test_default_cpu_from_env(void **state)
{
    const char *was = getenv("MLUFUSE_CPU");
    char saved[128] = "";
    if (was)
        snprintf(saved, sizeof saved, "%s", was);
    setenv("MLUFUSE_CPU", "haswell", 1);
    assert_string_equal(mf_cache_default_cpu(NULL), "haswell");
    assert_string_equal(mf_cache_default_cpu("x86-64-v2"), "x86-64-v2");
    assert_int_equal(mf_cache_target_lanes(mf_cache_default_cpu(NULL)), 8);
    assert_int_equal(mf_cache_check_cpu(NULL), MF_OK);
    assert_int_equal(mf_kernel_cache_check_env(), MF_OK);
    mf_cg_target host;
    assert_int_equal(mf_cg_target_init(NULL, &host), MF_OK);
    assert_true(host.cpu[0] != 0);
    setenv("MLUFUSE_CPU", "nonsense", 1);
    assert_int_equal(mf_cache_check_cpu(NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "MLUFUSE_CPU: 'nonsense' is not a CPU LLVM knows"));
    assert_int_equal(mf_kernel_cache_check_env(), MF_ERR_INVALID);
    assert_int_equal(mf_cache_check_cpu("haswell"), MF_OK); /* a named CPU is not the default */
    setenv("MLUFUSE_CPU", "", 1);
    assert_int_equal(mf_cache_check_cpu(NULL), MF_ERR_INVALID);
    assert_non_null(strstr(mf_last_error(), "MLUFUSE_CPU is empty"));
    if (was)
        setenv("MLUFUSE_CPU", saved, 1);
    else
        unsetenv("MLUFUSE_CPU");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_uses_run_on),
        cmocka_unit_test(test_registers_of_named_targets),
        cmocka_unit_test(test_fma_ports),
        cmocka_unit_test(test_masked_stores),
        cmocka_unit_test(test_engines_every_target),
        cmocka_unit_test(test_cache_key_names_target),
        cmocka_unit_test(test_default_cpu_from_env),
    };
    return cmocka_run_group_tests_name("codegen_targets", tests, NULL, NULL);
}
