/*
 * train_fold.h — the inference list with BatchNorm folded into convolutions
 * (train_fold.c), built by the lifecycle (train_net.c).
 */
#ifndef LLMNAS_TRAIN_FOLD_H
#define LLMNAS_TRAIN_FOLD_H

#include "train/train_plan.h"

/* Replace the inference list's steps with each BatchNorm folded into the
 * convolution before it where that is exact and fast; call after every
 * node's forward and backward, before tn_assign_buffers. */
int tn_fold_bn_eval(train_net *n);

#endif
