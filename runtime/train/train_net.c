/*
 * train_net.c — a graph compiled into oneDNN primitives: forward (training
 * and inference), backward, SGD. See train.h. This file holds the
 * lifecycle (build, run, loss, update, inspection); the plan it fills —
 * buffers, steps, reorders, parameters — is train_plan.c, and each op's
 * steps are train_ops.c.
 *
 * How it is put together:
 *  - Each graph node becomes a layer with an output tensor (dst) in the
 *    layout its primitive chose, and a gradient tensor (ddst) in the same
 *    layout when anything upstream has parameters. Identity nodes (and a ReLU
 *    fused into the BatchNorm before it) are aliases: they own nothing.
 *  - Compiling appends steps to three flat lists: forward-train,
 *    forward-eval, backward. A step is a primitive with its arguments, or a
 *    small C function (dropout, BN running statistics, SGD). Running a pass
 *    is a loop over its list: nothing is looked up or allocated per batch.
 *  - Where a primitive wants a layout its producer did not give, a reorder
 *    step goes in front of it (bind_input); where a backward primitive writes
 *    a gradient in another layout than the target's, or the target already
 *    holds a gradient from another consumer (fan-out, residuals), a reorder
 *    and/or an add go after it (grad_out).
 *  - Parameters keep one master copy in the forward primitive's weight
 *    layout; the gradient and the momentum use the same layout (the
 *    backward-weights result is reordered into it when oneDNN chose another:
 *    the trap in ONEDNN.md), so SGD is element-wise over equal layouts.
 *  - All primitives share one scratchpad (they never run concurrently).
 *  - Buffers written and read only inside the step lists get memory last,
 *    shared between buffers whose lifetimes do not overlap.
 *
 * Deliberately avoided: in-place tricks and buffer reuse across layers (the
 * memory is dominated by activations that backward needs anyway), and any
 * per-op special case that a layout choice can do instead.
 */
#include "train/train_fold.h"
#include "train/train_ops.h"
#include "train/train_plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rt.h"


/* ---- the loss ---- */

/* The logits in plain [B, K] (forward) and their gradient, which
 * train_net_loss writes outside the step lists (so it is never deferred). */
static int compile_logits(train_net *n)
{
    dnnl_memory_desc_t plain;
    TRY(tn_md_plain(&plain, &n->g->nodes[n->g->output].shape, n->batch));
    return tn_bind_input(n, NULL, &plain, n->L[n->out].dst, &n->logits);
}

static int compile_loss(train_net *n)
{
    int o = n->out;
    if (!n->L[o].need_grad)
        return 0;
    n->L[o].written = 1;
    if (dop_md_equal(tn_md(n->logits), tn_md(n->L[o].ddst))) {
        n->dlogits = n->L[o].ddst;
        return 0;
    }
    TRY(tn_private_mem(n, tn_md(n->logits), &n->dlogits));
    return tn_add_reorder(n, &n->bwd, n->dlogits, n->L[o].ddst);
}

/* ---- build ---- */

/* Resolve aliases (Identity, p = 0 Dropout, a ReLU fused into its BN),
 * count consumers, mark which outputs need gradients. */
static int plan(train_net *n, const train_net_opts *o)
{
    const graph *g = n->g;
    int *uses = calloc((size_t)g->n, sizeof *uses);
    if (!uses)
        return TRAIN_ENOMEM;
    for (int k = 0; k < g->n; k++) {
        const graph_node *gn = &g->nodes[k];
        layer *Lk = &n->L[k];
        Lk->alias = k;
        Lk->nin = gn->n_inputs;
        Lk->p[0] = Lk->p[1] = Lk->p[2] = Lk->p[3] = -1;
        Lk->in = malloc(sizeof(int) * (size_t)(gn->n_inputs ? gn->n_inputs : 1));
        if (!Lk->in) {
            free(uses);
            return TRAIN_ENOMEM;
        }
        for (int j = 0; j < gn->n_inputs; j++) {
            Lk->in[j] = n->L[gn->inputs[j]].alias;
            uses[Lk->in[j]]++;
        }
        if (gn->op == GRAPH_OP_IDENTITY ||
            ((gn->op == GRAPH_OP_DROPOUT || gn->op == GRAPH_OP_DROPOUT2D) && gn->a.p <= 0) ||
            (gn->op == GRAPH_OP_FLATTEN && gn->shape.rank == g->nodes[Lk->in[0]].shape.rank))
            Lk->alias = Lk->in[0];
    }
    n->out = n->L[g->output].alias;
    if (o->fuse)
        for (int k = 0; k < g->n; k++) {
            layer *Lk = &n->L[k];
            if (Lk->alias != k || g->nodes[k].op != GRAPH_OP_RELU)
                continue;
            int b = Lk->in[0];
            graph_op bop = g->nodes[b].op;
            if ((bop == GRAPH_OP_BATCHNORM2D || bop == GRAPH_OP_BATCHNORM1D) && uses[b] == 1 &&
                b != n->out &&
                n->L[b].alias == b) {
                n->L[b].fuse_relu = 1;
                Lk->alias = b;
                /* consumers of k now read b */
                for (int q = k + 1; q < g->n; q++)
                    for (int j = 0; j < n->L[q].nin; j++)
                        if (n->L[q].in[j] == k)
                            n->L[q].in[j] = b;
                if (n->out == k)
                    n->out = b;
            }
        }
    free(uses);
    n->out = n->L[n->out].alias;
    /* need_grad: the node or something upstream has parameters */
    for (int k = 0; k < g->n; k++) {
        layer *Lk = &n->L[k];
        Lk->need_grad = g->nodes[k].params > 0;
        for (int j = 0; j < Lk->nin; j++)
            Lk->need_grad |= n->L[Lk->in[j]].need_grad;
    }
    return 0;
}



/* The ops whose bf16 path is checked (tests/c/test_train_bf16.c, PyTorch's bf16
 * autocast case); any other op refuses bf16 rather than risk C code that reads
 * bf16 buffers as fp32. */
static int bf16_checked(graph_op op)
{
    switch (op) {
    case GRAPH_OP_INPUT: case GRAPH_OP_CONV2D: case GRAPH_OP_LINEAR: case GRAPH_OP_BATCHNORM2D:
    case GRAPH_OP_RELU: case GRAPH_OP_LEAKYRELU: case GRAPH_OP_GELU: case GRAPH_OP_SILU:
    case GRAPH_OP_SIGMOID: case GRAPH_OP_TANH: case GRAPH_OP_HARDSWISH: case GRAPH_OP_MAXPOOL2D:
    case GRAPH_OP_AVGPOOL2D: case GRAPH_OP_ADAPTIVEAVGPOOL2D: case GRAPH_OP_FLATTEN:
    case GRAPH_OP_DROPOUT: case GRAPH_OP_IDENTITY: case GRAPH_OP_ADD: case GRAPH_OP_MUL:
    case GRAPH_OP_CAT:
        return 1;
    default:
        return 0;
    }
}

int train_bf16_unchecked(const graph *g)
{
    for (int k = 0; k < g->n; k++)
        if (!bf16_checked(g->nodes[k].op))
            return k;
    return -1;
}

int train_bf16_refusal(const graph *g, char *err, size_t errlen)
{
    int k = train_bf16_unchecked(g);
    if (k >= 0)
        rt_fmt(err, errlen, "node %d: op %s is not yet supported in bf16 precision; use "
               "precision fp32 (or auto, which trains it in fp32)", k, graph_op_name(g->nodes[k].op));
    return k;
}

static int build(train_net *n, const train_net_opts *o)
{
    const graph *g = n->g;
    if (n->bf16 && train_bf16_refusal(g, n->err, sizeof n->err) >= 0)
        return TRAIN_EUNSUPPORTED;
    TRY(plan(n, o));
    n->defer = !o->keep_all;
    for (int k = 0; k < g->n; k++) {
        if (n->L[k].alias != k)
            continue;
        n->cur = k;
        n->cur_name = graph_op_name(g->nodes[k].op);
        TRY(tn_compile_fwd(n, k));
    }
    n->cur = g->output;
    n->cur_name = "loss";
    TRY(compile_logits(n));
    /* gradient buffers in the forward layouts; the output's and the logits'
     * gradients are written by train_net_loss, the rest only by backward */
    if (n->L[n->out].need_grad)
        TRY(tn_private_mem(n, tn_md(n->L[n->out].dst), &n->L[n->out].ddst));
    TRY(compile_loss(n));
    for (int k = 0; k < g->n; k++)
        if (n->L[k].alias == k && n->L[k].need_grad && k != 0 && k != n->out)
            TRY(tn_new_mem(n, tn_md(n->L[k].dst), &n->L[k].ddst));
    for (int k = g->n - 1; k > 0; k--) {
        if (n->L[k].alias != k || !n->L[k].need_grad)
            continue;
        n->cur = k;
        n->cur_name = graph_op_name(g->nodes[k].op);
        TRY(tn_compile_bwd(n, k));
    }
    TRY(tn_fold_bn_eval(n));
    if (n->defer) {
        n->defer = 0;
        TRY(tn_assign_buffers(n));
    }
    /* one scratchpad for every primitive */
    if (n->scratch_size) {
        n->scratch_buf = aligned_alloc(64, (n->scratch_size + 63) / 64 * 64);
        if (!n->scratch_buf)
            return TRAIN_ENOMEM;
        for (int i = 0; i < n->nscratch; i++)
            dnnl_memory_set_data_handle(n->scratch[i], n->scratch_buf);
    }
    return 0;
}

int train_net_build(const graph *g, int batch, const train_net_opts *o, train_net **out,
                    char *err, size_t errlen)
{
    train_net_opts defaults = {.seed = 43, .fuse = 1, .keep_all = 0};
    if (!o)
        o = &defaults;
    *out = NULL;
    if (!g || g->output < 0 || g->n < 2 || batch < 1) {
        rt_fmt(err, errlen, "train_net_build: graph without output or batch < 1");
        return TRAIN_EARG;
    }
    if (g->nodes[g->output].shape.rank != 2) {
        rt_fmt(err, errlen, "the output must be [B, classes], got rank %d", g->nodes[g->output].shape.rank);
        return TRAIN_EARG;
    }
    train_net *n = calloc(1, sizeof *n);
    if (!n)
        return TRAIN_ENOMEM;
    n->g = g;
    n->batch = batch;
    n->classes = (int)g->nodes[g->output].shape.dim[1];
    n->init_rng = o->seed;
    n->winograd = o->winograd;
    n->bf16 = o->bf16;
    n->onednn_only = o->onednn_only;
    n->act = o->bf16 ? dnnl_bf16 : dnnl_f32;
    n->drop_rng = o->seed ^ 0x5deece66dull;
    n->L = calloc((size_t)g->n, sizeof *n->L);
    int rc = TRAIN_ENOMEM;
    if (!n->L)
        goto fail;
    n->nlayers = g->n;
    if (dnnl_engine_create(&n->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&n->stream, n->eng, dnnl_stream_default_flags) != dnnl_success) {
        rc = TRAIN_EDNNL;
        rt_fmt(n->err, sizeof n->err, "oneDNN: no CPU engine");
        goto fail;
    }
    rc = build(n, o);
    if (rc)
        goto fail;
    *out = n;
    return 0;
fail:
    if (!n->err[0])
        rt_fmt(n->err, sizeof n->err, "building the network: %s", train_strerror(rc));
    rt_fmt(err, errlen, "%s", n->err);
    train_net_free(n);
    return rc;
}

void train_net_free(train_net *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nprims; i++)
        dnnl_primitive_destroy(n->prims[i]);
    for (int i = 0; i < n->nmems; i++)
        dnnl_memory_destroy(n->mems[i]);
    for (int k = 0; k < n->nlayers; k++) {
        if (n->L[k].fpd)
            dnnl_primitive_desc_destroy(n->L[k].fpd);
        free(n->L[k].in);
    }
    for (int b = 0; b < n->nblocks; b++)
        free(n->blocks[b]);
    free(n->blocks);
    free(n->dm);
    free(n->prims);
    free(n->mems);
    free(n->scratch);
    free(n->scratch_buf);
    free(n->L);
    free(n->P);
    free(n->fwd_train.v);
    free(n->fwd_eval.v);
    free(n->bwd.v);
    if (n->stream)
        dnnl_stream_destroy(n->stream);
    if (n->eng)
        dnnl_engine_destroy(n->eng);
    free(n);
}

/* ---- running ---- */

static int run(train_net *n, steplist *l)
{
    for (int i = 0; i < l->n; i++) {
        step *s = &l->v[i];
        if (s->fn) {
            dnnl_stream_wait(n->stream);
            s->fn(n, s);
            continue;
        }
        dnnl_status_t st = dnnl_primitive_execute(s->prim, n->stream, s->nargs, s->args);
        if (st != dnnl_success) {
            rt_fmt(n->err, sizeof n->err, "oneDNN execute failed: %s", dnnl_status2str(st));
            return TRAIN_EDNNL;
        }
    }
    dnnl_stream_wait(n->stream);
    return 0;
}

float *train_net_input(train_net *n) { return n->input; }
int train_net_batch(const train_net *n) { return n->batch; }
int train_net_classes(const train_net *n) { return n->classes; }
const char *train_net_impls(const train_net *n) { return n->impls; }

int train_net_forward(train_net *n, int training)
{
    n->version += training;  /* the BN running statistics move */
    return run(n, training ? &n->fwd_train : &n->fwd_eval);
}

int train_net_backward(train_net *n)
{
    return run(n, &n->bwd);
}

int train_net_loss(train_net *n, const int32_t *y, int rows, int grad, double *loss, int *correct)
{
    const float *z = tn_ptr(n->logits);
    float *dz = grad && n->dlogits ? tn_ptr(n->dlogits) : NULL;
    int K = n->classes, hits = 0;
    double total = 0;
    if (rows > n->batch || rows < 1)
        return TRAIN_EARG;
    for (int i = 0; i < rows; i++) {
        const float *zi = z + (size_t)i * K;
        float mx = zi[0];
        int arg = 0;
        for (int c = 1; c < K; c++)
            if (zi[c] > mx) {
                mx = zi[c];
                arg = c;
            }
        double sum = 1;  /* the max's own term, exp(0) */
        for (int c = 0; c < K; c++)
            if (c != arg)
                sum += exp((double)zi[c] - mx);
        double lse = mx + log(sum);
        total += lse - zi[y[i]];
        hits += arg == y[i];
        if (dz)
            for (int c = 0; c < K; c++)
                dz[(size_t)i * K + c] =
                    (float)((exp((double)zi[c] - lse) - (c == y[i])) / rows);
    }
    if (dz)
        memset(dz + (size_t)rows * K, 0, sizeof(float) * (size_t)(n->batch - rows) * K);
    if (loss)
        *loss = total / rows;
    if (correct)
        *correct = hits;
    return isfinite(total) ? 0 : TRAIN_EDIVERGED;
}

int train_net_update(train_net *n, const train_sgd *s)
{
    float lr = (float)s->lr, mom = (float)s->momentum, wd = (float)s->weight_decay;
    n->version++;
    for (int i = 0; i < n->np; i++) {
        param *p = &n->P[i];
        if (!p->trainable)
            continue;
        float *w = tn_ptr(p->w), *g = tn_ptr(p->g), *v = tn_ptr(p->v);
        long cnt = (long)(dop_md_size(tn_md(p->w)) / sizeof(float));
        int first = !n->stepped;
        #pragma omp parallel for simd if (cnt > 65536) schedule(static)
        for (long j = 0; j < cnt; j++) {
            float d = g[j] + wd * w[j];
            v[j] = first ? d : mom * v[j] + d;
            w[j] -= lr * v[j];
        }
    }
    n->stepped = 1;
    return 0;
}

/* ---- inspection ---- */

int train_net_nparams(const train_net *n) { return n->np; }

int train_net_param_info(const train_net *n, int i, train_param_info *info)
{
    if (i < 0 || i >= n->np)
        return TRAIN_EARG;
    info->node = n->P[i].node;
    info->name = n->P[i].name;
    info->count = n->P[i].count;
    info->trainable = n->P[i].trainable;
    return 0;
}

int train_net_param_get(train_net *n, int i, int grad, float *out)
{
    if (i < 0 || i >= n->np || (grad && !n->P[i].trainable))
        return TRAIN_EARG;
    return tn_copy_plain(n, grad ? n->P[i].g : n->P[i].w, &n->P[i].plain, out, 1);
}

int train_net_param_set(train_net *n, int i, const float *in)
{
    if (i < 0 || i >= n->np)
        return TRAIN_EARG;
    n->version++;
    return tn_copy_plain(n, n->P[i].w, &n->P[i].plain, (float *)in, 0);
}

int train_net_node_get(train_net *n, int node, int grad, float *out)
{
    if (node < 0 || node >= n->nlayers)
        return TRAIN_EARG;
    layer *Lk = &n->L[n->L[node].alias];
    dnnl_memory_t m = grad == 0 ? Lk->dst : grad == 1 ? Lk->ddst : Lk->mask;
    if (!m)
        return TRAIN_EARG;
    dnnl_memory_desc_t plain;
    TRY(tn_md_plain(&plain, &n->g->nodes[node].shape, n->batch));
    return tn_copy_plain(n, m, &plain, out, 1);
}
