/* disk_store.h — the on-disk layer under the keyed instruction map (disk_store.c), and the
 * entry format the `mlufuse cache` command inspects.  An entry file <key>.mfk is:
 *   "MFKCACHE", u32 format version, u32 header bytes, u64 key-text bytes, u64 object bytes
 *   (little-endian), the header ("name=value" lines: compiler, llvm, triple, cpu, features,
 *   created, compile_ms, symbol, scratch, ops), the full key text, the object code, and a
 *   SHA-256 of everything before it.  <key>.hits grows by one byte per hit; the entry's
 *   modification time is its last use. */
#ifndef MF_CACHE_DISK_STORE_H
#define MF_CACHE_DISK_STORE_H

#include "cache.h"

/* A cache directory's path at most (an entry's name and its temporary's fit after it in the
 * 4096-byte path buffers); a longer one is refused, not cut short. */
#define MF_DISK_MAX_DIR 4000

/* The cache directory (MLUFUSE_CACHE_DIR, $XDG_CACHE_HOME/mlufuse, ~/.cache/mlufuse), made
 * 0700 on first use; NULL when MLUFUSE_CACHE=off or the directory was refused. */
const char *mf_disk_dir(void);
/* MLUFUSE_CACHE_MAX_MB in bytes (default 1024 MiB); MF_ERR_INVALID naming the value when
 * it is not a positive number. */
mf_status mf_disk_max_bytes(size_t *out);
/* MF_OK when dir is a directory of this user that others cannot write. */
mf_status mf_disk_check_dir(const char *dir);

/* Fills obj from the entry of k when there is a valid one (*found); an invalid entry is
 * reported on stderr, removed, and treated as a miss. */
mf_status mf_disk_load(const mf_cache_key *k, mf_cg_object *obj, bool *found);
/* Writes the entry of k atomically, then evicts least recently used entries over the
 * size limit.  ops names the subgraph's ops for `mlufuse cache ls`. */
mf_status mf_disk_store(const mf_cache_key *k, const mf_cg_object *obj, const mf_cg_target *t,
                        const char *ops, double compile_ms);
void mf_disk_evict(const char *dir, size_t max_bytes);
/* Removes the temporary files of writers that were killed (counted in *removed and
 * *removed_bytes, either may be NULL) and returns the bytes of those still being written. */
size_t mf_disk_reclaim_temps(const char *dir, int *removed, size_t *removed_bytes);
/* Why k was compiled: the nearest entry on disk and the key components that differ
 * (miss_explain.c), as one line in out. */
void mf_disk_explain_miss(const mf_cache_key *k, const char *ops, char *out, size_t cap);

typedef struct mf_disk_entry {
    const char *header, *key_text;
    const unsigned char *object;
    size_t header_len, key_len, object_len;
} mf_disk_entry;

void mf_disk_entry_path(const char *dir, const char *hex, char *path, size_t cap);
mf_status mf_disk_read_file(const char *path, unsigned char **buf, size_t *n);
/* Checks magic, version, sizes and checksum of an entry's bytes; e points into buf. */
mf_status mf_disk_parse(const unsigned char *buf, size_t n, mf_disk_entry *e);
bool mf_disk_header_field(const mf_disk_entry *e, const char *name, char *out, size_t cap);

#endif
