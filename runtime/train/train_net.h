/*
 * train_net.h — the trainer's private structures and the helpers shared by
 * train_net.c and train_ops.c (the trainer and white-box tests only; the API
 * is train.h). Helpers return 0 or a TRAIN_E* code with n->err set.
 */
#ifndef LLMNAS_TRAIN_NET_H
#define LLMNAS_TRAIN_NET_H

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
 * momentum in the same layout. */
typedef struct param {
    int node;
    const char *name;
    int trainable;
    int64_t count;
    dnnl_memory_desc_t plain;  /* PyTorch's layout */
    dnnl_memory_t w, g, v;
} param;

typedef struct layer {
    int alias;          /* the layer that owns this node's output (itself if not an alias) */
    int nin, *in;       /* inputs, already resolved through aliases */
    int need_grad;      /* this output needs a gradient (parameters upstream) */
    int written;        /* backward compile: a consumer already delivers into ddst */
    int fuse_relu;      /* BatchNorm with its ReLU fused */
    int avg_exclude;    /* AvgPool2d: PyTorch's divisor is the valid count here */
    int c_pool;         /* MaxPool2d run by train_pool.c, not oneDNN (ws: window indices) */
    dnnl_memory_t dst, ddst;        /* output and its gradient, same layout */
    dnnl_memory_t src_bound;        /* conv / linear: the input as the forward reads it */
    dnnl_memory_t wlow;             /* bf16 nets: the weights in bf16, converted from the
                                       fp32 master at the start of each forward */
    dnnl_memory_t ws, mean, var, mask;
    dnnl_primitive_desc_t fpd;      /* forward pd, the hint for backward */
    dop_conv geo;
    dnnl_dims_t kernel;
    int p[4];           /* parameter indices, -1 = none */
} layer;

struct train_net {
    const graph *g;     /* borrowed: must outlive the net */
    int batch, classes, nlayers, out;
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
    size_t scratch_size, bytes;
    void *scratch_buf;
    dnnl_memory_t logits, dlogits;  /* [B, K] plain */
    float *input;
    uint64_t init_rng, drop_rng;
    int stepped, ref_impls;
    uint64_t version;   /* bumped whenever parameters or BN running statistics change */
    int winograd;
    int bf16;           /* mixed precision (train_net_opts.bf16) */
    dnnl_data_type_t act;  /* activations and their gradients: dnnl_bf16 or dnnl_f32 */
    int drop_frozen;    /* tests: reuse the last dropout masks (finite differences) */
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

/* ---- shared by train_net.c and train_ops.c (internal) ---- */

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

/* Buffers: tn_new_mem allocates (or defers, during build, until lifetimes are
 * known); tn_private_mem never shares; tn_view_mem aliases base's buffer. */
int tn_new_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
int tn_private_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out);
int tn_view_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t base, dnnl_memory_t *out);
/* Steps: the primitive of pd (destroyed) into *s with its scratchpad. */
int tn_make_prim(train_net *n, dnnl_primitive_desc_t pd, const char *what, step *s);
void tn_arg(step *s, int a, dnnl_memory_t m);
int tn_push_step(train_net *n, steplist *l, const step *s);
int tn_push_fwd(train_net *n, int which, const step *s);
/* Reorders (l NULL: both forward lists), inputs in a wanted layout, binary steps. */
int tn_add_reorder(train_net *n, steplist *l, dnnl_memory_t src, dnnl_memory_t dst);
int tn_bind_input(train_net *n, steplist *l, const dnnl_memory_desc_t *want, dnnl_memory_t have,
                  dnnl_memory_t *out);
int tn_add_binary_step(train_net *n, steplist *l, dnnl_alg_kind_t alg, dnnl_memory_t a,
                       dnnl_memory_t b, dnnl_memory_t dst);
/* Gradient delivery into layer t's ddst (reorder / accumulate as needed). */
int tn_grad_out_begin(train_net *n, const dnnl_memory_desc_t *want, int t, tn_grad_out *g);
int tn_grad_out_end(train_net *n, tn_grad_out *g);
int tn_grad_route(train_net *n, dnnl_memory_t m, int t);
/* Parameters: master copy in layout `master`, PyTorch layout dims; init. */
int tn_add_param(train_net *n, int node, const char *name, int trainable,
                 const dnnl_memory_desc_t *master, int ndims, const dnnl_dims_t dims, int *idx);
int tn_init_uniform(train_net *n, int pi, double bound);
int tn_init_const(train_net *n, int pi, float v);
/* Shapes: "any" / plain descriptors of a graph shape at the net's batch;
 * conv / pool geometry in PyTorch's conventions. */
int tn_md_any(dnnl_memory_desc_t *md, const graph_shape *s, int batch);
int tn_md_plain(dnnl_memory_desc_t *md, const graph_shape *s, int batch);
/* An activation (or its gradient) of shape s at the net's batch in the net's
 * activation type n->act: layout "any" (plain = 0) or plain (plain = 1). The
 * float32 forms above are for what C code reads or writes (input, logits). */
int tn_md_act(const train_net *n, dnnl_memory_desc_t *md, const graph_shape *s, int plain);
void tn_geometry(const graph_node *gn, const graph_shape *in, dop_conv *c, dnnl_dims_t kernel);
/* Max pooling in C (train_pool.c) for node k reading src, after its geometry
 * (L[k].geo, kernel) is set: fwd returns 1 when it does not apply (the
 * caller builds oneDNN's), 0 with the steps added, or a TRAIN_E* code; bwd
 * adds the backward steps of a node fwd took (L[k].c_pool). */
int tn_cpool_fwd(train_net *n, int k, dnnl_memory_t src);
int tn_cpool_bwd(train_net *n, int k);
/* The inference list with each BatchNorm folded into the convolution before it
 * where that is exact and fast (train_fold.c); called before buffers are assigned. */
int tn_fold_bn_eval(train_net *n);
/* Per-op compilation (train_ops.c). */
int tn_compile_fwd(train_net *n, int k);
int tn_compile_bwd(train_net *n, int k);

/* A oneDNN memory's data pointer and descriptor (tn_, not mem_: that prefix is memory/'s). */
void *tn_ptr(dnnl_memory_t m);
const dnnl_memory_desc_t *tn_md(dnnl_memory_t m);
int grow_scratch(train_net *n);

#endif
