/* mlufuse_quant.h — post-training quantization (docs/quantization.md): the seed's
 * quantize_dynamic_mlu(net, {'mean', 'std', 'firstconv'}, dtype='int8').  Calibration runs
 * the f32 model on sample inputs and records every activation's range; the result is an
 * ordinary graph whose convolutions, linear layers and products of two activations are int8
 * ops (quantize, qconv2d, qlinear, qmatmul, qadd, dequantize) with their scales and zero
 * points, which prints, parses, optimizes and runs like any other. */
#ifndef MLUFUSE_QUANT_H
#define MLUFUSE_QUANT_H

#include "mlufuse/mlufuse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mf_quant_method {
    MF_QUANT_MINMAX,     /* the range seen */
    MF_QUANT_PERCENTILE, /* the range clipped to the percentile's values at both ends */
    MF_QUANT_ENTROPY,    /* each side of 0 clipped where the KL divergence is least */
} mf_quant_method;

#define MF_QUANT_MAX_CHANNELS 16
/* Plain per-channel codes err by up to about 0.9 % (the shared models' layers), limited pairs
 * by up to 1.15 %: the bound refuses a layer whose pairs would err much more than that, and
 * no layer of resnet18, mobilenet_v2 or mnist_net (docs/quantization.md). */
#define MF_UBSW_MAX_ERROR_DEFAULT 0.015

typedef struct mf_quantize_options {
    mf_dtype dtype;         /* MF_I8, or MF_F16: inputs, weights and outputs stored as half,
                               compute in f32; needs no calibration inputs */
    int per_channel;        /* 1: one weight scale per output channel; 0: one per tensor */
    int ubsw_pairs;         /* 1: conv weights (but depthwise) such that no two neighbours along
                               a row (k = 2j, 2j + 1) of one sign sum past 128 in magnitude (a
                               channel's scale grows where needed), so AVX2 targets without
                               VNNI multiply by vpmaddubsw with no saturation; a little less
                               accurate (docs/quantization.md) */
    double ubsw_max_error;  /* with ubsw_pairs, a layer's pairs are limited only where its
                               weights' relative L2 rounding error ||scale q - w|| / ||w||
                               stays at or below this (other layers keep their plain codes and
                               the int16 path); <= 0: every layer.  Default
                               MF_UBSW_MAX_ERROR_DEFAULT */
    mf_quant_method method;
    double percentile;      /* MF_QUANT_PERCENTILE: e.g. 99.99 */
    /* Calibration batches: ncalib sets of the model's inputs, calib[i * ninputs + j] the
     * j-th input of set i, cpu tensors of the input types (after mean/std, see below, they
     * are the raw inputs the quantized model takes). */
    int ncalib;
    mf_tensor *const *calib;
    /* The seed's preprocessing of input 0 (NCHW), per channel: x' = (x - mean) / std.  With
     * nmean = nstd = 0 the model takes its inputs as they are.  Otherwise the quantized
     * model takes the raw x: the normalization is an f32 prologue, or with firstconv folded
     * into the first convolution's weights and bias (exact when mean is 0 or the conv has
     * no padding; otherwise the padded border sees -mean/std's image, as in the seed). */
    int nmean, nstd; /* 1 or the input's channels; at most MF_QUANT_MAX_CHANNELS */
    float mean[MF_QUANT_MAX_CHANNELS], std[MF_QUANT_MAX_CHANNELS];
    int firstconv;
    const char *cpu; /* the LLVM CPU calibration runs compiled for (NULL: this machine) */
} mf_quantize_options;

mf_quantize_options mf_quantize_default_options(void); /* int8, per tensor, minmax,
                                                           ubsw_max_error its default */

/* The quantized graph of g (which is not changed).  Fails with MF_ERR_INVALID for bad
 * options (no calibration data, mean/std of the wrong length, --firstconv without a first
 * convolution), naming what is wrong. */
mf_status mf_quantize(const mf_graph *g, const mf_quantize_options *opt, mf_graph **out);

/* What ubsw_pairs did to the ungrouped convolutions (qconv2d) of a quantized graph q: how
 * many have limited pairs, how many kept their plain codes (the limit's error passed
 * ubsw_max_error), and how many were never limited because targets without VNNI run them as
 * f32 Winograd (3x3, stride 1: docs/quantization.md).  The three pointers must not be
 * NULL; q NULL counts nothing. */
void mf_quant_pair_counts(const mf_graph *q, int *limited, int *kept, int *winograd);

/* mf_quantize, and the accuracy of the result against the f32 model (with the same
 * preprocessing, so both take the same raw inputs) on nsets held-out input sets, laid out
 * as mf_quantize_options.calib (use inputs calibration did not see). */
typedef struct mf_quant_layer_error {
    char name[96];    /* "qconv2d %23 (node 7)" */
    double rel_l2;    /* ||dequant(q layer on quantized f32 inputs) - f32 layer|| / ||f32|| */
} mf_quant_layer_error;

typedef struct mf_quant_report {
    int nsets;
    double rel_l2;        /* over all outputs of all sets: ||q - f|| / ||f|| */
    double max_rel;       /* max |q - f| / max |f| */
    int top1_agree;       /* rows of output 0 whose argmax over the last dim agrees */
    int top1_total;       /* rows of output 0 compared (sets x rows) */
    int nlayers;
    mf_quant_layer_error *layers; /* per quantized anchor, in graph order (malloc'ed) */
} mf_quant_report;

mf_status mf_quantize_with_report(const mf_graph *g, const mf_quantize_options *opt, int nsets,
                                  mf_tensor *const *held_out, mf_graph **out,
                                  mf_quant_report *report);
void mf_quant_report_free(mf_quant_report *r);

#ifdef __cplusplus
}
#endif

#endif
