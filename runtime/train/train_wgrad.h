/*
 * train_wgrad.h — a one-channel Conv2d's weight gradient in C (train_wgrad.c),
 * which the op compiler (train_ops.c) picks over oneDNN's where it applies.
 */
#ifndef LLMNAS_TRAIN_WGRAD_H
#define LLMNAS_TRAIN_WGRAD_H

#include "train/train_plan.h"

/* The weight (and bias) gradient of a one-channel Conv2d (the first layer of
 * a grey-image net), appended to the backward list: returns 1 when it does
 * not apply (the caller builds oneDNN's), 0 with the steps added, or a
 * TRAIN_E* code. */
int tn_wgrad1_bwd(train_net *n, int k);

#endif
