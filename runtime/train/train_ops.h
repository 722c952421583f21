/*
 * train_ops.h — each op of the candidate language compiled into steps of the
 * plan (train_plan.h), in train_ops.c. Where C loops beat oneDNN it picks
 * them: the max pool (train_pool.h) and a one-channel convolution's weight
 * gradient (train_wgrad.h). Called by the lifecycle (train_net.c) only; calls
 * only those and the plan. Every function returns 0 or a TRAIN_E* code with
 * n->err set.
 */
#ifndef LLMNAS_TRAIN_OPS_H
#define LLMNAS_TRAIN_OPS_H

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

#endif
