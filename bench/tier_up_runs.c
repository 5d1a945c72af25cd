/* tier_up_runs.c — the background tier-up against the runs it must not slow (docs/tiers.md):
 * a model created in auto mode with an empty kernel cache, in a fresh process per round, either
 * run back to back on tier 0 until tier 1 arrives ("runs") or left alone until it does
 * ("idle"), with the compile on one thread fewer than the cores, all normal priority (as before:
 * "cores-1", forced with MLUFUSE_COMPILE_THREADS) or on every core with the last thread in the
 * idle scheduling class (the default, "all").  Per round and mode: time to full speed (module
 * creation to the end of tier-up), and for "runs" the median wall and thread-CPU time of the
 * tier-0 runs made during the compile against the same runs with nothing compiling (a tier=fast
 * module in the same process afterwards).  Modes interleave within a round; medians over rounds.
 *     build/bench_tier_up_runs MODEL.onnx [rounds] */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "support/bench_check.h"

#define MAX_RUNS 4096
#define NRESULTS 6 /* full_ms, tier-0 runs, wall and CPU during, wall and CPU with nothing compiling */

static double ms(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One run of m on x: its wall and thread-CPU milliseconds, and its tier. */
static int run_once(mf_module *m, mf_tensor *x, int nout, double *wall, double *cpu)
{
    mf_tensor *out[16] = {0};
    double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    BENCH_CHECK(mf_module_run(m, 1, &x, nout, out));
    *cpu = ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    *wall = ms(CLOCK_MONOTONIC) - w0;
    for (int i = 0; i < nout; i++)
        mf_tensor_free(out[i]);
    mf_module_tier_info info;
    mf_module_get_tier_info(m, &info);
    return info.last_run_tier;
}

/* In a child process with an empty cache folder of its own: one round of one mode. */
static void child(const char *model, bool all_cores, bool runs, int fd)
{
    char dir[] = "/tmp/mf-tier-up-runs-XXXXXX";
    if (!mkdtemp(dir))
        _exit(1);
    setenv("MLUFUSE_CACHE_DIR", dir, 1);
    setenv("MLUFUSE_PLAN_CACHE", "off", 1);
    unsetenv("MLUFUSE_CACHE");
    unsetenv("MLUFUSE_TIER");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char n[16];
    snprintf(n, sizeof n, "%ld", cores > 1 ? cores - 1 : 1);
    if (all_cores)
        unsetenv("MLUFUSE_COMPILE_THREADS");
    else
        setenv("MLUFUSE_COMPILE_THREADS", n, 1);
    mf_graph *g;
    BENCH_CHECK(mf_onnx_load(model, 1, &g));
    mf_dtype dt;
    int rank;
    int64_t shape[MF_MAX_RANK];
    BENCH_CHECK(mf_graph_input_type(g, 0, &dt, &rank, shape));
    int nout = mf_graph_num_outputs(g) < 16 ? mf_graph_num_outputs(g) : 16;
    mf_tensor *x;
    BENCH_CHECK(mf_tensor_rand(dt, rank, shape, 7, 0, 1, MF_DEVICE_MLU(0), &x));
    mf_module_options o = mf_module_default_options();
    o.tier = MF_TIER_AUTO;
    mf_module *m;
    static double wall[MAX_RUNS], cpu[MAX_RUNS];
    int k = 0;
    BENCH_CHECK(mf_module_create(g, &o, &m));
    mf_module_tier_info info;
    for (mf_module_get_tier_info(m, &info); runs && info.pending && k < MAX_RUNS; mf_module_get_tier_info(m, &info))
        if (run_once(m, x, nout, &wall[k], &cpu[k]) == 0)
            k++;
    BENCH_CHECK(mf_module_wait_tier_up(m));
    mf_module_get_tier_info(m, &info);
    double r[NRESULTS] = {info.tier_up_ms, k, median(wall, k), median(cpu, k), NAN, NAN};
    mf_module_destroy(m);
    if (runs) { /* the same tier-0 runs with nothing compiling */
        o.tier = MF_TIER_FAST;
        BENCH_CHECK(mf_module_create(g, &o, &m));
        int nb = k < 5 ? 5 : k;
        run_once(m, x, nout, &wall[0], &cpu[0]);
        for (int i = 0; i < nb; i++)
            run_once(m, x, nout, &wall[i], &cpu[i]);
        r[4] = median(wall, nb);
        r[5] = median(cpu, nb);
        mf_module_destroy(m);
    }
    mf_tensor_free(x);
    mf_graph_destroy(g);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    int rc = system(cmd);
    _exit(write(fd, r, sizeof r) == sizeof r && rc == 0 ? 0 : 1); /* _exit: no second flush of stdout */
}

static void round_of(const char *model, bool all_cores, bool runs, double *r)
{
    int p[2];
    if (pipe(p))
        exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child(model, all_cores, runs, p[1]);
    }
    close(p[1]);
    int st;
    if (read(p[0], r, sizeof(double) * NRESULTS) != (ssize_t)(sizeof(double) * NRESULTS) ||
        waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "tier_up_runs: a round failed\n");
        exit(1);
    }
    close(p[0]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [rounds]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (rounds < 1 || rounds > 100)
        rounds = 3;
    static const char *names[4] = {"cores-1, runs", "all, runs", "cores-1, idle", "all, idle"};
    static double res[4][100][NRESULTS];
    for (int i = 0; i < rounds; i++)
        for (int mode = 0; mode < 4; mode++) { /* interleaved: the machine's load hits every mode */
            round_of(argv[1], mode % 2, mode < 2, res[mode][i]);
            double *r = res[mode][i];
            printf("round %d, %-14s: full speed %.0f ms", i + 1, names[mode], r[0]);
            if (mode < 2)
                printf(", %d tier-0 runs: %.1f ms wall, %.1f ms CPU (nothing compiling: %.1f, %.1f)",
                       (int)r[1], r[2], r[3], r[4], r[5]);
            printf("\n");
        }
    printf("\nmedians over %d rounds:\n| compile threads | runs meanwhile | full speed | tier-0 run wall "
           "| tier-0 run CPU | nothing compiling: wall, CPU |\n| --- | --- | --- | --- | --- | --- |\n", rounds);
    for (int mode = 0; mode < 4; mode++) {
        double col[NRESULTS][100];
        for (int i = 0; i < rounds; i++)
            for (int c = 0; c < NRESULTS; c++)
                col[c][i] = res[mode][i][c];
        double med[NRESULTS];
        for (int c = 0; c < NRESULTS; c++)
            med[c] = median(col[c], rounds);
        if (mode < 2)
            printf("| %s | tier 0, back to back | %.0f ms | %.1f ms | %.1f ms | %.1f ms, %.1f ms |\n",
                   mode % 2 ? "all (last idle-class)" : "cores-1", med[0], med[2], med[3], med[4], med[5]);
        else
            printf("| %s | none | %.0f ms | - | - | - |\n", mode % 2 ? "all (last idle-class)" : "cores-1",
                   med[0]);
    }
    return 0;
}
