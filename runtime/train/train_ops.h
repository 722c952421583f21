/*
 * train_ops.h — each op of the candidate language compiled into steps of the
 * plan (train_plan.h): train_ops.c dispatches per op, train_pool.c is the C
 * max pool it may pick, train_fold.c the inference list's BatchNorm folding.
 * Called by the lifecycle (train_net.c) only; calls only the plan. Every
 * function returns 0 or a TRAIN_E* code with n->err set.
 */
#ifndef LLMNAS_TRAIN_OPS_H
#define LLMNAS_TRAIN_OPS_H

#include <stdint.h>
#include <string.h>

#include "train/train_plan.h"

/* Compile node k (not an alias) into the forward lists: its output L[k].dst,
 * its parameters (initialised as PyTorch does), and the steps computing it.
 * Nodes are compiled in graph order, so every input's dst exists. */
int tn_compile_fwd(train_net *n, int k);
/* Compile node k's backward (k needs a gradient): the steps that turn
 * L[k].ddst into its parameters' gradients and its inputs' ddst (through
 * tn_grad_out_* / tn_grad_route). Called in reverse graph order, after every
 * ddst exists. */
int tn_compile_bwd(train_net *n, int k);

/* Max pooling in C (train_pool.c) for node k reading src, after its geometry
 * (L[k].geo, kernel) is set: fwd returns 1 when it does not apply (the
 * caller builds oneDNN's), 0 with the steps added and L[k].c_pool set, or a
 * TRAIN_E* code; bwd adds the backward steps of a node fwd took. */
int tn_cpool_fwd(train_net *n, int k, dnnl_memory_t src);
int tn_cpool_bwd(train_net *n, int k);

/* Element i of an f32 (bf = 0) or bf16 buffer as a float (bf16: exact), and
 * a float stored (bf16: its upper half; exact for a value read by tn_ld, and
 * for sums of at most one term) — for the C loops of train_pool.c and
 * train_wgrad.c, which specialise on a constant bf. */
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
 * in f32 or bf16; 0 otherwise (train_pool.c). */
int tn_channel_block(const dnnl_memory_desc_t *md, int *cl);

/* The weight (and bias) gradient of a one-channel Conv2d (the first layer of
 * a grey-image net) in C (train_wgrad.c), appended to the backward list:
 * returns 1 when it does not apply (the caller builds oneDNN's), 0 with the
 * steps added, or a TRAIN_E* code. */
int tn_wgrad1_bwd(train_net *n, int k);

/* Replace the inference list's steps with each BatchNorm folded into the
 * convolution before it where that is exact and fast (train_fold.c); call
 * after every node's forward and backward, before tn_assign_buffers. */
int tn_fold_bn_eval(train_net *n);

#endif
