/* onnx_build.h — small ONNX models built in tests from protobuf-c structs (the Python
 * generator needs torch), for the importer's hostile-input tests and the fuzz seeds: f32
 * graph inputs, initializers with raw data, nodes with int-list attributes, outputs. */
#ifndef MF_TEST_ONNX_BUILD_H
#define MF_TEST_ONNX_BUILD_H

#include <stddef.h>
#include <stdint.h>

#define TOB_MAX 8

typedef struct tob_value {
    const char *name;
    int rank;
    int64_t dims[TOB_MAX];
    const void *raw; /* initializers: raw_data bytes (raw_len of them); NULL: no raw_data */
    size_t raw_len;
    int dtype; /* initializers: the ONNX data type; 0: FLOAT */
} tob_value;

typedef struct tob_attr {
    const char *name;
    int n; /* 0: an empty ints list */
    int64_t ints[TOB_MAX];
} tob_attr;

typedef struct tob_node {
    const char *op;
    const char *in[TOB_MAX], *out[TOB_MAX];
    tob_attr attrs[TOB_MAX];
} tob_node; /* lists end at the first NULL name */

typedef struct tob_model {
    int opset;
    tob_value inputs[TOB_MAX], inits[TOB_MAX];
    tob_node nodes[TOB_MAX];
    const char *outputs[TOB_MAX];
} tob_model; /* lists end at the first NULL name or op */

/* The packed model, malloc'ed; *len its size. */
void *tob_pack(const tob_model *m, size_t *len);

#endif
