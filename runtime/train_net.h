/*
 * train_net.h — the trainer's private structures (train_net.c, train.c and
 * white-box tests only; the API is train.h).
 */
#ifndef LLMNAS_TRAIN_NET_H
#define LLMNAS_TRAIN_NET_H

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "dnnl_ops.h"
#include "train.h"

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
    dnnl_memory_t dst, ddst;        /* output and its gradient, same layout */
    dnnl_memory_t src_bound;        /* conv / linear: the input as the forward reads it */
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
    int drop_frozen;    /* tests: reuse the last dropout masks (finite differences) */
    int cur;
    const char *cur_name;
    char impls[4096];
    char err[512];
};

void *mem_ptr(dnnl_memory_t m);
const dnnl_memory_desc_t *mem_md(dnnl_memory_t m);
int grow_scratch(train_net *n);

#endif
