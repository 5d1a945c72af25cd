/* object_get.c — object code of one kernel without linking it, for writers of offline
 * models (module/genoff.c): the same key, disk entry and compilation as the keyed
 * instruction map, so an offline file holds exactly the code a JIT run of the same model
 * links for the same target. */
#include <stdio.h>

#include "cache.h"
#include "disk_store.h"

mf_status mf_cache_get_object(const mf_graph *sub, const mf_cache_options *opt, mf_cg_target *target,
                              mf_cg_object *out)
{
    mf_cache_key k;
    mf_status s = mf_cg_target_init(opt->cpu, target);
    if (!s)
        s = mf_cache_key_make(sub, opt, target, &k);
    if (s)
        return s;
    bool found = false;
    if (mf_disk_load(&k, out, &found) || !found) {
        mf_cg_options cg = {target, opt->opt_level, opt->core_number};
        s = mf_cg_compile(sub, &cg, out);
        if (!s) {
            char ops[256];
            mf_cache_op_list(sub, ops, sizeof ops);
            if (mf_disk_store(&k, out, target, ops, out->compile_ms))
                mf_logf(MF_LOG_WARNING, "cache", "%s", mf_last_error());
        }
    }
    mf_cache_key_free(&k);
    return s;
}
