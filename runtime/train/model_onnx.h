/*
 * model_onnx.h — a trained graph as an ONNX model file (Lua-free).
 *
 * Built with protobuf-c from the C that protoc-c generates at build time from
 * Debian's /usr/include/onnx/onnx.proto (libonnx-dev): ONNX IR version 8,
 * default-domain opset TRAIN_MODEL_ONNX_OPSET (17, what Debian's onnx 1.12
 * checks). Input "input" [N, C, H, W] float32 with a symbolic batch N, output
 * "logits" [N, classes]; the weights are initializers with the state_dict
 * names of model.safetensors. Inference semantics: BatchNormalization with the
 * running statistics, Dropout as Identity. Opset 17 has no Gelu, so GELU is
 * written out (exact: x * 0.5 * (1 + Erf(x / sqrt 2)); tanh form with Tanh);
 * SiLU is x * Sigmoid(x); Mish is x * Tanh(Softplus(x)) (Mish is opset 18);
 * AdaptiveAvgPool2d(1) / AdaptiveMaxPool2d(1) are GlobalAveragePool /
 * GlobalMaxPool; Linear is Gemm with transB = 1; LayerNorm over the channels of
 * [N, C, H, W] is LayerNormalization between two Transposes; PReLU's slopes are
 * [C, 1, 1] on [N, C, H, W]; mul_scalar / add_scalar are Mul / Add with a
 * constant; Dropout2d is Identity.
 */
#ifndef LLMNAS_MODEL_ONNX_H
#define LLMNAS_MODEL_ONNX_H

#include <stddef.h>

#include "graph/graph.h"
#include "train/train_model.h"

/* Write g with the tensors t[0..nt) to path. Returns 0, TRAIN_ENOMEM,
 * TRAIN_EUNSUPPORTED (an op with no ONNX form) or TRAIN_EDATA (cannot write). */
int model_onnx_write(const char *path, const graph *g, const train_tensor *t, int nt,
                     const char *graph_hash, char *err, size_t errlen);

#endif
