/* replay.c — runs a fuzz harness over every file of its corpus (the folder given as the
 * first argument) as one cmocka test, so `make test` and the sanitizer build replay every
 * seed and every past finding on each run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "tests/support/tool_run.h"

static const char *corpus;

static void test_replay_corpus(void **state)
{
    DIR *d = opendir(corpus);
    if (!d)
        fail_msg("cannot open the corpus %s", corpus);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char path[1024];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", corpus, de->d_name);
        char *data = tsupport_read_file(path, &len);
        if (!data)
            fail_msg("cannot read %s", path);
        LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        free(data);
        files++;
    }
    closedir(d);
    printf("replayed %d inputs of %s\n", files, corpus);
    assert_true(files > 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
        return 2;
    }
    corpus = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_replay_corpus)};
    return cmocka_run_group_tests_name("fuzz_replay", tests, NULL, NULL);
}
