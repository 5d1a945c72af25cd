/* test_npy.c — .npy files as users and numpy write them, and as an attacker might: format
 * versions 1 to 3, every supported dtype round-trips, and crafted headers (a shape whose
 * byte count overflows, data shorter than the header says, an unknown dtype, a directory)
 * fail with a message naming the file, never a crash or a huge allocation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlufuse/mlufuse.h"
#include "runtime/runtime.h"
#include "tests/support/tool_run.h"

static char path[64];

static int setup(void **state)
{
    snprintf(path, sizeof path, "/tmp/mf-npy-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    return 0;
}

/* Writes a .npy of format version `version` with header dict `dict`, then nbytes of data. */
static void write_npy(int version, const char *dict, const void *data, size_t nbytes)
{
    size_t pre = version == 1 ? 10 : 12, len = strlen(dict) + 1;
    size_t padded = (pre + len + 63) / 64 * 64 - pre;
    unsigned char head[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)version, 0};
    for (size_t i = 0; i < pre - 8; i++)
        head[8 + i] = (unsigned char)(padded >> (8 * i));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, pre, f), pre);
    fprintf(f, "%-*s\n", (int)padded - 1, dict);
    if (nbytes)
        assert_int_equal(fwrite(data, 1, nbytes, f), nbytes);
    fclose(f);
}

static void expect_error(mf_status want, const char *phrase)
{
    mf_tensor *t = (mf_tensor *)0x1;
    mf_status s = mf_tensor_load_npy(path, &t);
    if (s != want || !strstr(mf_last_error(), phrase) || !strstr(mf_last_error(), path))
        fail_msg("status %d (want %d): %s", (int)s, (int)want, mf_last_error());
    assert_null(t);
}

/* Versions 2 and 3 have a 4-byte header length (the 10-byte buffer overflowed by 2). */
static void test_every_version_loads(void **state)
{
    const float data[4] = {1, -2, 3.5f, 4};
    for (int v = 1; v <= 3; v++) {
        write_npy(v, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data, sizeof data);
        mf_tensor *t;
        if (mf_tensor_load_npy(path, &t))
            fail_msg("version %d: %s", v, mf_last_error());
        assert_int_equal(mf_tensor_rank(t), 2);
        assert_memory_equal(mf_tensor_data(t), data, sizeof data);
        mf_tensor_free(t);
    }
}

/* (4611686018427387903,) f32 is 2^64 - 4 bytes: the unchecked count wrapped to a small
 * buffer, and the file's data overwrote the heap. */
static void test_overflowing_shape(void **state)
{
    static unsigned char bytes[3136];
    write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387903,), }", bytes,
              sizeof bytes);
    expect_error(MF_ERR_SHAPE, "is larger than");
    write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 65536, 65536), }",
              bytes, sizeof bytes);
    expect_error(MF_ERR_SHAPE, "is larger than");
    write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
              bytes, sizeof bytes);
    expect_error(MF_ERR_PARSE, "bad shape");
}

/* A valid shape of 4 TiB with 16 bytes behind it: refused before allocating. */
static void test_short_data_is_not_allocated(void **state)
{
    static const float data[4];
    write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", data,
              sizeof data);
    expect_error(MF_ERR_PARSE, "shorter than");
}

static void test_unsupported_dtype_is_named(void **state)
{
    static const unsigned char data[32];
    write_npy(1, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", data, sizeof data);
    expect_error(MF_ERR_DTYPE, "unsupported .npy dtype '<c16'");
    write_npy(1, "{'descr': '\x01\x02\x03', 'fortran_order': False, 'shape': (2,), }", data, sizeof data);
    expect_error(MF_ERR_DTYPE, "dtype '?" "?" "?'");
}

static void test_directory_is_named(void **state)
{
    mf_tensor *t;
    assert_int_equal(mf_tensor_load_npy("/tmp", &t), MF_ERR_IO);
    assert_non_null(strstr(mf_last_error(), "/tmp: is a directory"));
}

/* A pipe cannot say how much it holds: a header claiming 4 TiB with 16 bytes behind it
 * fails after reading them, without allocating what the header claims. */
static void test_short_pipe(void **state)
{
    static const float data[4];
    write_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", data,
              sizeof data);
    size_t len;
    char *bytes = tsupport_read_file(path, &len);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], bytes, len), (ssize_t)len); /* fits the pipe's buffer */
    close(fds[1]);
    free(bytes);
    FILE *f = fdopen(fds[0], "rb");
    mf_tensor *t;
    assert_int_equal(mf_rt_npy_read(f, "pipe.npy", &t), MF_ERR_PARSE);
    assert_non_null(strstr(mf_last_error(), "shorter than"));
    fclose(f);
}

static void test_zero_elements_round_trip(void **state)
{
    mf_tensor *t, *back;
    assert_int_equal(mf_tensor_zeros(MF_F32, 2, (int64_t[]){0, 4}, MF_DEVICE_CPU, &t), MF_OK);
    assert_int_equal(mf_tensor_save_npy(t, path), MF_OK);
    assert_int_equal(mf_tensor_load_npy(path, &back), MF_OK);
    assert_int_equal(mf_tensor_dim(back, 0), 0);
    assert_int_equal(mf_tensor_dim(back, 1), 4);
    mf_tensor_free(t);
    mf_tensor_free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_version_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflowing_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_data_is_not_allocated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_dtype_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_elements_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_pipe, setup, teardown),
    };
    return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}
