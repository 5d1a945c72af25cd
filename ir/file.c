/* file.c — the one way mlufuse opens a file that a user names (a model, an input, a cache
 * entry): a directory or other non-file is refused with a message that says so, and whole
 * files are read with a size bound, so that every loader reports the same way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ir.h"

mf_status mf_file_open(const char *path, FILE **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mf_error(MF_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return mf_error(MF_ERR_IO, "%s: is a directory, not a file", path);
    }
    *out = f;
    return MF_OK;
}

mf_status mf_file_read_all(const char *path, size_t limit, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    FILE *f;
    mf_status s = mf_file_open(path, &f);
    if (s)
        return s;
    size_t cap = 0;
    for (size_t got = 1; got;) {
        if (cap - *len < 4096 + 1) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(*text, cap);
            if (!nb) {
                s = mf_error(MF_ERR_NOMEM, "%s: out of memory reading the file", path);
                goto fail;
            }
            *text = nb;
        }
        got = fread(*text + *len, 1, cap - *len - 1, f);
        *len += got;
        if (*len > limit) {
            s = mf_error(MF_ERR_IO, "%s: larger than %zu bytes", path, limit);
            goto fail;
        }
    }
    if (ferror(f)) {
        s = mf_error(MF_ERR_IO, "%s: %s", path, strerror(errno ? errno : EIO));
        goto fail;
    }
    (*text)[*len] = 0;
fail:
    fclose(f);
    if (s) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return s;
}
