/*
 * graph.h — the candidate network as a graph IR (Lua-free).
 *
 * This header is the contract between the candidate-language builder (lua/),
 * the trainer (runtime/train*), the exporters and the feedback memory (which
 * stores graph hashes). Keep it stable: add, do not change.
 *
 * Shape legend: B batch (symbolic, never stored), C channels, H height,
 * W width, F features. A node's shape is [B, C, H, W] (rank 4) or [B, F]
 * (rank 2); dim[0] is the batch and is always GRAPH_BATCH.
 *
 * Lifecycle: graph_new → graph_add (each call infers the new node's shape and
 * its parameter / FLOP / activation counts, or fails with a message naming the
 * shapes) → graph_set_output → graph_finalize (drops nodes the output does not
 * use, puts the rest in canonical order) → use (hash, JSON, train) → graph_free.
 *
 * Return codes: 0 on success, a negative GRAPH_E* code on failure; functions
 * that can fail for a reason a user must read take `char *err, size_t errlen`
 * and write a NUL-terminated message there (truncated to errlen).
 * Thread rules: a graph is not shared between threads while it is modified.
 */
#ifndef LLMNAS_GRAPH_H
#define LLMNAS_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#define GRAPH_BATCH (-1)

/* Error codes (negative band). */
enum {
    GRAPH_OK = 0,
    GRAPH_ESHAPE = -1001,   /* shapes do not fit the op (message names them) */
    GRAPH_EARG = -1002,     /* an attribute is out of range */
    GRAPH_ENOMEM = -1003,
    GRAPH_ETOOBIG = -1004,  /* node-count cap reached */
    GRAPH_EJSON = -1005,    /* graph_from_json: malformed or unknown content */
    GRAPH_ESTATE = -1006,   /* call out of order (e.g. no output set) */
};

typedef enum graph_op {
    GRAPH_OP_INPUT = 0,
    GRAPH_OP_CONV2D,
    GRAPH_OP_BATCHNORM2D,
    GRAPH_OP_RELU,
    GRAPH_OP_LEAKYRELU,
    GRAPH_OP_GELU,
    GRAPH_OP_SILU,
    GRAPH_OP_SIGMOID,
    GRAPH_OP_TANH,
    GRAPH_OP_HARDSWISH,
    GRAPH_OP_MAXPOOL2D,
    GRAPH_OP_AVGPOOL2D,
    GRAPH_OP_ADAPTIVEAVGPOOL2D, /* output size 1 only */
    GRAPH_OP_FLATTEN,
    GRAPH_OP_LINEAR,
    GRAPH_OP_DROPOUT,
    GRAPH_OP_IDENTITY,
    GRAPH_OP_ADD,  /* two inputs, PyTorch broadcasting */
    GRAPH_OP_MUL,  /* two inputs, PyTorch broadcasting (squeeze-excitation) */
    GRAPH_OP_CAT,  /* two or more rank-4 inputs, along channels */
    GRAPH_OP_COUNT
} graph_op;

typedef struct graph_shape {
    int rank;        /* 2 or 4 */
    int64_t dim[4];  /* dim[0] = GRAPH_BATCH; [B, C, H, W] or [B, F] */
} graph_shape;

/*
 * Attributes of every op in one struct; each op reads only its own fields.
 * graph_attrs_default() fills PyTorch's defaults for an op.
 */
typedef struct graph_attrs {
    int64_t out;        /* Conv2d out_channels, Linear out_features */
    int kernel[2];      /* Conv2d / pools: kh, kw */
    int stride[2];      /* pools: default = kernel */
    int padding[2];
    int dilation[2];    /* Conv2d, MaxPool2d */
    int groups;         /* Conv2d */
    int bias;           /* Conv2d, Linear: 1 = has bias */
    int ceil_mode;      /* pools */
    int count_include_pad; /* AvgPool2d (PyTorch default 1) */
    double eps;         /* BatchNorm2d (1e-5) */
    double momentum;    /* BatchNorm2d (0.1) */
    double negative_slope; /* LeakyReLU (0.01) */
    double p;           /* Dropout probability (0.5) */
    int approximate_tanh;  /* GELU: 0 = exact erf, 1 = tanh approximation */
} graph_attrs;

typedef struct graph_node {
    graph_op op;
    graph_attrs a;
    int n_inputs;
    int *inputs;        /* ids of earlier nodes; owned by the graph */
    graph_shape shape;  /* inferred output shape */
    int64_t params;     /* trainable parameters of this node */
    int64_t flops;      /* forward FLOPs per image, 2 x multiply-adds (conv, linear) */
    int64_t act_bytes;  /* output activation bytes per image (float32) */
    int line;           /* source line of the candidate that created it, 0 if unknown */
} graph_node;

typedef struct graph {
    graph_node *nodes;  /* nodes[0] is the input; inputs always precede users */
    int n, cap;
    int output;         /* id of the output node, -1 until set */
    int max_nodes;      /* cap on node count (0 = GRAPH_DEFAULT_MAX_NODES) */
    int classes;        /* expected output features, 0 if not checked */
} graph;

#define GRAPH_DEFAULT_MAX_NODES 10000

typedef struct graph_stats {
    int64_t params;     /* total trainable parameters */
    int64_t flops;      /* total forward FLOPs per image */
    int64_t act_bytes;  /* sum of all node outputs per image (float32) */
    int layers;         /* nodes other than the input */
} graph_stats;

/* Create a graph whose input node 0 has shape [B, c, h, w]. *out owned by the
 * caller, freed with graph_free. Returns 0, GRAPH_EARG or GRAPH_ENOMEM. */
int graph_new(graph **out, int64_t c, int64_t h, int64_t w);
void graph_free(graph *g);

/* PyTorch's defaults for op's attributes. */
void graph_attrs_default(graph_op op, graph_attrs *a);

/* Append a node. Checks attributes and input shapes, infers the output shape
 * and counts. *id receives the new node's id. On failure nothing is added and
 * err holds e.g. "Linear: expected 3136 input features, got 1568 (input shape
 * [B, 32, 7, 7])". `line` is stored for messages and exports. */
int graph_add(graph *g, graph_op op, const graph_attrs *a, const int *inputs,
              int n_inputs, int line, int *id, char *err, size_t errlen);

/* Mark the output node; with classes > 0 it must be [B, classes]. */
int graph_set_output(graph *g, int id, int classes, char *err, size_t errlen);

/* Drop nodes the output does not depend on and renumber the rest in canonical
 * order (independent of creation order of independent branches). Idempotent. */
int graph_finalize(graph *g);

void graph_stats_get(const graph *g, graph_stats *s);

/* "Conv2d", "BatchNorm2d", ... (PyTorch names); graph_op_from_name returns -1
 * for an unknown name. */
const char *graph_op_name(graph_op op);
int graph_op_from_name(const char *name);

/* "[B, 32, 7, 7]" into buf; returns buf. */
char *graph_shape_str(const graph_shape *s, char *buf, size_t len);

/* Canonical JSON of a finalized graph (keys sorted, no whitespace, node order
 * canonical); malloc'd, caller frees; NULL on ENOMEM. Two graphs that build the
 * same network give the same bytes. */
char *graph_to_json(const graph *g);

/* Inverse of graph_to_json (shapes re-inferred and checked). */
int graph_from_json(const char *json, graph **out, char *err, size_t errlen);

/* 128-bit hash of the canonical JSON as 32 lowercase hex digits + NUL. */
#define GRAPH_HASH_HEX 33
int graph_hash(const graph *g, char out[GRAPH_HASH_HEX]);

/* Exports, malloc'd strings (caller frees), NULL on ENOMEM. */
char *graph_to_lua(const graph *g);      /* candidate program: function Net(x, classes) */
char *graph_to_pytorch(const graph *g);  /* class Net(nn.Module) with __init__ and forward */

/* Keras-style table (layer, output shape, params, FLOPs, inputs) and totals;
 * malloc'd, caller frees; NULL on ENOMEM or without an output. (Added by the
 * candidate-language work; not in the first contract.) */
char *graph_summary(const graph *g);

const char *graph_strerror(int code);

#endif
