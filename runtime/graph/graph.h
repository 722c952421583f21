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

/*
 * The ops. Their names, inputs, attributes and properties are one table,
 * graph_op_info() (graph_ops.c); every layer (the sandbox's nn builder, JSON,
 * the hash, the Lua view, the exports) iterates it. JSON names an op by its
 * name, but the canonical order folds the enum value into each node's
 * structural key, so existing values never change: new ops go at the end,
 * before GRAPH_OP_COUNT. Adding one: runtime/graph/ADDING-AN-OP.md.
 */
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
    GRAPH_OP_MUL_SCALAR, /* x * other (a number): `x * 0.5`, `-x`, `x / 2` */
    GRAPH_OP_ADD_SCALAR, /* x + other (a number): `x + 1`, `x - 1` */
    GRAPH_OP_BATCHNORM1D, /* on [B, F] */
    GRAPH_OP_LAYERNORM,   /* over F of [B, F], over C of [B, C, H, W] at each position */
    GRAPH_OP_ADAPTIVEMAXPOOL2D, /* output size 1 only (x:max{2, 3} keeps or flattens it) */
    GRAPH_OP_ELU,
    GRAPH_OP_MISH,
    GRAPH_OP_PRELU,       /* learned slope: one, or one per channel / feature */
    GRAPH_OP_SOFTMAX,     /* over dim (PyTorch's, 0-based; stored non-negative) */
    GRAPH_OP_DROPOUT2D,   /* whole channels of [B, C, H, W] */
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
    int64_t out;        /* Conv2d out_channels, Linear out_features, adaptive pools' size */
    int kernel[2];      /* Conv2d / pools: kh, kw */
    int stride[2];      /* pools: default = kernel */
    int padding[2];
    int dilation[2];    /* Conv2d, MaxPool2d */
    int groups;         /* Conv2d */
    int bias;           /* Conv2d, Linear: 1 = has bias */
    int ceil_mode;      /* pools */
    int count_include_pad; /* AvgPool2d (PyTorch default 1) */
    double eps;         /* BatchNorm2d, BatchNorm1d, LayerNorm (1e-5) */
    double momentum;    /* BatchNorm2d, BatchNorm1d (0.1) */
    double negative_slope; /* LeakyReLU (0.01) */
    double p;           /* Dropout probability (0.5) */
    int approximate_tanh;  /* GELU: 0 = exact erf, 1 = tanh approximation */
    double other;       /* mul_scalar / add_scalar: the number */
    double alpha;       /* ELU (1.0) */
    int64_t num_parameters; /* PReLU: 1 or the input's C / F */
    double init;        /* PReLU: the slopes' initial value (0.25) */
    int dim;            /* Softmax: the dim, 1 .. rank - 1 once added (PyTorch's numbering) */
} graph_attrs;

/* ---- the op table ------------------------------------------------------------
 *
 * Attributes are named once (graph_attr_info) and each op lists the ones it
 * reads (graph_op_info.attrs). Iteration is always in attribute-id order: the
 * hash folds attributes in that order, so new attributes go at the end of
 * graph_attr_id and existing graphs keep their hashes.
 */
typedef enum graph_attr_id {
    GRAPH_A_NONE = 0,       /* terminates the positional lists */
    GRAPH_A_OUT,            /* Conv2d out_channels, Linear out_features, AdaptiveAvgPool2d size */
    GRAPH_A_KERNEL,
    GRAPH_A_STRIDE,
    GRAPH_A_PADDING,
    GRAPH_A_DILATION,
    GRAPH_A_GROUPS,
    GRAPH_A_BIAS,
    GRAPH_A_CEIL_MODE,
    GRAPH_A_COUNT_INCLUDE_PAD,
    GRAPH_A_EPS,
    GRAPH_A_MOMENTUM,
    GRAPH_A_NEGATIVE_SLOPE,
    GRAPH_A_P,
    GRAPH_A_APPROXIMATE,
    GRAPH_A_OTHER,          /* mul_scalar, add_scalar: torch.mul / torch.add's `other` */
    GRAPH_A_ALPHA,
    GRAPH_A_NUM_PARAMETERS,
    GRAPH_A_INIT,
    GRAPH_A_DIM,
    GRAPH_A_COUNT
} graph_attr_id;

#define GRAPH_ATTR_BIT(id) (1u << (id))

typedef enum graph_attr_type {
    GRAPH_T_COUNT,   /* int64_t: a size (JSON accepts up to 2^40) */
    GRAPH_T_INT,     /* int (JSON accepts up to 2^30) */
    GRAPH_T_PAIR,    /* int[2], {h, w}; a candidate may give one number for both */
    GRAPH_T_BOOL,    /* int, 0 or 1; true / false in JSON and Lua */
    GRAPH_T_NUM,     /* double */
    GRAPH_T_ENUM,    /* int index into choices; its name in JSON and Lua */
} graph_attr_type;

typedef struct graph_attr_info {
    const char *key;      /* canonical JSON key and Lua view key ("kernel") */
    const char *option;   /* the candidate language's (PyTorch's) name ("kernel_size") */
    graph_attr_type type;
    size_t offset;        /* of the field in graph_attrs */
    double def;           /* default (both elements of a pair); an op may override it */
    double lo, hi;        /* range a candidate may give (inclusive); graph_add enforces
                             it for GRAPH_T_NUM, the nn builder for every type */
    const char *const *choices;  /* GRAPH_T_ENUM: the names, NULL-terminated */
} graph_attr_info;

/* How an op's output shape follows from its inputs (graph.c, infer_*). */
typedef enum graph_shape_rule {
    GRAPH_SHAPE_NONE,       /* the input node */
    GRAPH_SHAPE_SAME,       /* elementwise: the input's shape, any rank */
    GRAPH_SHAPE_CHANNELS,   /* the input's shape, which must be [B, C, H, W]; C params x 2 */
    GRAPH_SHAPE_CONV,       /* Conv2d */
    GRAPH_SHAPE_POOL,       /* MaxPool2d / AvgPool2d windows */
    GRAPH_SHAPE_GLOBAL_POOL,/* [B, C, H, W] -> [B, C, 1, 1] */
    GRAPH_SHAPE_FLATTEN,    /* [B, C, H, W] -> [B, C*H*W] */
    GRAPH_SHAPE_LINEAR,     /* [B, F] -> [B, out] */
    GRAPH_SHAPE_BROADCAST,  /* two inputs of one rank; each dimension equal or 1 on one
                               side, and one input has the output's shape */
    GRAPH_SHAPE_CAT,        /* rank-4 inputs concatenated along C */
    GRAPH_SHAPE_FEATURES,   /* the input's shape, which must be [B, F]; F params x 2 */
    GRAPH_SHAPE_NORM,       /* the input's shape, any rank; dim[1] (C or F) params x 2 */
    GRAPH_SHAPE_PRELU,      /* the input's shape; num_parameters (1 or dim[1]) params */
    GRAPH_SHAPE_SOFTMAX,    /* the input's shape; dim checked against the rank, normalised */
    GRAPH_SHAPE_SPATIAL,    /* the input's shape, which must be [B, C, H, W]; no params */
} graph_shape_rule;

enum {
    GRAPH_OPF_COMMUTATIVE = 1u << 0,  /* operands are unordered (hash, canonical order) */
    GRAPH_OPF_INPLACE = 1u << 1,      /* the nn builder accepts PyTorch's inplace (ignored) */
    GRAPH_OPF_LUA_ALL_OPTS = 1u << 2, /* the Lua export writes every option once one differs */
};

#define GRAPH_OP_MAX_POSITIONAL 6

typedef struct graph_op_info {
    const char *name;       /* PyTorch's name: the nn function, the JSON "op", messages */
    int min_inputs;         /* 0 only for the input node */
    int max_inputs;         /* 0 = any number (variadic) */
    unsigned attrs;         /* GRAPH_ATTR_BIT set: the attributes the op reads */
    unsigned fixed;         /* of those, the required arguments after the inputs
                               (nn.Conv2d(x, out, kernel)); the others are options */
    unsigned char positional[GRAPH_OP_MAX_POSITIONAL]; /* options that may also be given
                               by position after the fixed ones, PyTorch's order,
                               GRAPH_A_NONE-terminated */
    struct { unsigned char attr; double value; } defaults[2]; /* the op's own defaults */
    unsigned flags;         /* GRAPH_OPF_* */
    graph_shape_rule shape;
    /* Export templates: $name the op's name, $0 $1 the inputs, $inputs all of
     * them, $in the first input's channels (PyTorch), $KEY an attribute,
     * $opts the Lua options table of the attributes that differ from their
     * default (", {k = v}"), $?KEY ", value" when KEY differs from its default.
     * NULL: "nn.$name($0)" in Lua, a module "nn.$name()" in PyTorch. */
    const char *lua;
    const char *py_module;  /* PyTorch module built in __init__ */
    const char *py_call;    /* or a functional expression in forward (no module) */
    const char *py_call4;   /* with py_module, the forward expression when the input is
                               [B, C, H, W] ($self the module); NULL: "$self($0)" */
} graph_op_info;

/* The table entry of op; NULL when op is out of range. */
const graph_op_info *graph_op_info_get(graph_op op);

/* The attribute id's description; NULL when id is out of range. */
const graph_attr_info *graph_attr_info_get(int id);

/* Element k (0 or 1; only pairs have 1) of attribute id in a, as an integer
 * (GRAPH_T_NUM truncated), and as a double. */
int64_t graph_attr_int(const graph_attrs *a, int id, int k);
double graph_attr_num(const graph_attrs *a, int id);

/* Set element k of attribute id (GRAPH_T_NUM: v converted; pairs: k = -1 sets
 * both). */
void graph_attr_set_int(graph_attrs *a, int id, int k, int64_t v);
void graph_attr_set_num(graph_attrs *a, int id, double v);

/* 1 if attribute id of node attributes a equals op's default (pool strides:
 * the kernel). The exports leave such attributes out. */
int graph_attr_is_default(graph_op op, const graph_attrs *a, int id);

/* "'none' or 'tanh'": an enum attribute's choices for messages, quoted with
 * q; returns buf. */
char *graph_attr_choices_str(const graph_attr_info *ai, char q, char *buf, size_t len);

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

/* Free g, its nodes and their input lists; NULL is accepted. */
void graph_free(graph *g);

/* PyTorch's defaults for op's attributes: every field gets its attribute's
 * default from the op table, then op's own (Conv2d stride 1, pools stride 0
 * meaning "the kernel", resolved by graph_add). */
void graph_attrs_default(graph_op op, graph_attrs *a);

/* Append a node of op with attributes a (NULL: the defaults) reading the n_inputs
 * nodes inputs[] (ids of existing nodes; the arity is the op table's). Checks the
 * attributes (ranges of the op table, then the shape rule's) and the input shapes,
 * infers the output shape and counts. *id (may be NULL) receives the new node's id.
 * inputs is copied. Returns 0, GRAPH_EARG (bad attribute or arity), GRAPH_ESHAPE,
 * GRAPH_ETOOBIG (node cap, sizes that overflow) or GRAPH_ENOMEM; on failure nothing
 * is added and err holds e.g. "Linear: expected 3136 input features, got 1568 (input
 * shape [B, 32, 7, 7])". `line` is stored for messages and exports. */
int graph_add(graph *g, graph_op op, const graph_attrs *a, const int *inputs,
              int n_inputs, int line, int *id, char *err, size_t errlen);

/* Mark node id as the output; with classes > 0 it must be [B, classes] (else
 * GRAPH_ESHAPE, err says how to end the network). Returns 0, GRAPH_EARG for an id
 * that does not exist, or GRAPH_ESHAPE. Records classes (or the output's features)
 * in g->classes for the exports. */
int graph_set_output(graph *g, int id, int classes, char *err, size_t errlen);

/* Drop nodes the output does not depend on and renumber the rest in canonical
 * order (independent of creation order of independent branches). Idempotent.
 * Returns 0, GRAPH_ESTATE without an output, or GRAPH_ENOMEM (g unchanged). */
int graph_finalize(graph *g);

/* Totals over every node of g (finalize first to count only used ones). */
void graph_stats_get(const graph *g, graph_stats *s);

/* The op table's name of op ("Conv2d", "add"; "?" when out of range);
 * graph_op_from_name is its inverse and returns -1 for an unknown name. Both are
 * case-sensitive. */
const char *graph_op_name(graph_op op);
int graph_op_from_name(const char *name);

/* "[B, 32, 7, 7]" or "[B, 10]" into buf (truncated to len); returns buf. */
char *graph_shape_str(const graph_shape *s, char *buf, size_t len);

/* Canonical JSON of a finalized graph (keys sorted, no whitespace, node order
 * canonical); malloc'd, caller frees; NULL on ENOMEM. Two graphs that build the
 * same network give the same bytes. */
char *graph_to_json(const graph *g);

/* Inverse of graph_to_json: parses, re-infers and checks every node (unknown
 * keys, ops and attributes are errors), finalizes. Returns 0 with *out owned by
 * the caller, GRAPH_EJSON (err: "graph JSON: node 3: ..."), another GRAPH_E*
 * of graph_add (err names the node) or GRAPH_ENOMEM. */
int graph_from_json(const char *json, graph **out, char *err, size_t errlen);

/* 128-bit hash of the canonical JSON (the first 32 hex digits of its SHA-256)
 * into out, NUL-terminated. The memory's evaluation cache is keyed by it: it
 * must not change for an existing graph. Returns 0, GRAPH_ESTATE without an
 * output or GRAPH_ENOMEM (out is then ""). */
#define GRAPH_HASH_HEX 33
int graph_hash(const graph *g, char out[GRAPH_HASH_HEX]);

/* Exports, in canonical order, from the op table's templates; malloc'd strings
 * (caller frees), NULL on ENOMEM or without an output. graph_to_lua writes a
 * candidate program (function Net(x, classes)) that compiles back to the same
 * hash; graph_to_pytorch a runnable module (class Net(nn.Module)). */
char *graph_to_lua(const graph *g);
char *graph_to_pytorch(const graph *g);

/* One row of the per-node summary: `llmnas check`'s table (graph_summary), its --json
 * "nodes" and Lua's g:layers() all print these rows, so they list the same nodes under
 * the same names. The rows are the live nodes in canonical order (id 0 is the input;
 * nodes the output does not depend on are left out, as in the exports and training). */
typedef struct graph_layer {
    int id;                   /* canonical number */
    char name[48];            /* "input", "conv2d_3": the exports' variable name */
    const graph_node *node;   /* op, attributes, shape, params, flops, act_bytes */
    int n_inputs;
    const int *inputs;        /* canonical ids of its inputs */
} graph_layer;

/* The rows of g into *out (malloc'd, one block: free(*out)). Returns their count, or -1
 * on ENOMEM or without an output. */
int graph_layers(const graph *g, graph_layer **out);

/* Keras-style table (layer, output shape, params, FLOPs, inputs) of graph_layers'
 * rows and totals; malloc'd, caller frees; NULL on ENOMEM or without an output. */
char *graph_summary(const graph *g);

/* A static string for a GRAPH_E* code, beginning with the code's name
 * ("GRAPH_ESHAPE: shapes do not fit the op"). */
const char *graph_strerror(int code);

#endif
