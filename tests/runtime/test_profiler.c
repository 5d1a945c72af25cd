/* test_profiler.c — the runtime's event collector (runtime/profiler.c) and machine limits
 * (machine_limits.c): nothing is recorded outside a profile, a launch records one event on
 * the caller's track and one per partition on the track of the core that ran it, inside the
 * launch (a nested launch's partitions may be finer, and still cover the work once); sites
 * that live only for a call are matched by content; plan sites are copied so the plan can
 * go first; the limits are measured, cached in their file, and measured again when the file
 * names another CPU or is damaged; the benchmarks' peaks of one run exist for the ISAs the
 * host runs.  No assertion depends on timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/profiler.h"
#include "runtime/rt_internal.h"
#include "tests/support/tool_run.h"

#define UNITS 16 /* the work of test kernels: partition part of nparts hits its share of these */

static int core_of[2][UNITS]; /* per launch: the core (mf_rt_pool_core) that ran each unit */
static int launch_no;

static void kernel(void *const *args, int64_t part, int64_t nparts)
{
    int *hits = args[0];
    for (int64_t u = part * UNITS / nparts; u < (part + 1) * UNITS / nparts; u++) {
        __atomic_fetch_add(&hits[u], 1, __ATOMIC_RELAXED);
        core_of[launch_no & 1][u] = mf_rt_pool_core();
    }
}

static void test_nothing_when_off(void **state)
{
    assert_false(mf_rt_prof_on());
    assert_int_equal(mf_rt_prof_start(), 0);
    mf_rt_prof_site s = {.name = "x"};
    mf_rt_prof_stop(MF_PROF_CPU_OP, &s, 0); /* t0 0: ignored */
    struct mf_profile *p;
    assert_int_equal(mf_rt_prof_end(&p), MF_ERR_INVALID);
}

static void test_launch_partitions(void **state)
{
    int hits[UNITS] = {0};
    void *args[1] = {hits};
    mf_rt_prof_site site = {.name = "subgraph 0 (relu)", .flops = 10};
    assert_int_equal(mf_rt_prof_begin(), MF_OK);
    assert_true(mf_rt_prof_on());
    launch_no = 0;
    assert_int_equal(mf_rt_prof_launch(MF_DEVICE_MLU(0), &site, kernel, args, 4, false), MF_OK);
    launch_no = 1;
    assert_int_equal(mf_rt_prof_launch(MF_DEVICE_MLU(0), &site, kernel, args, 4, true), MF_OK);
    struct mf_profile *p;
    assert_int_equal(mf_rt_prof_end(&p), MF_OK);
    assert_false(mf_rt_prof_on());
    for (int i = 0; i < UNITS; i++)
        assert_int_equal(hits[i], 2); /* the kernel ran as it would unprofiled */
    assert_int_equal(p->nsites, 1);   /* one site, copied once */
    assert_string_equal(p->sites[0].name, "subgraph 0 (relu)");
    int launches = 0, parts = 0, finest = 0;
    for (size_t i = 0; i < p->nev; i++) {
        const mf_rt_prof_event *e = &p->ev[i];
        assert_int_equal(e->site, 0);
        assert_true(e->t1 >= e->t0 && e->t0 >= p->t_begin && e->t1 <= p->t_end);
        if (e->kind == MF_PROF_KERNEL) {
            launches++;
            assert_string_equal(p->tracks[e->track].name, "host thread 1");
            continue;
        }
        assert_int_equal(e->kind, MF_PROF_PART);
        parts++;
        int core = -1, end = 0;
        assert_int_equal(sscanf(p->tracks[e->track].name, "mlu:0 core %d%n", &core, &end), 1);
        assert_true(core >= 0 && core <= MF_RT_MAX_CORE_THREADS && p->tracks[e->track].name[end] == 0);
        if (e->launch == 0) /* the plain launch: its 4 partitions */
            assert_int_equal(e->nparts, 4);
        else /* the nested one: 4 cut into up to 4 times as many */
            assert_true((e->nparts == 4 || e->nparts == 8 || e->nparts == 16) && e->part < e->nparts);
        finest += e->launch == 1 && e->nparts == 16; /* a thread's last claim is one sixteenth */
        assert_int_equal(e->width, 4);
        assert_int_equal(core, core_of[e->launch & 1][e->part * UNITS / e->nparts]); /* the core that ran it */
        int inside = 0; /* within a launch: monotonic clock, so exact */
        for (size_t j = 0; j < p->nev; j++)
            inside += p->ev[j].kind == MF_PROF_KERNEL && p->ev[j].t0 <= e->t0 && e->t1 <= p->ev[j].t1;
        assert_int_equal(inside, 1);
    }
    assert_int_equal(launches, 2);
    assert_true(parts >= 8 && parts <= 4 + 16);
    assert_true(finest > 0);
    mf_rt_prof_free(p);
}

/* mf_launch on a queue: the launch on the queue's track, its partitions on the cores. */
static void test_queue_launch(void **state)
{
    int hits[UNITS] = {0};
    void *args[1] = {hits};
    mf_queue *q;
    assert_int_equal(mf_queue_create(0, &q), MF_OK);
    assert_int_equal(mf_rt_prof_begin(), MF_OK);
    assert_int_equal(mf_launch(kernel, 1, args, 4, q), MF_OK);
    assert_int_equal(mf_queue_sync(q), MF_OK);
    struct mf_profile *p;
    assert_int_equal(mf_rt_prof_end(&p), MF_OK);
    assert_int_equal(mf_queue_destroy(q), MF_OK);
    int launches = 0, parts = 0;
    for (size_t i = 0; i < p->nev; i++) {
        const mf_rt_prof_event *e = &p->ev[i];
        if (e->kind == MF_PROF_KERNEL) {
            launches++;
            assert_string_equal(p->tracks[e->track].name, "mlu:0 queue 1");
            assert_string_equal(p->sites[e->site].name, "mf_launch");
        }
        parts += e->kind == MF_PROF_PART;
    }
    assert_int_equal(launches, 1);
    assert_int_equal(parts, 4);
    for (int i = 0; i < UNITS; i++)
        assert_int_equal(hits[i], 1);
    mf_rt_prof_free(p);
}

static void test_sites(void **state)
{
    char buf[256];
    mf_rt_prof_site a, b, plan_site = {.name = "cpu op 3 (concat)"};
    mf_type in[2] = {{MF_F32, 2, {2, 3}}, {MF_F32, 2, {2, 3}}}, out = {MF_F32, 2, {2, 3}};
    mf_attr attrs[MF_MAX_ATTRS];
    mf_op_default_attrs(MF_OP_ADD, attrs);
    assert_int_equal(mf_rt_prof_begin(), MF_OK);
    mf_rt_prof_op_site(&a, MF_OP_ADD, attrs, 2, in, &out, buf, sizeof buf);
    assert_string_equal(a.ops, "add(f32[2,3], f32[2,3]) -> f32[2,3]");
    assert_string_equal(a.shapes, "f32[2,3] -> f32[2,3]");
    assert_true(a.flops == 6 && a.bytes == 72);
    b = a;
    mf_rt_prof_stop_transient(MF_PROF_CPU_OP, &a, mf_rt_prof_start());
    mf_rt_prof_stop_transient(MF_PROF_CPU_OP, &b, mf_rt_prof_start());
    mf_rt_prof_stop(MF_PROF_CPU_OP, &plan_site, mf_rt_prof_start());
    mf_rt_prof_stop(MF_PROF_CPU_OP, &plan_site, mf_rt_prof_start());
    mf_rt_prof_copy(MF_DEVICE_CPU, MF_DEVICE_MLU(0), 4096, mf_rt_prof_start());
    memset(buf, 0, sizeof buf); /* the profile keeps its own copies */
    struct mf_profile *p;
    assert_int_equal(mf_rt_prof_end(&p), MF_OK);
    assert_int_equal(p->nev, 5);
    assert_int_equal(p->nsites, 3);
    assert_int_equal(p->ev[0].site, p->ev[1].site);
    assert_int_equal(p->ev[2].site, p->ev[3].site);
    assert_string_equal(p->sites[p->ev[0].site].ops, "add(f32[2,3], f32[2,3]) -> f32[2,3]");
    assert_string_equal(p->sites[p->ev[4].site].name, "copy mlu:0 -> host");
    assert_int_equal(p->ev[4].bytes, 4096);
    mf_rt_prof_free(p);

    /* a new profile copies the plan's site again */
    assert_int_equal(mf_rt_prof_begin(), MF_OK);
    mf_rt_prof_stop(MF_PROF_CPU_OP, &plan_site, mf_rt_prof_start());
    assert_int_equal(mf_rt_prof_end(&p), MF_OK);
    assert_int_equal(p->nsites, 1);
    assert_int_equal(p->ev[0].site, 0);
    mf_rt_prof_free(p);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_limits(void **state)
{
    char dir[64], path[128];
    tsupport_tmpdir("mf-limits", dir);
    snprintf(path, sizeof path, "%s/machine-limits.txt", dir);
    mf_machine_limits a, b, c;
    assert_int_equal(mf_rt_limits_get(path, &a), MF_OK);
    assert_false(a.from_cache);
    assert_true(a.peak_gflops > 0 && a.bandwidth_gbs > 0);
    assert_true(a.cpu[0] && (!strcmp(a.isa, "avx512f") || !strcmp(a.isa, "avx2+fma") ||
                             !strcmp(a.isa, "avx+fma") || !strcmp(a.isa, "avx") ||
                             !strcmp(a.isa, "sse4.2") || !strcmp(a.isa, "scalar")));
    /* every ISA the host runs has its own peak (what code for a narrower --cpu gets);
     * the scalar path runs everywhere */
    assert_true(a.peak_by_lanes[1] > 0);
    for (int lanes = 2; lanes <= 16; lanes++)
        assert_true(a.peak_by_lanes[lanes] == 0 || lanes == 4 || lanes == 8 || lanes == 16);
    int widest = 16; /* the headline peak is the widest ISA's (not a timing comparison: under
                      * an emulator AVX2's FMAs ran slower than scalar ones) */
    while (widest > 1 && a.peak_by_lanes[widest] == 0)
        widest--;
    assert_true(a.peak_gflops == a.peak_by_lanes[widest]);
    assert_int_equal(mf_rt_limits_get(path, &b), MF_OK);
    assert_true(b.from_cache);
    assert_string_equal(a.cpu, b.cpu);
    assert_true(b.peak_gflops > 0.99 * a.peak_gflops && b.peak_gflops < 1.01 * a.peak_gflops);
    for (int lanes = 1; lanes <= 16; lanes++)
        assert_true((b.peak_by_lanes[lanes] > 0) == (a.peak_by_lanes[lanes] > 0));

    char text[512];
    snprintf(text, sizeof text, "cpu=Another CPU\nisa=%s\npeak_gflops=1\nbandwidth_gbs=1\n", a.isa);
    write_text(path, text);
    assert_int_equal(mf_rt_limits_get(path, &c), MF_OK);
    assert_false(c.from_cache); /* another machine's figures are not used */
    snprintf(text, sizeof text, "cpu=%s\nisa=%s\npeak_gflops=garbage\n", a.cpu, a.isa);
    write_text(path, text);
    assert_int_equal(mf_rt_limits_get(path, &c), MF_OK);
    assert_false(c.from_cache);
    assert_int_equal(mf_rt_limits_get(NULL, &c), MF_OK); /* no file: measured, not kept */
    assert_false(c.from_cache);
    tsupport_rmdir_all(dir);
}

/* The benchmarks' peaks of one run: measured for every ISA the host runs, 0 for lane counts it
 * has none of; a sample runs for the time asked. */
static void test_peak_now_and_samples(void **state)
{
    (void)state;
    mf_machine_limits lim;
    assert_int_equal(mf_rt_limits_get(NULL, &lim), MF_OK);
    for (int lanes = 1; lanes <= 16; lanes++) {
        double now = mf_rt_limits_peak_now(lanes);
        assert_true((now > 0) == (lim.peak_by_lanes[lanes] > 0));
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        double sample = mf_rt_limits_peak_sample(lanes, 2e-3);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        assert_true((sample > 0) == (now > 0));
        double ran = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (sample > 0)
            assert_true(ran >= 2e-3);
    }
    assert_true(mf_rt_limits_peak_now(3) == 0 && mf_rt_limits_peak_sample(32, 1e-3) == 0);
    /* no time, or not a time: no sample (and no division by a zero span) */
    assert_true(mf_rt_limits_peak_sample(1, 0) == 0 && mf_rt_limits_peak_sample(1, -1) == 0);
    assert_true(mf_rt_limits_peak_sample(1, NAN) == 0 && mf_rt_limits_peak_sample(1, 1e9) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_when_off), cmocka_unit_test(test_launch_partitions),
        cmocka_unit_test(test_queue_launch),     cmocka_unit_test(test_sites),
        cmocka_unit_test(test_limits),           cmocka_unit_test(test_peak_now_and_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
