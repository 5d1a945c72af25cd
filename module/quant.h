/* quant.h — internals of post-training quantization (mlufuse_quant.h): the graph rewrite
 * from calibrated ranges (quant_rewrite.c) and the instrumented f32 runs that record them
 * (quant_calib.c), used by the public entry points in quantize.c. */
#ifndef MF_MODULE_QUANT_H
#define MF_MODULE_QUANT_H

#include "mlufuse/mlufuse_quant.h"
#include "module.h"

/* The range of one f32 value over the calibration inputs (seen: it was recorded). */
typedef struct mf_qrange {
    float lo, hi;
    bool seen;
} mf_qrange;

/* Scale and zero point that map [min(lo, 0), max(hi, 0)] onto -128..127. */
void mf_qparams_of(mf_qrange r, float *scale, int *zero_point);

/* One quantized layer of a rewritten graph: its node there, and the f32 source graph's
 * values (ids) it stands for: its activation inputs and its result (after a fused relu). */
typedef struct mf_qlayer {
    const mf_node *node;
    int nsrc;
    int src[2];
    int result;
} mf_qlayer;

/* Whether --ubsw-pairs limits the weights of conv (conv2d or qconv2d): not for depthwise
 * convs nor for those that targets without VNNI run as f32 Winograd (mf_winograd_fits). */
bool mf_mod_conv_takes_pairs(const mf_node *conv);

/* The int8 graph of the f32 graph f, whose values' ranges are ranges[value id]: every conv2d
 * and linear with constant weights becomes qconv2d / qlinear (with a following relu or clamp
 * fused), an add of two quantized tensors qadd, max_pool2d and views of quantized tensors
 * stay int8; quantize and dequantize are inserted only where the int8 region begins and
 * ends.  With ubsw_pairs qconv2d's weight pairs are limited
 * (MF_UBSW_PAIR_MAX, recorded as its w_pair_max) in each layer whose weights' relative L2
 * rounding error then stays at or below ubsw_max_error (<= 0: every layer).  *layers
 * (malloc'ed, may be NULL) lists the quantized layers. */
mf_status mf_mod_quant_rewrite(const mf_graph *f, const mf_qrange *ranges, bool per_channel, bool ubsw_pairs,
                               double ubsw_max_error, mf_graph **out, mf_qlayer **layers, int *nlayers);

/* Runs f (compiled for cpu) on nsets input sets and hands want[k]'s value of each set to
 * visit (graph inputs included; constants not allowed).  One module for all sets. */
typedef mf_status (*mf_qvisit_fn)(int set, int k, const mf_value *v, const float *data,
                                  int64_t n, void *ctx);
mf_status mf_mod_quant_observe(const mf_graph *f, const char *cpu, int nsets,
                               mf_tensor *const *inputs, int nwant, const mf_value *const *want,
                               mf_qvisit_fn visit, void *ctx);

/* The ranges of every f32 value of f (by id) over the calibration sets, by opt's method. */
mf_status mf_mod_quant_calibrate(const mf_graph *f, const mf_quantize_options *opt,
                                 mf_qrange *ranges);

/* Prepares g (opt's mean/std or firstconv, the f32 passes up to conv-bn), calibrates and
 * rewrites it; *f_out (may be NULL) receives the prepared f32 graph, *layers as for
 * mf_mod_quant_rewrite. */
mf_status mf_mod_quantize(const mf_graph *g, const mf_quantize_options *opt, mf_graph **out,
                          mf_graph **f_out, mf_qlayer **layers, int *nlayers);

/* Copies g's constants (through copy_const when given: it sets *out to v's value in c), nodes
 * and outputs into c, whose inputs are mapped already (map: value id of g -> value of c). */
mf_status mf_mod_copy_body(const mf_graph *g, mf_graph *c, mf_value **map,
                           mf_status (*copy_const)(mf_graph *c, const mf_value *v, mf_value **out));
/* --dtype half: g (f32, prepared) with its inputs, f32 weights and outputs stored as f16,
 * every op computing in f32 between casts (module/quant_half.c). */
mf_status mf_mod_quant_half(const mf_graph *g, mf_graph **out);

#endif
