/*
 * train_nets.h — small networks that together use every op of the candidate
 * language, built with the graph API; shared by the trainer's tests
 * (gradient checks, PyTorch agreement). Header-only on purpose: helper .c
 * files in tests/c are linked into every test binary.
 */
#ifndef TRAIN_NETS_H
#define TRAIN_NETS_H

#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"

static int tn_add(graph *g, graph_op op, const graph_attrs *a, const int *in, int nin)
{
    char err[256];
    int id = -1;
    if (graph_add(g, op, a, in, nin, 0, &id, err, sizeof err)) {
        fprintf(stderr, "train_nets: %s\n", err);
        abort();
    }
    return id;
}

static int tn_conv(graph *g, int x, int out, int k, int stride, int pad, int dil, int groups, int bias)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_CONV2D, &a);
    a.out = out;
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.padding[0] = a.padding[1] = pad;
    a.dilation[0] = a.dilation[1] = dil;
    a.groups = groups;
    a.bias = bias;
    return tn_add(g, GRAPH_OP_CONV2D, &a, &x, 1);
}

static int tn_op(graph *g, graph_op op, int x)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    return tn_add(g, op, &a, &x, 1);
}

static int tn_gelu_tanh(graph *g, int x)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_GELU, &a);
    a.approximate_tanh = 1;
    return tn_add(g, GRAPH_OP_GELU, &a, &x, 1);
}

static int tn_leaky(graph *g, int x, double slope)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_LEAKYRELU, &a);
    a.negative_slope = slope;
    return tn_add(g, GRAPH_OP_LEAKYRELU, &a, &x, 1);
}

static int tn_pool(graph *g, graph_op op, int x, int k, int stride, int pad, int dil, int ceil, int incl)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.padding[0] = a.padding[1] = pad;
    a.dilation[0] = a.dilation[1] = dil;
    a.ceil_mode = ceil;
    a.count_include_pad = incl;
    return tn_add(g, op, &a, &x, 1);
}

static int tn_linear(graph *g, int x, int out)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_LINEAR, &a);
    a.out = out;
    return tn_add(g, GRAPH_OP_LINEAR, &a, &x, 1);
}

static int tn_dropout(graph *g, int x, double p)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_DROPOUT, &a);
    a.p = p;
    return tn_add(g, GRAPH_OP_DROPOUT, &a, &x, 1);
}

static int tn_bin(graph *g, graph_op op, int x, int y)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    int in[2] = {x, y};
    return tn_add(g, op, &a, in, 2);
}

static int tn_cat(graph *g, const int *xs, int n)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_CAT, &a);
    return tn_add(g, GRAPH_OP_CAT, &a, xs, n);
}

/* x * v (mul_scalar) or x + v (add_scalar). */
static int tn_scalar(graph *g, graph_op op, int x, double v)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    a.other = v;
    return tn_add(g, op, &a, &x, 1);
}

/* A normalisation op (BatchNorm1d, ...) with eps and momentum. */
static int tn_norm(graph *g, graph_op op, int x, double eps, double momentum)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    a.eps = eps;
    a.momentum = momentum;
    return tn_add(g, op, &a, &x, 1);
}

/* An op with one attribute set by the caller (ELU alpha, PReLU slopes, Softmax dim, ...). */
static int tn_op_a(graph *g, graph_op op, int x, void (*set)(graph_attrs *, double), double v)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    set(&a, v);
    return tn_add(g, op, &a, &x, 1);
}

static void tn_set_alpha(graph_attrs *a, double v) { a->alpha = v; }
static void tn_set_slopes(graph_attrs *a, double v) { a->num_parameters = (int64_t)v; a->init = 0.1; }
static void tn_set_dim(graph_attrs *a, double v) { a->dim = (int)v; }
static void tn_set_p(graph_attrs *a, double v) { a->p = v; }

static graph *tn_finish(graph *g, int out, int classes)
{
    char err[256];
    if (graph_set_output(g, out, classes, err, sizeof err) || graph_finalize(g)) {
        fprintf(stderr, "train_nets: %s\n", err);
        abort();
    }
    return g;
}

#define TN_COUNT 16
static const char *const tn_names[TN_COUNT] = {
    "conv_bn_relu_maxpool", "grouped_dilated_leaky_avgpool_dropout", "gelu_silu_ceilpools_gap",
    "sigmoid_tanh_cat_hardswish", "residual_se_unfused_bn", "identity_square_odd_cat_bcast_add",
    "small_reference", "grouped4_bn_pool_relayout", "wide_3x3", "dense_cat34",
    "pools_exclude_pad_dilated", "scalar_arith_bcast", "batchnorm1d_mlp",
    "layernorm_channels_features", "prelu_elu_mish_global_max", "softmax_dims_dropout2d"};

/* Network i on a [B, c, h, w] input with `classes` outputs. */
static graph *tn_build(int i, int c, int h, int w, int classes)
{
    graph *g;
    if (graph_new(&g, c, h, w))
        abort();
    int x = 0, y, z;
    switch (i) {
    case 0:
        x = tn_conv(g, x, 8, 3, 1, 1, 1, 1, 0);
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D, x));
        x = tn_pool(g, GRAPH_OP_MAXPOOL2D, x, 2, 2, 0, 1, 0, 1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 1:
        x = tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1);
        x = tn_conv(g, x, 8, 3, 2, 2, 2, 2, 1);  /* groups 2, dilation 2, stride 2 */
        x = tn_leaky(g, x, 0.1);
        x = tn_pool(g, GRAPH_OP_AVGPOOL2D, x, 3, 2, 1, 1, 0, 1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), 16);
        x = tn_dropout(g, x, 0.3);
        x = tn_linear(g, x, classes);
        break;
    case 2:
        x = tn_op(g, GRAPH_OP_GELU, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1));
        x = tn_op(g, GRAPH_OP_SILU, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1));
        x = tn_pool(g, GRAPH_OP_MAXPOOL2D, x, 3, 2, 1, 1, 1, 1);  /* ceil mode */
        x = tn_pool(g, GRAPH_OP_AVGPOOL2D, x, 2, 2, 0, 1, 1, 1);  /* ceil, count_include_pad, no padding */
        x = tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 3:
        y = tn_op(g, GRAPH_OP_SIGMOID, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1));
        z = tn_op(g, GRAPH_OP_TANH, tn_conv(g, x, 8, 1, 1, 0, 1, 1, 1));
        {
            int xs[2] = {y, z};
            x = tn_cat(g, xs, 2);
        }
        x = tn_op(g, GRAPH_OP_HARDSWISH, x);
        x = tn_gelu_tanh(g, tn_conv(g, x, 8, 1, 1, 0, 1, 1, 0));
        x = tn_op(g, GRAPH_OP_BATCHNORM2D, x);
        x = tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 4:
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 0)));
        y = tn_op(g, GRAPH_OP_BATCHNORM2D, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 0));
        x = tn_op(g, GRAPH_OP_RELU, tn_bin(g, GRAPH_OP_ADD, y, x));
        z = tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x);                       /* squeeze */
        z = tn_op(g, GRAPH_OP_SIGMOID, tn_conv(g, z, 8, 1, 1, 0, 1, 1, 1)); /* excite */
        x = tn_bin(g, GRAPH_OP_MUL, x, z);
        y = tn_op(g, GRAPH_OP_BATCHNORM2D, tn_conv(g, x, 8, 3, 2, 1, 1, 1, 0));
        x = tn_bin(g, GRAPH_OP_ADD, tn_op(g, GRAPH_OP_RELU, y), y);       /* BN feeds two users */
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 5:
        y = tn_op(g, GRAPH_OP_IDENTITY, tn_conv(g, x, 3, 3, 1, 1, 1, 1, 1));
        z = tn_conv(g, x, 5, 1, 1, 0, 1, 1, 1);
        {
            int xs[3] = {y, tn_bin(g, GRAPH_OP_MUL, z, z), y};
            x = tn_cat(g, xs, 3);
        }
        x = tn_op(g, GRAPH_OP_TANH, x);
        x = tn_bin(g, GRAPH_OP_ADD, tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x), x);  /* broadcast add */
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 7:  /* 4 channels a group: BN and pooling get their input re-blocked */
        x = tn_conv(g, x, 16, 3, 1, 1, 1, 1, 1);
        x = tn_conv(g, x, 16, 3, 1, 1, 1, 4, 0);
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D, x));
        x = tn_conv(g, x, 16, 3, 1, 1, 1, 4, 0);
        x = tn_pool(g, GRAPH_OP_MAXPOOL2D, x, 2, 2, 0, 1, 0, 1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 8:  /* 64-channel 3x3 convs (where --winograd would use Winograd on AVX-512) */
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D, tn_conv(g, x, 64, 3, 1, 1, 1, 1, 0)));
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D, tn_conv(g, x, 64, 3, 1, 1, 1, 1, 0)));
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D, tn_conv(g, x, 64, 3, 1, 1, 1, 1, 0)));
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x)), classes);
        break;
    case 9:  /* DenseNet-style: one cat of 34 inputs, more than one concat primitive takes */
        {
            int xs[34];
            for (int j = 0; j < 32; j++)  /* 1 to 3 channels: slices off the channel blocks */
                xs[j] = tn_conv(g, 0, 1 + j % 3, 1, 1, 0, 1, 1, 1);
            xs[32] = 0;                   /* the input itself, twice: no gradient wanted */
            xs[33] = 0;
            x = tn_cat(g, xs, 34);
        }
        x = tn_op(g, GRAPH_OP_RELU, x);
        x = tn_conv(g, x, 4, 1, 1, 0, 1, 1, 1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x)), classes);
        break;
    case 10:  /* the pooling variants of no other net: padding not counted, dilation */
        x = tn_op(g, GRAPH_OP_TANH, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1));
        x = tn_pool(g, GRAPH_OP_AVGPOOL2D, x, 3, 1, 1, 1, 0, 0);  /* padding 1, count_include_pad off */
        x = tn_pool(g, GRAPH_OP_MAXPOOL2D, x, 2, 1, 1, 2, 0, 1);  /* dilation 2, padding 1 */
        x = tn_pool(g, GRAPH_OP_AVGPOOL2D, x, 3, 2, 1, 1, 1, 0);  /* ceil, padding, not counted */
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    case 11:  /* scalar arithmetic on nodes and the broadcasting rules of + and * */
        x = tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1);
        x = tn_op(g, GRAPH_OP_TANH, tn_scalar(g, GRAPH_OP_MUL_SCALAR, x, 0.5));   /* tanh(x * 0.5) */
        x = tn_scalar(g, GRAPH_OP_ADD_SCALAR, tn_scalar(g, GRAPH_OP_MUL_SCALAR, x, -1), 1);  /* 1 - x */
        y = tn_op(g, GRAPH_OP_SIGMOID, tn_conv(g, x, 1, 1, 1, 0, 1, 1, 1));     /* [B, 1, H, W] */
        x = tn_bin(g, GRAPH_OP_MUL, y, x);                                       /* over channels */
        z = tn_scalar(g, GRAPH_OP_MUL_SCALAR, tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x), -1.5);
        x = tn_bin(g, GRAPH_OP_ADD, x, z);                                       /* [B, C, 1, 1] */
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), 16);
        x = tn_scalar(g, GRAPH_OP_ADD_SCALAR, tn_scalar(g, GRAPH_OP_MUL_SCALAR, x, 2), -0.25);  /* [B, F] */
        x = tn_linear(g, tn_op(g, GRAPH_OP_TANH, x), classes);
        break;
    case 12:  /* BatchNorm1d on [B, F]: fused with its ReLU (fuse on), and with other eps / momentum */
        x = tn_op(g, GRAPH_OP_FLATTEN, tn_conv(g, x, 4, 3, 2, 1, 1, 1, 1));
        x = tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM1D, tn_linear(g, x, 16)));
        x = tn_norm(g, GRAPH_OP_BATCHNORM1D, tn_linear(g, x, 12), 1e-3, 0.3);
        x = tn_linear(g, tn_op(g, GRAPH_OP_TANH, x), classes);
        break;
    case 13:  /* LayerNorm over channels of [B, C, H, W] (on the input too: no data gradient)
               * and over features of [B, F] */
        x = tn_norm(g, GRAPH_OP_LAYERNORM, x, 1e-5, 0);
        x = tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1);
        x = tn_op(g, GRAPH_OP_GELU, tn_norm(g, GRAPH_OP_LAYERNORM, x, 1e-3, 0));
        x = tn_conv(g, x, 8, 3, 2, 1, 1, 1, 1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), 16);
        x = tn_op(g, GRAPH_OP_TANH, tn_op(g, GRAPH_OP_LAYERNORM, x));
        x = tn_linear(g, x, classes);
        break;
    case 14:  /* PReLU (one slope on the input: no data gradient; per channel; on [B, F]),
               * ELU, Mish, global max pooling next to global mean pooling */
        x = tn_op(g, GRAPH_OP_PRELU, x);
        x = tn_op_a(g, GRAPH_OP_ELU, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1), tn_set_alpha, 0.7);
        x = tn_op_a(g, GRAPH_OP_PRELU, x, tn_set_slopes, 8);
        x = tn_op(g, GRAPH_OP_MISH, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1));
        y = tn_bin(g, GRAPH_OP_ADD, tn_op(g, GRAPH_OP_ADAPTIVEMAXPOOL2D, x),
                   tn_op(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, x));
        x = tn_bin(g, GRAPH_OP_MUL, x, tn_op(g, GRAPH_OP_SIGMOID, tn_conv(g, y, 8, 1, 1, 0, 1, 1, 1)));
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, tn_op(g, GRAPH_OP_ADAPTIVEMAXPOOL2D, x)), 16);
        x = tn_op(g, GRAPH_OP_ELU, tn_op_a(g, GRAPH_OP_PRELU, x, tn_set_slopes, 16));
        x = tn_linear(g, x, classes);
        break;
    case 15:  /* Softmax over channels, over W (dim -1), over features; Dropout2d */
        x = tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1);
        x = tn_op_a(g, GRAPH_OP_DROPOUT2D, x, tn_set_p, 0.25);
        x = tn_op_a(g, GRAPH_OP_SOFTMAX, x, tn_set_dim, 1);
        x = tn_op_a(g, GRAPH_OP_SOFTMAX, tn_conv(g, x, 8, 3, 1, 1, 1, 1, 1), tn_set_dim, -1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), 16);
        x = tn_linear(g, tn_op(g, GRAPH_OP_SOFTMAX, x), classes);
        break;
    default:  /* the `small` reference network (../shared/bench/small.lua) */
        x = tn_pool(g, GRAPH_OP_MAXPOOL2D, tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D,
                    tn_conv(g, x, 32, 3, 1, 1, 1, 1, 0))), 2, 2, 0, 1, 0, 1);
        x = tn_pool(g, GRAPH_OP_MAXPOOL2D, tn_op(g, GRAPH_OP_RELU, tn_op(g, GRAPH_OP_BATCHNORM2D,
                    tn_conv(g, x, 64, 3, 1, 1, 1, 1, 0))), 2, 2, 0, 1, 0, 1);
        x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, x), classes);
        break;
    }
    return tn_finish(g, x, classes);
}

#endif
