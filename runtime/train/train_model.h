/*
 * train_model.h — a trained network saved to a folder, and loaded back for
 * inference (Lua-free).
 *
 * A model folder (`llmnas train ARCH --save DIR`, train_opts.save_dir):
 *
 *   model.safetensors  every parameter and BatchNorm running statistic, float32
 *                      little-endian, named as the PyTorch export's state_dict
 *                      ("conv2d_1.weight", "batchnorm2d_2.running_var", and
 *                      "batchnorm2d_2.num_batches_tracked" as int64) — the
 *                      safetensors format: 8-byte header length, JSON header
 *                      (cJSON), raw data
 *   model.onnx         the network for inference, ONNX IR 8, opset 17, built
 *                      with protobuf-c from Debian's onnx.proto (model_onnx.h)
 *   model.json         the architecture: canonical graph JSON (graph_from_json)
 *   model.lua          the architecture as a candidate program
 *   model.py           PyTorch: class Net plus load_safetensors(net, path)
 *   meta.json          class names, preprocessing (channels, height, width,
 *                      mean, std, resize method), the recipe, the scores, the
 *                      dataset, the graph hash
 *   validation.json    each validation image (file name for image folders,
 *                      index otherwise), its label and the model's top-1
 *
 * Parameters are read and written through train.h's train_net_param_* calls
 * only, so the trainer's internals can change freely.
 *
 * Return codes: 0 or a negative TRAIN_E* code (TRAIN_EDATA for an unreadable
 * or inconsistent model folder, TRAIN_EARG for a bad argument), with err
 * naming the file. Thread rules: a train_model is used by one thread at a time.
 */
#ifndef LLMNAS_TRAIN_MODEL_H
#define LLMNAS_TRAIN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"
#include "train/train.h"

#define TRAIN_MODEL_ONNX_OPSET 17
#define TRAIN_MODEL_FORMAT_VERSION 1

struct ds_dataset;
struct ds_indices;

/* Write the model folder dir (created if missing; files replaced) for net,
 * trained on d with the validation split ix by the options o with result r. */
int train_model_save(const char *dir, train_net *net, const graph *g, const struct ds_dataset *d,
                     const struct ds_indices *ix, const train_opts *o, const train_result *r,
                     char *err, size_t errlen);

/* One named tensor of a saved model, plain layout (PyTorch's). */
typedef struct train_tensor {
    char name[64];       /* state_dict name */
    int node;            /* graph node id */
    const char *param;   /* "weight", "bias", "running_mean", "running_var" */
    int rank;
    int64_t dim[4];
    int64_t count;
    float *data;         /* owned by the list */
} train_tensor;

/* Every parameter of net as named tensors (malloc'd; free with
 * train_tensors_free). */
int train_tensors_get(train_net *net, const graph *g, train_tensor **out, int *n, char *err,
                      size_t errlen);
void train_tensors_free(train_tensor *t, int n);

/* ---- loading for inference ---- */

typedef struct train_model train_model;

/* Load dir for inference with batches of up to `batch` images. */
int train_model_load(const char *dir, int batch, train_model **out, char *err, size_t errlen);
void train_model_free(train_model *m);

/* The input the model expects: channels, height, width; its class count and names. */
void train_model_input(const train_model *m, int *c, int *h, int *w);
int train_model_classes(const train_model *m);
const char *train_model_class_name(const train_model *m, int k);
int train_model_batch(const train_model *m);

/* Decode an image file and preprocess it as in training (resize, channels,
 * (pixel/255 - mean) / std) into x[c * h * w]. Thread-safe (reads m only). */
int train_model_preprocess(const train_model *m, const char *path, float *x, char *err,
                           size_t errlen);

/* Logits of n <= batch preprocessed images x[n][c][h][w] into logits[n][K],
 * inference mode (BatchNorm running statistics, no dropout). */
int train_model_logits(train_model *m, const float *x, int n, float *logits);

#endif
