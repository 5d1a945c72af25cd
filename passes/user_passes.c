/* user_passes.c — passes of users' own: a process-wide registry the pass manager looks names
 * up in after the built-in passes, filled by mf_pass_register, from shared libraries through
 * mf_pass_load.  Entries are never removed (pipelines hold pointers to them) and libraries
 * stay open, so a registered pass stays callable for the life of the process. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "passes.h"

#define MAX_USER_PASSES 64
#define MAX_NAME 48

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mf_pass_info table[MAX_USER_PASSES];
static struct {
    mf_user_pass_fn fn;
    void *ctx;
} calls[MAX_USER_PASSES]; /* what table[i] calls */
static char names[MAX_USER_PASSES][MAX_NAME + 1], summaries[MAX_USER_PASSES][160];
static int count; /* published after the entry is filled: readers take it once */

const mf_pass_info *mf_user_pass_list(int *n)
{
    pthread_mutex_lock(&lock);
    *n = count;
    pthread_mutex_unlock(&lock);
    return table;
}

static const mf_pass_info *find_in(const mf_pass_info *t, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(t[i].name) == len && !memcmp(t[i].name, name, len))
            return &t[i];
    return NULL;
}

const mf_pass_info *mf_user_pass_find(const char *name, size_t len)
{
    int n;
    const mf_pass_info *t = mf_user_pass_list(&n);
    return find_in(t, n, name, len);
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > MAX_NAME || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

mf_status mf_pass_register(const char *name, const char *summary, mf_user_pass_fn fn, void *ctx)
{
    if (!name || !fn)
        return mf_error(MF_ERR_INVALID, "pass_register: name and function are required");
    if (!valid_name(name))
        return mf_error(MF_ERR_INVALID,
                        "pass_register: bad pass name '%.64s' (1 to %d of a-z, 0-9 and '-', not first)",
                        name, MAX_NAME);
    mf_status s = MF_OK;
    pthread_mutex_lock(&lock);
    int nbuiltin;
    const mf_pass_info *builtin = mf_pass_list(&nbuiltin);
    if (find_in(builtin, nbuiltin, name, strlen(name)) || find_in(table, count, name, strlen(name)))
        s = mf_error(MF_ERR_INVALID, "pass_register: a pass named '%s' exists already", name);
    else if (count == MAX_USER_PASSES)
        s = mf_error(MF_ERR_INVALID, "pass_register: at most %d passes can be registered", MAX_USER_PASSES);
    if (!s) {
        snprintf(names[count], sizeof names[count], "%s", name);
        snprintf(summaries[count], sizeof summaries[count], "%s", summary ? summary : "(a registered pass)");
        table[count] = (mf_pass_info){names[count], summaries[count], NULL};
        calls[count].fn = fn;
        calls[count].ctx = ctx;
        count++;
    }
    pthread_mutex_unlock(&lock);
    return s;
}

mf_status mf_user_pass_run(const mf_pass_info *p, mf_graph *g, int *changes)
{
    for (int i = 0; i < MAX_USER_PASSES; i++)
        if (p == &table[i]) {
            *changes = 0;
            return calls[i].fn(g, changes, calls[i].ctx);
        }
    return mf_error(MF_ERR_INTERNAL, "pass %s is neither built in nor registered", p->name);
}

mf_status mf_pass_load(const char *path)
{
    if (!path || !*path)
        return mf_error(MF_ERR_INVALID, "load_pass: no library path");
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        return mf_error(MF_ERR_IO, "load_pass: cannot open %s: %s", path, why ? why : "unknown error");
    }
    mf_status (*reg)(void);
    *(void **)&reg = dlsym(lib, "mlufuse_register_passes");
    if (!reg) {
        dlclose(lib);
        return mf_error(MF_ERR_INVALID, "load_pass: %s has no function mlufuse_register_passes", path);
    }
    mf_status s = reg(); /* the library stays open: its passes are called later */
    if (s)
        return mf_error_context(s, "load_pass: %s", path);
    return MF_OK;
}
