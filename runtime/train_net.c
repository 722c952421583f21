/*
 * train_net.c — a graph compiled into oneDNN primitives: forward (training
 * and inference), backward, SGD. See train.h.
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
 *
 * Deliberately avoided: in-place tricks and buffer reuse across layers (the
 * memory is dominated by activations that backward needs anyway), and any
 * per-op special case that a layout choice can do instead.
 */
#include "train_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dataset.h"
#include "rt.h"

#define CK(call, what)                                                                  \
    do {                                                                                \
        dnnl_status_t st_ = (call);                                                     \
        if (st_ != dnnl_success) {                                                      \
            rt_fmt(n->err, sizeof n->err, "node %d (%s): oneDNN %s failed: %s", n->cur, \
                   n->cur_name, what, dnnl_status2str(st_));                            \
            return TRAIN_EDNNL;                                                         \
        }                                                                               \
    } while (0)

#define TRY(x)            \
    do {                  \
        int rc_ = (x);    \
        if (rc_)          \
            return rc_;   \
    } while (0)

/* ---- bookkeeping: memories, primitives, steps ---- */

static int track_mem(train_net *n, dnnl_memory_t m)
{
    if (n->nmems == n->capmems) {
        int cap = n->capmems ? n->capmems * 2 : 64;
        dnnl_memory_t *v = realloc(n->mems, sizeof *v * (size_t)cap);
        if (!v)
            return TRAIN_ENOMEM;
        n->mems = v;
        n->capmems = cap;
    }
    n->mems[n->nmems++] = m;
    return 0;
}

static int new_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    CK(dnnl_memory_create(out, md, n->eng, DNNL_MEMORY_ALLOCATE), "memory allocation");
    n->bytes += dop_md_size(md);
    if (track_mem(n, *out)) {
        dnnl_memory_destroy(*out);
        return TRAIN_ENOMEM;
    }
    /* Padding in blocked layouts must stay zero; fresh memory is zeroed so
     * element-wise code may run over the whole physical buffer. */
    memset(mem_ptr(*out), 0, dop_md_size(md));
    return 0;
}

/* A memory over another one's buffer (a view: flatten, concat slices). */
static int view_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t base,
                    dnnl_memory_t *out)
{
    CK(dnnl_memory_create(out, md, n->eng, mem_ptr(base)), "memory view");
    return track_mem(n, *out);
}

void *mem_ptr(dnnl_memory_t m)
{
    void *p = NULL;
    dnnl_memory_get_data_handle(m, &p);
    return p;
}

const dnnl_memory_desc_t *mem_md(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

static int push_step(train_net *n, steplist *l, const step *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        step *v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v)
            return TRAIN_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *s;
    return 0;
}

static void note_impl(train_net *n, const char *what, const char *impl)
{
    char line[160];
    rt_fmt(line, sizeof line, "%s: %s\n", what, impl);
    if (strstr(n->impls, line))
        return;
    size_t len = strlen(n->impls);
    if (len + strlen(line) < sizeof n->impls)
        memcpy(n->impls + len, line, strlen(line) + 1);
    if (strncmp(impl, "ref", 3) == 0 && (strstr(what, "conv") || strstr(what, "ip")))
        n->ref_impls++;
}

/* Create the primitive of pd (which is destroyed here) and fill the step's
 * primitive and scratchpad; the caller adds the other arguments. */
static int make_prim(train_net *n, dnnl_primitive_desc_t pd, const char *what, step *s)
{
    memset(s, 0, sizeof *s);
    note_impl(n, what, dop_impl(pd));
    const dnnl_memory_desc_t *sp = dop_query_md(pd, DNNL_ARG_SCRATCHPAD);
    size_t sz = sp ? dop_md_size(sp) : 0;
    dnnl_primitive_t p = NULL;
    dnnl_status_t st = dnnl_primitive_create(&p, pd);
    if (st == dnnl_success && sz > 0) {
        dnnl_memory_t m = NULL;
        st = dnnl_memory_create(&m, sp, n->eng, DNNL_MEMORY_NONE);
        if (st == dnnl_success) {
            if (track_mem(n, m) || (n->nscratch == n->capscratch && grow_scratch(n))) {
                dnnl_primitive_destroy(p);
                dnnl_primitive_desc_destroy(pd);
                return TRAIN_ENOMEM;
            }
            n->scratch[n->nscratch++] = m;
            if (sz > n->scratch_size)
                n->scratch_size = sz;
            s->args[s->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m};
        }
    }
    dnnl_primitive_desc_destroy(pd);
    CK(st, what);
    if (n->nprims == n->capprims) {
        int cap = n->capprims ? n->capprims * 2 : 64;
        dnnl_primitive_t *v = realloc(n->prims, sizeof *v * (size_t)cap);
        if (!v) {
            dnnl_primitive_destroy(p);
            return TRAIN_ENOMEM;
        }
        n->prims = v;
        n->capprims = cap;
    }
    n->prims[n->nprims++] = p;
    s->prim = p;
    return 0;
}

int grow_scratch(train_net *n)
{
    int cap = n->capscratch ? n->capscratch * 2 : 64;
    dnnl_memory_t *v = realloc(n->scratch, sizeof *v * (size_t)cap);
    if (!v)
        return TRAIN_ENOMEM;
    n->scratch = v;
    n->capscratch = cap;
    return 0;
}

static void arg(step *s, int a, dnnl_memory_t m)
{
    s->args[s->nargs++] = (dnnl_exec_arg_t){a, m};
}

/* Append to the forward lists: both, or training / eval only. */
enum { FWD_BOTH, FWD_TRAIN, FWD_EVAL };
static int push_fwd(train_net *n, int which, const step *s)
{
    if (which != FWD_EVAL)
        TRY(push_step(n, &n->fwd_train, s));
    if (which != FWD_TRAIN)
        TRY(push_step(n, &n->fwd_eval, s));
    return 0;
}

/* A reorder step src -> dst into list l (or both forward lists if l NULL). */
static int add_reorder(train_net *n, steplist *l, dnnl_memory_t src, dnnl_memory_t dst)
{
    dnnl_primitive_desc_t pd;
    CK(dop_reorder(&pd, n->eng, mem_md(src), mem_md(dst)), "reorder");
    step s;
    TRY(make_prim(n, pd, "reorder", &s));
    arg(&s, DNNL_ARG_FROM, src);
    arg(&s, DNNL_ARG_TO, dst);
    return l ? push_step(n, l, &s) : push_fwd(n, FWD_BOTH, &s);
}

/* The memory to pass as an input that must have layout want: have itself, or
 * a copy reordered into want by a step added now (to l, or both forward lists). */
static int bind_input(train_net *n, steplist *l, const dnnl_memory_desc_t *want,
                      dnnl_memory_t have, dnnl_memory_t *out)
{
    if (dop_md_equal(want, mem_md(have))) {
        *out = have;
        return 0;
    }
    TRY(new_mem(n, want, out));
    return add_reorder(n, l, have, *out);
}

static int add_binary_step(train_net *n, steplist *l, dnnl_alg_kind_t alg, dnnl_memory_t a,
                           dnnl_memory_t b, dnnl_memory_t dst)
{
    dnnl_primitive_desc_t pd;
    CK(dop_binary(&pd, n->eng, alg, mem_md(a), mem_md(b), mem_md(dst)), "binary");
    step s;
    TRY(make_prim(n, pd, alg == dnnl_binary_add ? "binary add" : "binary mul", &s));
    arg(&s, DNNL_ARG_SRC_0, a);
    arg(&s, DNNL_ARG_SRC_1, b);
    arg(&s, DNNL_ARG_DST, dst);
    return push_step(n, l, &s);
}

/* Gradient delivery. A backward primitive that produces the gradient of
 * layer t's output in layout `want` calls grad_out_begin for the memory to
 * write into, adds its own step, then grad_out_end: the result lands in
 * L[t].ddst (reordered if the layouts differ, added if another consumer
 * already wrote there). */
typedef struct grad_out {
    int target, accumulate;
    dnnl_memory_t mem;  /* what the producer writes */
} grad_out;

static int grad_out_begin(train_net *n, const dnnl_memory_desc_t *want, int t, grad_out *g)
{
    layer *T = &n->L[t];
    g->target = t;
    g->accumulate = T->written;
    T->written = 1;
    if (!g->accumulate && dop_md_equal(want, mem_md(T->ddst))) {
        g->mem = T->ddst;
        return 0;
    }
    return new_mem(n, want, &g->mem);
}

static int grad_out_end(train_net *n, grad_out *g)
{
    layer *T = &n->L[g->target];
    if (g->mem == T->ddst)
        return 0;
    if (!g->accumulate)
        return add_reorder(n, &n->bwd, g->mem, T->ddst);
    dnnl_memory_t m = g->mem;
    if (!dop_md_equal(mem_md(m), mem_md(T->ddst))) {
        TRY(new_mem(n, mem_md(T->ddst), &m));
        TRY(add_reorder(n, &n->bwd, g->mem, m));
    }
    return add_binary_step(n, &n->bwd, dnnl_binary_add, T->ddst, m, T->ddst);
}

/* Deliver an existing gradient memory m to layer t. */
static int grad_route(train_net *n, dnnl_memory_t m, int t)
{
    layer *T = &n->L[t];
    if (!T->written) {
        T->written = 1;
        return add_reorder(n, &n->bwd, m, T->ddst);
    }
    if (!dop_md_equal(mem_md(m), mem_md(T->ddst))) {
        dnnl_memory_t tmp;
        TRY(new_mem(n, mem_md(T->ddst), &tmp));
        TRY(add_reorder(n, &n->bwd, m, tmp));
        m = tmp;
    }
    return add_binary_step(n, &n->bwd, dnnl_binary_add, T->ddst, m, T->ddst);
}

/* ---- parameters ---- */

static int add_param(train_net *n, int node, const char *name, int trainable,
                     const dnnl_memory_desc_t *master, int ndims, const dnnl_dims_t dims, int *idx)
{
    if (n->np == n->capp) {
        int cap = n->capp ? n->capp * 2 : 32;
        param *v = realloc(n->P, sizeof *v * (size_t)cap);
        if (!v)
            return TRAIN_ENOMEM;
        n->P = v;
        n->capp = cap;
    }
    param *p = &n->P[n->np];
    memset(p, 0, sizeof *p);
    p->node = node;
    p->name = name;
    p->trainable = trainable;
    CK(dop_md(&p->plain, ndims, dims, dop_plain_tag(ndims)), "parameter layout");
    p->count = 1;
    for (int i = 0; i < ndims; i++)
        p->count *= dims[i];
    TRY(new_mem(n, master, &p->w));
    if (trainable) {
        TRY(new_mem(n, master, &p->g));
        TRY(new_mem(n, master, &p->v));
    }
    *idx = n->np++;
    return 0;
}

/* Copy between a parameter memory and a plain float array. */
static int copy_plain(train_net *n, dnnl_memory_t m, const dnnl_memory_desc_t *plain, float *buf,
                      int to_plain)
{
    dnnl_memory_t u;
    CK(dnnl_memory_create(&u, plain, n->eng, buf), "memory");
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = to_plain ? dop_reorder(&pd, n->eng, mem_md(m), plain)
                                : dop_reorder(&pd, n->eng, plain, mem_md(m));
    if (st != dnnl_success) {
        dnnl_memory_destroy(u);
        CK(st, "reorder");
    }
    /* user scratchpad mode: give it a private one */
    const dnnl_memory_desc_t *sp = dop_query_md(pd, DNNL_ARG_SCRATCHPAD);
    size_t sz = sp ? dop_md_size(sp) : 0;
    void *sbuf = sz ? malloc(sz) : NULL;
    dnnl_memory_t sm = NULL;
    if (sz)
        dnnl_memory_create(&sm, sp, n->eng, sbuf);
    dnnl_primitive_t p;
    st = dnnl_primitive_create(&p, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, to_plain ? m : u}, {DNNL_ARG_TO, to_plain ? u : m},
                                {DNNL_ARG_SCRATCHPAD, sm}};
        st = dnnl_primitive_execute(p, n->stream, sz ? 3 : 2, a);
        dnnl_stream_wait(n->stream);
        dnnl_primitive_destroy(p);
    }
    if (sm)
        dnnl_memory_destroy(sm);
    free(sbuf);
    dnnl_memory_destroy(u);
    CK(st, "reorder");
    return 0;
}

/* PyTorch's default initialisation: kaiming_uniform_(a=sqrt(5)) gives
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights, the same bound for biases. */
static int init_uniform(train_net *n, int pi, double bound)
{
    param *p = &n->P[pi];
    float *buf = malloc(sizeof(float) * (size_t)p->count);
    if (!buf)
        return TRAIN_ENOMEM;
    for (int64_t i = 0; i < p->count; i++)
        buf[i] = (float)((ds_rand_uniform(&n->init_rng) * 2 - 1) * bound);
    int rc = copy_plain(n, p->w, &p->plain, buf, 0);
    free(buf);
    return rc;
}

static int init_const(train_net *n, int pi, float v)
{
    param *p = &n->P[pi];
    float *buf = malloc(sizeof(float) * (size_t)p->count);
    if (!buf)
        return TRAIN_ENOMEM;
    for (int64_t i = 0; i < p->count; i++)
        buf[i] = v;
    int rc = copy_plain(n, p->w, &p->plain, buf, 0);
    free(buf);
    return rc;
}

/* ---- shapes ---- */

static void dims_of(const graph_shape *s, int batch, dnnl_dims_t d, int *nd)
{
    *nd = s->rank;
    d[0] = batch;
    for (int i = 1; i < s->rank; i++)
        d[i] = s->dim[i];
}

static int md_any(dnnl_memory_desc_t *md, const graph_shape *s, int batch)
{
    dnnl_dims_t d;
    int nd;
    dims_of(s, batch, d, &nd);
    return dop_md(md, nd, d, dnnl_format_tag_any) == dnnl_success ? 0 : TRAIN_EDNNL;
}

static int md_plain(dnnl_memory_desc_t *md, const graph_shape *s, int batch)
{
    dnnl_dims_t d;
    int nd;
    dims_of(s, batch, d, &nd);
    return dop_md(md, nd, d, dop_plain_tag(nd)) == dnnl_success ? 0 : TRAIN_EDNNL;
}

/* Conv / pool geometry, PyTorch conventions; the right padding is grown
 * until oneDNN's output size equals the graph's (ceil_mode). */
static void geometry(const graph_node *gn, const graph_shape *in, dop_conv *c, dnnl_dims_t kernel)
{
    for (int i = 0; i < 2; i++) {
        int64_t H = in->dim[2 + i], O = gn->shape.dim[2 + i];
        c->stride[i] = gn->a.stride[i] > 0 ? gn->a.stride[i] : gn->a.kernel[i];
        c->dilation[i] = gn->a.dilation[i] > 0 ? gn->a.dilation[i] : 1;
        c->pad_l[i] = gn->a.padding[i];
        kernel[i] = gn->a.kernel[i];
        int64_t ext = (kernel[i] - 1) * c->dilation[i] + 1;
        c->pad_r[i] = c->pad_l[i];
        while ((H + c->pad_l[i] + c->pad_r[i] - ext) / c->stride[i] + 1 < O)
            c->pad_r[i]++;
        while (c->pad_r[i] > -c->pad_l[i] &&
               (H + c->pad_l[i] + c->pad_r[i] - ext) / c->stride[i] + 1 > O)
            c->pad_r[i]--;
    }
}

/* ---- forward compilation, one function per op family ---- */

static const graph_shape *in_shape(train_net *n, int k, int j)
{
    return &n->g->nodes[n->L[k].in[j]].shape;
}

static int fwd_input(train_net *n, int k)
{
    dnnl_memory_desc_t md;
    TRY(md_plain(&md, &n->g->nodes[k].shape, n->batch));
    TRY(new_mem(n, &md, &n->L[k].dst));
    n->input = mem_ptr(n->L[k].dst);
    return 0;
}

static int fwd_conv_or_linear(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    const graph_shape *is = in_shape(n, k, 0);
    int conv = gn->op == GRAPH_OP_CONV2D, G = conv && gn->a.groups > 1 ? gn->a.groups : 1;
    dnnl_memory_desc_t src, wei, bias, dst;
    TRY(md_any(&src, is, n->batch));
    TRY(md_any(&dst, &gn->shape, n->batch));
    dnnl_dims_t wd;
    int wnd;
    int64_t O = gn->a.out, I = is->dim[1];
    if (conv && G > 1) {
        wnd = 5;
        wd[0] = G, wd[1] = O / G, wd[2] = I / G, wd[3] = gn->a.kernel[0], wd[4] = gn->a.kernel[1];
    } else if (conv) {
        wnd = 4;
        wd[0] = O, wd[1] = I, wd[2] = gn->a.kernel[0], wd[3] = gn->a.kernel[1];
    } else {
        wnd = 2;
        wd[0] = O, wd[1] = I;
    }
    CK(dop_md(&wei, wnd, wd, dnnl_format_tag_any), "weights layout");
    dnnl_dims_t bd = {O};
    CK(dop_md(&bias, 1, bd, dnnl_a), "bias layout");
    dnnl_primitive_desc_t pd;
    if (conv) {
        dnnl_dims_t kernel;
        geometry(gn, is, &Lk->geo, kernel);
        CK(dop_conv_fwd(&pd, n->eng, &src, &wei, gn->a.bias ? &bias : NULL, &dst, &Lk->geo),
           "convolution forward");
    } else {
        CK(dop_ip_fwd(&pd, n->eng, &src, &wei, gn->a.bias ? &bias : NULL, &dst),
           "inner product forward");
    }
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(bind_input(n, NULL, dop_query_md(pd, DNNL_ARG_SRC), n->L[Lk->in[0]].dst, &Lk->src_bound));
    TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    dnnl_memory_desc_t wmaster = *dop_query_md(pd, DNNL_ARG_WEIGHTS);
    TRY(add_param(n, k, "weight", 1, &wmaster, wnd, wd, &Lk->p[0]));
    int64_t fan_in = I / G * (conv ? gn->a.kernel[0] * gn->a.kernel[1] : 1);
    double bound = 1.0 / sqrt((double)fan_in);
    TRY(init_uniform(n, Lk->p[0], bound));
    Lk->p[1] = -1;
    if (gn->a.bias) {
        TRY(add_param(n, k, "bias", 1, &bias, 1, bd, &Lk->p[1]));
        TRY(init_uniform(n, Lk->p[1], bound));
    }
    step s;
    TRY(make_prim(n, pd, conv ? "conv fwd" : "ip fwd", &s));
    arg(&s, DNNL_ARG_SRC, Lk->src_bound);
    arg(&s, DNNL_ARG_WEIGHTS, n->P[Lk->p[0]].w);
    if (gn->a.bias)
        arg(&s, DNNL_ARG_BIAS, n->P[Lk->p[1]].w);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    return push_fwd(n, FWD_BOTH, &s);
}

static void step_bn_running(train_net *n, step *s)
{
    layer *Lk = &n->L[s->node];
    const graph_node *gn = &n->g->nodes[s->node];
    double m = gn->a.momentum > 0 ? gn->a.momentum : 0.1;
    const float *mean = mem_ptr(Lk->mean), *var = mem_ptr(Lk->var);
    float *rm = mem_ptr(n->P[Lk->p[2]].w), *rv = mem_ptr(n->P[Lk->p[3]].w);
    double cnt = (double)n->batch * (double)(gn->shape.rank == 4 ? gn->shape.dim[2] * gn->shape.dim[3] : 1);
    double unbias = cnt > 1 ? cnt / (cnt - 1) : 1;
    for (int64_t c = 0; c < gn->shape.dim[1]; c++) {
        rm[c] = (float)((1 - m) * rm[c] + m * mean[c]);
        rv[c] = (float)((1 - m) * rv[c] + m * var[c] * unbias);
    }
}

static int fwd_bn(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    float eps = (float)(gn->a.eps > 0 ? gn->a.eps : 1e-5);
    dnnl_primitive_desc_t pd, ipd;
    CK(dop_bn_fwd(&pd, n->eng, mem_md(src), eps, 1, Lk->fuse_relu), "batch norm forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    dnnl_dims_t cd = {gn->shape.dim[1]};
    dnnl_memory_desc_t cmd;
    CK(dop_md(&cmd, 1, cd, dnnl_a), "layout");
    TRY(new_mem(n, &cmd, &Lk->mean));
    TRY(new_mem(n, &cmd, &Lk->var));
    TRY(add_param(n, k, "weight", 1, &cmd, 1, cd, &Lk->p[0]));
    TRY(add_param(n, k, "bias", 1, &cmd, 1, cd, &Lk->p[1]));
    TRY(add_param(n, k, "running_mean", 0, &cmd, 1, cd, &Lk->p[2]));
    TRY(add_param(n, k, "running_var", 0, &cmd, 1, cd, &Lk->p[3]));
    TRY(init_const(n, Lk->p[0], 1));
    TRY(init_const(n, Lk->p[3], 1));
    if (Lk->fuse_relu)
        TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_WORKSPACE), &Lk->ws));
    step s;
    TRY(make_prim(n, pd, "bnorm fwd", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    arg(&s, DNNL_ARG_MEAN, Lk->mean);
    arg(&s, DNNL_ARG_VARIANCE, Lk->var);
    arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    if (Lk->ws)
        arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    TRY(push_fwd(n, FWD_TRAIN, &s));
    step r = {.fn = step_bn_running, .node = k};
    TRY(push_fwd(n, FWD_TRAIN, &r));

    CK(dop_bn_fwd(&ipd, n->eng, mem_md(src), eps, 0, Lk->fuse_relu), "batch norm inference");
    TRY(make_prim(n, ipd, "bnorm inf", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    arg(&s, DNNL_ARG_MEAN, n->P[Lk->p[2]].w);
    arg(&s, DNNL_ARG_VARIANCE, n->P[Lk->p[3]].w);
    arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    return push_fwd(n, FWD_EVAL, &s);
}

static int eltwise_alg(const graph_node *gn, dnnl_alg_kind_t *alg, float *alpha)
{
    *alpha = 0;
    switch (gn->op) {
    case GRAPH_OP_RELU: *alg = dnnl_eltwise_relu; return 0;
    case GRAPH_OP_LEAKYRELU: *alg = dnnl_eltwise_relu; *alpha = (float)gn->a.negative_slope; return 0;
    case GRAPH_OP_GELU: *alg = gn->a.approximate_tanh ? dnnl_eltwise_gelu_tanh : dnnl_eltwise_gelu_erf; return 0;
    case GRAPH_OP_SILU: *alg = dnnl_eltwise_swish; *alpha = 1; return 0;
    case GRAPH_OP_SIGMOID: *alg = dnnl_eltwise_logistic; return 0;
    case GRAPH_OP_TANH: *alg = dnnl_eltwise_tanh; return 0;
    case GRAPH_OP_HARDSWISH: *alg = dnnl_eltwise_hardswish; return 0;
    default: return TRAIN_EUNSUPPORTED;
    }
}

static int fwd_eltwise(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    dnnl_alg_kind_t alg;
    float alpha;
    TRY(eltwise_alg(&n->g->nodes[k], &alg, &alpha));
    dnnl_primitive_desc_t pd;
    CK(dop_eltwise_fwd(&pd, n->eng, alg, mem_md(src), alpha, 0), "eltwise forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    step s;
    TRY(make_prim(n, pd, "eltwise fwd", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    return push_fwd(n, FWD_BOTH, &s);
}

static dnnl_alg_kind_t pool_alg(const graph_node *gn, const layer *Lk)
{
    if (gn->op == GRAPH_OP_MAXPOOL2D)
        return dnnl_pooling_max;
    if (gn->op == GRAPH_OP_AVGPOOL2D && gn->a.count_include_pad && !Lk->avg_exclude)
        return dnnl_pooling_avg_include_padding;
    return dnnl_pooling_avg_exclude_padding;
}

static int fwd_pool(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    const graph_shape *is = in_shape(n, k, 0);
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    dnnl_dims_t kernel;
    if (gn->op == GRAPH_OP_ADAPTIVEAVGPOOL2D) {
        Lk->geo = (dop_conv){.stride = {1, 1}, .dilation = {1, 1}};
        kernel[0] = is->dim[2];
        kernel[1] = is->dim[3];
    } else {
        graph_node g2 = *gn;
        if (gn->op == GRAPH_OP_AVGPOOL2D)
            g2.a.dilation[0] = g2.a.dilation[1] = 1;
        geometry(&g2, is, &Lk->geo, kernel);
    }
    memcpy(Lk->kernel, kernel, sizeof kernel);
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
    TRY(md_any(&dst, &gn->shape, n->batch));
    dnnl_alg_kind_t alg = pool_alg(gn, Lk);
    dnnl_primitive_desc_t pd, ipd;
    CK(dop_pool_fwd(&pd, n->eng, alg, mem_md(src), &dst, kernel, &Lk->geo, 1), "pooling forward");
    dnnl_primitive_desc_clone(&Lk->fpd, pd);
    TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    const dnnl_memory_desc_t *ws = dop_query_md(pd, DNNL_ARG_WORKSPACE);
    if (ws && dop_md_size(ws) > 0)
        TRY(new_mem(n, ws, &Lk->ws));
    step s;
    TRY(make_prim(n, pd, "pool fwd", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    if (Lk->ws)
        arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    if (!Lk->ws)
        return push_fwd(n, FWD_BOTH, &s);
    TRY(push_fwd(n, FWD_TRAIN, &s));
    /* Inference max pooling needs no workspace and is several times cheaper. */
    CK(dop_pool_fwd(&ipd, n->eng, alg, mem_md(src), mem_md(Lk->dst), kernel, &Lk->geo, 0),
       "pooling inference");
    TRY(make_prim(n, ipd, "pool inf", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    return push_fwd(n, FWD_EVAL, &s);
}

static int fwd_flatten(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_shape *is = in_shape(n, k, 0);
    dnnl_memory_desc_t plain, flat;
    TRY(md_plain(&plain, is, n->batch));
    TRY(md_plain(&flat, &n->g->nodes[k].shape, n->batch));
    dnnl_memory_t p;
    TRY(bind_input(n, NULL, &plain, n->L[Lk->in[0]].dst, &p));
    return view_mem(n, &flat, p, &Lk->dst);
}

static void step_dropout_fwd(train_net *n, step *s)
{
    layer *Lk = &n->L[s->node];
    double p = n->g->nodes[s->node].a.p;
    float keep = (float)(1.0 / (1.0 - p));
    const float *x = mem_ptr(n->L[Lk->in[0]].dst);
    float *y = mem_ptr(Lk->dst), *m = mem_ptr(Lk->mask);
    size_t cnt = dop_md_size(mem_md(Lk->dst)) / sizeof(float);
    uint64_t threshold = (uint64_t)(p * 18446744073709551616.0);
    for (size_t i = 0; i < cnt; i++) {
        if (!n->drop_frozen)
            m[i] = ds_rand(&n->drop_rng) >= threshold ? keep : 0.0f;
        y[i] = x[i] * m[i];
    }
}

static void step_mul_plain(train_net *n, step *s)
{
    /* dst = a * mask element-wise, over equal layouts */
    const float *a = mem_ptr(s->args[0].memory), *m = mem_ptr(s->args[1].memory);
    float *d = mem_ptr(s->args[2].memory);
    size_t cnt = dop_md_size(mem_md(s->args[2].memory)) / sizeof(float);
    (void)n;
    for (size_t i = 0; i < cnt; i++)
        d[i] = a[i] * m[i];
}

static int fwd_dropout(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_t src = n->L[Lk->in[0]].dst;
    TRY(new_mem(n, mem_md(src), &Lk->dst));
    TRY(new_mem(n, mem_md(src), &Lk->mask));
    step s = {.fn = step_dropout_fwd, .node = k};
    TRY(push_fwd(n, FWD_TRAIN, &s));
    return add_reorder(n, &n->fwd_eval, src, Lk->dst);
}

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

static int fwd_binary(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int a, b;
    TRY(binary_order(n, k, &a, &b));
    dnnl_alg_kind_t alg = n->g->nodes[k].op == GRAPH_OP_ADD ? dnnl_binary_add : dnnl_binary_mul;
    dnnl_memory_desc_t dst = *mem_md(n->L[a].dst);
    TRY(new_mem(n, &dst, &Lk->dst));
    dnnl_primitive_desc_t pd;
    CK(dop_binary(&pd, n->eng, alg, mem_md(n->L[a].dst), mem_md(n->L[b].dst), &dst), "binary");
    step s;
    TRY(make_prim(n, pd, alg == dnnl_binary_add ? "binary add" : "binary mul", &s));
    arg(&s, DNNL_ARG_SRC_0, n->L[a].dst);
    arg(&s, DNNL_ARG_SRC_1, n->L[b].dst);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    return push_fwd(n, FWD_BOTH, &s);
}

static int fwd_cat(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int m = Lk->nin;
    dnnl_memory_desc_t *srcs = malloc(sizeof *srcs * (size_t)m), dst;
    if (!srcs)
        return TRAIN_ENOMEM;
    for (int j = 0; j < m; j++)
        srcs[j] = *mem_md(n->L[Lk->in[j]].dst);
    int rc = md_any(&dst, &n->g->nodes[k].shape, n->batch);
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = rc ? dnnl_invalid_arguments : dop_concat(&pd, n->eng, &dst, m, 1, srcs);
    free(srcs);
    CK(st, "concat");
    TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DST), &Lk->dst));
    step s;
    TRY(make_prim(n, pd, "concat", &s));
    if (m + 2 > STEP_MAX_ARGS) {
        rt_fmt(n->err, sizeof n->err, "node %d (Cat): at most %d inputs", k, STEP_MAX_ARGS - 2);
        return TRAIN_EUNSUPPORTED;
    }
    for (int j = 0; j < m; j++)
        arg(&s, DNNL_ARG_MULTIPLE_SRC + j, n->L[Lk->in[j]].dst);
    arg(&s, DNNL_ARG_DST, Lk->dst);
    return push_fwd(n, FWD_BOTH, &s);
}

/* ---- backward compilation (reverse node order) ---- */

static int bwd_conv_or_linear(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    int conv = gn->op == GRAPH_OP_CONV2D, in = Lk->in[0];
    param *W = &n->P[Lk->p[0]], *B = Lk->p[1] >= 0 ? &n->P[Lk->p[1]] : NULL;
    dnnl_memory_desc_t any_w, any_src;
    TRY(md_any(&any_src, in_shape(n, k, 0), n->batch));
    any_w = *mem_md(W->w);
    any_w.format_kind = dnnl_format_kind_any;
    dnnl_memory_desc_t wany;
    CK(dop_md(&wany, any_w.ndims, any_w.dims, dnnl_format_tag_any), "layout");
    dnnl_primitive_desc_t pd;
    step s;
    /* weights (and bias) gradient */
    if (conv)
        CK(dop_conv_bwd_weights(&pd, n->eng, &any_src, &wany, B ? mem_md(B->g) : NULL,
                                mem_md(Lk->ddst), &Lk->geo, Lk->fpd), "conv backward weights");
    else
        CK(dop_ip_bwd_weights(&pd, n->eng, &any_src, &wany, B ? mem_md(B->g) : NULL,
                              mem_md(Lk->ddst), Lk->fpd), "ip backward weights");
    dnnl_memory_t src, ddst, dw = W->g;
    TRY(bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_SRC),
                   dop_md_equal(dop_query_md(pd, DNNL_ARG_SRC), mem_md(Lk->src_bound))
                       ? Lk->src_bound : n->L[in].dst, &src));
    TRY(bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_DIFF_DST), Lk->ddst, &ddst));
    int reorder_dw = !dop_md_equal(dop_query_md(pd, DNNL_ARG_DIFF_WEIGHTS), mem_md(W->g));
    if (reorder_dw)
        TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DIFF_WEIGHTS), &dw));
    TRY(make_prim(n, pd, conv ? "conv bwd weights" : "ip bwd weights", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DIFF_DST, ddst);
    arg(&s, DNNL_ARG_DIFF_WEIGHTS, dw);
    if (B)
        arg(&s, DNNL_ARG_DIFF_BIAS, B->g);
    TRY(push_step(n, &n->bwd, &s));
    if (reorder_dw)
        TRY(add_reorder(n, &n->bwd, dw, W->g));
    if (!n->L[in].need_grad)
        return 0;  /* e.g. the first layer: its input needs no gradient */
    /* data gradient */
    if (conv)
        CK(dop_conv_bwd_data(&pd, n->eng, &any_src, &wany, mem_md(Lk->ddst), &Lk->geo, Lk->fpd),
           "conv backward data");
    else
        CK(dop_ip_bwd_data(&pd, n->eng, &any_src, &wany, mem_md(Lk->ddst), Lk->fpd),
           "ip backward data");
    dnnl_memory_t w;
    TRY(bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_WEIGHTS), W->w, &w));
    TRY(bind_input(n, &n->bwd, dop_query_md(pd, DNNL_ARG_DIFF_DST), Lk->ddst, &ddst));
    grad_out go;
    TRY(grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    TRY(make_prim(n, pd, conv ? "conv bwd data" : "ip bwd data", &s));
    arg(&s, DNNL_ARG_DIFF_DST, ddst);
    arg(&s, DNNL_ARG_WEIGHTS, w);
    arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    TRY(push_step(n, &n->bwd, &s));
    return grad_out_end(n, &go);
}

static int bwd_bn(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    int in = Lk->in[0];
    dnnl_memory_t src = n->L[in].dst;
    float eps = (float)(gn->a.eps > 0 ? gn->a.eps : 1e-5);
    dnnl_primitive_desc_t pd;
    CK(dop_bn_bwd(&pd, n->eng, mem_md(Lk->ddst), mem_md(src), eps, Lk->fuse_relu, Lk->fpd),
       "batch norm backward");
    grad_out go;
    dnnl_memory_t dsrc;
    int deliver = n->L[in].need_grad;
    if (deliver) {
        TRY(grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
        dsrc = go.mem;
    } else {
        TRY(new_mem(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), &dsrc));
    }
    step s;
    TRY(make_prim(n, pd, "bnorm bwd", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_MEAN, Lk->mean);
    arg(&s, DNNL_ARG_VARIANCE, Lk->var);
    arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    arg(&s, DNNL_ARG_SCALE, n->P[Lk->p[0]].w);
    arg(&s, DNNL_ARG_SHIFT, n->P[Lk->p[1]].w);
    if (Lk->ws)
        arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    arg(&s, DNNL_ARG_DIFF_SRC, dsrc);
    arg(&s, DNNL_ARG_DIFF_SCALE, n->P[Lk->p[0]].g);
    arg(&s, DNNL_ARG_DIFF_SHIFT, n->P[Lk->p[1]].g);
    TRY(push_step(n, &n->bwd, &s));
    return deliver ? grad_out_end(n, &go) : 0;
}

static int bwd_eltwise(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int in = Lk->in[0];
    dnnl_alg_kind_t alg;
    float alpha;
    TRY(eltwise_alg(&n->g->nodes[k], &alg, &alpha));
    dnnl_primitive_desc_t pd;
    CK(dop_eltwise_bwd(&pd, n->eng, alg, mem_md(Lk->ddst), mem_md(n->L[in].dst), alpha, 0, Lk->fpd),
       "eltwise backward");
    grad_out go;
    TRY(grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    step s;
    TRY(make_prim(n, pd, "eltwise bwd", &s));
    arg(&s, DNNL_ARG_SRC, n->L[in].dst);
    arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    TRY(push_step(n, &n->bwd, &s));
    return grad_out_end(n, &go);
}

static int bwd_pool(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    int in = Lk->in[0];
    dnnl_primitive_desc_t pd;
    CK(dop_pool_bwd(&pd, n->eng, pool_alg(&n->g->nodes[k], Lk), mem_md(n->L[in].dst), mem_md(Lk->ddst),
                    Lk->kernel, &Lk->geo, Lk->fpd), "pooling backward");
    grad_out go;
    TRY(grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DIFF_SRC), in, &go));
    step s;
    TRY(make_prim(n, pd, "pool bwd", &s));
    arg(&s, DNNL_ARG_DIFF_DST, Lk->ddst);
    arg(&s, DNNL_ARG_DIFF_SRC, go.mem);
    if (Lk->ws)
        arg(&s, DNNL_ARG_WORKSPACE, Lk->ws);
    TRY(push_step(n, &n->bwd, &s));
    return grad_out_end(n, &go);
}

static int bwd_flatten(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    dnnl_memory_desc_t plain;
    TRY(md_plain(&plain, in_shape(n, k, 0), n->batch));
    dnnl_memory_t v;
    TRY(view_mem(n, &plain, Lk->ddst, &v));
    return grad_route(n, v, Lk->in[0]);
}

static int bwd_dropout(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    grad_out go;
    TRY(grad_out_begin(n, mem_md(Lk->ddst), Lk->in[0], &go));
    step s = {.fn = step_mul_plain, .node = k, .nargs = 3};
    s.args[0].memory = Lk->ddst;
    s.args[1].memory = Lk->mask;
    s.args[2].memory = go.mem;
    TRY(push_step(n, &n->bwd, &s));
    return grad_out_end(n, &go);
}

/* Sum src over the dimensions where target layer t broadcasts, into t's gradient. */
static int reduce_into(train_net *n, dnnl_memory_t src, int t)
{
    dnnl_memory_desc_t dst;
    TRY(md_plain(&dst, &n->g->nodes[t].shape, n->batch));
    dnnl_primitive_desc_t pd;
    CK(dop_reduce_sum(&pd, n->eng, mem_md(src), &dst), "reduction");
    grad_out go;
    TRY(grad_out_begin(n, dop_query_md(pd, DNNL_ARG_DST), t, &go));
    step s;
    TRY(make_prim(n, pd, "reduction", &s));
    arg(&s, DNNL_ARG_SRC, src);
    arg(&s, DNNL_ARG_DST, go.mem);
    TRY(push_step(n, &n->bwd, &s));
    return grad_out_end(n, &go);
}

static int same_dims(train_net *n, int a, int b)
{
    const graph_shape *x = &n->g->nodes[a].shape, *y = &n->g->nodes[b].shape;
    for (int i = 1; i < x->rank; i++)
        if (x->dim[i] != y->dim[i])
            return 0;
    return 1;
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
            TRY(grad_route(n, Lk->ddst, a));
        } else {
            grad_out go;
            TRY(grad_out_begin(n, mem_md(Lk->ddst), a, &go));
            TRY(add_binary_step(n, &n->bwd, dnnl_binary_mul, Lk->ddst, n->L[b].dst, go.mem));
            TRY(grad_out_end(n, &go));
        }
    }
    if (!n->L[b].need_grad)
        return 0;
    dnnl_memory_t g = Lk->ddst;
    if (!add) {
        TRY(new_mem(n, mem_md(Lk->ddst), &g));
        TRY(add_binary_step(n, &n->bwd, dnnl_binary_mul, Lk->ddst, n->L[a].dst, g));
    }
    if (same_dims(n, b, k))
        return grad_route(n, g, b);
    return reduce_into(n, g, b);
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
            if (dop_submemory(&sub, mem_md(base), d, o) != dnnl_success ||
                dop_reorder(&pd, n->eng, &sub, mem_md(n->L[Lk->in[j]].ddst ? n->L[Lk->in[j]].ddst : base)) != dnnl_success)
                ok = 0;
            else
                dnnl_primitive_desc_destroy(pd);
        }
        if (ok || pass == 1)
            break;
        dnnl_memory_desc_t plain;
        TRY(md_plain(&plain, os, n->batch));
        TRY(new_mem(n, &plain, &base));
        TRY(add_reorder(n, &n->bwd, Lk->ddst, base));
    }
    int64_t off = 0;
    for (int j = 0; j < Lk->nin; j++) {
        const graph_shape *is = in_shape(n, k, j);
        dnnl_dims_t d = {n->batch, is->dim[1], os->dim[2], os->dim[3]}, o = {0, off, 0, 0};
        off += is->dim[1];
        if (!n->L[Lk->in[j]].need_grad)
            continue;
        dnnl_memory_desc_t sub;
        CK(dop_submemory(&sub, mem_md(base), d, o), "sub-memory");
        dnnl_memory_t v;
        TRY(view_mem(n, &sub, base, &v));
        TRY(grad_route(n, v, Lk->in[j]));
    }
    return 0;
}

/* ---- the loss ---- */

static int compile_loss(train_net *n)
{
    int o = n->out;
    dnnl_memory_desc_t plain;
    TRY(md_plain(&plain, &n->g->nodes[n->g->output].shape, n->batch));
    TRY(bind_input(n, NULL, &plain, n->L[o].dst, &n->logits));
    if (!n->L[o].need_grad)
        return 0;
    n->L[o].written = 1;
    if (dop_md_equal(&plain, mem_md(n->L[o].ddst))) {
        n->dlogits = n->L[o].ddst;
        return 0;
    }
    TRY(new_mem(n, &plain, &n->dlogits));
    return add_reorder(n, &n->bwd, n->dlogits, n->L[o].ddst);
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
        if (gn->op == GRAPH_OP_IDENTITY || (gn->op == GRAPH_OP_DROPOUT && gn->a.p <= 0) ||
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
            if (g->nodes[b].op == GRAPH_OP_BATCHNORM2D && uses[b] == 1 && b != n->out &&
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
        graph_op op = g->nodes[k].op;
        Lk->need_grad = op == GRAPH_OP_CONV2D || op == GRAPH_OP_LINEAR || op == GRAPH_OP_BATCHNORM2D;
        for (int j = 0; j < Lk->nin; j++)
            Lk->need_grad |= n->L[Lk->in[j]].need_grad;
    }
    return 0;
}

static int compile_fwd(train_net *n, int k)
{
    switch (n->g->nodes[k].op) {
    case GRAPH_OP_INPUT: return fwd_input(n, k);
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_LINEAR: return fwd_conv_or_linear(n, k);
    case GRAPH_OP_BATCHNORM2D: return fwd_bn(n, k);
    case GRAPH_OP_RELU: case GRAPH_OP_LEAKYRELU: case GRAPH_OP_GELU: case GRAPH_OP_SILU:
    case GRAPH_OP_SIGMOID: case GRAPH_OP_TANH: case GRAPH_OP_HARDSWISH: return fwd_eltwise(n, k);
    case GRAPH_OP_MAXPOOL2D: case GRAPH_OP_AVGPOOL2D:
    case GRAPH_OP_ADAPTIVEAVGPOOL2D: return fwd_pool(n, k);
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

static int compile_bwd(train_net *n, int k)
{
    switch (n->g->nodes[k].op) {
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_LINEAR: return bwd_conv_or_linear(n, k);
    case GRAPH_OP_BATCHNORM2D: return bwd_bn(n, k);
    case GRAPH_OP_RELU: case GRAPH_OP_LEAKYRELU: case GRAPH_OP_GELU: case GRAPH_OP_SILU:
    case GRAPH_OP_SIGMOID: case GRAPH_OP_TANH: case GRAPH_OP_HARDSWISH: return bwd_eltwise(n, k);
    case GRAPH_OP_MAXPOOL2D: case GRAPH_OP_AVGPOOL2D:
    case GRAPH_OP_ADAPTIVEAVGPOOL2D: return bwd_pool(n, k);
    case GRAPH_OP_FLATTEN: return bwd_flatten(n, k);
    case GRAPH_OP_DROPOUT: return bwd_dropout(n, k);
    case GRAPH_OP_ADD: case GRAPH_OP_MUL: return bwd_binary(n, k);
    case GRAPH_OP_CAT: return bwd_cat(n, k);
    default: return 0;
    }
}

static int build(train_net *n, const train_net_opts *o)
{
    const graph *g = n->g;
    TRY(plan(n, o));
    for (int k = 0; k < g->n; k++) {
        if (n->L[k].alias != k)
            continue;
        n->cur = k;
        n->cur_name = graph_op_name(g->nodes[k].op);
        TRY(compile_fwd(n, k));
    }
    /* gradient buffers in the forward layouts */
    for (int k = 0; k < g->n; k++)
        if (n->L[k].alias == k && n->L[k].need_grad && k != 0)
            TRY(new_mem(n, mem_md(n->L[k].dst), &n->L[k].ddst));
    n->cur = g->output;
    n->cur_name = "loss";
    TRY(compile_loss(n));
    for (int k = g->n - 1; k > 0; k--) {
        if (n->L[k].alias != k || !n->L[k].need_grad)
            continue;
        n->cur = k;
        n->cur_name = graph_op_name(g->nodes[k].op);
        TRY(compile_bwd(n, k));
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
    train_net_opts defaults = {.seed = 43, .fuse = 1};
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
    return run(n, training ? &n->fwd_train : &n->fwd_eval);
}

int train_net_backward(train_net *n)
{
    return run(n, &n->bwd);
}

int train_net_loss(train_net *n, const int32_t *y, int rows, int grad, double *loss, int *correct)
{
    const float *z = mem_ptr(n->logits);
    float *dz = grad && n->dlogits ? mem_ptr(n->dlogits) : NULL;
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
        double sum = 0;
        for (int c = 0; c < K; c++)
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
    for (int i = 0; i < n->np; i++) {
        param *p = &n->P[i];
        if (!p->trainable)
            continue;
        float *w = mem_ptr(p->w), *g = mem_ptr(p->g), *v = mem_ptr(p->v);
        long cnt = (long)(dop_md_size(mem_md(p->w)) / sizeof(float));
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
    return copy_plain(n, grad ? n->P[i].g : n->P[i].w, &n->P[i].plain, out, 1);
}

int train_net_param_set(train_net *n, int i, const float *in)
{
    if (i < 0 || i >= n->np)
        return TRAIN_EARG;
    return copy_plain(n, n->P[i].w, &n->P[i].plain, (float *)in, 0);
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
    TRY(md_plain(&plain, &n->g->nodes[node].shape, n->batch));
    return copy_plain(n, m, &plain, out, 1);
}
