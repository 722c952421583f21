/*
 * train_plan.h — the plan of a compiled net (train_plan.c): the per-net
 * structure, its buffers, step lists, reorders, gradient delivery and
 * parameters. The op compilers (train_ops.h) and the lifecycle (train_net.c)
 * both build on it, and it calls neither: train_net -> train_ops ->
 * train_plan, train_net -> train_plan. For the trainer and white-box tests
 * only; the API is train.h. Helpers return 0 or a TRAIN_E* code with n->err
 * set (naming the node being compiled, n->cur / n->cur_name).
 *
 * Shape legend (here, in train_ops.c, train_pool.c, train_fold.c and
 * train_net.c; one meaning per letter):
 *   B   batch: the images of one step (n->batch)
 *   C   channels of a [B, C, H, W] activation, or features of a [B, C] one;
 *       for a Conv2d or Linear, its input's
 *   H W height and width of an activation; OH OW those of an op's output
 *   F   a Conv2d's or Linear's output channels / features (its weight's
 *       first dimension)
 *   G   a grouped Conv2d's groups
 *   kH kW a window's (kernel's) height and width
 *   K   classes: the logits are [B, K]
 *   b   the channel block of a blocked layout (aBcd16b: [B][C/b][H][W][b])
 * A shape in brackets is logical, PyTorch's order; the memory's layout is
 * whatever the primitive chose ("any") unless the comment says plain.
 */
#ifndef LLMNAS_TRAIN_PLAN_H
#define LLMNAS_TRAIN_PLAN_H

#include <stdint.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "train/dnnl_ops.h"
#include "train/train.h"

#define STEP_MAX_ARGS 16

typedef struct train_net train_net;

/* One unit of work: a primitive with its arguments, or a C function. */
typedef struct step {
    dnnl_primitive_t prim;
    void (*fn)(train_net *n, struct step *s);
    int node;
    int nargs;
    dnnl_exec_arg_t args[STEP_MAX_ARGS];
} step;

typedef struct steplist {
    step *v;
    int n, cap;
} steplist;

/* A parameter: master copy in the forward primitive's layout; gradient and
 * momentum in the same layout. Shapes: a Conv2d weight [F, C/G, kH, kW], a
 * Linear weight [F, C], their bias [F]; a norm's weight, bias, running_mean
 * and running_var [C]; PReLU's weight [1, C, 1, 1] (or all ones). */
typedef struct param {
    int node;
    const char *name;          /* PyTorch's: "weight", "bias", "running_mean", ... */
    int trainable;             /* 0: BN running statistics (no g, v) */
    int64_t count;             /* elements of the shape above */
    dnnl_memory_desc_t plain;  /* the shape above in PyTorch's (plain) layout */
    dnnl_memory_t w, g, v;     /* fp32 master, its gradient, its momentum */
} param;

typedef struct layer {
    int alias;          /* the layer that owns this node's output (itself if not an alias) */
    int nin, *in;       /* inputs, already resolved through aliases */
    int need_grad;      /* this output needs a gradient (parameters upstream) */
    int written;        /* backward compile: a consumer already delivers into ddst */
    int fuse_relu;      /* BatchNorm with its ReLU fused */
    int avg_exclude;    /* AvgPool2d: PyTorch's divisor is the valid count here */
    int c_pool;         /* MaxPool2d run by train_pool.c, not oneDNN (ws: window indices) */
    dnnl_memory_t dst, ddst;        /* output and its gradient, same layout: the node's
                                       shape at batch B ([B, C, H, W] or [B, C]) */
    dnnl_memory_t src_bound;        /* the input as the forward primitive reads it (the
                                       input's shape, maybe another layout) */
    dnnl_memory_t wlow;             /* bf16 nets: the weights in bf16, converted from the
                                       fp32 master at the start of each forward */
    dnnl_memory_t ws;               /* workspace: max pool's window indices (the output's
                                       shape), fused BN+ReLU's mask (the output's) */
    dnnl_memory_t mean, var;        /* batch statistics: BatchNorm [C]; LayerNorm one per
                                       normalised row, [B] or [B*H*W] */
    dnnl_memory_t mask;             /* dropout's fp32 scale per element (the output's shape) */
    dnnl_primitive_desc_t fpd;      /* forward pd, the hint for backward */
    dop_conv geo;                   /* conv / pool stride, dilation, padding (H, W) */
    dnnl_dims_t kernel;             /* pool window kH, kW */
    int p[4];           /* parameter indices, -1 = none */
} layer;

struct train_net {
    const graph *g;     /* borrowed: must outlive the net */
    int batch, classes; /* B, K */
    int nlayers, out;   /* layers (one per graph node); the layer owning the logits */
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    layer *L;
    param *P;
    int np, capp;
    steplist fwd_train, fwd_eval, bwd;
    dnnl_primitive_t *prims;
    int nprims, capprims;
    dnnl_memory_t *mems;
    int nmems, capmems;
    dnnl_memory_t *scratch;
    int nscratch, capscratch;
    size_t scratch_size, bytes;  /* the largest scratchpad; bytes allocated */
    void *scratch_buf;  /* scratch_size bytes, shared by every primitive */
    dnnl_memory_t logits, dlogits;  /* [B, K] plain fp32 */
    float *input;       /* [B, C, H, W] plain fp32: the batch the caller fills */
    uint64_t init_rng, drop_rng;
    int stepped, ref_impls;
    uint64_t version;   /* bumped whenever parameters or BN running statistics change */
    int winograd;
    int bf16;           /* mixed precision (train_net_opts.bf16) */
    dnnl_data_type_t act;  /* activations and their gradients: dnnl_bf16 or dnnl_f32 */
    int drop_frozen;    /* tests: reuse the last dropout masks (finite differences) */
    int onednn_only;    /* train_net_opts.onednn_only */
    /* Activations, gradients and temporaries get memory once the step lists
     * are known, shared between buffers whose lifetimes (in forward-train +
     * backward, and in forward-eval) do not overlap. */
    int defer;
    struct deferred { dnnl_memory_t m, base; size_t size; int first, last, efirst, elast, block; } *dm;
    int ndm, capdm;
    void **blocks;
    int nblocks;
    int cur;
    const char *cur_name;
    char impls[4096];
    char err[512];
};

/* ---- building the plan (train_plan.c) ---- */

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

enum { FWD_BOTH, FWD_TRAIN, FWD_EVAL };

/* Gradient delivery. A backward primitive that produces the gradient of
 * layer t's output in layout `want` calls grad_out_begin for the memory to
 * write into, adds its own step, then grad_out_end: the result lands in
 * L[t].ddst (reordered if the layouts differ, added if another consumer
 * already wrote there). */
typedef struct tn_grad_out {
    int target, accumulate;
    dnnl_memory_t mem;  /* what the producer writes */
} tn_grad_out;

/* ---- buffers ---- */

/* A new buffer of layout md into *out, owned by the net (freed by
 * train_net_free). While the net is being built (n->defer) it gets no memory
 * yet: tn_assign_buffers gives it a block shared with buffers of disjoint
 * lifetime, so use it for what only steps read and write. Otherwise the
 * memory is allocated now and zeroed (blocked layouts' padding must stay 0).
 * TRAIN_ENOMEM names the node and the bytes allocated so far. */
int tn_new_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
/* As tn_new_mem, but never deferred nor shared: for what C code reads or
 * writes outside the step lists (input, parameters, BN statistics, dropout
 * masks, the loss's gradient). */
int tn_private_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
/* A memory of layout md over base's buffer (flatten, concat slices), owned by
 * the net; deferred with base when base is, so it follows base's block. */
int tn_view_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t base, dnnl_memory_t *out);
/* Give every buffer tn_new_mem deferred its memory, once all step lists are
 * compiled: buffers whose lifetimes (first to last use in forward-train +
 * backward, and separately in forward-eval) do not overlap share a block;
 * the logits and the output are live always. Call once, with n->defer off. */
int tn_assign_buffers(train_net *n);
/* Copy between memory m (any layout) and the plain float32 array buf of
 * layout `plain`: into buf when to_plain, else from it. Runs at once (not a
 * step); buf is the caller's. */
int tn_copy_plain(train_net *n, dnnl_memory_t m, const dnnl_memory_desc_t *plain, float *buf,
                  int to_plain);
/* A oneDNN memory's data pointer and descriptor (tn_, not mem_: that prefix is memory/'s);
 * both borrowed from m. */
void *tn_ptr(dnnl_memory_t m);
const dnnl_memory_desc_t *tn_md(dnnl_memory_t m);

/* ---- steps ---- */

/* Clear *s and make it run the primitive of pd, with the net's shared
 * scratchpad as its first argument when pd needs one; `what` names it in
 * n->impls (a reference convolution / inner product is counted in
 * n->ref_impls). pd is destroyed here, on success and on failure; the
 * primitive belongs to the net. The caller adds the other arguments. */
int tn_make_prim(train_net *n, dnnl_primitive_desc_t pd, const char *what, step *s);
/* Add argument `a` (a DNNL_ARG_* id) = m to s; at most STEP_MAX_ARGS in all. */
void tn_arg(step *s, int a, dnnl_memory_t m);
/* Append a copy of *s to list l (the lists run in order, steps never overlap). */
int tn_push_step(train_net *n, steplist *l, const step *s);
/* Append a copy of *s to the forward lists: which = FWD_BOTH, FWD_TRAIN
 * (training only: dropout, BN batch statistics) or FWD_EVAL (inference only). */
int tn_push_fwd(train_net *n, int which, const step *s);

/* ---- moving tensors between layouts ---- */

/* A reorder step src -> dst (layouts may differ, dims must not) appended to
 * l, or to both forward lists when l is NULL. */
int tn_add_reorder(train_net *n, steplist *l, dnnl_memory_t src, dnnl_memory_t dst);
/* The memory to pass as an input that must have layout want: *out = have
 * when its layout already is want, else a new buffer that a reorder step
 * (appended to l, or both forward lists when l is NULL) fills from have. */
int tn_bind_input(train_net *n, steplist *l, const dnnl_memory_desc_t *want, dnnl_memory_t have,
                  dnnl_memory_t *out);
/* A binary step dst = a alg b (dnnl_binary_add or _mul, b broadcast as
 * oneDNN allows) appended to l (not NULL). */
int tn_add_binary_step(train_net *n, steplist *l, dnnl_alg_kind_t alg, dnnl_memory_t a,
                       dnnl_memory_t b, dnnl_memory_t dst);

/* ---- gradient delivery into a layer's ddst ---- */

/* Before a backward step that writes the gradient of layer t's output in
 * layout want: g->mem is the memory it should write (L[t].ddst itself when
 * the layouts agree and no other consumer wrote there yet, else a new
 * buffer); marks L[t] written. */
int tn_grad_out_begin(train_net *n, const dnnl_memory_desc_t *want, int t, tn_grad_out *g);
/* After that step: appends to the backward list what brings g->mem into
 * L[t].ddst — nothing, a reorder, or (another consumer wrote first) an add,
 * reordered first when layouts differ. */
int tn_grad_out_end(train_net *n, tn_grad_out *g);
/* Deliver an existing gradient m (any layout, dims of L[t]) into L[t].ddst:
 * a reorder the first time, an add (after a reorder if needed) thereafter. */
int tn_grad_route(train_net *n, dnnl_memory_t m, int t);

/* ---- parameters ---- */

/* A parameter of node `node` called `name` (borrowed, e.g. "weight"), kept in
 * layout `master` (the forward primitive's) with PyTorch's shape dims[ndims]
 * for copies in and out; a trainable one also gets its gradient and momentum
 * in the same layout. *idx is its index in n->P (the order train.h exposes). */
int tn_add_param(train_net *n, int node, const char *name, int trainable,
                 const dnnl_memory_desc_t *master, int ndims, const dnnl_dims_t dims, int *idx);
/* Fill parameter pi from U(-bound, bound), drawn from the net's seeded
 * init_rng in PyTorch's element order (as kaiming_uniform_(a=sqrt(5))). */
int tn_init_uniform(train_net *n, int pi, double bound);
/* Fill parameter pi with v (BN scale 1, shift 0). */
int tn_init_const(train_net *n, int pi, float v);

/* ---- shapes ---- */

/* A float32 descriptor of graph shape s with the batch set to `batch`:
 * layout "any" (the primitive chooses) or plain (nchw / nc: what C code reads
 * or writes, input and logits). TRAIN_EDNNL if oneDNN refuses the dims. */
int tn_md_any(dnnl_memory_desc_t *md, const graph_shape *s, int batch);
int tn_md_plain(dnnl_memory_desc_t *md, const graph_shape *s, int batch);
/* An activation (or its gradient) of shape s at the net's batch in the net's
 * activation type n->act: layout "any" (plain = 0) or plain (plain = 1). */
int tn_md_act(const train_net *n, dnnl_memory_desc_t *md, const graph_shape *s, int plain);
/* Conv / pool geometry of node gn reading shape in, in PyTorch's
 * conventions (stride 0 = the kernel, dilation 0 = 1); the right padding is
 * grown until oneDNN's output size equals the graph's (ceil_mode). */
void tn_geometry(const graph_node *gn, const graph_shape *in, dop_conv *c, dnnl_dims_t kernel);

/* ---- the C loops' view of a buffer ---- */

/* Element i of an f32 (bf = 0) or bf16 buffer as a float (bf16: exact), and
 * a float stored (bf16: its upper half; exact for a value read by tn_ld, and
 * for sums of at most one term) — for the C loops (train_pool.c,
 * train_wgrad.c), which specialise on a constant bf. */
static inline __attribute__((always_inline)) float tn_ld(const void *x, size_t i, const int bf)
{
    if (!bf)
        return ((const float *)x)[i];
    uint32_t u = (uint32_t)((const uint16_t *)x)[i] << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline __attribute__((always_inline)) void tn_st(void *y, size_t i, float v, const int bf)
{
    if (!bf) {
        ((float *)y)[i] = v;
        return;
    }
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    ((uint16_t *)y)[i] = (uint16_t)(u >> 16);
}

/* The channel block b of md when the C loops can read it — aBcd16b, aBcd8b, or
 * channels-last acdb read as blocks of 16 or 8 adjacent channels (*cl = 1) —
 * in f32 or bf16; 0 otherwise. */
int tn_channel_block(const dnnl_memory_desc_t *md, int *cl);

#endif
