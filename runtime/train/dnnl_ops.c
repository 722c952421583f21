/*
 * dnnl_ops.c — oneDNN 2.x descriptor creation, nothing else (see dnnl_ops.h).
 * The only file that calls `dnnl_*_desc_init`.
 */
#include "train/dnnl_ops.h"

#include <string.h>

dnnl_status_t dop_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                     dnnl_format_tag_t tag)
{
    return dop_md_dt(md, ndims, dims, dnnl_f32, tag);
}

dnnl_status_t dop_md_dt(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                        dnnl_data_type_t dt, dnnl_format_tag_t tag)
{
    return dnnl_memory_desc_init_by_tag(md, ndims, dims, dt, tag);
}

dnnl_format_tag_t dop_plain_tag(int ndims)
{
    static const dnnl_format_tag_t t[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab,
                                          dnnl_abc, dnnl_abcd, dnnl_abcde};
    return ndims >= 1 && ndims <= 5 ? t[ndims] : dnnl_format_tag_undef;
}

size_t dop_md_size(const dnnl_memory_desc_t *md)
{
    return dnnl_memory_desc_get_size(md);
}

int dop_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
    return dnnl_memory_desc_equal(a, b);
}

dnnl_status_t dop_submemory(dnnl_memory_desc_t *out, const dnnl_memory_desc_t *parent,
                            const dnnl_dims_t dims, const dnnl_dims_t offsets)
{
    return dnnl_memory_desc_init_submemory(out, parent, dims, offsets);
}

const dnnl_memory_desc_t *dop_query_md(const_dnnl_primitive_desc_t pd, int arg)
{
    dnnl_query_t q;
    int idx = 0;
    switch (arg) {
    case DNNL_ARG_SRC: q = dnnl_query_src_md; break;
    case DNNL_ARG_SRC_1: q = dnnl_query_src_md; idx = 1; break;
    case DNNL_ARG_DST: q = dnnl_query_dst_md; break;
    case DNNL_ARG_WEIGHTS: q = dnnl_query_weights_md; break;
    case DNNL_ARG_BIAS: q = dnnl_query_weights_md; idx = 1; break;
    case DNNL_ARG_DIFF_SRC: q = dnnl_query_diff_src_md; break;
    case DNNL_ARG_DIFF_DST: q = dnnl_query_diff_dst_md; break;
    case DNNL_ARG_DIFF_WEIGHTS: q = dnnl_query_diff_weights_md; break;
    case DNNL_ARG_DIFF_BIAS: q = dnnl_query_diff_weights_md; idx = 1; break;
    case DNNL_ARG_WORKSPACE: q = dnnl_query_workspace_md; break;
    case DNNL_ARG_SCRATCHPAD: q = dnnl_query_scratchpad_md; break;
    case DNNL_ARG_MEAN: q = dnnl_query_src_md; idx = 1; break;
    case DNNL_ARG_VARIANCE: q = dnnl_query_src_md; idx = 2; break;
    default: return NULL;
    }
    return dnnl_primitive_desc_query_md(pd, q, idx);
}

const char *dop_impl(const_dnnl_primitive_desc_t pd)
{
    const char *s = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s)
        return "?";
    return s;
}

/* One scratchpad per primitive is the default; user mode lets the trainer
 * share one buffer across all primitives (they never run concurrently). */
static dnnl_primitive_attr_t attr_user_scratchpad(void)
{
    dnnl_primitive_attr_t a = NULL;
    if (dnnl_primitive_attr_create(&a) != dnnl_success)
        return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
    return a;
}

/* The pd of op descriptor desc with the shared scratchpad, and a ReLU after
 * it when post_relu (an inference convolution with its BatchNorm folded in). */
static dnnl_status_t create_with(dnnl_primitive_desc_t *pd, const void *desc, dnnl_engine_t eng,
                                 const_dnnl_primitive_desc_t hint, int post_relu)
{
    dnnl_primitive_attr_t a = attr_user_scratchpad();
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = dnnl_success;
    if (post_relu) {
        s = a ? dnnl_post_ops_create(&po) : dnnl_out_of_memory;
        if (s == dnnl_success)
            s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(a, po);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(pd, desc, a, eng, hint);
    dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(a);
    return s;
}

static dnnl_status_t create(dnnl_primitive_desc_t *pd, const void *desc, dnnl_engine_t eng,
                            const_dnnl_primitive_desc_t hint)
{
    return create_with(pd, desc, eng, hint, 0);
}

/* "auto" lets oneDNN choose Winograd (AVX-512 f32) when it is faster. */
static dnnl_alg_kind_t conv_alg(const dop_conv *c)
{
    return c->winograd ? dnnl_convolution_auto : dnnl_convolution_direct;
}

static void dilate(dnnl_dims_t out, const dnnl_dims_t d)
{
    out[0] = d[0] - 1;
    out[1] = d[1] - 1;
}

/* Convolution forward for training (backward hints it) or inference. */
static dnnl_status_t conv_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_prop_kind_t prop,
                              const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                              const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                              const dop_conv *c, int relu)
{
    dnnl_convolution_desc_t d;
    dnnl_dims_t dl = {0};
    dilate(dl, c->dilation);
    dnnl_status_t s = dnnl_dilated_convolution_forward_desc_init(
        &d, prop, conv_alg(c), src, wei, bias, dst, c->stride, dl, c->pad_l, c->pad_r);
    return s != dnnl_success ? s : create_with(pd, &d, eng, NULL, relu);
}

dnnl_status_t dop_conv_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                           const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                           const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                           const dop_conv *c)
{
    return conv_fwd(pd, eng, dnnl_forward_training, src, wei, bias, dst, c, 0);
}

dnnl_status_t dop_conv_fwd_infer(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                 const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                                 const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                                 const dop_conv *c, int relu)
{
    return conv_fwd(pd, eng, dnnl_forward_inference, src, wei, bias, dst, c, relu);
}

dnnl_status_t dop_conv_bwd_data(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *wei,
                                const dnnl_memory_desc_t *ddst, const dop_conv *c,
                                const_dnnl_primitive_desc_t hint)
{
    dnnl_convolution_desc_t d;
    dnnl_dims_t dl = {0};
    dilate(dl, c->dilation);
    dnnl_status_t s = dnnl_dilated_convolution_backward_data_desc_init(
        &d, conv_alg(c), dsrc, wei, ddst, c->stride, dl, c->pad_l, c->pad_r);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_conv_bwd_weights(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                   const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dwei,
                                   const dnnl_memory_desc_t *dbias, const dnnl_memory_desc_t *ddst,
                                   const dop_conv *c, const_dnnl_primitive_desc_t hint)
{
    dnnl_convolution_desc_t d;
    dnnl_dims_t dl = {0};
    dilate(dl, c->dilation);
    dnnl_status_t s = dnnl_dilated_convolution_backward_weights_desc_init(
        &d, conv_alg(c), src, dwei, dbias, ddst, c->stride, dl, c->pad_l, c->pad_r);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_ip_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                         const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst)
{
    dnnl_inner_product_desc_t d;
    dnnl_status_t s = dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, src, wei,
                                                           bias, dst);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_ip_bwd_data(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                              const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *wei,
                              const dnnl_memory_desc_t *ddst, const_dnnl_primitive_desc_t hint)
{
    dnnl_inner_product_desc_t d;
    dnnl_status_t s = dnnl_inner_product_backward_data_desc_init(&d, dsrc, wei, ddst);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_ip_bwd_weights(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                                 const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dwei,
                                 const dnnl_memory_desc_t *dbias, const dnnl_memory_desc_t *ddst,
                                 const_dnnl_primitive_desc_t hint)
{
    dnnl_inner_product_desc_t d;
    dnnl_status_t s = dnnl_inner_product_backward_weights_desc_init(&d, src, dwei, dbias, ddst);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_bn_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *data, float eps, int training, int relu)
{
    dnnl_batch_normalization_desc_t d;
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    if (!training)
        flags |= dnnl_use_global_stats;
    if (relu)
        flags |= dnnl_fuse_norm_relu;
    dnnl_status_t s = dnnl_batch_normalization_forward_desc_init(
        &d, training ? dnnl_forward_training : dnnl_forward_inference, data, eps, flags);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_bn_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *data,
                         float eps, int relu, const_dnnl_primitive_desc_t hint)
{
    dnnl_batch_normalization_desc_t d;
    unsigned flags = dnnl_use_scale | dnnl_use_shift | (relu ? dnnl_fuse_norm_relu : 0);
    dnnl_status_t s = dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, diff, data,
                                                                  eps, flags);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_ln_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *data, const dnnl_memory_desc_t *stat,
                         float eps)
{
    dnnl_layer_normalization_desc_t d;
    dnnl_status_t s = dnnl_layer_normalization_forward_desc_init(
        &d, dnnl_forward_training, data, stat, eps, dnnl_use_scale | dnnl_use_shift);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_ln_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                         const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *data,
                         const dnnl_memory_desc_t *stat, float eps,
                         const_dnnl_primitive_desc_t hint)
{
    dnnl_layer_normalization_desc_t d;
    dnnl_status_t s = dnnl_layer_normalization_backward_desc_init(
        &d, dnnl_backward, diff, data, stat, eps, dnnl_use_scale | dnnl_use_shift);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_prelu_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                            const dnnl_memory_desc_t *data, const dnnl_memory_desc_t *wei)
{
    dnnl_prelu_desc_t d;
    dnnl_status_t s = dnnl_prelu_forward_desc_init(&d, dnnl_forward_training, data, wei);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_prelu_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                            const dnnl_memory_desc_t *data, const dnnl_memory_desc_t *wei,
                            const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *dwei,
                            const_dnnl_primitive_desc_t hint)
{
    dnnl_prelu_desc_t d;
    dnnl_status_t s = dnnl_prelu_backward_desc_init(&d, data, wei, diff, dwei);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_softmax_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                              const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                              int axis)
{
    dnnl_softmax_v2_desc_t d;
    dnnl_status_t s = dnnl_softmax_v2_forward_desc_init(&d, dnnl_forward_training,
                                                        dnnl_softmax_accurate, src, dst, axis);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_softmax_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                              const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *ddst,
                              const dnnl_memory_desc_t *dst, int axis,
                              const_dnnl_primitive_desc_t hint)
{
    dnnl_softmax_v2_desc_t d;
    dnnl_status_t s = dnnl_softmax_v2_backward_desc_init(&d, dnnl_softmax_accurate, dsrc, ddst,
                                                         dst, axis);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_eltwise_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                              const dnnl_memory_desc_t *data, float alpha, float beta)
{
    dnnl_eltwise_desc_t d;
    dnnl_status_t s = dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training, alg, data,
                                                     alpha, beta);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_eltwise_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                              const dnnl_memory_desc_t *diff, const dnnl_memory_desc_t *data,
                              float alpha, float beta, const_dnnl_primitive_desc_t hint)
{
    dnnl_eltwise_desc_t d;
    dnnl_status_t s = dnnl_eltwise_backward_desc_init(&d, alg, diff, data, alpha, beta);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_pool_fwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                           const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
                           const dnnl_dims_t kernel, const dop_conv *c, int training)
{
    dnnl_pooling_v2_desc_t d;
    dnnl_dims_t dl = {0};
    dilate(dl, c->dilation);
    dnnl_status_t s = dnnl_pooling_v2_forward_desc_init(
        &d, training ? dnnl_forward_training : dnnl_forward_inference, alg, src, dst, c->stride,
        kernel, dl, c->pad_l, c->pad_r);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_pool_bwd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                           const dnnl_memory_desc_t *dsrc, const dnnl_memory_desc_t *ddst,
                           const dnnl_dims_t kernel, const dop_conv *c,
                           const_dnnl_primitive_desc_t hint)
{
    dnnl_pooling_v2_desc_t d;
    dnnl_dims_t dl = {0};
    dilate(dl, c->dilation);
    dnnl_status_t s = dnnl_pooling_v2_backward_desc_init(&d, alg, dsrc, ddst, c->stride, kernel,
                                                         dl, c->pad_l, c->pad_r);
    return s != dnnl_success ? s : create(pd, &d, eng, hint);
}

dnnl_status_t dop_binary(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, dnnl_alg_kind_t alg,
                         const dnnl_memory_desc_t *src0, const dnnl_memory_desc_t *src1,
                         const dnnl_memory_desc_t *dst)
{
    dnnl_binary_desc_t d;
    dnnl_status_t s = dnnl_binary_desc_init(&d, alg, src0, src1, dst);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_reduce_sum(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                             const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst)
{
    dnnl_reduction_desc_t d;
    dnnl_status_t s = dnnl_reduction_desc_init(&d, dnnl_reduction_sum, src, dst, 0.f, 0.f);
    return s != dnnl_success ? s : create(pd, &d, eng, NULL);
}

dnnl_status_t dop_concat(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, const dnnl_memory_desc_t *dst,
                         int n, int axis, const dnnl_memory_desc_t *srcs)
{
    dnnl_primitive_attr_t a = attr_user_scratchpad();
    dnnl_status_t s = dnnl_concat_primitive_desc_create(pd, dst, n, axis, srcs, a, eng);
    dnnl_primitive_attr_destroy(a);
    return s;
}

dnnl_status_t dop_reorder(dnnl_primitive_desc_t *pd, dnnl_engine_t eng,
                          const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst)
{
    dnnl_primitive_attr_t a = attr_user_scratchpad();
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(pd, src, eng, dst, eng, a);
    dnnl_primitive_attr_destroy(a);
    return s;
}
