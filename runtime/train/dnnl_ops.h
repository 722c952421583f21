/*
 * dnnl_ops.h — every oneDNN 2.x operation descriptor the trainer creates, in
 * one thin file (Lua-free).
 *
 * oneDNN 3.x removed the `*_desc_init` functions (each primitive got its own
 * `*_primitive_desc_create`) and renamed pooling_v2; keeping all descriptor
 * creation behind these functions makes that port one file. Each function
 * returns a dnnl_status_t and a primitive descriptor in *pd (owned by the
 * caller: dnnl_primitive_desc_destroy). Memory descriptors may use
 * dnnl_format_tag_any where oneDNN should choose the layout.
 *
 * PyTorch conventions at this boundary: dilation d (1 = dense) becomes
 * oneDNN's d - 1; padding is (left, right) per spatial dimension.
 */
#ifndef LLMNAS_DNNL_OPS_H
#define LLMNAS_DNNL_OPS_H

#include <oneapi/dnnl/dnnl.h>

typedef struct dop_conv {
    dnnl_dims_t stride, dilation, pad_l, pad_r;  /* 2 used; PyTorch dilation */
    int winograd;  /* convolutions: 1 lets oneDNN pick Winograd where it has one */
} dop_conv;

/* Memory descriptors: float32 (dop_md) or of data type dt. */
dnnl_status_t dop_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                     dnnl_format_tag_t tag);
dnnl_status_t dop_md_dt(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                        dnnl_data_type_t dt, dnnl_format_tag_t tag);
dnnl_format_tag_t dop_plain_tag(int ndims);  /* a, ab, abc, abcd, abcde */
size_t dop_md_size(const dnnl_memory_desc_t *md);
int dop_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);
dnnl_status_t dop_submemory(dnnl_memory_desc_t *out, const dnnl_memory_desc_t *parent,
                            const dnnl_dims_t dims, const dnnl_dims_t offsets);

/* The memory descriptor a primitive wants for one argument (DNNL_ARG_*). */
const dnnl_memory_desc_t *dop_query_md(const_dnnl_primitive_desc_t pd, int arg);
/* The implementation name ("jit:avx2", "ref:any", ...). */
const char *dop_impl(const_dnnl_primitive_desc_t pd);

/* Convolution: forward (training), backward data, backward weights. The
 * forward pd is the hint for the two backward passes. */
dnnl_status_t dop_conv_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                           const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                           const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                           const dop_conv *c);
dnnl_status_t dop_conv_bwd_data(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *wei,
                                const dnnl_memory_desc_t *ddst, const dop_conv *c,
                                const_dnnl_primitive_desc_t hint);
dnnl_status_t dop_conv_bwd_weights(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                   const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dwei,
                                   const dnnl_memory_desc_t *dbias, const dnnl_memory_desc_t *ddst,
                                   const dop_conv *c, const_dnnl_primitive_desc_t hint);

/* Convolution for inference, with a ReLU post-op when relu = 1 (a BatchNorm
 * folded into the convolution before it, train_fold.c). */
dnnl_status_t dop_conv_fwd_infer(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                 const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                                 const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                                 const dop_conv *c, int relu);

/* Inner product (Linear). */
dnnl_status_t dop_ip_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                         const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst);
dnnl_status_t dop_ip_bwd_data(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                              const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *wei,
                              const dnnl_memory_desc_t *ddst, const_dnnl_primitive_desc_t hint);
dnnl_status_t dop_ip_bwd_weights(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                 const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dwei,
                                 const dnnl_memory_desc_t *dbias, const dnnl_memory_desc_t *ddst,
                                 const_dnnl_primitive_desc_t hint);

/* Batch normalisation with scale and shift; training computes batch mean and
 * (biased) variance, inference uses the given running statistics. relu = 1
 * fuses a ReLU (training then needs a workspace). */
dnnl_status_t dop_bn_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *data, float eps, int training, int relu);
dnnl_status_t dop_bn_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *data,
                         float eps, int relu, const_dnnl_primitive_desc_t hint);

/* Layer normalisation over the last dimension of data (2-D [rows, C] here), with
 * scale and shift; stat is the [rows] mean / variance (biased). Training and
 * inference compute the statistics alike; backward gives the data, scale and
 * shift gradients. */
dnnl_status_t dop_ln_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *data, const dnnl_memory_desc_t *stat,
                         float eps);
dnnl_status_t dop_ln_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *data,
                         const dnnl_memory_desc_t *stat, float eps,
                         const_dnnl_primitive_desc_t hint);

/* PReLU: weights broadcast to data (dims [1, C, 1, 1], [1, C] or all ones);
 * backward gives the data and weights gradients. */
dnnl_status_t dop_prelu_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                            const dnnl_memory_desc_t *data, const dnnl_memory_desc_t *wei);
dnnl_status_t dop_prelu_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                            const dnnl_memory_desc_t *data, const dnnl_memory_desc_t *wei,
                            const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *dwei,
                            const_dnnl_primitive_desc_t hint);

/* Softmax (v2, accurate) over axis; backward reads the forward's output. */
dnnl_status_t dop_softmax_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                              const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                              int axis);
dnnl_status_t dop_softmax_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                              const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *ddst,
                              const dnnl_memory_desc_t *dst, int axis,
                              const_dnnl_primitive_desc_t hint);

/* Element-wise activation. */
dnnl_status_t dop_eltwise_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                              const dnnl_memory_desc_t *data, float alpha, float beta);
dnnl_status_t dop_eltwise_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                              const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *data,
                              float alpha, float beta, const_dnnl_primitive_desc_t hint);

/* Pooling (v2: with dilation, PyTorch convention). training = 1 for max
 * pooling that will be differentiated (workspace). */
dnnl_status_t dop_pool_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                           const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                           const dnnl_dims_t kernel, const dop_conv *c, int training);
dnnl_status_t dop_pool_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                           const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *ddst,
                           const dnnl_dims_t kernel, const dop_conv *c,
                           const_dnnl_primitive_desc_t hint);

/* Binary (add, mul; src1 may broadcast), reduction (sum), concat, reorder. */
dnnl_status_t dop_binary(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                         const dnnl_memory_desc_t *src0, const dnnl_memory_desc_t *src1,
                         const dnnl_memory_desc_t *dst);
dnnl_status_t dop_reduce_sum(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                             const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst);
dnnl_status_t dop_concat(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, const dnnl_memory_desc_t *dst,
                         int n, int axis, const dnnl_memory_desc_t *srcs);
dnnl_status_t dop_reorder(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                          const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst);

#endif
