/*
 * graph.c — the graph IR: node creation with PyTorch's shape rules, per-node
 * counts (parameters, FLOPs, activation bytes), the output check and the
 * canonical order. JSON, hashing and exports live in graph_json.c and
 * graph_export.c. See graph.h for the contract.
 *
 * FLOPs count Conv2d and Linear only, 2 x multiply-adds per image (bias adds,
 * normalisation, activations and pooling are not counted), the convention of
 * /work/shared/bench/README.md.
 *
 * Canonical order: every node gets a structural key (a 64-bit hash of its op,
 * attributes and its inputs' keys, so it names the whole sub-network feeding
 * it); the order is the post-order of a depth-first walk from the output that
 * visits inputs in wiring order, except that the two operands of the
 * commutative add / mul are visited in key order. Creation order, variable
 * names and formatting therefore never reach the canonical form.
 */
#include "graph/graph.h"
#include "graph/graph_internal.h"
#include "base/rt.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM_MAX ((int64_t)1 << 30)  /* larger dims are refused as too big */

const char *graph_strerror(int code)
{
    switch (code) {
    case GRAPH_OK: return "GRAPH_OK: success";
    case GRAPH_ESHAPE: return "GRAPH_ESHAPE: shapes do not fit the op";
    case GRAPH_EARG: return "GRAPH_EARG: attribute out of range";
    case GRAPH_ENOMEM: return "GRAPH_ENOMEM: out of memory";
    case GRAPH_ETOOBIG: return "GRAPH_ETOOBIG: graph too large";
    case GRAPH_EJSON: return "GRAPH_EJSON: malformed graph JSON";
    case GRAPH_ESTATE: return "GRAPH_ESTATE: call out of order";
    default: return "GRAPH_E?: unknown error code";
    }
}

char *graph_shape_str(const graph_shape *s, char *buf, size_t len)
{
    if (s->rank == 2)
        return rt_fmt(buf, len, "[B, %lld]", (long long)s->dim[1]);
    return rt_fmt(buf, len, "[B, %lld, %lld, %lld]", (long long)s->dim[1],
                  (long long)s->dim[2], (long long)s->dim[3]);
}

int graph_new(graph **out, int64_t c, int64_t h, int64_t w)
{
    *out = NULL;
    if (c < 1 || h < 1 || w < 1 || c > DIM_MAX || h > DIM_MAX || w > DIM_MAX)
        return GRAPH_EARG;
    graph *g = calloc(1, sizeof *g);
    if (!g)
        return GRAPH_ENOMEM;
    g->cap = 64;
    g->nodes = calloc((size_t)g->cap, sizeof *g->nodes);
    if (!g->nodes) {
        free(g);
        return GRAPH_ENOMEM;
    }
    graph_node *in = &g->nodes[0];
    in->op = GRAPH_OP_INPUT;
    graph_attrs_default(GRAPH_OP_INPUT, &in->a);
    in->shape.rank = 4;
    in->shape.dim[0] = GRAPH_BATCH;
    in->shape.dim[1] = c;
    in->shape.dim[2] = h;
    in->shape.dim[3] = w;
    in->act_bytes = 4 * c * h * w;
    g->n = 1;
    g->output = -1;
    *out = g;
    return GRAPH_OK;
}

void graph_free(graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        free(g->nodes[i].inputs);
    free(g->nodes);
    free(g);
}

/* ---- shape inference ------------------------------------------------------ */

typedef struct infer {
    const graph *g;
    graph_op op;
    graph_attrs *a;
    const graph_shape *in[2]; /* first two inputs (enough for every op but cat) */
    const int *inputs;
    int n_inputs;
    graph_node *node;         /* result: shape, params, flops */
    char *err;
    size_t errlen;
} infer;

#define SHP(buf, s) graph_shape_str((s), (buf), sizeof(buf))

static int fail(infer *f, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(infer *f, int code, const char *fmt, ...)
{
    if (f->err && f->errlen) {
        int k = snprintf(f->err, f->errlen, "%s: ", graph_op_name(f->op));
        if (k >= 0 && (size_t)k < f->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(f->err + k, f->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

static int need_rank4(infer *f)
{
    char b[96];
    if (f->in[0]->rank == 4)
        return 0;
    return fail(f, GRAPH_ESHAPE, "expected a [B, C, H, W] input, got %s",
                SHP(b, f->in[0]));
}

/* a*b into *r, or too big. */
static int mul_ok(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

static int set_counts(infer *f, int64_t params, int64_t macs)
{
    graph_node *n = f->node;
    int64_t elems = 1, flops, bytes;
    for (int i = 1; i < n->shape.rank; i++) {
        if (n->shape.dim[i] > DIM_MAX)
            return fail(f, GRAPH_ETOOBIG, "output dimension %lld is too large",
                        (long long)n->shape.dim[i]);
        if (!mul_ok(elems, n->shape.dim[i], &elems))
            return fail(f, GRAPH_ETOOBIG, "output is too large");
    }
    if (params < 0 || macs < 0 || !mul_ok(macs, 2, &flops) ||
        !mul_ok(elems, 4, &bytes))
        return fail(f, GRAPH_ETOOBIG, "parameter or FLOP count overflows");
    n->params = params;
    n->flops = flops;
    n->act_bytes = bytes;
    return 0;
}

static int check_window(infer *f, int pool)
{
    const graph_attrs *a = f->a;
    for (int i = 0; i < 2; i++) {
        if (a->kernel[i] < 1)
            return fail(f, GRAPH_EARG, "kernel_size must be positive, got %d", a->kernel[i]);
        if (a->stride[i] < 1)
            return fail(f, GRAPH_EARG, "stride must be positive, got %d", a->stride[i]);
        if (a->padding[i] < 0)
            return fail(f, GRAPH_EARG, "padding must be non-negative, got %d", a->padding[i]);
        if (a->dilation[i] < 1)
            return fail(f, GRAPH_EARG, "dilation must be positive, got %d", a->dilation[i]);
        if (pool && a->padding[i] > a->kernel[i] / 2)
            return fail(f, GRAPH_EARG,
                        "padding should be at most half of kernel_size, got padding %d "
                        "for kernel_size %d", a->padding[i], a->kernel[i]);
    }
    return 0;
}

/* PyTorch's pooling_output_shape / conv output size. */
static int64_t window_out(int64_t in, int k, int s, int p, int d, int ceil_mode)
{
    int64_t num = in + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t q = num >= 0 ? num / s : -((-num + s - 1) / s);
    int64_t out = q + 1;
    if (ceil_mode && (out - 1) * s >= in + p)
        out--;
    return out;
}

static int infer_window(infer *f, int pool, int ceil_mode)
{
    char b[96];
    const graph_attrs *a = f->a;
    graph_shape *o = &f->node->shape;
    *o = *f->in[0];
    for (int i = 0; i < 2; i++) {
        int64_t in = f->in[0]->dim[2 + i];
        int64_t out = window_out(in, a->kernel[i], a->stride[i], a->padding[i],
                                 pool == 2 ? 1 : a->dilation[i], ceil_mode);
        if (out < 1)
            return fail(f, GRAPH_ESHAPE,
                        "kernel %dx%d (stride %d, padding %d, dilation %d) does not fit "
                        "the input %s: output would be empty; reduce the kernel or "
                        "downsample less before this layer",
                        a->kernel[0], a->kernel[1], a->stride[i], a->padding[i],
                        pool == 2 ? 1 : a->dilation[i], SHP(b, f->in[0]));
        o->dim[2 + i] = out;
    }
    return 0;
}

static int infer_conv(infer *f)
{
    char b[96];
    graph_attrs *a = f->a;
    int rc = need_rank4(f);
    if (rc)
        return rc;
    if (a->out < 1)
        return fail(f, GRAPH_EARG, "out_channels must be positive, got %lld", (long long)a->out);
    if (a->out > DIM_MAX)
        return fail(f, GRAPH_ETOOBIG, "out_channels %lld is too large", (long long)a->out);
    if (a->groups < 1)
        return fail(f, GRAPH_EARG, "groups must be positive, got %d", a->groups);
    if ((rc = check_window(f, 0)))
        return rc;
    int64_t cin = f->in[0]->dim[1];
    if (cin % a->groups || a->out % a->groups)
        return fail(f, GRAPH_ESHAPE,
                    "groups=%d must divide both in_channels %lld and out_channels %lld "
                    "(input shape %s)", a->groups, (long long)cin, (long long)a->out,
                    SHP(b, f->in[0]));
    if ((rc = infer_window(f, 0, 0)))
        return rc;
    f->node->shape.dim[1] = a->out;
    int64_t per = 0, params = 0, hw = 0, macs = 0, k = (int64_t)a->kernel[0] * a->kernel[1];
    if (!mul_ok(cin / a->groups, k, &per) || !mul_ok(per, a->out, &params) ||
        !mul_ok(f->node->shape.dim[2], f->node->shape.dim[3], &hw) ||
        !mul_ok(hw, a->out, &macs) || !mul_ok(macs, per, &macs))
        return fail(f, GRAPH_ETOOBIG, "parameter or FLOP count overflows");
    return set_counts(f, params + (a->bias ? a->out : 0), macs);
}

static int infer_pool(infer *f)
{
    graph_attrs *a = f->a;
    int rc = need_rank4(f);
    if (rc)
        return rc;
    for (int i = 0; i < 2; i++)
        if (a->stride[i] == 0)
            a->stride[i] = a->kernel[i];
    int dilated = (graph_op_info_get(f->op)->attrs & GRAPH_ATTR_BIT(GRAPH_A_DILATION)) != 0;
    if (!dilated)
        a->dilation[0] = a->dilation[1] = 1;
    if ((rc = check_window(f, 1)))
        return rc;
    if ((rc = infer_window(f, dilated ? 1 : 2, a->ceil_mode)))
        return rc;
    return set_counts(f, 0, 0);
}

static int infer_linear(infer *f)
{
    char b[96];
    graph_attrs *a = f->a;
    if (f->in[0]->rank != 2)
        return fail(f, GRAPH_ESHAPE,
                    "expected a [B, F] input, got %s; insert nn.Flatten(x) first",
                    SHP(b, f->in[0]));
    if (a->out < 1)
        return fail(f, GRAPH_EARG, "out_features must be positive, got %lld", (long long)a->out);
    if (a->out > DIM_MAX)
        return fail(f, GRAPH_ETOOBIG, "out_features %lld is too large", (long long)a->out);
    graph_shape *o = &f->node->shape;
    *o = *f->in[0];
    o->dim[1] = a->out;
    int64_t macs;
    if (!mul_ok(f->in[0]->dim[1], a->out, &macs))
        return fail(f, GRAPH_ETOOBIG, "parameter count overflows");
    return set_counts(f, macs + (a->bias ? a->out : 0), macs);
}

/* PyTorch's broadcasting, restricted to what the trainer runs: both inputs of one
 * rank, each dimension equal or 1 on one side, and one input of the output's shape
 * (oneDNN broadcasts its second source only): [B, C, H, W] with [B, C, 1, 1] (squeeze-
 * excitation) or [B, 1, H, W], not [B, C, 1, W] with [B, C, H, 1]. */
static int infer_broadcast(infer *f)
{
    char b1[96], b2[96], b3[96];
    const graph_shape *x = f->in[0], *y = f->in[1];
    if (x->rank != y->rank)
        return fail(f, GRAPH_ESHAPE,
                    "shapes %s and %s have different ranks: both operands must be "
                    "[B, C, H, W] or both [B, F] (to scale channels by a vector, keep it "
                    "[B, C, 1, 1]: x:mean({2, 3}, true) and 1x1 convolutions)",
                    SHP(b1, x), SHP(b2, y));
    graph_shape *o = &f->node->shape;
    *o = *x;
    int full_x = 1, full_y = 1;
    for (int i = 1; i < x->rank; i++) {
        int64_t p = x->dim[i], q = y->dim[i];
        if (p != q && p != 1 && q != 1)
            return fail(f, GRAPH_ESHAPE,
                        "shapes %s and %s cannot be broadcast (dimension %d: %lld vs %lld; "
                        "each dimension must be equal or 1 on one side)",
                        SHP(b1, x), SHP(b2, y), i + 1, (long long)p, (long long)q);
        o->dim[i] = p > q ? p : q;
        full_x &= p == o->dim[i];
        full_y &= q == o->dim[i];
    }
    if (!full_x && !full_y)
        return fail(f, GRAPH_ESHAPE,
                    "shapes %s and %s both broadcast: one operand must have the full "
                    "shape %s", SHP(b1, x), SHP(b2, y), SHP(b3, o));
    return set_counts(f, 0, 0);
}

static int infer_cat(infer *f)
{
    char b1[96], b2[96];
    graph_shape *o = &f->node->shape;
    const graph_shape *x = &f->g->nodes[f->inputs[0]].shape;
    *o = *x;
    o->dim[1] = 0;
    for (int i = 0; i < f->n_inputs; i++) {
        const graph_shape *y = &f->g->nodes[f->inputs[i]].shape;
        if (y->rank != 4)
            return fail(f, GRAPH_ESHAPE, "expected [B, C, H, W] inputs, input %d is %s",
                        i + 1, SHP(b1, y));
        if (y->dim[2] != x->dim[2] || y->dim[3] != x->dim[3])
            return fail(f, GRAPH_ESHAPE,
                        "inputs must have the same height and width, got %s and %s",
                        SHP(b1, x), SHP(b2, y));
        if (__builtin_add_overflow(o->dim[1], y->dim[1], &o->dim[1]))
            return fail(f, GRAPH_ETOOBIG, "too many channels");
    }
    return set_counts(f, 0, 0);
}

static int infer_same(infer *f)
{
    f->node->shape = *f->in[0];
    return set_counts(f, 0, 0);
}

/* Per-channel affine (BatchNorm2d): weight and bias per channel. */
static int infer_channels(infer *f)
{
    char b[96];
    if (f->in[0]->rank != 4)
        return fail(f, GRAPH_ESHAPE, "expected a [B, C, H, W] input, got %s; use "
                    "nn.BatchNorm1d on [B, F]", SHP(b, f->in[0]));
    f->node->shape = *f->in[0];
    return set_counts(f, 2 * f->node->shape.dim[1], 0);
}

/* Per-feature affine on [B, F] (BatchNorm1d). */
static int infer_features(infer *f)
{
    char b[96];
    if (f->in[0]->rank != 2)
        return fail(f, GRAPH_ESHAPE, "expected a [B, F] input, got %s; use nn.BatchNorm2d on "
                    "[B, C, H, W]", SHP(b, f->in[0]));
    f->node->shape = *f->in[0];
    return set_counts(f, 2 * f->node->shape.dim[1], 0);
}

/* Normalisation over dim 1 with a weight and a bias per C or F (LayerNorm). */
static int infer_norm(infer *f)
{
    f->node->shape = *f->in[0];
    return set_counts(f, 2 * f->node->shape.dim[1], 0);
}

/* PReLU: one slope, or one per channel (feature). */
static int infer_prelu(infer *f)
{
    char b[96];
    int64_t c = f->in[0]->dim[1], np = f->a->num_parameters;
    if (np != 1 && np != c)
        return fail(f, GRAPH_EARG, "num_parameters must be 1 or the input's %s %lld, got %lld "
                    "(input shape %s)", f->in[0]->rank == 4 ? "channels" : "features",
                    (long long)c, (long long)np, SHP(b, f->in[0]));
    f->node->shape = *f->in[0];
    return set_counts(f, np, 0);
}

/* Softmax over one dim, not the batch; dim is stored in 1 .. rank - 1. */
static int infer_softmax(infer *f)
{
    char b[96];
    int r = f->in[0]->rank, d = f->a->dim;
    if (d < 0)
        d += r;
    if (d < 1 || d >= r)
        return fail(f, GRAPH_EARG, "dim must be 1 to %d (or -%d to -1) for the input %s, got %d%s",
                    r - 1, r - 1, SHP(b, f->in[0]), f->a->dim,
                    d == 0 ? " (the batch dim cannot be normalised)" : "");
    f->a->dim = d;
    f->node->shape = *f->in[0];
    return set_counts(f, 0, 0);
}

/* Elementwise on [B, C, H, W] only (Dropout2d drops whole channels). */
static int infer_spatial(infer *f)
{
    char b[96];
    if (f->in[0]->rank != 4)
        return fail(f, GRAPH_ESHAPE, "expected a [B, C, H, W] input, got %s; use nn.Dropout on "
                    "[B, F]", SHP(b, f->in[0]));
    return infer_same(f);
}

static int infer_global_pool(infer *f)
{
    int rc = need_rank4(f);
    if (rc)
        return rc;
    if (f->a->out != 1)
        return fail(f, GRAPH_EARG, "only output_size 1 is supported, got %lld",
                    (long long)f->a->out);
    graph_shape *o = &f->node->shape;
    *o = *f->in[0];
    o->dim[2] = o->dim[3] = 1;
    return set_counts(f, 0, 0);
}

static int infer_flatten(infer *f)
{
    graph_shape *o = &f->node->shape;
    *o = *f->in[0];
    if (o->rank == 4) {
        int64_t c = o->dim[1], hw;
        if (!mul_ok(o->dim[2], o->dim[3], &hw) || !mul_ok(c, hw, &o->dim[1]))
            return fail(f, GRAPH_ETOOBIG, "output is too large");
        o->rank = 2;
        o->dim[2] = o->dim[3] = 0;
    }
    return set_counts(f, 0, 0);
}

/* The ranges of the op table for the attributes no shape rule checks:
 * numbers, booleans and enums. */
static int check_attrs(infer *f)
{
    unsigned set = graph_op_info_get(f->op)->attrs;
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        if (!(set & GRAPH_ATTR_BIT(id)))
            continue;
        const graph_attr_info *ai = graph_attr_info_get(id);
        char c[128];
        if (ai->type == GRAPH_T_BOOL) {
            int64_t v = graph_attr_int(f->a, id, 0);
            if (v != 0 && v != 1)
                return fail(f, GRAPH_EARG, "%s must be true or false", ai->option);
        } else if (ai->type == GRAPH_T_ENUM) {
            int64_t v = graph_attr_int(f->a, id, 0), n = 0;
            while (ai->choices[n])
                n++;
            if (v < 0 || v >= n)
                return fail(f, GRAPH_EARG, "%s must be %s", ai->option,
                            graph_attr_choices_str(ai, '\'', c, sizeof c));
        } else if (ai->type == GRAPH_T_NUM) {
            double v = graph_attr_num(f->a, id);
            if (v >= ai->lo && v <= ai->hi)
                continue;
            if (ai->lo == DBL_MIN && ai->hi == DBL_MAX)
                return fail(f, GRAPH_EARG, "%s must be positive and finite, got %g",
                            ai->option, v);
            if (ai->lo == -DBL_MAX && ai->hi == DBL_MAX)
                return fail(f, GRAPH_EARG, "%s must be finite, got %g", ai->option, v);
            return fail(f, GRAPH_EARG, "%s must be in [%g, %g], got %g", ai->option, ai->lo,
                        ai->hi, v);
        }
    }
    return 0;
}

static int infer_node(infer *f)
{
    int rc = check_attrs(f);
    if (rc)
        return rc;
    switch (graph_op_info_get(f->op)->shape) {
    case GRAPH_SHAPE_SAME: return infer_same(f);
    case GRAPH_SHAPE_CHANNELS: return infer_channels(f);
    case GRAPH_SHAPE_CONV: return infer_conv(f);
    case GRAPH_SHAPE_POOL: return infer_pool(f);
    case GRAPH_SHAPE_GLOBAL_POOL: return infer_global_pool(f);
    case GRAPH_SHAPE_FLATTEN: return infer_flatten(f);
    case GRAPH_SHAPE_LINEAR: return infer_linear(f);
    case GRAPH_SHAPE_BROADCAST: return infer_broadcast(f);
    case GRAPH_SHAPE_CAT: return infer_cat(f);
    case GRAPH_SHAPE_FEATURES: return infer_features(f);
    case GRAPH_SHAPE_NORM: return infer_norm(f);
    case GRAPH_SHAPE_PRELU: return infer_prelu(f);
    case GRAPH_SHAPE_SOFTMAX: return infer_softmax(f);
    case GRAPH_SHAPE_SPATIAL: return infer_spatial(f);
    case GRAPH_SHAPE_NONE: break;
    }
    return fail(f, GRAPH_EARG, "the op has no shape rule");
}

static int arity_ok(graph_op op, int n)
{
    const graph_op_info *oi = graph_op_info_get(op);
    if (oi->min_inputs == 0)
        return 0;  /* the input node is made by graph_new only */
    return n >= oi->min_inputs && (oi->max_inputs == 0 || n <= oi->max_inputs);
}

static int grow(graph *g)
{
    if (g->n < g->cap)
        return 0;
    int cap = g->cap * 2;
    graph_node *p = realloc(g->nodes, (size_t)cap * sizeof *p);
    if (!p)
        return GRAPH_ENOMEM;
    memset(p + g->cap, 0, (size_t)(cap - g->cap) * sizeof *p);
    g->nodes = p;
    g->cap = cap;
    return 0;
}

int graph_add(graph *g, graph_op op, const graph_attrs *a, const int *inputs,
              int n_inputs, int line, int *id, char *err, size_t errlen)
{
    graph_attrs attrs;
    graph_node node;
    infer f = {.g = g, .op = op, .a = &attrs, .inputs = inputs,
               .n_inputs = n_inputs, .node = &node, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (op <= GRAPH_OP_INPUT || op >= GRAPH_OP_COUNT)
        return fail(&f, GRAPH_EARG, "unknown op %d", (int)op);
    if (!arity_ok(op, n_inputs) || !inputs)
        return fail(&f, GRAPH_EARG, "wrong number of inputs (%d)", n_inputs);
    int max = g->max_nodes > 0 ? g->max_nodes : GRAPH_DEFAULT_MAX_NODES;
    if (g->n >= max)
        return fail(&f, GRAPH_ETOOBIG, "too many layers: the network may have at most %d",
                    max - 1);
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] < 0 || inputs[i] >= g->n)
            return fail(&f, GRAPH_EARG, "input %d refers to node %d, which does not exist",
                        i + 1, inputs[i]);
    if (a)
        attrs = *a;
    else
        graph_attrs_default(op, &attrs);
    memset(&node, 0, sizeof node);
    f.in[0] = &g->nodes[inputs[0]].shape;
    f.in[1] = n_inputs > 1 ? &g->nodes[inputs[1]].shape : NULL;
    int rc = infer_node(&f);
    if (rc)
        return rc;
    if (grow(g))
        return fail(&f, GRAPH_ENOMEM, "out of memory");
    node.inputs = malloc((size_t)n_inputs * sizeof *node.inputs);
    if (!node.inputs)
        return fail(&f, GRAPH_ENOMEM, "out of memory");
    memcpy(node.inputs, inputs, (size_t)n_inputs * sizeof *inputs);
    node.n_inputs = n_inputs;
    node.op = op;
    node.a = attrs;
    node.line = line;
    g->nodes[g->n] = node;
    if (id)
        *id = g->n;
    g->n++;
    return GRAPH_OK;
}

int graph_set_output(graph *g, int id, int classes, char *err, size_t errlen)
{
    char b[96];
    if (err && errlen)
        err[0] = '\0';
    if (id < 0 || id >= g->n) {
        rt_fmt(err, errlen, "output refers to node %d, which does not exist", id);
        return GRAPH_EARG;
    }
    const graph_shape *s = &g->nodes[id].shape;
    if (classes > 0 && (s->rank != 2 || s->dim[1] != classes)) {
        rt_fmt(err, errlen, "the network's output must be [B, %d], got %s%s", classes,
               SHP(b, s),
               s->rank == 4 ? "; end with nn.Linear(nn.Flatten(x), classes)" : "");
        return GRAPH_ESHAPE;
    }
    g->output = id;
    g->classes = classes > 0 ? classes : (s->rank == 2 ? (int)s->dim[1] : 0);
    return GRAPH_OK;
}

void graph_stats_get(const graph *g, graph_stats *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < g->n; i++) {
        s->params += g->nodes[i].params;
        s->flops += g->nodes[i].flops;
        s->act_bytes += g->nodes[i].act_bytes;
    }
    s->layers = g->n > 0 ? g->n - 1 : 0;
}

/* ---- canonical order ------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int commutative(graph_op op)
{
    return (graph_op_info_get(op)->flags & GRAPH_OPF_COMMUTATIVE) != 0;
}

static uint64_t fnv_i(uint64_t h, int64_t v) { return fnv(h, &v, sizeof v); }
static uint64_t fnv_d(uint64_t h, double v) { return fnv(h, &v, sizeof v); }

/* Structural key: op, the op's own attributes, inputs' keys (wiring order;
 * operands of add/mul sorted, being commutative). */
static uint64_t node_key(const graph *g, int i, const uint64_t *keys)
{
    const graph_node *n = &g->nodes[i];
    const graph_attrs *a = &n->a;
    const graph_op_info *oi = graph_op_info_get(n->op);
    uint64_t h = fnv_i(0xcbf29ce484222325ULL, n->op);
    if (n->op == GRAPH_OP_INPUT)
        for (int d = 1; d < 4; d++)
            h = fnv_i(h, n->shape.dim[d]);
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        if (!(oi->attrs & GRAPH_ATTR_BIT(id)))
            continue;
        graph_attr_type t = graph_attr_info_get(id)->type;
        if (t == GRAPH_T_NUM)
            h = fnv_d(h, graph_attr_num(a, id));
        else
            h = fnv_i(h, graph_attr_int(a, id, 0));
        if (t == GRAPH_T_PAIR)
            h = fnv_i(h, graph_attr_int(a, id, 1));
    }
    if (oi->flags & GRAPH_OPF_COMMUTATIVE) {
        uint64_t x = keys[n->inputs[0]], y = keys[n->inputs[1]];
        uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
        return fnv_i(fnv_i(fnv_i(h, 2), (int64_t)lo), (int64_t)hi);
    }
    h = fnv_i(h, n->n_inputs);
    for (int k = 0; k < n->n_inputs; k++)
        h = fnv_i(h, (int64_t)keys[n->inputs[k]]);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int count_distinct(const uint64_t *v, const int *ids, int m, uint64_t *tmp)
{
    for (int i = 0; i < m; i++)
        tmp[i] = v[ids[i]];
    qsort(tmp, (size_t)m, sizeof *tmp, cmp_u64);
    int d = m > 0;
    for (int i = 1; i < m; i++)
        d += tmp[i] != tmp[i - 1];
    return d;
}

/*
 * Colour refinement (1-dimensional Weisfeiler-Leman) over the live nodes:
 * starting from the structural keys, a node's colour is repeatedly rehashed
 * with its inputs' colours (wiring order; sorted for add/mul) and the sorted
 * multiset of its users' colours and input positions, until the number of
 * colours stops growing. Two operands of one add/mul with equal keys are then
 * told apart by everything around them — how the rest of the network uses
 * them and their ancestors. Only nodes the output depends on count, so an
 * unused layer cannot change the order. It runs only while some add/mul has
 * tied operands, at most REFINE_ROUNDS rounds (each O(E log E)), so its cost
 * stays bounded: operands still equal after it are, in all but contrived
 * graphs (a difference more than REFINE_ROUNDS layers away), interchangeable.
 */
#define REFINE_ROUNDS 64
static int refine_colours(const graph *g, const uint64_t *keys, uint64_t *col)
{
    int n = g->n, edges = 0, rc = GRAPH_ENOMEM;
    int *start = calloc((size_t)n + 1, sizeof *start);
    char *live = calloc((size_t)n, 1);
    for (int i = 0; start && i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++, edges++)
            start[g->nodes[i].inputs[k] + 1]++;
    int *user = malloc(((size_t)edges + 1) * sizeof *user);
    int *pos = malloc(((size_t)edges + 1) * sizeof *pos);
    int *fill = malloc(((size_t)n + 1) * sizeof *fill);
    int *ids = malloc(((size_t)n + 1) * sizeof *ids);
    uint64_t *c = malloc(((size_t)edges + 1) * sizeof *c);
    uint64_t *next = malloc(((size_t)n + 1) * sizeof *next);
    uint64_t *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
    if (!start || !live || !user || !pos || !fill || !ids || !c || !next || !tmp)
        goto done;
    for (int i = 0; i < n; i++)
        start[i + 1] += start[i];
    memcpy(fill, start, ((size_t)n + 1) * sizeof *fill);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int v = g->nodes[i].inputs[k];
            user[fill[v]] = i;
            pos[fill[v]++] = k;
        }
    live[g->output] = 1;  /* inputs precede users: one backward sweep marks them */
    for (int i = g->output; i >= 0; i--)
        if (live[i])
            for (int k = 0; k < g->nodes[i].n_inputs; k++)
                live[g->nodes[i].inputs[k]] = 1;
    int m = 0;
    for (int i = 0; i < n; i++) {
        col[i] = keys[i];
        if (live[i])
            ids[m++] = i;
    }
    /* only the add/mul nodes whose operands tie need the refinement */
    int *tied = fill, nt = 0;
    for (int j = 0; j < m; j++) {
        const graph_node *nd = &g->nodes[ids[j]];
        if (commutative(nd->op) &&
            col[nd->inputs[0]] == col[nd->inputs[1]])
            tied[nt++] = ids[j];
    }
    int distinct = nt ? count_distinct(col, ids, m, tmp) : 0;
    for (int round = 0; nt > 0 && round < REFINE_ROUNDS; round++) {
        for (int j = 0; j < m; j++) {
            int v = ids[j], k = 0;
            const graph_node *nd = &g->nodes[v];
            int commut = commutative(nd->op);
            uint64_t h = fnv_i(0xcbf29ce484222325ULL, (int64_t)col[v]);
            if (commut) {
                uint64_t x = col[nd->inputs[0]], y = col[nd->inputs[1]];
                h = fnv_i(fnv_i(h, (int64_t)(x < y ? x : y)), (int64_t)(x < y ? y : x));
            } else {
                for (int q = 0; q < nd->n_inputs; q++)
                    h = fnv_i(h, (int64_t)col[nd->inputs[q]]);
            }
            for (int e = start[v]; e < start[v + 1]; e++) {
                int u = user[e];
                if (!live[u])
                    continue;
                int uc = commutative(g->nodes[u].op);
                c[k++] = fnv_i(fnv_i(0x84222325cbf29ce4ULL, (int64_t)col[u]), uc ? -1 : pos[e]);
            }
            qsort(c, (size_t)k, sizeof *c, cmp_u64);
            h = fnv_i(h, k);
            for (int q = 0; q < k; q++)
                h = fnv_i(h, (int64_t)c[q]);
            next[v] = h;
        }
        for (int j = 0; j < m; j++)
            col[ids[j]] = next[ids[j]];
        int left = 0;
        for (int j = 0; j < nt; j++) {
            const graph_node *nd = &g->nodes[tied[j]];
            if (col[nd->inputs[0]] == col[nd->inputs[1]])
                tied[left++] = tied[j];
        }
        nt = left;
        int d = count_distinct(col, ids, m, tmp);
        if (d <= distinct)
            break;
        distinct = d;
    }
    rc = GRAPH_OK;
done:
    free(start), free(live), free(user), free(pos), free(fill), free(ids), free(c);
    free(next), free(tmp);
    return rc;
}

/* The k-th input of node n in visiting order. */
static int visit_input(const graph_node *n, int k, const uint64_t *keys, const uint64_t *down)
{
    if (commutative(n->op)) {
        int x = n->inputs[0], y = n->inputs[1];
        uint64_t kx = keys[x], ky = keys[y], dx = down[x], dy = down[y];
        int swap = ky < kx || (ky == kx && (dy < dx || (dy == dx && y < x)));
        return (k == 0) != swap ? x : y;
    }
    return n->inputs[k];
}

int graph_canonical_order(const graph *g, int *order, int *count)
{
    *count = 0;
    if (g->output < 0 || g->output >= g->n)
        return GRAPH_ESTATE;
    uint64_t *keys = malloc((size_t)g->n * sizeof *keys);
    uint64_t *down = malloc((size_t)g->n * sizeof *down);
    char *state = calloc((size_t)g->n, 1);  /* 0 new, 1 on stack, 2 done */
    int *stack = malloc((size_t)g->n * sizeof *stack);
    int *next = calloc((size_t)g->n, sizeof *next);
    if (!keys || !down || !state || !stack || !next) {
        free(keys), free(down), free(state), free(stack), free(next);
        return GRAPH_ENOMEM;
    }
    for (int i = 0; i < g->n; i++)
        keys[i] = node_key(g, i, keys);
    if (refine_colours(g, keys, down)) {
        free(keys), free(down), free(state), free(stack), free(next);
        return GRAPH_ENOMEM;
    }
    int sp = 0, m = 0;
    stack[sp++] = g->output;
    state[g->output] = 1;
    while (sp > 0) {
        int v = stack[sp - 1];
        const graph_node *n = &g->nodes[v];
        if (next[v] < n->n_inputs) {
            int u = visit_input(n, next[v]++, keys, down);
            if (state[u] == 0) {
                state[u] = 1;
                stack[sp++] = u;
            }
        } else {
            state[v] = 2;
            order[m++] = v;
            sp--;
        }
    }
    free(keys), free(down), free(state), free(stack), free(next);
    *count = m;
    return GRAPH_OK;
}

int graph_finalize(graph *g)
{
    if (g->output < 0)
        return GRAPH_ESTATE;
    int *order = malloc((size_t)g->n * sizeof *order);
    int *newid = malloc((size_t)g->n * sizeof *newid);
    graph_node *nodes = calloc((size_t)g->cap, sizeof *nodes);
    int m = 0, rc = (order && newid && nodes) ? graph_canonical_order(g, order, &m)
                                            : GRAPH_ENOMEM;
    if (rc) {
        free(order), free(newid), free(nodes);
        return rc;
    }
    for (int i = 0; i < g->n; i++)
        newid[i] = -1;
    for (int k = 0; k < m; k++)
        newid[order[k]] = k;
    for (int k = 0; k < m; k++) {
        graph_node *n = &g->nodes[order[k]];
        nodes[k] = *n;
        n->inputs = NULL;
        for (int j = 0; j < nodes[k].n_inputs; j++)
            nodes[k].inputs[j] = newid[nodes[k].inputs[j]];
    }
    /* add/mul operands in canonical order: the one with the smaller new id first */
    for (int k = 0; k < m; k++) {
        graph_node *n = &nodes[k];
        if (commutative(n->op) && n->inputs[0] > n->inputs[1]) {
            int t = n->inputs[0];
            n->inputs[0] = n->inputs[1];
            n->inputs[1] = t;
        }
    }
    for (int i = 0; i < g->n; i++)
        free(g->nodes[i].inputs);
    free(g->nodes);
    g->nodes = nodes;
    g->output = newid[g->output];
    g->n = m;
    free(order), free(newid);
    return GRAPH_OK;
}
