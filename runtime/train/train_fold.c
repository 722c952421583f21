/*
 * train_fold.c — the inference pass with each BatchNorm folded into the
 * convolution before it (train_fold.h).
 *
 * In inference mode a BatchNorm is a per-channel affine map of its input,
 * y = z * s + t with s = weight / sqrt(running_var + eps) and
 * t = bias - running_mean * s, so Conv2d -> BatchNorm2d (-> ReLU) is one
 * convolution with weights w * s (per output channel) and bias b * s + t (and
 * a ReLU post-op): the BatchNorm's pass over memory goes, a fifth of the
 * inference step of the demo's best network. Evaluation and early abort's
 * probes run the inference pass, after every training loop of a search.
 *
 * The folded weights are a copy, recomputed before an inference batch only
 * when training changed the parameters or the running statistics since the
 * last one (train_net.version): the weights are reordered to plain, scaled,
 * reordered back into the training convolution's own layout.
 *
 * Deliberately left alone: a convolution whose output has another consumer
 * or reaches the BatchNorm through a reorder, data types other than f32,
 * nets built with keep_all (inspection reads every node's own output), and
 * any pairing oneDNN would run with a reference implementation. Per-channel
 * binary post-ops would fold without a weight copy, but measured 1.4-3x
 * slower than the convolution and the BatchNorm apart in oneDNN 2.6.
 */
#include "train/train_fold.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rt.h"

/* How many layers read layer c's output (the net's output counts as one). */
static int consumers(const train_net *n, int c)
{
    int uses = n->out == c;
    for (int k = 0; k < n->nlayers; k++)
        if (n->L[k].alias == k)
            for (int j = 0; j < n->L[k].nin; j++)
                uses += n->L[k].in[j] == c;
    return uses;
}

/* The index in l of the primitive step writing `dst` as DNNL_ARG_DST, or -1. */
static int step_writing(const steplist *l, dnnl_memory_t dst)
{
    for (int i = 0; i < l->n; i++)
        for (int a = 0; !l->v[i].fn && a < l->v[i].nargs; a++)
            if (l->v[i].args[a].arg == DNNL_ARG_DST && l->v[i].args[a].memory == dst)
                return i;
    return -1;
}

/* What a fold step keeps between batches, in a private buffer of the net
 * (args[4]): the two weight reorders (primitives and scratchpads owned by the
 * net) and the parameters' version the folded copy was made from. */
typedef struct fold_state {
    dnnl_primitive_t to_plain, from_plain;
    dnnl_memory_t sp_to, sp_from;  /* their scratchpads, or NULL */
    uint64_t version;
    int valid;
} fold_state;

static void run_reorder(train_net *n, dnnl_primitive_t p, dnnl_memory_t sp, dnnl_memory_t from,
                        dnnl_memory_t to)
{
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, sp}};
    dnnl_primitive_execute(p, n->stream, sp ? 3 : 2, a);
    dnnl_stream_wait(n->stream);
}

/* Args: 0 the conv's weights, 1 a plain copy, 2 the folded weights (the
 * weights' layout), 3 the folded bias [F], 4 the fold_state. */
static void step_fold(train_net *n, step *s)
{
    fold_state *st = tn_ptr(s->args[4].memory);
    if (st->valid && st->version == n->version)
        return;
    int k = s->node;
    const layer *bn = &n->L[k], *conv = &n->L[bn->in[0]];
    const graph_node *gn = &n->g->nodes[k];
    double eps = gn->a.eps > 0 ? gn->a.eps : 1e-5;
    const float *g = tn_ptr(n->P[bn->p[0]].w), *beta = tn_ptr(n->P[bn->p[1]].w);
    const float *rm = tn_ptr(n->P[bn->p[2]].w), *rv = tn_ptr(n->P[bn->p[3]].w);
    const float *cb = conv->p[1] >= 0 ? tn_ptr(n->P[conv->p[1]].w) : NULL;
    float *plain = tn_ptr(s->args[1].memory), *bias = tn_ptr(s->args[3].memory);
    int64_t F = gn->shape.dim[1], per = n->P[conv->p[0]].count / F;
    run_reorder(n, st->to_plain, st->sp_to, s->args[0].memory, s->args[1].memory);
    /* plain weights: [F][C/G][kH][kW], grouped [G][F/G][C/G][kH][kW]: output channel o
     * owns elements o * per .. (o + 1) * per either way */
    for (int64_t o = 0; o < F; o++) {
        double sc = g[o] / sqrt((double)rv[o] + eps);
        for (int64_t i = 0; i < per; i++)
            plain[o * per + i] = (float)(plain[o * per + i] * sc);
        bias[o] = (float)((cb ? cb[o] : 0) * sc + beta[o] - rm[o] * sc);
    }
    run_reorder(n, st->from_plain, st->sp_from, s->args[1].memory, s->args[2].memory);
    st->version = n->version;
    st->valid = 1;
}

/* A reorder primitive from -> to, kept by the net (not a step of any list). */
static int reorder_prim(train_net *n, dnnl_memory_t from, dnnl_memory_t to, dnnl_primitive_t *p,
                        dnnl_memory_t *sp)
{
    dnnl_primitive_desc_t pd;
    CK(dop_reorder(&pd, n->eng, tn_md(from), tn_md(to)), "reorder");
    step s;
    TRY(tn_make_prim(n, pd, "reorder", &s));
    *p = s.prim;
    *sp = s.nargs ? s.args[0].memory : NULL;  /* tn_make_prim adds only the scratchpad */
    return 0;
}

/* Fold BatchNorm k into the convolution cv before it, in the inference list:
 * 0 done, 1 not applicable (the list is unchanged), or a TRAIN_E* code. */
static int fold(train_net *n, int k, int cv)
{
    layer *bn = &n->L[k], *conv = &n->L[cv];
    steplist *l = &n->fwd_eval;
    int ic = step_writing(l, conv->dst), ib = step_writing(l, bn->dst);
    if (ic < 0 || ib <= ic || bn->src_bound != conv->dst ||
        !dop_md_equal(tn_md(conv->dst), tn_md(bn->dst)))
        return 1;
    const param *W = &n->P[conv->p[0]];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_dims_t bd = {gn->shape.dim[1]};
    dnnl_memory_desc_t bmd;
    CK(dop_md(&bmd, 1, bd, dnnl_a), "layout");
    dnnl_primitive_desc_t pd;
    if (dop_conv_fwd_infer(&pd, n->eng, tn_md(conv->src_bound), tn_md(W->w), &bmd,
                           tn_md(bn->dst), &conv->geo, bn->fuse_relu) != dnnl_success)
        return 1;
    if (strncmp(dop_impl(pd), "ref", 3) == 0) {
        dnnl_primitive_desc_destroy(pd);
        return 1;
    }
    dnnl_memory_t plain, wf, bf, state;
    dnnl_memory_desc_t smd;
    dnnl_dims_t sd = {(dnnl_dim_t)sizeof(fold_state)};
    CK(dnnl_memory_desc_init_by_tag(&smd, 1, sd, dnnl_u8, dnnl_a), "layout");
    TRY(tn_private_mem(n, &W->plain, &plain));
    TRY(tn_private_mem(n, tn_md(W->w), &wf));
    TRY(tn_private_mem(n, &bmd, &bf));
    TRY(tn_private_mem(n, &smd, &state));
    fold_state *st = tn_ptr(state);
    TRY(reorder_prim(n, W->w, plain, &st->to_plain, &st->sp_to));
    TRY(reorder_prim(n, plain, wf, &st->from_plain, &st->sp_from));
    step f = {.fn = step_fold, .node = k, .nargs = 5}, s;
    f.args[0].memory = W->w;
    f.args[1].memory = plain;
    f.args[2].memory = wf;
    f.args[3].memory = bf;
    f.args[4].memory = state;
    TRY(tn_make_prim(n, pd, "conv+bnorm inf", &s));
    tn_arg(&s, DNNL_ARG_SRC, conv->src_bound);
    tn_arg(&s, DNNL_ARG_WEIGHTS, wf);
    tn_arg(&s, DNNL_ARG_BIAS, bf);
    tn_arg(&s, DNNL_ARG_DST, bn->dst);
    /* the conv step becomes the fold and the folded conv; the BN step goes */
    steplist out = {0};
    for (int i = 0; i < l->n; i++) {
        int rc = 0;
        if (i == ic)
            rc = tn_push_step(n, &out, &f) || tn_push_step(n, &out, &s) ? TRAIN_ENOMEM : 0;
        else if (i != ib)
            rc = tn_push_step(n, &out, &l->v[i]);
        if (rc) {
            free(out.v);
            return rc;
        }
    }
    free(l->v);
    *l = out;
    return 0;
}

int tn_fold_bn_eval(train_net *n)
{
    if (!n->defer)
        return 0;  /* keep_all: every node's own output is inspected */
    for (int k = 0; k < n->nlayers; k++) {
        const layer *bn = &n->L[k];
        if (bn->alias != k || n->g->nodes[k].op != GRAPH_OP_BATCHNORM2D)
            continue;
        int cv = bn->in[0];
        if (n->L[cv].alias != cv || n->g->nodes[cv].op != GRAPH_OP_CONV2D ||
            consumers(n, cv) != 1 || tn_md(n->L[cv].dst)->data_type != dnnl_f32)
            continue;
        int rc = fold(n, k, cv);
        if (rc < 0)
            return rc;
    }
    return 0;
}
