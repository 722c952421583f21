/*
 * graph_ops.c — the op table: every op's name, inputs, attributes (with their
 * types, defaults and ranges), properties, shape rule and export templates,
 * written once. graph.c (shapes, hash), graph_json.c, graph_export.c, the nn
 * builder (lua/sandbox/sandbox_nn.c) and the Lua view (lua/bind/arch.c) all
 * iterate it; runtime/graph/ADDING-AN-OP.md says how to add an op.
 */
#include "graph/graph.h"

#include <float.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define CH_MAX ((double)(1 << 24))   /* channels / features a candidate may ask for */
#define K_MAX ((double)(1 << 16))    /* kernel, stride, padding, dilation */

static const char *const approximate_names[] = {"none", "tanh", NULL};

#define F(field) offsetof(graph_attrs, field)
static const graph_attr_info attrs[GRAPH_A_COUNT] = {
    [GRAPH_A_OUT] = {"out", "out", GRAPH_T_COUNT, F(out), 0, 1, CH_MAX, NULL},
    [GRAPH_A_KERNEL] = {"kernel", "kernel_size", GRAPH_T_PAIR, F(kernel), 1, 1, K_MAX, NULL},
    /* stride 0 = "the kernel" (pools), resolved by graph_add */
    [GRAPH_A_STRIDE] = {"stride", "stride", GRAPH_T_PAIR, F(stride), 0, 1, K_MAX, NULL},
    [GRAPH_A_PADDING] = {"padding", "padding", GRAPH_T_PAIR, F(padding), 0, 0, K_MAX, NULL},
    [GRAPH_A_DILATION] = {"dilation", "dilation", GRAPH_T_PAIR, F(dilation), 1, 1, K_MAX, NULL},
    [GRAPH_A_GROUPS] = {"groups", "groups", GRAPH_T_INT, F(groups), 1, 1, CH_MAX, NULL},
    [GRAPH_A_BIAS] = {"bias", "bias", GRAPH_T_BOOL, F(bias), 1, 0, 1, NULL},
    [GRAPH_A_CEIL_MODE] = {"ceil_mode", "ceil_mode", GRAPH_T_BOOL, F(ceil_mode), 0, 0, 1, NULL},
    [GRAPH_A_COUNT_INCLUDE_PAD] = {"count_include_pad", "count_include_pad", GRAPH_T_BOOL,
                                   F(count_include_pad), 1, 0, 1, NULL},
    [GRAPH_A_EPS] = {"eps", "eps", GRAPH_T_NUM, F(eps), 1e-5, DBL_MIN, DBL_MAX, NULL},
    [GRAPH_A_MOMENTUM] = {"momentum", "momentum", GRAPH_T_NUM, F(momentum), 0.1, 0, 1, NULL},
    [GRAPH_A_NEGATIVE_SLOPE] = {"negative_slope", "negative_slope", GRAPH_T_NUM,
                                F(negative_slope), 0.01, -DBL_MAX, DBL_MAX, NULL},
    [GRAPH_A_P] = {"p", "p", GRAPH_T_NUM, F(p), 0.5, 0, 1, NULL},
    [GRAPH_A_APPROXIMATE] = {"approximate", "approximate", GRAPH_T_ENUM, F(approximate_tanh), 0,
                             0, 1, approximate_names},
    [GRAPH_A_OTHER] = {"other", "other", GRAPH_T_NUM, F(other), 0, -DBL_MAX, DBL_MAX, NULL},
    [GRAPH_A_ALPHA] = {"alpha", "alpha", GRAPH_T_NUM, F(alpha), 1.0, -DBL_MAX, DBL_MAX, NULL},
    [GRAPH_A_NUM_PARAMETERS] = {"num_parameters", "num_parameters", GRAPH_T_COUNT,
                                F(num_parameters), 1, 1, CH_MAX, NULL},
    [GRAPH_A_INIT] = {"init", "init", GRAPH_T_NUM, F(init), 0.25, -DBL_MAX, DBL_MAX, NULL},
    /* -4 .. 3 as a candidate may write it; the shape rule checks it against the rank */
    [GRAPH_A_DIM] = {"dim", "dim", GRAPH_T_INT, F(dim), 1, -4, 3, NULL},
};
#undef F

#define A(x) GRAPH_ATTR_BIT(GRAPH_A_##x)
#define WINDOW (A(KERNEL) | A(STRIDE) | A(PADDING))

static const graph_op_info ops[GRAPH_OP_COUNT] = {
    [GRAPH_OP_INPUT] = {.name = "Input", .shape = GRAPH_SHAPE_NONE},
    [GRAPH_OP_CONV2D] = {
        .name = "Conv2d", .min_inputs = 1, .max_inputs = 1,
        .attrs = A(OUT) | WINDOW | A(DILATION) | A(GROUPS) | A(BIAS),
        .fixed = A(OUT) | A(KERNEL),
        .positional = {GRAPH_A_STRIDE, GRAPH_A_PADDING, GRAPH_A_DILATION, GRAPH_A_GROUPS,
                       GRAPH_A_BIAS},
        .defaults = {{GRAPH_A_STRIDE, 1}},
        .shape = GRAPH_SHAPE_CONV,
        .lua = "nn.$name($0, $out, $kernel$opts)",
        .py_module = "nn.$name($in, $out, kernel_size=$kernel, stride=$stride, "
                     "padding=$padding, dilation=$dilation, groups=$groups, bias=$bias)"},
    [GRAPH_OP_BATCHNORM2D] = {
        .name = "BatchNorm2d", .min_inputs = 1, .max_inputs = 1,
        .attrs = A(EPS) | A(MOMENTUM), .flags = GRAPH_OPF_LUA_ALL_OPTS,
        .shape = GRAPH_SHAPE_CHANNELS,
        .lua = "nn.$name($0$opts)",
        .py_module = "nn.$name($in, eps=$eps, momentum=$momentum)"},
    [GRAPH_OP_RELU] = {.name = "ReLU", .min_inputs = 1, .max_inputs = 1,
                       .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    [GRAPH_OP_LEAKYRELU] = {
        .name = "LeakyReLU", .min_inputs = 1, .max_inputs = 1, .attrs = A(NEGATIVE_SLOPE),
        .positional = {GRAPH_A_NEGATIVE_SLOPE}, .flags = GRAPH_OPF_INPLACE,
        .shape = GRAPH_SHAPE_SAME,
        .lua = "nn.$name($0, $negative_slope)",
        .py_module = "nn.$name(negative_slope=$negative_slope)"},
    [GRAPH_OP_GELU] = {
        .name = "GELU", .min_inputs = 1, .max_inputs = 1, .attrs = A(APPROXIMATE),
        .positional = {GRAPH_A_APPROXIMATE}, .flags = GRAPH_OPF_INPLACE,
        .shape = GRAPH_SHAPE_SAME,
        .lua = "nn.$name($0$?approximate)",
        .py_module = "nn.$name(approximate='$approximate')"},
    [GRAPH_OP_SILU] = {.name = "SiLU", .min_inputs = 1, .max_inputs = 1,
                       .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    [GRAPH_OP_SIGMOID] = {.name = "Sigmoid", .min_inputs = 1, .max_inputs = 1,
                          .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    [GRAPH_OP_TANH] = {.name = "Tanh", .min_inputs = 1, .max_inputs = 1,
                       .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    [GRAPH_OP_HARDSWISH] = {.name = "Hardswish", .min_inputs = 1, .max_inputs = 1,
                            .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    [GRAPH_OP_MAXPOOL2D] = {
        .name = "MaxPool2d", .min_inputs = 1, .max_inputs = 1,
        .attrs = WINDOW | A(DILATION) | A(CEIL_MODE), .fixed = A(KERNEL),
        .positional = {GRAPH_A_STRIDE, GRAPH_A_PADDING, GRAPH_A_DILATION},
        .shape = GRAPH_SHAPE_POOL,
        .lua = "nn.$name($0, $kernel$opts)",
        .py_module = "nn.$name(kernel_size=$kernel, stride=$stride, padding=$padding, "
                     "dilation=$dilation, ceil_mode=$ceil_mode)"},
    [GRAPH_OP_AVGPOOL2D] = {
        .name = "AvgPool2d", .min_inputs = 1, .max_inputs = 1,
        .attrs = WINDOW | A(CEIL_MODE) | A(COUNT_INCLUDE_PAD), .fixed = A(KERNEL),
        .positional = {GRAPH_A_STRIDE, GRAPH_A_PADDING, GRAPH_A_CEIL_MODE,
                       GRAPH_A_COUNT_INCLUDE_PAD},
        .shape = GRAPH_SHAPE_POOL,
        .lua = "nn.$name($0, $kernel$opts)",
        .py_module = "nn.$name(kernel_size=$kernel, stride=$stride, padding=$padding, "
                     "count_include_pad=$count_include_pad, ceil_mode=$ceil_mode)"},
    [GRAPH_OP_ADAPTIVEAVGPOOL2D] = {
        .name = "AdaptiveAvgPool2d", .min_inputs = 1, .max_inputs = 1, .attrs = A(OUT),
        .fixed = A(OUT), .defaults = {{GRAPH_A_OUT, 1}}, .shape = GRAPH_SHAPE_GLOBAL_POOL,
        .lua = "nn.$name($0, $out)", .py_module = "nn.$name($out)"},
    [GRAPH_OP_FLATTEN] = {.name = "Flatten", .min_inputs = 1, .max_inputs = 1,
                          .shape = GRAPH_SHAPE_FLATTEN},
    [GRAPH_OP_LINEAR] = {
        .name = "Linear", .min_inputs = 1, .max_inputs = 1, .attrs = A(OUT) | A(BIAS),
        .fixed = A(OUT), .shape = GRAPH_SHAPE_LINEAR,
        .lua = "nn.$name($0, $out$opts)",
        .py_module = "nn.$name($in, $out, bias=$bias)"},
    [GRAPH_OP_DROPOUT] = {
        .name = "Dropout", .min_inputs = 1, .max_inputs = 1, .attrs = A(P),
        .positional = {GRAPH_A_P}, .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME,
        .lua = "nn.$name($0, $p)", .py_module = "nn.$name(p=$p)"},
    [GRAPH_OP_IDENTITY] = {.name = "Identity", .min_inputs = 1, .max_inputs = 1,
                           .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    [GRAPH_OP_ADD] = {.name = "add", .min_inputs = 2, .max_inputs = 2,
                      .flags = GRAPH_OPF_COMMUTATIVE, .shape = GRAPH_SHAPE_BROADCAST,
                      .lua = "$0 + $1", .py_call = "$0 + $1"},
    [GRAPH_OP_MUL] = {.name = "mul", .min_inputs = 2, .max_inputs = 2,
                      .flags = GRAPH_OPF_COMMUTATIVE, .shape = GRAPH_SHAPE_BROADCAST,
                      .lua = "$0 * $1", .py_call = "$0 * $1"},
    [GRAPH_OP_CAT] = {.name = "cat", .min_inputs = 2, .max_inputs = 0,
                      .shape = GRAPH_SHAPE_CAT,
                      .lua = "nn.$name({$inputs})", .py_call = "torch.$name([$inputs], dim=1)"},
    /* Scalar arithmetic on a node. The candidate writes `x * 0.5`, `0.5 * x`, `-x`
     * (other = -1), `x / 4` (0.25), `x + 1`, `x - 1` (-1); nn.mul(x, 0.5) and
     * nn.add(x, 1) too. A number has no shape, so these are ops of one input. */
    [GRAPH_OP_MUL_SCALAR] = {.name = "mul_scalar", .min_inputs = 1, .max_inputs = 1,
                             .attrs = A(OTHER), .positional = {GRAPH_A_OTHER},
                             .defaults = {{GRAPH_A_OTHER, 1}}, .shape = GRAPH_SHAPE_SAME,
                             .lua = "$0 * $other", .py_call = "$0 * $other"},
    [GRAPH_OP_ADD_SCALAR] = {.name = "add_scalar", .min_inputs = 1, .max_inputs = 1,
                             .attrs = A(OTHER), .positional = {GRAPH_A_OTHER},
                             .shape = GRAPH_SHAPE_SAME,
                             .lua = "$0 + $other", .py_call = "$0 + $other"},
    [GRAPH_OP_BATCHNORM1D] = {
        .name = "BatchNorm1d", .min_inputs = 1, .max_inputs = 1,
        .attrs = A(EPS) | A(MOMENTUM), .shape = GRAPH_SHAPE_FEATURES,
        .lua = "nn.$name($0$opts)",
        .py_module = "nn.$name($in, eps=$eps, momentum=$momentum)"},
    /* PyTorch's nn.LayerNorm normalises the last dimension: F of [B, F]. On
     * [B, C, H, W] the op normalises C at each position, as ConvNeXt's LayerNorm2d,
     * which PyTorch writes with permutes around nn.LayerNorm(C). */
    [GRAPH_OP_LAYERNORM] = {
        .name = "LayerNorm", .min_inputs = 1, .max_inputs = 1, .attrs = A(EPS),
        .shape = GRAPH_SHAPE_NORM,
        .lua = "nn.$name($0$opts)", .py_module = "nn.$name($in, eps=$eps)",
        .py_call4 = "$self($0.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)"},
    [GRAPH_OP_ADAPTIVEMAXPOOL2D] = {
        .name = "AdaptiveMaxPool2d", .min_inputs = 1, .max_inputs = 1, .attrs = A(OUT),
        .fixed = A(OUT), .defaults = {{GRAPH_A_OUT, 1}}, .shape = GRAPH_SHAPE_GLOBAL_POOL,
        .lua = "nn.$name($0, $out)", .py_module = "nn.$name($out)"},
    [GRAPH_OP_ELU] = {
        .name = "ELU", .min_inputs = 1, .max_inputs = 1, .attrs = A(ALPHA),
        .positional = {GRAPH_A_ALPHA}, .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME,
        .lua = "nn.$name($0$?alpha)", .py_module = "nn.$name(alpha=$alpha)"},
    [GRAPH_OP_MISH] = {.name = "Mish", .min_inputs = 1, .max_inputs = 1,
                       .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SAME},
    /* nn.PReLU(x) learns one slope, nn.PReLU(x, C) one per channel (PyTorch's
     * num_parameters, which must then be the input's C or F). */
    [GRAPH_OP_PRELU] = {
        .name = "PReLU", .min_inputs = 1, .max_inputs = 1,
        .attrs = A(NUM_PARAMETERS) | A(INIT),
        .positional = {GRAPH_A_NUM_PARAMETERS, GRAPH_A_INIT}, .shape = GRAPH_SHAPE_PRELU,
        .lua = "nn.$name($0$opts)",
        .py_module = "nn.$name(num_parameters=$num_parameters, init=$init)"},
    [GRAPH_OP_SOFTMAX] = {
        .name = "Softmax", .min_inputs = 1, .max_inputs = 1, .attrs = A(DIM),
        .positional = {GRAPH_A_DIM}, .shape = GRAPH_SHAPE_SOFTMAX,
        .lua = "nn.$name($0, $dim)", .py_module = "nn.$name(dim=$dim)"},
    [GRAPH_OP_DROPOUT2D] = {
        .name = "Dropout2d", .min_inputs = 1, .max_inputs = 1, .attrs = A(P),
        .positional = {GRAPH_A_P}, .flags = GRAPH_OPF_INPLACE, .shape = GRAPH_SHAPE_SPATIAL,
        .lua = "nn.$name($0, $p)", .py_module = "nn.$name(p=$p)"},
};
#undef A
#undef WINDOW

const graph_op_info *graph_op_info_get(graph_op op)
{
    return (op >= 0 && op < GRAPH_OP_COUNT) ? &ops[op] : NULL;
}

const graph_attr_info *graph_attr_info_get(int id)
{
    return (id > GRAPH_A_NONE && id < GRAPH_A_COUNT) ? &attrs[id] : NULL;
}

const char *graph_op_name(graph_op op)
{
    return (op >= 0 && op < GRAPH_OP_COUNT) ? ops[op].name : "?";
}

int graph_op_from_name(const char *name)
{
    for (int i = 0; name && i < GRAPH_OP_COUNT; i++)
        if (strcmp(ops[i].name, name) == 0)
            return i;
    return -1;
}

int64_t graph_attr_int(const graph_attrs *a, int id, int k)
{
    const graph_attr_info *ai = graph_attr_info_get(id);
    const char *p = (const char *)a + ai->offset;
    switch (ai->type) {
    case GRAPH_T_COUNT: return *(const int64_t *)(const void *)p;
    case GRAPH_T_PAIR: return ((const int *)(const void *)p)[k ? 1 : 0];
    case GRAPH_T_NUM: return (int64_t)*(const double *)(const void *)p;
    default: return *(const int *)(const void *)p;
    }
}

double graph_attr_num(const graph_attrs *a, int id)
{
    const graph_attr_info *ai = graph_attr_info_get(id);
    if (ai->type == GRAPH_T_NUM)
        return *(const double *)(const void *)((const char *)a + ai->offset);
    return (double)graph_attr_int(a, id, 0);
}

void graph_attr_set_int(graph_attrs *a, int id, int k, int64_t v)
{
    const graph_attr_info *ai = graph_attr_info_get(id);
    char *p = (char *)a + ai->offset;
    switch (ai->type) {
    case GRAPH_T_COUNT: *(int64_t *)(void *)p = v; break;
    case GRAPH_T_NUM: *(double *)(void *)p = (double)v; break;
    case GRAPH_T_PAIR:
        if (k <= 0)
            ((int *)(void *)p)[0] = (int)v;
        if (k != 0)
            ((int *)(void *)p)[1] = (int)v;
        break;
    default: *(int *)(void *)p = (int)v; break;
    }
}

void graph_attr_set_num(graph_attrs *a, int id, double v)
{
    const graph_attr_info *ai = graph_attr_info_get(id);
    if (ai->type == GRAPH_T_NUM)
        *(double *)(void *)((char *)a + ai->offset) = v;
    else
        graph_attr_set_int(a, id, -1, (int64_t)v);
}

void graph_attrs_default(graph_op op, graph_attrs *a)
{
    memset(a, 0, sizeof *a);
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++)
        graph_attr_set_num(a, id, attrs[id].def);
    const graph_op_info *oi = graph_op_info_get(op);
    for (size_t i = 0; oi && i < sizeof oi->defaults / sizeof oi->defaults[0]; i++)
        if (oi->defaults[i].attr != GRAPH_A_NONE)
            graph_attr_set_num(a, oi->defaults[i].attr, oi->defaults[i].value);
}

int graph_attr_is_default(graph_op op, const graph_attrs *a, int id)
{
    graph_attrs d;
    graph_attrs_default(op, &d);
    if (id == GRAPH_A_STRIDE && d.stride[0] == 0) {  /* pools: stride = kernel */
        d.stride[0] = a->kernel[0];
        d.stride[1] = a->kernel[1];
    }
    const graph_attr_info *ai = graph_attr_info_get(id);
    if (ai->type == GRAPH_T_NUM)
        return graph_attr_num(a, id) == graph_attr_num(&d, id);
    return graph_attr_int(a, id, 0) == graph_attr_int(&d, id, 0) &&
           graph_attr_int(a, id, 1) == graph_attr_int(&d, id, 1);
}

char *graph_attr_choices_str(const graph_attr_info *ai, char q, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; ai->choices && ai->choices[i] && n < len; i++) {
        const char *sep = i == 0 ? "" : ai->choices[i + 1] ? ", " : " or ";
        int k = snprintf(buf + n, len - n, "%s%c%s%c", sep, q, ai->choices[i], q);
        if (k < 0)
            break;
        n += (size_t)k;
    }
    return buf;
}
