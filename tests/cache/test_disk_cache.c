/* test_disk_cache.c — the persistent kernel cache across processes, as users meet it through
 * `mlufuse run` and `mlufuse cache`: a warm start compiles nothing; flipped bytes, truncation
 * and a wrong format version are detected, removed and recompiled; four racing processes
 * leave one entry per key; a writer killed mid-run leaves a cache that verifies; prune keeps
 * the most recently used; an unsafe directory is refused with a warning; maintenance goes
 * on past entries it cannot remove, reclaims killed writers' files, and verify catches
 * entries under another entry's name; bad cache variables are usage errors.  With the plan
 * cache on: a process at batch 2 answers on batch 1's saved plan in 2 slices, the next one
 * at batch 2 on its own saved plan with nothing compiled or loaded, a damaged one falls
 * back to the kernel cache, and `cache plans` lists them until `cache clear` removes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <nettle/sha2.h>

#include "tests/support/tool_run.h"

static char out[1 << 17];
static char dir[64];

static int vsh(const char *fmt, va_list ap)
{
    char cmd[4096], line[3000];
    vsnprintf(line, sizeof line, fmt, ap);
    const char *build = getenv("MF_BUILD_DIR");
    snprintf(cmd, sizeof cmd, "unset MLUFUSE_CACHE; export MLUFUSE_CACHE_DIR=%s; M=%s/mlufuse; S=%s/models; %s 2>&1", dir,
             build ? build : "../../build", getenv("MF_SHARED_DIR") ? getenv("MF_SHARED_DIR") : "../../../shared",
             line);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vsh(fmt, ap);
    va_end(ap);
    return rc;
}

/* sh(...) must exit rc with `says` in its output. */
static void expect_sh(int rc, const char *says, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expect_sh(int rc, const char *says, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int got = vsh(fmt, ap);
    va_end(ap);
    if (got != rc || !strstr(out, says))
        fail_msg("exit %d (want %d), \"%s\" wanted in: %s", got, rc, says, out);
}

#define RUN_MNIST "$M run $S/mnist_net/model.onnx -i $S/mnist_net/input.npy --expect $S/mnist_net/output.npy --json"

static long json_num(const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(out, pat);
    if (!p)
        fail_msg("no %s in %s", key, out);
    return atol(p + strlen(pat));
}

static int count_files(const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        n += strstr(de->d_name, suffix) != NULL;
    if (d)
        closedir(d);
    return n;
}

/* The path of the n-th entry file (in directory order). */
static void entry_path(int n, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (strlen(de->d_name) == 68 && strstr(de->d_name, ".mfk") && n-- == 0) {
            snprintf(path, cap, "%s/%s", dir, de->d_name);
            closedir(d);
            return;
        }
    closedir(d);
    fail_msg("no entry %d", n);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/mf-kcache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0700);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_warm_start_compiles_nothing(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    long compiled = json_num("compiled");
    assert_true(compiled > 0);
    assert_int_equal(json_num("loaded"), 0);
    assert_int_equal(count_files(".mfk"), (int)compiled);
    assert_int_equal(sh(RUN_MNIST), 0);
    assert_int_equal(json_num("compiled"), 0);
    assert_int_equal(json_num("loaded"), compiled);
    assert_non_null(strstr(out, "\"match\": true"));
}

#define RUN_MNIST2 "MLUFUSE_PLAN_CACHE=on $M run $S/mnist_net/model.onnx --random --batch 2 --tier auto --json"

/* Overwrites the middle byte of every saved plan. */
static void damage_plans(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));) {
        if (strlen(de->d_name) != 68 || !strstr(de->d_name, ".mfo"))
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        int fd = open(path, O_RDWR);
        assert_true(fd >= 0);
        unsigned char c;
        assert_int_equal(pread(fd, &c, 1, st.st_size / 2), 1);
        c ^= 0x5a;
        assert_int_equal(pwrite(fd, &c, 1, st.st_size / 2), 1);
        close(fd);
    }
    closedir(d);
}

/* As a user meets the plan cache: batch 1 saves its plan, a new process at batch 2 runs it
 * in slices and saves its own, which the next process at batch 2 runs at once. */
static void test_new_process_runs_saved_plan(void **state)
{
    assert_int_equal(sh("MLUFUSE_PLAN_CACHE=on " RUN_MNIST), 0);
    assert_int_equal(count_files(".mfo"), 1);
    assert_int_equal(sh(RUN_MNIST2), 0);
    assert_int_equal(json_num("first_run_tier"), 1);
    assert_int_equal(json_num("first_run_slices"), 2);
    assert_non_null(strstr(out, "\"first_run_saved_plan\": true"));
    assert_int_equal(count_files(".mfo"), 2); /* batch 2's own, after its tier-up */
    assert_int_equal(sh(RUN_MNIST2), 0);
    assert_int_equal(json_num("first_run_tier"), 1);
    assert_int_equal(json_num("first_run_slices"), 1);
    assert_non_null(strstr(out, "\"first_run_saved_plan\": true"));
    assert_int_equal(json_num("compiled"), 0);
    assert_int_equal(json_num("loaded"), 0);
    assert_int_equal(sh("$M cache plans"), 0);
    assert_non_null(strstr(out, "KERNELS"));
    assert_int_equal(sh("$M cache plans --json"), 0);
    assert_non_null(strstr(out, "\"batch\": 1"));
    assert_non_null(strstr(out, "\"batch\": 2"));
    assert_non_null(strstr(out, "\"valid\": true"));
    assert_int_equal(sh("$M cache clear"), 0);
    assert_non_null(strstr(out, "removed 2 of 2 saved plans"));
    assert_int_equal(count_files(".mfo"), 0);
}

/* A damaged saved plan at the process's own batch size: reported, removed, and the process
 * loads its kernels from the disk cache instead, with the right answer; its plan is saved
 * again. */
static void test_damaged_own_plan_falls_back(void **state)
{
    assert_int_equal(sh("MLUFUSE_PLAN_CACHE=on " RUN_MNIST), 0);
    assert_int_equal(count_files(".mfo"), 1);
    damage_plans();
    assert_int_equal(sh("MLUFUSE_PLAN_CACHE=on " RUN_MNIST), 0);
    assert_non_null(strstr(out, "fails its checksum"));
    assert_non_null(strstr(out, "\"first_run_saved_plan\": false"));
    assert_non_null(strstr(out, "\"match\": true"));
    assert_int_equal(json_num("compiled"), 0);
    assert_true(json_num("loaded") > 0);
    assert_int_equal(sh("MLUFUSE_PLAN_CACHE=on " RUN_MNIST), 0);
    assert_non_null(strstr(out, "\"first_run_saved_plan\": true"));
    assert_non_null(strstr(out, "\"match\": true"));
}

static void damage(int n, const char *how)
{
    char path[256];
    entry_path(n, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    unsigned char b;
    if (!strcmp(how, "flip")) {
        pread(fd, &b, 1, st.st_size / 2);
        b ^= 0x10;
        pwrite(fd, &b, 1, st.st_size / 2);
    } else if (!strcmp(how, "truncate")) {
        assert_int_equal(ftruncate(fd, st.st_size - 100), 0);
    } else { /* a future format version */
        b = 2;
        pwrite(fd, &b, 1, 8);
    }
    close(fd);
}

static void test_damaged_entries_are_recompiled(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    long total = json_num("compiled");
    const char *hows[] = {"flip", "truncate", "version"};
    const char *said[] = {"checksum mismatch", "do not add up", "format version 2"};
    for (int i = 0; i < 3; i++) {
        damage(i, hows[i]);
        assert_int_equal(sh("$M cache verify"), 1); /* verify sees it */
        assert_non_null(strstr(out, "1 corrupt"));
        assert_int_equal(sh(RUN_MNIST), 0);
        if (!strstr(out, said[i]) || !strstr(out, "removed, the kernel is recompiled"))
            fail_msg("%s: %s", hows[i], out);
        assert_int_equal(json_num("compiled"), 1);
        assert_int_equal(json_num("loaded"), total - 1);
        assert_int_equal(sh("$M cache verify"), 0);
    }
}

static void test_racing_processes(void **state)
{
    assert_int_equal(sh("for i in 1 2 3 4; do (" RUN_MNIST " > %s/out.$i) & done; wait; "
                        "grep -L '\"match\": true' %s/out.*; rm -f %s/out.*", dir, dir, dir), 0);
    assert_int_equal(out[0], 0); /* every process matched (grep -L lists none) */
    assert_int_equal(count_files(".tmp."), 0);
    int entries = count_files(".mfk");
    assert_int_equal(sh(RUN_MNIST), 0);
    assert_int_equal(json_num("compiled"), 0);
    assert_int_equal(json_num("loaded"), entries); /* one entry per key */
}

/* A writer killed between writing its temporary file and renaming it (the hook stops it
 * at exactly that point) leaves a cache that verifies; the next run reclaims its file.  One
 * compile thread: with two, the other may have written its own temporary file before the
 * first one's writer dies (a CI run saw two). */
static void test_killed_writer_leaves_a_valid_cache(void **state)
{
    assert_int_equal(sh("MLUFUSE_TEST_KILL_WRITER=1 MLUFUSE_COMPILE_THREADS=1 $M run $S/mnist_net/model.onnx "
                        "--random; echo rc=$?"),
                     0);
    assert_non_null(strstr(out, "rc=137")); /* 128 + SIGKILL */
    assert_int_equal(count_files(".tmp."), 1);
    assert_int_equal(count_files(".mfk"), 1); /* the temporary file only */
    assert_int_equal(sh("$M cache verify"), 0);
    assert_non_null(strstr(out, "0 entries checked, 0 corrupt"));
    assert_int_equal(sh(RUN_MNIST), 0);
    assert_non_null(strstr(out, "\"match\": true"));
    assert_int_equal(count_files(".tmp."), 0);
}

static void test_prune_keeps_most_recently_used(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    int n = count_files(".mfk");
    assert_true(n >= 3);
    char newest[256];
    entry_path(0, newest, sizeof newest);
    for (int i = 0; i < n; i++) { /* age every entry by a day, then mark one as just used */
        char path[256];
        entry_path(i, path, sizeof path);
        struct timespec t[2] = {{time(NULL) - 86400 - i, 0}, {time(NULL) - 86400 - i, 0}};
        utimensat(AT_FDCWD, path, t, 0);
    }
    utimensat(AT_FDCWD, newest, NULL, 0);
    struct stat st;
    stat(newest, &st);
    assert_int_equal(sh("$M cache prune --max-size %lld", (long long)st.st_size), 0);
    assert_int_equal(count_files(".mfk"), 1);
    assert_int_equal(access(newest, F_OK), 0);
    assert_int_equal(sh("$M cache prune --older-than 1h"), 0);
    assert_int_equal(count_files(".mfk"), 1);
    assert_int_equal(sh("$M cache clear"), 0);
    assert_int_equal(count_files(".mfk"), 0);
}

static void test_size_limit_evicts_least_recently_used(void **state)
{
    /* 0.02 MB = 20971 bytes: MNIST's kernels (about 40 KB) do not all fit; one compile
     * thread, so they are written in the network's order (with two, a longer kernel could
     * finish after the last layer's: a timing-dependent test) */
    assert_int_equal(sh("MLUFUSE_CACHE_MAX_MB=0.02 MLUFUSE_COMPILE_THREADS=1 " RUN_MNIST), 0);
    assert_non_null(strstr(out, "\"match\": true"));
    assert_int_equal(sh("$M cache stats --json"), 0);
    long bytes = json_num("bytes"), entries = json_num("entries");
    assert_true(bytes <= 20971);
    assert_true(entries >= 1 && entries < 7);
    /* the last kernel written (log_softmax, the network's last layer) is the one kept */
    assert_int_equal(sh("$M cache ls"), 0);
    assert_non_null(strstr(out, "log_softmax"));
}

static void test_subcommands(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    long n = json_num("compiled");
    assert_int_equal(sh("$M cache ls --json"), 0);
    assert_true(out[0] == '[');
    int objects = 0;
    for (const char *p = out; (p = strstr(p, "\"key\": ")); p++)
        objects++;
    assert_int_equal(objects, n);
    assert_non_null(strstr(out, "\"ops\": \"conv2d+relu\""));
    assert_int_equal(sh("$M cache ls --sort size"), 0);
    assert_non_null(strstr(out, "KEY"));
    assert_non_null(strstr(out, "log_softmax"));
    assert_int_equal(sh("$M cache stats --json"), 0);
    assert_int_equal(json_num("entries"), n);
    char path[256];
    entry_path(0, path, sizeof path);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", strrchr(path, '/') + 1);
    expect_sh(0, "key text:", "$M cache show %s", prefix);
    assert_non_null(strstr(out, "graph @subgraph("));
    expect_sh(0, "machine code:", "$M cache show %s --disasm", prefix);
    assert_non_null(strstr(out, "ret"));
    expect_sh(1, "no entry matches", "$M cache show zzzz");
    assert_int_equal(sh("$M cache frob"), 2);
    assert_int_equal(sh("$M cache prune"), 2);
    assert_int_equal(sh("$M cache prune --max-size 12Q"), 2);
    /* a typo of MLUFUSE_CACHE kept the disk cache on; a path past the buffer was cut short
     * and a different directory made */
    expect_sh(2, "MLUFUSE_CACHE=OFF: expected off (or 0)", "MLUFUSE_CACHE=OFF $M cache ls");
    expect_sh(2, "MLUFUSE_CACHE_DIR is 4505 bytes long, past the 4000",
              "MLUFUSE_CACHE_DIR=/tmp/$(printf 'a%%.0s' $(seq 4500)) $M cache ls");
    /* sizes and ages past 2^63 (or NaN) were cast to long long: undefined */
    assert_int_equal(sh("$M cache prune --max-size nan"), 2);
    assert_int_equal(sh("$M cache prune --max-size 1e300"), 2);
    assert_int_equal(sh("$M cache prune --older-than 1e17d"), 2);
    assert_int_equal(sh("$M cache --dir /nonexistent/dir ls"), 1);
    assert_int_equal(sh("$M cache --help"), 0);
}

static void test_unsafe_directory_is_refused(void **state)
{
    chmod(dir, 0777);
    assert_int_equal(sh(RUN_MNIST), 0);
    chmod(dir, 0700);
    assert_non_null(strstr(out, "writable by others"));
    assert_non_null(strstr(out, "caching in memory only"));
    assert_non_null(strstr(out, "\"match\": true"));
    assert_int_equal(count_files(".mfk"), 0);
}

static void test_why_names_the_differing_components(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    assert_int_equal(sh("$M cache why $S/mnist_net/model.onnx --core-number 4"), 0);
    assert_non_null(strstr(out, "compiled conv2d+relu: nearest entry"));
    assert_non_null(strstr(out, "differs in core_number (4 here, 1 in the entry)"));
    assert_int_equal(sh("$M cache why $S/mnist_net/model.onnx --batch 2"), 0);
    assert_non_null(strstr(out, "compiled log_softmax: nearest entry"));
    assert_non_null(strstr(out, "differs in shapes (%0: f32[2,10] here, %0: f32[1,10] in the entry)"));
    assert_int_equal(sh(RUN_MNIST " --explain-misses"), 0);
    assert_null(strstr(out, "nearest entry")); /* a warm run compiles nothing to explain */
}

/* An entry whose checksum is right but whose key text names other CPU features (copied from
 * another machine, say) is refused, removed and recompiled. */
static void test_entry_for_other_cpu_features(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    long total = json_num("compiled");
    char path[256];
    entry_path(0, path, sizeof path);
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned char *feat = memmem(buf, n, "features +", 10); /* the key text's (the header has "=") */
    assert_non_null(feat);
    feat[9] = '-'; /* a feature this machine has becomes one it lacks */
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, n - SHA256_DIGEST_SIZE, buf);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, buf + n - SHA256_DIGEST_SIZE);
    f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    /* well-formed, but its key text no longer hashes to its name: verify says so */
    assert_int_equal(sh("$M cache verify"), 1);
    assert_non_null(strstr(out, "not to its file name"));
    assert_int_equal(sh(RUN_MNIST), 0);
    assert_non_null(strstr(out, "key text differs from the request"));
    assert_int_equal(json_num("compiled"), 1);
    assert_int_equal(json_num("loaded"), total - 1);
}

/* prune and clear go on past an entry they cannot remove (here a directory in an entry's
 * place, which even root cannot unlink), report it, and remove the rest; exit 1. */
static void test_removal_goes_on_after_a_failure(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    int n = count_files(".mfk");
    assert_true(n >= 3);
    char blocked[256];
    snprintf(blocked, sizeof blocked, "%s/%064d.mfk", dir, 0);
    assert_int_equal(mkdir(blocked, 0700), 0);
    char inside[300];
    snprintf(inside, sizeof inside, "%s/keep", blocked);
    tsupport_write_file(inside, "x");
    assert_int_equal(sh("$M cache clear"), 1);
    assert_non_null(strstr(out, "could not be removed"));
    assert_non_null(strstr(out, "0000000000000000000000000000000000000000000000000000000000000000.mfk"));
    assert_int_equal(count_files(".mfk"), 1); /* only the directory is left */
    unlink(inside);
    rmdir(blocked);
}

/* prune and clear on an empty cache: nothing to sort or remove (qsort of NULL was UB). */
static void test_empty_cache_maintenance(void **state)
{
    assert_int_equal(sh("$M cache clear"), 0);
    assert_non_null(strstr(out, "removed 0 of 0 entries"));
    assert_int_equal(sh("$M cache prune --max-size 1M"), 0);
    assert_int_equal(sh("$M cache ls --sort age"), 0);
}

/* A killed writer's temporary file is reclaimed by prune/clear and by the next store; a
 * running writer's is kept (and counted against the size limit). */
static void test_killed_writers_files_are_reclaimed(void **state)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0); /* a pid that no longer runs: the writer was killed */
    char dead[256], live[256];
    snprintf(dead, sizeof dead, "%s/%064d.mfk.tmp.%ld.0", dir, 1, (long)child);
    snprintf(live, sizeof live, "%s/%064d.mfk.tmp.%ld.0", dir, 2, (long)getpid());
    tsupport_write_file(dead, "half an entry");
    tsupport_write_file(live, "still being written");
    assert_int_equal(sh("$M cache clear"), 0);
    assert_non_null(strstr(out, "1 temporary files of killed writers (13 bytes) removed"));
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    tsupport_write_file(dead, "half an entry");
    assert_int_equal(sh(RUN_MNIST), 0); /* storing evicts, and reclaims on the way */
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    unlink(live);
}

/* An entry copied under another entry's name is well-formed but for another subgraph. */
static void test_verify_catches_swapped_entries(void **state)
{
    assert_int_equal(sh(RUN_MNIST), 0);
    char a[256], b[256];
    entry_path(0, a, sizeof a);
    entry_path(1, b, sizeof b);
    size_t len;
    char *bytes = tsupport_read_file(a, &len);
    assert_non_null(bytes);
    FILE *f = fopen(b, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    free(bytes);
    assert_int_equal(sh("$M cache verify"), 1);
    assert_non_null(strstr(out, "not to its file name"));
    assert_non_null(strstr(out, "1 corrupt"));
}

/* Bad cache settings are usage errors of the tool, and the library then stays off disk. */
static void test_bad_cache_environment(void **state)
{
    static const char *const bad[] = {"MLUFUSE_CACHE_MAX_MB=abc", "MLUFUSE_CACHE_MAX_MB=-5",
                                      "MLUFUSE_CACHE_MAX_MB=0", "MLUFUSE_CACHE_DIR="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sh("%s $M cache ls", bad[i]), 2);
        assert_non_null(strstr(out, "MLUFUSE_CACHE_"));
        assert_int_equal(sh("%s " RUN_MNIST, bad[i]), 2);
    }
    /* the default CPU is a component of every key: a bad one is a usage error too */
    static const char *const bad_cpu[] = {"MLUFUSE_CPU=nonsense", "MLUFUSE_CPU="};
    for (size_t i = 0; i < sizeof bad_cpu / sizeof bad_cpu[0]; i++) {
        assert_int_equal(sh("%s " RUN_MNIST, bad_cpu[i]), 2);
        assert_non_null(strstr(out, "MLUFUSE_CPU"));
    }
    assert_int_equal(count_files(".mfk"), 0);
    assert_int_equal(sh("MLUFUSE_CACHE_MAX_MB=0.5 $M cache ls"), 0);
}

int main(void)
{
    /* Warm and cold starts here count what module creation compiles: tier 1 at once. */
    setenv("MLUFUSE_TIER", "full", 1);
    /* Entry counts and sizes here are the kernels': no saved plans (test_plan_cache.c) beside them. */
    setenv("MLUFUSE_PLAN_CACHE", "off", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_warm_start_compiles_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_process_runs_saved_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_own_plan_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_entries_are_recompiled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writer_leaves_a_valid_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_keeps_most_recently_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit_evicts_least_recently_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subcommands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_directory_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_why_names_the_differing_components, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_for_other_cpu_features, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_goes_on_after_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_cache_maintenance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_writers_files_are_reclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches_swapped_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cache_environment, setup, teardown),
    };
    return cmocka_run_group_tests_name("disk_cache", tests, NULL, NULL);
}
