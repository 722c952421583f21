/*
 * train_ops.c — each op of the candidate language compiled into oneDNN
 * forward (training and inference) and backward steps (train_ops.h), over
 * the plan's buffers, reorders and gradient delivery (train_plan.h); the
 * build / run lifecycle that calls them is train_net.c. Each op's forward
 * fwd_<op> and backward bwd_<op> sit side by side, with the helpers only they
 * use above them; forwards are called in node order, backwards in reverse.
 * Shapes in comments use train_plan.h's legend (B batch, C channels, ...).
 */
#include "train/train_ops.h"
#include "train/train_pool.h"
#include "train/train_wgrad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/dataset.h"
#include "base/rt.h"

/* ---- shared by several ops ---- */

/* The gradient an op computes for its input `in` (layout want): delivered
 * into in's ddst as tn_grad_out_begin / _end do, or, when `in` needs no
 * gradient but the primitive still writes one (BN, LayerNorm, PReLU compute
 * all their gradients in one call), a scratch buffer nobody reads. */
static int dsrc_begin(train_net *n, const dnnl_memory_desc_t *want, int in, tn_grad_out *go)
{
    if (n->L[in].need_grad)
        return tn_grad_out_begin(n, want, in, go);
    go->target = -1;
    go->accumulate = 0;
    return tn_new_mem(n, want, &go->mem);
}

static int dsrc_end(train_net *n, tn_grad_out *go)
{
    return go->target < 0 ? 0 : tn_grad_out_end(n, go);
}

/* A normalisation's scale ("weight", 1) and shift ("bias", 0), [C] each, in
 * layout *cmd (set here), as parameters p[0] and p[1] of node k. */
static int norm_params(train_net *n, int k, dnnl_memory_desc_t *cmd)
{
    layer *Lk = &n->L[k];
    dnnl_dims_t cd = {n->g->nodes[k].shape.dim[1]};
    CK(dop_md(cmd, 1, cd, dnnl_a), "layout");
    TRY(tn_add_param(n, k, "weight", 1, cmd, 1, cd, &Lk->p[0]));
    TRY(tn_add_param(n, k, "bias", 1, cmd, 1, cd, &Lk->p[1]));
    return tn_init_const(n, Lk->p[0], 1);
}

/* ---- Input ---- */

static const graph_shape *in_shape(train_net *n, int k, int j)
{
    return &n->g->nodes[n->L[k].in[j]].shape;
}

static int fwd_input(train_net *n, int k)
{
    dnnl_memory_desc_t md;
    TRY(tn_md_plain(&md, &n->g->nodes[k].shape, n->batch));
    TRY(tn_private_mem(n, &md, &n->L[k].dst));
    n->input = tn_ptr(n->L[k].dst);
    return 0;
}

/* ---- Conv2d, Linear ---- */

static int fwd_conv_or_linear(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    const graph_shape *is = in_shape(n, k, 0);
    int conv = gn->op == GRAPH_OP_CONV2D, G = conv && gn->a.groups > 1 ? gn->a.groups : 1;
    dnnl_memory_desc_t src, wei, bias, dst;
    TRY(tn_md_act(n, &src, is, 0));
    TRY(tn_md_act(n, &dst, &gn->shape, 0));
    dnnl_dims_t wd;  /* weight: [G, F/G, C/G, kH, kW], [F, C, kH, kW] or [F, C] */
    int wnd;
    int64_t F = gn->a.out, C = is->dim[1];
    if (conv && G > 1) {
        wnd = 5;
        wd[0] = G, wd[1] = F / G, wd[2] = C / G, wd[3] = gn->a.kernel[0], wd[4] = gn->a.kernel[1];
    } else if (conv) {
        wnd = 4;
        wd[0] = F, wd[1] = C, wd[2] = gn->a.kernel[0], wd[3] = gn->a.kernel[1];
    } else {
        wnd = 2;
        wd[0] = F, wd[1] = C;
    }
    CK(dop_md_dt(&wei, wnd, wd, n->act, dnnl_format_tag_any), "weights layout");
    dnnl_dims_t bd = {F};  /* bias: [F] */
    CK(dop_md(&bias, 1, bd, dnnl_a), "bias layout");
    dnnl_primitive_desc_t pd;
    if (conv) {
        dnnl_dims_t kernel = {0};
        tn_geometry(gn, is, &Lk->geo, kernel);
        Lk->geo.winograd = n->winograd;
        CK(dop_conv_fwd(&pd, n->eng, &src, &wei, gn->a.bias ? &bias : NULL, &dst, &Lk->geo),
           "convolution forward");
    } else {
        CK(dop_ip_fwd(&pd, n->eng, &src, &wei, gn->a.bias ? &bias : NULL, &dst),
           "inner product forward");
    }
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_bind_input(n, NULL, dop_query_md(pd, DNNL_ARG_SRC), n->L[Lk->in[0]].dst, &Lk->src_bound));
    TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    /* The master copy is fp32 in the primitive's own weight layout (a bf16
     * layout read as fp32 elements: the same blocking, wider elements), so the
     * bf16 copy is a plain conversion, no re-blocking. */
    dnnl_memory_desc_t wmaster = *dop_query_md(pd, DNNL_ARG_WEIGHTS);
    wmaster.data_type = dnnl_f32;
    TRY(tn_add_param(n, k, "weight", 1, &wmaster, wnd, wd, &Lk->p[0]));
    int64_t fan_in = C / G * (conv ? gn->a.kernel[0] * gn->a.kernel[1] : 1);
    double bound = 1.0 / sqrt((double)fan_in);
    TRY(tn_init_uniform(n, Lk->p[0], bound));
    Lk->p[1] = -1;
    if (gn->a.bias) {
        TRY(tn_add_param(n, k, "bias", 1, &bias, 1, bd, &Lk->p[1]));
        TRY(tn_init_uniform(n, Lk->p[1], bound));
    }
    dnnl_memory_t w = n->P[Lk->p[0]].w;
    if (n->bf16) {
        TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_WEIGHTS), &Lk->wlow));
        TRY(tn_add_reorder(n, NULL, w, Lk->wlow));
        w = Lk->wlow;
    }
    step s;
    TRY(tn_make_prim(n, pd, conv ? "conv fwd" : "ip fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, Lk->src_bound);
    tn_arg(&s, DNNL_ARG_WEIGHTS, w);
    if (gn->a.bias)
        tn_arg(&s, DNNL_ARG_BIAS, n->P[Lk->p[1]].w);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_BOTH, &s);
}

static int bwd_conv_or_linear(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    int conv = gn->op == GRAPH_OP_CONV2D, in = Lk->in[0];
    param *W = &n->P[Lk->p[0]], *bias = Lk->p[1] >= 0 ? &n->P[Lk->p[1]] : NULL;
    dnnl_memory_desc_t any_w, any_src, any_ddst;
    TRY(tn_md_act(n, &any_src, in_shape(n, k, 0), 0));
    /* The gradient's layout is left to oneDNN too: forcing the forward
     * output's layout can leave only the reference implementation (e.g.
     * plain src with a padded blocked diff_dst: 8 channels, 100x slower). */
    TRY(tn_md_act(n, &any_ddst, &gn->shape, 0));
    any_w = *tn_md(W->w);
    any_w.format_kind = dnnl_format_kind_any;
    /* weight gradients in fp32 (for the fp32 update), weights as the forward read them */
    dnnl_memory_desc_t wany, wlow;
    CK(dop_md(&wany, any_w.ndims, any_w.dims, dnnl_format_tag_any), "layout");
    CK(dop_md_dt(&wlow, any_w.ndims, any_w.dims, n->act, dnnl_format_tag_any), "layout");
    dnnl_primitive_desc_t pd;
    step s;
    dnnl_memory_t src, ddst, dw = W->g;
    /* weights (and bias) gradient: a one-channel conv's in C where it applies */
    int rc = conv ? tn_wgrad1_bwd(n, k) : 1;
    if (rc < 0)
        return rc;
    if (rc == 0)
        goto data;
    if (conv)
        CK(dop_conv_bwd_weights(&pd, n->eng, &any_src, &wany, bias ? tn_md(bias->g) : NULL,
                                &any_ddst, &Lk->geo, Lk->fpd), "conv backward weights");
    else
        CK(dop_ip_bwd_weights(&pd, n->eng, &any_src, &wany, bias ? tn_md(bias->g) : NULL,
                              &any_ddst, Lk->fpd), "ip backward weights");
    TRY(tn_bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_SRC),
                   dop_md_equal(dop_query_md(pd, DNNL_ARG_SRC), tn_md(Lk->src_bound))
                       ? Lk->src_bound : n->L[in].dst, &src));
    TRY(tn_bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_DIFF_DST), Lk->ddst, &ddst));
    int reorder_dw = !dop_md_equal(dop_query_md(pd, DNNL_ARG_DIFF_WEIGHTS), tn_md(W->g));
    if (reorder_dw)
        TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DIFF_WEIGHTS), &dw));
    TRY(tn_make_prim(n, pd, conv ? "conv bwd weights" : "ip bwd weights", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DIFF_DST, ddst);
    tn_arg(&s, DNNL_ARG_DIFF_WEIGHTS, dw);
    if (bias)
        tn_arg(&s, DNNL_ARG_DIFF_BIAS, bias->g);
    TRY(tn_push_step(n, &n->bwd, &s));
    if (reorder_dw)
        TRY(tn_add_reorder(n, &n->bwd, dw, W->g));
data:
    if (!n->L[in].need_grad)
        return 0;  /* e.g. the first layer: its input needs no gradient */
    /* data gradient */
    if (conv)
        CK(dop_conv_bwd_data(&pd, n->eng, &any_src, &wlow, &any_ddst, &Lk->geo, Lk->fpd),
           "conv backward data");
    else
        CK(dop_ip_bwd_data(&pd, n->eng, &any_src, &wlow, &any_ddst, Lk->fpd),
           "ip backward data");
    dnnl_memory_t w;
    TRY(tn_bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_WEIGHTS), Lk->wlow ? Lk->wlow : W->w,
                      &w));
    TRY(tn_bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_DIFF_DST), Lk->ddst, &ddst));
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    TRY(tn_make_prim(n, pd, conv ? "conv bwd data" : "ip bwd data", &s));
    tn_arg(&s, DNNL_ARG_DIFF_DST, ddst);
    tn_arg(&s, DNNL_ARG_WEIGHTS, w);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}

/* ---- a faster layout for BatchNorm and pooling ---- */

/* A layout-preserving primitive (BN, pooling) on a layout it has no fast
 * kernel for (plain NCHW, 4-channel blocks after a grouped conv) gets its
 * input reordered to 16- or 8-channel blocks when that avoids the reference
 * implementation. make_pd builds the pd for a source layout; *src is
 * replaced by the reordered copy (the reorder runs in both forward passes;
 * backward's tn_grad_out reorders the gradient back). */
typedef dnnl_status_t (*pd_for_fn)(train_net *n, int k, const dnnl_memory_desc_t *src,
                                   dnnl_primitive_desc_t *pd);

static int is_slow(const_dnnl_primitive_desc_t pd)
{
    const char *impl = dop_impl(pd);
    return strncmp(impl, "ref", 3) == 0 || strstr(impl, "bnorm_ref") || strstr(impl, "ncsp") ||
           strstr(impl, "simple_nchw");
}

static int better_layout(train_net *n, int k, pd_for_fn make_pd, dnnl_memory_t *src,
                         dnnl_primitive_desc_t *pd)
{
    if (!is_slow(*pd) || tn_md(*src)->ndims != 4)
        return 0;
    static const dnnl_format_tag_t tags[] = {dnnl_aBcd16b, dnnl_aBcd8b};
    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
        dnnl_memory_desc_t md;
        dnnl_primitive_desc_t alt;
        if (dop_md_dt(&md, 4, tn_md(*src)->dims, tn_md(*src)->data_type, tags[t]) != dnnl_success ||
            make_pd(n, k, &md, &alt) != dnnl_success)
            continue;
        if (is_slow(alt)) {
            dnnl_primitive_desc_destroy(alt);
            continue;
        }
        dnnl_primitive_desc_destroy(*pd);
        *pd = alt;
        dnnl_memory_t m;
        TRY(tn_new_mem(n, &md, &m));
        TRY(tn_add_reorder(n, NULL, *src, m));
        *src = m;
        return 0;
    }
    return 0;
}

/* ---- BatchNorm1d, BatchNorm2d (with a fused ReLU) ---- */

static void step_bn_running(train_net *n, step *s)
{
    layer *Lk = &n->L[s->node];
    const graph_node *gn = &n->g->nodes[s->node];
    double m = gn->a.momentum > 0 ? gn->a.momentum : 0.1;
    const float *mean = tn_ptr(Lk->mean), *var = tn_ptr(Lk->var);
    float *rm = tn_ptr(n->P[Lk->p[2]].w), *rv = tn_ptr(n->P[Lk->p[3]].w);
    /* mean and var are [C], each over B*H*W values (B on [B, C]) */
    double cnt = (double)n->batch * (double)(gn->shape.rank == 4 ? gn->shape.dim[2] * gn->shape.dim[3] : 1);
    double unbias = cnt > 1 ? cnt / (cnt - 1) : 1;
    for (int64_t c = 0; c < gn->shape.dim[1]; c++) {
        rm[c] = (float)((1 - m) * rm[c] + m * mean[c]);
        rv[c] = (float)((1 - m) * rv[c] + m * var[c] * unbias);
    }
}

/* PyTorch's default when the graph leaves it unset. */
static float bn_eps(const graph_node *gn)
{
    return (float)(gn->a.eps > 0 ? gn->a.eps : 1e-5);
}

static dnnl_status_t bn_pd_for(train_net *n, int k, const dnnl_memory_desc_t *src,
                               dnnl_primitive_desc_t *pd)
{
    const graph_node *gn = &n->g->nodes[k];
    float eps = bn_eps(gn);
    return dop_bn_fwd(pd, n->eng, src, eps, 1, n->L[k].fuse_relu);
}

static int fwd_bn(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    float eps = bn_eps(gn);
    dnnl_primitive_desc_t pd, ipd;
    CK(dop_bn_fwd(&pd, n->eng, tn_md(src), eps, 1, Lk->fuse_relu), "batch norm forward");
    TRY(better_layout(n, k, bn_pd_for, &src, &pd));
    Lk->src_bound = src;
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    dnnl_memory_desc_t cmd;  /* [C] */
    TRY(norm_params(n, k, &cmd));
    TRY(tn_private_mem(n, &cmd, &Lk->mean));
    TRY(tn_private_mem(n, &cmd, &Lk->var));
    TRY(tn_add_param(n, k, "running_mean", 0, &cmd, 1, cmd.dims, &Lk->p[2]));
    TRY(tn_add_param(n, k, "running_var", 0, &cmd, 1, cmd.dims, &Lk->p[3]));
    TRY(tn_init_const(n, Lk->p[3], 1));
    if (Lk->fuse_relu)
        TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_WORKSPACE), &Lk->ws));
    step s;
    TRY(tn_make_prim(n, pd, "bnorm fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    tn_arg(&s, DNNL_ARG_MEAN, Lk->mean);
    tn_arg(&s, DNNL_ARG_VARIANCE, Lk->var);
    tn_arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    tn_arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    if (Lk->ws)
        tn_arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    TRY(tn_push_fwd(n, FWD_TRAIN, &s));
    step r = {.fn = step_bn_running, .node = k};
    TRY(tn_push_fwd(n, FWD_TRAIN, &r));

    CK(dop_bn_fwd(&ipd, n->eng, tn_md(src), eps, 0, Lk->fuse_relu), "batch norm inference");
    TRY(tn_make_prim(n, ipd, "bnorm inf", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    tn_arg(&s, DNNL_ARG_MEAN, n->P[Lk->p[2]].w);
    tn_arg(&s, DNNL_ARG_VARIANCE, n->P[Lk->p[3]].w);
    tn_arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    tn_arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    return tn_push_fwd(n, FWD_EVAL, &s);
}

static int bwd_bn(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    int in = Lk->in[0];
    dnnl_memory_t src = Lk->src_bound;
    float eps = bn_eps(gn);
    dnnl_primitive_desc_t pd;
    CK(dop_bn_bwd(&pd, n->eng, tn_md(Lk->ddst), tn_md(src), eps, Lk->fuse_relu, Lk->fpd),
       "batch norm backward");
    tn_grad_out go;
    TRY(dsrc_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    step s;
    TRY(tn_make_prim(n, pd, "bnorm bwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_MEAN, Lk->mean);
    tn_arg(&s, DNNL_ARG_VARIANCE, Lk->var);
    tn_arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    tn_arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    tn_arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    if (Lk->ws)
        tn_arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    tn_arg(&s, DNNL_ARG_DIFF_SCALE, n->P[Lk->p[0]].g);
    tn_arg(&s, DNNL_ARG_DIFF_SHIFT, n->P[Lk->p[1]].g);
    TRY(tn_push_step(n, &n->bwd, &s));
    return dsrc_end(n, &go);
}

/* ---- LayerNorm ---- */

/* LayerNorm over dim 1: [B, C] as it is; [B, C, H, W] over C at each position (as
 * ConvNeXt's LayerNorm2d) by keeping the tensor channels-last (acdb), which is
 * [B*H*W, C] row-major: oneDNN normalises the last dimension of that 2-D view.
 * rows and *md2 the 2-D view; *mdn the node's own layout (the view, or acdb). */
static int ln_layout(train_net *n, int k, dnnl_memory_desc_t *mdn, dnnl_memory_desc_t *md2,
                     dnnl_memory_desc_t *stat)
{
    const graph_shape *s = &n->g->nodes[k].shape;
    int64_t rows = n->batch, c = s->dim[1];
    if (s->rank == 4) {
        rows *= s->dim[2] * s->dim[3];
        dnnl_dims_t d4 = {n->batch, c, s->dim[2], s->dim[3]};
        CK(dop_md(mdn, 4, d4, dnnl_acdb), "layout");
    }
    dnnl_dims_t d2 = {rows, c}, d1 = {rows};
    CK(dop_md(md2, 2, d2, dnnl_ab), "layout");
    CK(dop_md(stat, 1, d1, dnnl_a), "layout");
    if (s->rank != 4)
        *mdn = *md2;
    return 0;
}

/* m (in the node's layout mdn) seen as the 2-D [rows, C] matrix md2. */
static int ln_view(train_net *n, dnnl_memory_t m, const dnnl_memory_desc_t *md2, dnnl_memory_t *out)
{
    if (dop_md_equal(tn_md(m), md2)) {
        *out = m;
        return 0;
    }
    return tn_view_mem(n, md2, m, out);
}

static int fwd_ln(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_desc_t mdn, md2, stat;
    TRY(ln_layout(n, k, &mdn, &md2, &stat));
    dnnl_memory_t src, dst2;
    TRY(tn_bind_input(n, NULL, &mdn, n->L[Lk->in[0]].dst, &src));
    TRY(ln_view(n, src, &md2, &Lk->src_bound));
    dnnl_primitive_desc_t pd;
    CK(dop_ln_fwd(&pd, n->eng, &md2, &stat, (float)gn->a.eps), "layer norm forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_new_mem(n, &md2, &dst2));
    if (mdn.ndims == 4)
        TRY(tn_view_mem(n, &mdn, dst2, &Lk->dst));
    else
        Lk->dst = dst2;
    TRY(tn_new_mem(n, &stat, &Lk->mean));
    TRY(tn_new_mem(n, &stat, &Lk->var));
    dnnl_memory_desc_t cmd;  /* [C] */
    TRY(norm_params(n, k, &cmd));
    step s;
    TRY(tn_make_prim(n, pd, "lnorm fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, Lk->src_bound);
    tn_arg(&s, DNNL_ARG_DST, dst2);
    tn_arg(&s, DNNL_ARG_MEAN, Lk->mean);
    tn_arg(&s, DNNL_ARG_VARIANCE, Lk->var);
    tn_arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    tn_arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    return tn_push_fwd(n, FWD_BOTH, &s);
}

static int bwd_ln(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int in = Lk->in[0];
    dnnl_memory_desc_t mdn, md2, stat;
    TRY(ln_layout(n, k, &mdn, &md2, &stat));
    dnnl_memory_t ddst2, dsrc2;
    TRY(ln_view(n, Lk->ddst, &md2, &ddst2));
    dnnl_primitive_desc_t pd;
    CK(dop_ln_bwd(&pd, n->eng, &md2, &md2, &stat, (float)n->g->nodes[k].a.eps, Lk->fpd),
       "layer norm backward");
    tn_grad_out go;
    TRY(dsrc_begin(n, &mdn, in, &go));
    TRY(ln_view(n, go.mem, &md2, &dsrc2));
    step s;
    TRY(tn_make_prim(n, pd, "lnorm bwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, Lk->src_bound);
    tn_arg(&s, DNNL_ARG_MEAN, Lk->mean);
    tn_arg(&s, DNNL_ARG_VARIANCE, Lk->var);
    tn_arg(&s, DNNL_ARG_DIFF_DST, ddst2);
    tn_arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    tn_arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, dsrc2);
    tn_arg(&s, DNNL_ARG_DIFF_SCALE, n->P[Lk->p[0]].g);
    tn_arg(&s, DNNL_ARG_DIFF_SHIFT, n->P[Lk->p[1]].g);
    TRY(tn_push_step(n, &n->bwd, &s));
    return dsrc_end(n, &go);
}

/* ---- element-wise activations ---- */

static int eltwise_alg(const graph_node *gn, dnnl_alg_kind_t *alg, float *alpha, float *beta)
{
    *alpha = *beta = 0;
    switch (gn->op) {
    /* from its output: the input then need not live until backward */
    case GRAPH_OP_RELU: *alg = dnnl_eltwise_relu_use_dst_for_bwd; return 0;
    case GRAPH_OP_LEAKYRELU: *alg = dnnl_eltwise_relu; *alpha = (float)gn->a.negative_slope; return 0;
    case GRAPH_OP_GELU: *alg = gn->a.approximate_tanh ? dnnl_eltwise_gelu_tanh : dnnl_eltwise_gelu_erf; return 0;
    case GRAPH_OP_SILU: *alg = dnnl_eltwise_swish; *alpha = 1; return 0;
    case GRAPH_OP_SIGMOID: *alg = dnnl_eltwise_logistic; return 0;
    case GRAPH_OP_TANH: *alg = dnnl_eltwise_tanh; return 0;
    case GRAPH_OP_HARDSWISH: *alg = dnnl_eltwise_hardswish; return 0;
    /* alpha * x + beta; backward scales the gradient by alpha */
    case GRAPH_OP_ELU: *alg = dnnl_eltwise_elu; *alpha = (float)gn->a.alpha; return 0;
    case GRAPH_OP_MISH: *alg = dnnl_eltwise_mish; return 0;
    case GRAPH_OP_MUL_SCALAR: *alg = dnnl_eltwise_linear; *alpha = (float)gn->a.other; return 0;
    case GRAPH_OP_ADD_SCALAR: *alg = dnnl_eltwise_linear; *alpha = 1; *beta = (float)gn->a.other; return 0;
    default: return TRAIN_EUNSUPPORTED;
    }
}

static int fwd_eltwise(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    dnnl_alg_kind_t alg;
    float alpha, beta;
    TRY(eltwise_alg(&n->g->nodes[k], &alg, &alpha, &beta));
    dnnl_primitive_desc_t pd;
    CK(dop_eltwise_fwd(&pd, n->eng, alg, tn_md(src), alpha, beta), "eltwise forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    step s;
    TRY(tn_make_prim(n, pd, "eltwise fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_BOTH, &s);
}

static int bwd_eltwise(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int in = Lk->in[0];
    dnnl_alg_kind_t alg;
    float alpha, beta;
    TRY(eltwise_alg(&n->g->nodes[k], &alg, &alpha, &beta));
    int from_dst = alg == dnnl_eltwise_relu_use_dst_for_bwd;
    dnnl_memory_t data = from_dst ? Lk->dst : n->L[in].dst;
    dnnl_primitive_desc_t pd;
    CK(dop_eltwise_bwd(&pd, n->eng, alg, tn_md(Lk->ddst), tn_md(data), alpha, beta, Lk->fpd),
       "eltwise backward");
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    step s;
    TRY(tn_make_prim(n, pd, "eltwise bwd", &s));
    tn_arg(&s, from_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, data);
    tn_arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}

/* ---- PReLU ---- */

/* PReLU: the slopes are a parameter of dims [1, C, 1, 1] ([1, C] on [B, C]; all ones
 * for one slope), PyTorch's [num_parameters] in the same order; its master copy takes
 * the layout the primitive picks (oneDNN 2.6 has a jit PReLU only for per-channel
 * slopes in the data's layout; a single slope gets the reference one). */
static int fwd_prelu(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    int r = gn->shape.rank;
    dnnl_dims_t wd = {1, 1, 1, 1};
    wd[1] = gn->a.num_parameters;
    dnnl_memory_desc_t wany;
    CK(dop_md(&wany, r, wd, dnnl_format_tag_any), "layout");
    dnnl_primitive_desc_t pd;
    CK(dop_prelu_fwd(&pd, n->eng, tn_md(src), &wany), "prelu forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_add_param(n, k, "weight", 1, dop_query_md(pd, DNNL_ARG_WEIGHTS), r, wd, &Lk->p[0]));
    TRY(tn_init_const(n, Lk->p[0], (float)gn->a.init));
    Lk->src_bound = src;
    TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    step s;
    TRY(tn_make_prim(n, pd, "prelu fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_WEIGHTS, n->P[Lk->p[0]].w);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_BOTH, &s);
}

static int bwd_prelu(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int in = Lk->in[0];
    param *W = &n->P[Lk->p[0]];
    dnnl_primitive_desc_t pd;
    CK(dop_prelu_bwd(&pd, n->eng, tn_md(Lk->src_bound), tn_md(W->w), tn_md(Lk->ddst),
                     tn_md(W->g), Lk->fpd), "prelu backward");
    tn_grad_out go;
    TRY(dsrc_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    dnnl_memory_t ddst;
    TRY(tn_bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_DIFF_DST), Lk->ddst, &ddst));
    step s;
    TRY(tn_make_prim(n, pd, "prelu bwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, Lk->src_bound);
    tn_arg(&s, DNNL_ARG_WEIGHTS, W->w);
    tn_arg(&s, DNNL_ARG_DIFF_DST, ddst);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    tn_arg(&s, DNNL_ARG_DIFF_WEIGHTS, W->g);
    TRY(tn_push_step(n, &n->bwd, &s));
    return dsrc_end(n, &go);
}

/* ---- Softmax ---- */

/* Softmax over the node's dim on a layout where that dim is dense: plain, or
 * channels-last (acdb) for C of [B, C, H, W] (oneDNN 2.6 has only its reference
 * softmax for a strided axis, and the blocked layouts split C). */
static int fwd_softmax(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_desc_t plain;
    TRY(tn_md_plain(&plain, &gn->shape, n->batch));
    if (gn->shape.rank == 4 && gn->a.dim == 1)
        CK(dop_md(&plain, 4, plain.dims, dnnl_acdb), "layout");
    dnnl_memory_t src;
    TRY(tn_bind_input(n, NULL, &plain, n->L[Lk->in[0]].dst, &src));
    dnnl_primitive_desc_t pd;
    CK(dop_softmax_fwd(&pd, n->eng, &plain, &plain, gn->a.dim), "softmax forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_new_mem(n, &plain, &Lk->dst));
    step s;
    TRY(tn_make_prim(n, pd, "softmax fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_BOTH, &s);
}

static int bwd_softmax(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_primitive_desc_t pd;
    CK(dop_softmax_bwd(&pd, n->eng, tn_md(Lk->dst), tn_md(Lk->ddst), tn_md(Lk->dst),
                       n->g->nodes[k].a.dim, Lk->fpd), "softmax backward");
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, tn_md(Lk->dst), Lk->in[0], &go));
    step s;
    TRY(tn_make_prim(n, pd, "softmax bwd", &s));
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    tn_arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}

/* ---- pooling ---- */

static dnnl_alg_kind_t pool_alg(const graph_node *gn, const layer *Lk)
{
    if (gn->op == GRAPH_OP_MAXPOOL2D || gn->op == GRAPH_OP_ADAPTIVEMAXPOOL2D)
        return dnnl_pooling_max;
    if (gn->op == GRAPH_OP_AVGPOOL2D && gn->a.count_include_pad && !Lk->avg_exclude)
        return dnnl_pooling_avg_include_padding;
    return dnnl_pooling_avg_exclude_padding;
}

static dnnl_status_t pool_pd_for(train_net *n, int k, const dnnl_memory_desc_t *src,
                                 dnnl_primitive_desc_t *pd)
{
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_desc_t dst;
    if (tn_md_act(n, &dst, &gn->shape, 0))
        return dnnl_invalid_arguments;
    return dop_pool_fwd(pd, n->eng, pool_alg(gn, &n->L[k]), src, &dst, n->L[k].kernel,
                        &n->L[k].geo, 1);
}

static int fwd_pool(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    const graph_shape *is = in_shape(n, k, 0);
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    dnnl_dims_t kernel = {0};
    if (gn->op == GRAPH_OP_ADAPTIVEAVGPOOL2D || gn->op == GRAPH_OP_ADAPTIVEMAXPOOL2D) {
        Lk->geo = (dop_conv){.stride = {1, 1}, .dilation = {1, 1}};
        kernel[0] = is->dim[2];
        kernel[1] = is->dim[3];
    } else {
        graph_node g2 = *gn;
        if (gn->op == GRAPH_OP_AVGPOOL2D)
            g2.a.dilation[0] = g2.a.dilation[1] = 1;
        tn_geometry(&g2, is, &Lk->geo, kernel);
    }
    memcpy(Lk->kernel, kernel, sizeof kernel);
    int rc = tn_cpool_fwd(n, k, src);
    if (rc <= 0)
        return rc;
    if (gn->op == GRAPH_OP_AVGPOOL2D && gn->a.count_include_pad &&
        (Lk->geo.pad_r[0] > Lk->geo.pad_l[0] || Lk->geo.pad_r[1] > Lk->geo.pad_l[1])) {
        /* ceil_mode added padding on the right. PyTorch counts padding in the
         * divisor only up to the declared padding, oneDNN counts all of it;
         * without declared padding PyTorch's divisor is the valid count. */
        if (gn->a.padding[0] || gn->a.padding[1]) {
            rt_fmt(n->err, sizeof n->err,
                   "node %d (AvgPool2d): ceil_mode with padding and count_include_pad is not "
                   "supported; use count_include_pad = false or ceil_mode = false", k);
            return TRAIN_EUNSUPPORTED;
        }
        Lk->avg_exclude = 1;
    }
    dnnl_memory_desc_t dst;
    TRY(tn_md_act(n, &dst, &gn->shape, 0));
    dnnl_alg_kind_t alg = pool_alg(gn, Lk);
    dnnl_primitive_desc_t pd, ipd;
    CK(dop_pool_fwd(&pd, n->eng, alg, tn_md(src), &dst, kernel, &Lk->geo, 1), "pooling forward");
    TRY(better_layout(n, k, pool_pd_for, &src, &pd));
    Lk->src_bound = src;
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    const dnnl_memory_desc_t *ws = dop_query_md(pd, DNNL_ARG_WORKSPACE);
    if (ws && dop_md_size(ws) > 0)
        TRY(tn_new_mem(n, ws, &Lk->ws));
    step s;
    TRY(tn_make_prim(n, pd, "pool fwd", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    if (Lk->ws)
        tn_arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    if (!Lk->ws)
        return tn_push_fwd(n, FWD_BOTH, &s);
    TRY(tn_push_fwd(n, FWD_TRAIN, &s));
    /* Inference max pooling needs no workspace and is several times cheaper. */
    CK(dop_pool_fwd(&ipd, n->eng, alg, tn_md(src), tn_md(Lk->dst), kernel, &Lk->geo, 0),
       "pooling inference");
    TRY(tn_make_prim(n, ipd, "pool inf", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_EVAL, &s);
}

static int bwd_pool(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int in = Lk->in[0];
    if (Lk->c_pool)
        return tn_cpool_bwd(n, k);
    dnnl_primitive_desc_t pd;
    CK(dop_pool_bwd(&pd, n->eng, pool_alg(&n->g->nodes[k], Lk), tn_md(Lk->src_bound), tn_md(Lk->ddst),
                    Lk->kernel, &Lk->geo, Lk->fpd), "pooling backward");
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    step s;
    TRY(tn_make_prim(n, pd, "pool bwd", &s));
    tn_arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    tn_arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    if (Lk->ws)
        tn_arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}

/* ---- Flatten ---- */

static int fwd_flatten(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_shape *is = in_shape(n, k, 0);
    dnnl_memory_desc_t plain, flat;
    TRY(tn_md_act(n, &plain, is, 1));
    TRY(tn_md_act(n, &flat, &n->g->nodes[k].shape, 1));
    dnnl_memory_t p;
    TRY(tn_bind_input(n, NULL, &plain, n->L[Lk->in[0]].dst, &p));
    return tn_view_mem(n, &flat, p, &Lk->dst);
}

static int bwd_flatten(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_desc_t plain;
    TRY(tn_md_act(n, &plain, in_shape(n, k, 0), 1));
    dnnl_memory_t v;
    TRY(tn_view_mem(n, &plain, Lk->ddst, &v));
    return tn_grad_route(n, v, Lk->in[0]);
}

/* ---- Dropout (its backward serves Dropout2d too) ---- */

/* Element i of an fp32 or bf16 buffer as a float, and stored from one
 * (bf16: the upper half of the fp32 bits, rounded to nearest even). */
static float elem_get(const void *p, dnnl_data_type_t dt, size_t i)
{
    if (dt != dnnl_bf16)
        return ((const float *)p)[i];
    uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void elem_set(void *p, dnnl_data_type_t dt, size_t i, float v)
{
    if (dt != dnnl_bf16) {
        ((float *)p)[i] = v;
        return;
    }
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if (!isnan(v))
        u += 0x7fffu + ((u >> 16) & 1u);
    ((uint16_t *)p)[i] = (uint16_t)(u >> 16);
}

static size_t elem_count(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md = tn_md(m);
    return dop_md_size(md) / (md->data_type == dnnl_bf16 ? 2 : 4);
}

/* What a kept element is multiplied by in training, as nn.Dropout and
 * nn.Dropout2d: 1/(1-p), so that inference needs no scaling. */
static float dropout_scale(double p)
{
    return (float)(1.0 / (1.0 - p));
}

/* The mask is fp32 (exactly 0 or 1/(1-p)) in the activation's layout. */
static void step_dropout_fwd(train_net *n, step *s)
{
    double p = n->g->nodes[s->node].a.p;
    float keep = dropout_scale(p);
    const void *x = tn_ptr(s->args[0].memory);
    void *y = tn_ptr(s->args[1].memory);
    float *m = tn_ptr(s->args[2].memory);
    dnnl_data_type_t xt = tn_md(s->args[0].memory)->data_type;
    dnnl_data_type_t yt = tn_md(s->args[1].memory)->data_type;
    size_t cnt = elem_count(s->args[1].memory);
    uint64_t threshold = (uint64_t)(p * 18446744073709551616.0);
    for (size_t i = 0; i < cnt; i++) {
        if (!n->drop_frozen)
            m[i] = ds_rand(&n->drop_rng) >= threshold ? keep : 0.0f;
        elem_set(y, yt, i, elem_get(x, xt, i) * m[i]);
    }
}

static void step_mul_plain(train_net *n, step *s)
{
    /* dst = a * mask element-wise, over equal layouts (the mask fp32) */
    const void *a = tn_ptr(s->args[0].memory);
    const float *m = tn_ptr(s->args[1].memory);
    void *d = tn_ptr(s->args[2].memory);
    dnnl_data_type_t at = tn_md(s->args[0].memory)->data_type;
    dnnl_data_type_t dt = tn_md(s->args[2].memory)->data_type;
    size_t cnt = elem_count(s->args[2].memory);
    (void)n;
    for (size_t i = 0; i < cnt; i++)
        elem_set(d, dt, i, elem_get(a, at, i) * m[i]);
}

static int fwd_dropout(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    TRY(tn_new_mem(n, tn_md(src), &Lk->dst));
    dnnl_memory_desc_t mmd = *tn_md(src);
    mmd.data_type = dnnl_f32;
    TRY(tn_private_mem(n, &mmd, &Lk->mask));  /* kept across passes (frozen masks) */
    step s = {.fn = step_dropout_fwd, .node = k, .nargs = 3};
    s.args[0].memory = src;  /* listed so buffer lifetimes see them */
    s.args[1].memory = Lk->dst;
    s.args[2].memory = Lk->mask;
    TRY(tn_push_fwd(n, FWD_TRAIN, &s));
    return tn_add_reorder(n, &n->fwd_eval, src, Lk->dst);
}

static int bwd_dropout(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, tn_md(Lk->ddst), Lk->in[0], &go));
    step s = {.fn = step_mul_plain, .node = k, .nargs = 3};
    s.args[0].memory = Lk->ddst;
    s.args[1].memory = Lk->mask;
    s.args[2].memory = go.mem;
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}

/* ---- Dropout2d ---- */

/* Dropout2d: one keep-or-drop draw per (image, channel), scaled by 1 / (1 - p) as
 * nn.Dropout2d, spread over the channel's H x W in a plain mask of the node's
 * shape (so backward is dropout's: the gradient times the mask). */
static void step_dropout2d_fwd(train_net *n, step *s)
{
    const graph_node *gn = &n->g->nodes[s->node];
    double p = gn->a.p;
    float keep = dropout_scale(p);
    const float *x = tn_ptr(s->args[0].memory);
    float *y = tn_ptr(s->args[1].memory), *m = tn_ptr(s->args[2].memory);
    size_t planes = (size_t)n->batch * (size_t)gn->shape.dim[1];
    size_t hw = (size_t)(gn->shape.dim[2] * gn->shape.dim[3]);
    uint64_t threshold = (uint64_t)(p * 18446744073709551616.0);
    for (size_t c = 0; c < planes; c++) {
        float v = m[c * hw];
        if (!n->drop_frozen)
            v = ds_rand(&n->drop_rng) >= threshold ? keep : 0.0f;
        for (size_t i = c * hw; i < (c + 1) * hw; i++) {
            m[i] = v;
            y[i] = x[i] * v;
        }
    }
}

static int fwd_dropout2d(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_desc_t plain;
    TRY(tn_md_plain(&plain, &n->g->nodes[k].shape, n->batch));
    dnnl_memory_t src;
    TRY(tn_bind_input(n, NULL, &plain, n->L[Lk->in[0]].dst, &src));
    TRY(tn_new_mem(n, &plain, &Lk->dst));
    TRY(tn_private_mem(n, &plain, &Lk->mask));  /* kept across passes (frozen masks) */
    step s = {.fn = step_dropout2d_fwd, .node = k, .nargs = 3};
    s.args[0].memory = src;
    s.args[1].memory = Lk->dst;
    s.args[2].memory = Lk->mask;
    TRY(tn_push_fwd(n, FWD_TRAIN, &s));
    return tn_add_reorder(n, &n->fwd_eval, src, Lk->dst);
}

/* ---- add, mul (with broadcast) ---- */

/* Add / mul: the input with the output's full shape goes first (oneDNN
 * broadcasts only src1). */
static int binary_order(train_net *n, int k, int *a, int *b)
{
    const graph_node *gn = &n->g->nodes[k];
    const graph_shape *s0 = in_shape(n, k, 0), *s1 = in_shape(n, k, 1);
    int full0 = 1, full1 = 1;
    if (s0->rank != gn->shape.rank || s1->rank != gn->shape.rank) {
        rt_fmt(n->err, sizeof n->err, "node %d (%s): broadcasting between ranks %d and %d is not supported",
               k, graph_op_name(gn->op), s0->rank, s1->rank);
        return TRAIN_EUNSUPPORTED;
    }
    for (int i = 1; i < gn->shape.rank; i++) {
        full0 &= s0->dim[i] == gn->shape.dim[i];
        full1 &= s1->dim[i] == gn->shape.dim[i];
    }
    if (!full0 && !full1) {
        rt_fmt(n->err, sizeof n->err, "node %d (%s): both inputs broadcast; one must have the output's shape",
               k, graph_op_name(gn->op));
        return TRAIN_EUNSUPPORTED;
    }
    *a = full0 ? n->L[k].in[0] : n->L[k].in[1];
    *b = full0 ? n->L[k].in[1] : n->L[k].in[0];
    return 0;
}

static int same_dims(train_net *n, int a, int b)
{
    const graph_shape *x = &n->g->nodes[a].shape, *y = &n->g->nodes[b].shape;
    for (int i = 1; i < x->rank; i++)
        if (x->dim[i] != y->dim[i])
            return 0;
    return 1;
}

static int fwd_binary(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int a, b;
    TRY(binary_order(n, k, &a, &b));
    dnnl_alg_kind_t alg = n->g->nodes[k].op == GRAPH_OP_ADD ? dnnl_binary_add : dnnl_binary_mul;
    dnnl_memory_desc_t dst = *tn_md(n->L[a].dst);
    TRY(tn_new_mem(n, &dst, &Lk->dst));
    /* Two full-shape inputs in different layouts (or types: the fp32 input and a
     * bf16 activation; a 16-channel-blocked and an nhwc one, as bf16 convolutions
     * choose) leave oneDNN only its reference binary, seconds per call: the second
     * is reordered into the first's layout. */
    Lk->src_bound = n->L[b].dst;
    if (same_dims(n, a, b) && !dop_md_equal(tn_md(n->L[a].dst), tn_md(n->L[b].dst)))
        TRY(tn_bind_input(n, NULL, tn_md(n->L[a].dst), n->L[b].dst, &Lk->src_bound));
    dnnl_primitive_desc_t pd;
    CK(dop_binary(&pd, n->eng, alg, tn_md(n->L[a].dst), tn_md(Lk->src_bound), &dst), "binary");
    step s;
    TRY(tn_make_prim(n, pd, alg == dnnl_binary_add ? "binary add" : "binary mul", &s));
    tn_arg(&s, DNNL_ARG_SRC_0, n->L[a].dst);
    tn_arg(&s, DNNL_ARG_SRC_1, Lk->src_bound);
    tn_arg(&s, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_BOTH, &s);
}

/* Sum src over the dimensions where target layer t broadcasts, into t's gradient. */
static int reduce_into(train_net *n, dnnl_memory_t src, int t)
{
    dnnl_memory_desc_t dst;
    TRY(tn_md_plain(&dst, &n->g->nodes[t].shape, n->batch));
    dnnl_primitive_desc_t pd;
    CK(dop_reduce_sum(&pd, n->eng, tn_md(src), &dst), "reduction");
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DST), t, &go));
    step s;
    TRY(tn_make_prim(n, pd, "reduction", &s));
    tn_arg(&s, DNNL_ARG_SRC, src);
    tn_arg(&s, DNNL_ARG_DST, go.mem);
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}

static int bwd_binary(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int a, b;
    TRY(binary_order(n, k, &a, &b));
    int add = n->g->nodes[k].op == GRAPH_OP_ADD;
    /* full-shape input */
    if (n->L[a].need_grad) {
        if (add) {
            TRY(tn_grad_route(n, Lk->ddst, a));
        } else {
            tn_grad_out go;
            TRY(tn_grad_out_begin(n, tn_md(Lk->ddst), a, &go));
            TRY(tn_add_binary_step(n, &n->bwd, dnnl_binary_mul, Lk->ddst, Lk->src_bound, go.mem));
            TRY(tn_grad_out_end(n, &go));
        }
    }
    if (!n->L[b].need_grad)
        return 0;
    dnnl_memory_t g = Lk->ddst;
    if (!add) {
        TRY(tn_new_mem(n, tn_md(Lk->ddst), &g));
        TRY(tn_add_binary_step(n, &n->bwd, dnnl_binary_mul, Lk->ddst, n->L[a].dst, g));
    }
    if (same_dims(n, b, k))
        return tn_grad_route(n, g, b);
    return reduce_into(n, g, b);
}

/* ---- cat ---- */

/* Sources one concat step takes: its dst and scratchpad fill the rest. */
#define CAT_MAX (STEP_MAX_ARGS - 2)

/* One concat primitive of m <= CAT_MAX sources into a new memory of node
 * k's shape with c channels. */
static int concat_step(train_net *n, int k, const dnnl_memory_t *src, int m, int64_t c,
                       dnnl_memory_t *out)
{
    graph_shape shape = n->g->nodes[k].shape;
    shape.dim[1] = c;
    dnnl_memory_desc_t *srcs = malloc(sizeof *srcs * (size_t)m), dst;
    if (!srcs)
        return TRAIN_ENOMEM;
    for (int j = 0; j < m; j++)
        srcs[j] = *tn_md(src[j]);
    int rc = tn_md_act(n, &dst, &shape, 0);
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = rc ? dnnl_invalid_arguments : dop_concat(&pd, n->eng, &dst, m, 1, srcs);
    free(srcs);
    CK(st, "concat");
    dnnl_memory_t d;
    TRY(tn_new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &d));
    step s;
    TRY(tn_make_prim(n, pd, "concat", &s));
    for (int j = 0; j < m; j++)
        tn_arg(&s, DNNL_ARG_MULTIPLE_SRC + j, src[j]);
    tn_arg(&s, DNNL_ARG_DST, d);
    *out = d;
    return tn_push_fwd(n, FWD_BOTH, &s);
}

/* More inputs than one step takes are concatenated in a tree: groups of
 * CAT_MAX into intermediate memories, then those. The backward pass slices
 * the output's gradient and needs no intermediates. */
static int fwd_cat(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int m = Lk->nin, rc = 0;
    dnnl_memory_t *v = malloc(sizeof *v * (size_t)m), *next = malloc(sizeof *next * (size_t)m);
    int64_t *c = malloc(sizeof *c * (size_t)m);
    if (!v || !next || !c) {
        free(v), free(next), free(c);
        return TRAIN_ENOMEM;
    }
    for (int j = 0; j < m; j++) {
        v[j] = n->L[Lk->in[j]].dst;
        c[j] = in_shape(n, k, j)->dim[1];
        /* concat takes one data type: the fp32 input into a bf16 net's type */
        if (!rc && tn_md(v[j])->data_type != n->act) {
            dnnl_memory_desc_t md = *tn_md(v[j]);
            md.data_type = n->act;
            rc = tn_bind_input(n, NULL, &md, v[j], &v[j]);
        }
    }
    while (!rc && m > CAT_MAX) {
        int out = 0;
        for (int j = 0; j < m && !rc; j += CAT_MAX) {
            int g = m - j < CAT_MAX ? m - j : CAT_MAX;
            int64_t sum = 0;
            for (int i = 0; i < g; i++)
                sum += c[j + i];
            if (g == 1)
                next[out] = v[j];
            else
                rc = concat_step(n, k, v + j, g, sum, &next[out]);
            c[out++] = sum;  /* out <= j: c[j..] is read before it is overwritten */
        }
        memcpy(v, next, sizeof *v * (size_t)out);
        m = out;
    }
    if (!rc)
        rc = concat_step(n, k, v, m, n->g->nodes[k].shape.dim[1], &Lk->dst);
    free(v), free(next), free(c);
    return rc;
}

static int bwd_cat(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_shape *os = &n->g->nodes[k].shape;
    /* Slices of the gradient as sub-memories of its layout; when a slice
     * does not fall on the layout's channel blocks, slice a plain copy. */
    dnnl_memory_t base = Lk->ddst;
    for (int pass = 0; pass < 2; pass++) {
        int ok = 1;
        int64_t off = 0;
        for (int j = 0; j < Lk->nin && ok; j++) {
            const graph_shape *is = in_shape(n, k, j);
            dnnl_dims_t d = {n->batch, is->dim[1], os->dim[2], os->dim[3]}, o = {0, off, 0, 0};
            dnnl_memory_desc_t sub;
            dnnl_primitive_desc_t pd;
            off += is->dim[1];
            if (dop_submemory(&sub, tn_md(base), d, o) != dnnl_success ||
                dop_reorder(&pd, n->eng, &sub, tn_md(n->L[Lk->in[j]].ddst ? n->L[Lk->in[j]].ddst : base)) != dnnl_success)
                ok = 0;
            else
                dnnl_primitive_desc_destroy(pd);
        }
        if (ok || pass == 1)
            break;
        dnnl_memory_desc_t plain;
        TRY(tn_md_act(n, &plain, os, 1));
        TRY(tn_new_mem(n, &plain, &base));
        TRY(tn_add_reorder(n, &n->bwd, Lk->ddst, base));
    }
    int64_t off = 0;
    for (int j = 0; j < Lk->nin; j++) {
        const graph_shape *is = in_shape(n, k, j);
        dnnl_dims_t d = {n->batch, is->dim[1], os->dim[2], os->dim[3]}, o = {0, off, 0, 0};
        off += is->dim[1];
        if (!n->L[Lk->in[j]].need_grad)
            continue;
        dnnl_memory_desc_t sub;
        CK(dop_submemory(&sub, tn_md(base), d, o), "sub-memory");
        dnnl_memory_t v;
        TRY(tn_view_mem(n, &sub, base, &v));
        TRY(tn_grad_route(n, v, Lk->in[j]));
    }
    return 0;
}

/* ---- dispatch ---- */

int tn_compile_fwd(train_net *n, int k)
{
    switch (n->g->nodes[k].op) {
    case GRAPH_OP_INPUT: return fwd_input(n, k);
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_LINEAR: return fwd_conv_or_linear(n, k);
    case GRAPH_OP_BATCHNORM2D: case GRAPH_OP_BATCHNORM1D: return fwd_bn(n, k);
    case GRAPH_OP_LAYERNORM: return fwd_ln(n, k);
    case GRAPH_OP_RELU: case GRAPH_OP_LEAKYRELU: case GRAPH_OP_GELU: case GRAPH_OP_SILU:
    case GRAPH_OP_SIGMOID: case GRAPH_OP_TANH: case GRAPH_OP_HARDSWISH:
    case GRAPH_OP_MUL_SCALAR: case GRAPH_OP_ADD_SCALAR:
    case GRAPH_OP_ELU: case GRAPH_OP_MISH: return fwd_eltwise(n, k);
    case GRAPH_OP_PRELU: return fwd_prelu(n, k);
    case GRAPH_OP_SOFTMAX: return fwd_softmax(n, k);
    case GRAPH_OP_DROPOUT2D: return fwd_dropout2d(n, k);
    case GRAPH_OP_MAXPOOL2D: case GRAPH_OP_AVGPOOL2D:
    case GRAPH_OP_ADAPTIVEAVGPOOL2D: case GRAPH_OP_ADAPTIVEMAXPOOL2D: return fwd_pool(n, k);
    case GRAPH_OP_FLATTEN: return fwd_flatten(n, k);
    case GRAPH_OP_DROPOUT: return fwd_dropout(n, k);
    case GRAPH_OP_ADD: case GRAPH_OP_MUL: return fwd_binary(n, k);
    case GRAPH_OP_CAT: return fwd_cat(n, k);
    default:
        rt_fmt(n->err, sizeof n->err, "node %d: op %s is not supported by the trainer", k,
               graph_op_name(n->g->nodes[k].op));
        return TRAIN_EUNSUPPORTED;
    }
}

int tn_compile_bwd(train_net *n, int k)
{
    switch (n->g->nodes[k].op) {
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_LINEAR: return bwd_conv_or_linear(n, k);
    case GRAPH_OP_BATCHNORM2D: case GRAPH_OP_BATCHNORM1D: return bwd_bn(n, k);
    case GRAPH_OP_LAYERNORM: return bwd_ln(n, k);
    case GRAPH_OP_RELU: case GRAPH_OP_LEAKYRELU: case GRAPH_OP_GELU: case GRAPH_OP_SILU:
    case GRAPH_OP_SIGMOID: case GRAPH_OP_TANH: case GRAPH_OP_HARDSWISH:
    case GRAPH_OP_MUL_SCALAR: case GRAPH_OP_ADD_SCALAR:
    case GRAPH_OP_ELU: case GRAPH_OP_MISH: return bwd_eltwise(n, k);
    case GRAPH_OP_PRELU: return bwd_prelu(n, k);
    case GRAPH_OP_SOFTMAX: return bwd_softmax(n, k);
    case GRAPH_OP_DROPOUT2D: return bwd_dropout(n, k);
    case GRAPH_OP_MAXPOOL2D: case GRAPH_OP_AVGPOOL2D:
    case GRAPH_OP_ADAPTIVEAVGPOOL2D: case GRAPH_OP_ADAPTIVEMAXPOOL2D: return bwd_pool(n, k);
    case GRAPH_OP_FLATTEN: return bwd_flatten(n, k);
    case GRAPH_OP_DROPOUT: return bwd_dropout(n, k);
    case GRAPH_OP_ADD: case GRAPH_OP_MUL: return bwd_binary(n, k);
    case GRAPH_OP_CAT: return bwd_cat(n, k);
    default: return 0;
    }
}
