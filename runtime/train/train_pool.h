/*
 * train_pool.h — max pooling for training in C (train_pool.c), which the op
 * compiler (train_ops.c) picks over oneDNN's where it applies.
 */
#ifndef LLMNAS_TRAIN_POOL_H
#define LLMNAS_TRAIN_POOL_H

#include "train/train_plan.h"

/* Max pooling in C for node k reading src, after its geometry (L[k].geo,
 * kernel) is set: fwd returns 1 when it does not apply (the caller builds
 * oneDNN's), 0 with the steps added and L[k].c_pool set, or a TRAIN_E* code;
 * bwd adds the backward steps of a node fwd took. */
int tn_cpool_fwd(train_net *n, int k, dnnl_memory_t src);
int tn_cpool_bwd(train_net *n, int k);

#endif
