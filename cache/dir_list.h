/* dir_list.h — the listing that `mlufuse cache` makes of a cache directory: one record per
 * file whose name a predicate accepts, in a growing array (kernel entries in inspect.c, saved
 * plans in module/plan_cache.c). */
#ifndef MF_CACHE_DIR_LIST_H
#define MF_CACHE_DIR_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "cache.h"

typedef bool (*mf_dir_name_pred)(const char *name);
/* Fills the record at rec (elem_size bytes) for the file name in dir. */
typedef void (*mf_dir_fill)(const char *dir, const char *name, void *rec);

/* *out gets a malloc'ed array of *n records, one per accepted name; on an error nothing is
 * kept (*out NULL, *n 0) and the status names dir. */
mf_status mf_dir_list(const char *dir, mf_dir_name_pred accept, mf_dir_fill fill,
                      size_t elem_size, void **out, int *n);

#endif
