/* run_images.h — the offline runner's image mode: a list of pictures, decoded, preprocessed
 * as the file records, run in batches of the file's batch size (the last one partial), and
 * post-processed per picture (top-k with labels, or YOLO boxes drawn on the picture). */
#ifndef MF_OFFLINE_RUN_IMAGES_H
#define MF_OFFLINE_RUN_IMAGES_H

#include "mlufuse/mlufuse_offline.h"

typedef struct images_opts {
    const char *list, *dataset, *labels, *output_dir;
    const char *input_format, *postprocess; /* NULL: the file's */
    int json, threads;
} images_opts;

/* Returns the exit code: 0, 1 for bad input (a message on stderr). */
int offline_run_images(mf_offline_model *m, const images_opts *o);

#endif
