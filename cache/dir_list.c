/* dir_list.c — one record per accepted file name of a cache directory (dir_list.h). */
#include "dir_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

mf_status mf_dir_list(const char *dir, mf_dir_name_pred accept, mf_dir_fill fill,
                      size_t elem_size, void **out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return mf_error(MF_ERR_IO, "%s: %s", dir, strerror(errno));
    int cap = 0;
    mf_status s = MF_OK;
    for (struct dirent *de; !s && (de = readdir(d));) {
        if (!accept(de->d_name))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            void *p = realloc(*out, elem_size * (size_t)cap);
            if (!p) {
                s = mf_error(MF_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            *out = p;
        }
        fill(dir, de->d_name, (char *)*out + elem_size * (size_t)(*n)++);
    }
    closedir(d);
    if (s) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return s;
}
