/* buffer.c — refcounted bytes shared by tensors and graph constants, so a graph holds
 * weights by reference and the last holder frees them. */
#include <stdlib.h>

#include "ir.h"

static void free_host(mf_buffer *b)
{
    free(b->data);
}

mf_buffer *mf_buffer_new_host(size_t nbytes)
{
    if (nbytes > SIZE_MAX - 63) /* the rounding below would wrap to a tiny buffer */
        return NULL;
    mf_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t rounded = (nbytes + 63) / 64 * 64;
    b->data = aligned_alloc(64, rounded ? rounded : 64);
    if (!b->data) {
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->nbytes = nbytes;
    b->device = MF_DEVICE_CPU;
    b->free_fn = free_host;
    return b;
}

mf_buffer *mf_buffer_retain(mf_buffer *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void mf_buffer_release(mf_buffer *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->free_fn)
        b->free_fn(b);
    free(b);
}
