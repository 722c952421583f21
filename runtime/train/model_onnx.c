/*
 * model_onnx.c — graph + tensors to an ONNX ModelProto through protobuf-c.
 * See model_onnx.h.
 *
 * Every message and string is allocated from one arena and freed together
 * after packing; tensor data is not copied (raw_data points at the caller's
 * floats, which are little-endian as ONNX's raw_data requires).
 */
#include "train/model_onnx.h"
#include "base/rt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.pb-c.h"

typedef struct arena {
    void **p;
    size_t n, cap;
    int oom;
} arena;

static void *aalloc(arena *a, size_t size)
{
    if (a->oom)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        void **p = realloc(a->p, cap * sizeof *p);
        if (!p) {
            a->oom = 1;
            return NULL;
        }
        a->p = p;
        a->cap = cap;
    }
    void *v = calloc(1, size ? size : 1);
    if (!v) {
        a->oom = 1;
        return NULL;
    }
    a->p[a->n++] = v;
    return v;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
}

static char *astr(arena *a, const char *s)
{
    if (!s)
        return NULL;  /* a missing weight: emit() reports it */
    char *d = aalloc(a, strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

#define MAKER(fn, T, INIT)              \
    static T *fn(arena *a)              \
    {                                   \
        T *p = aalloc(a, sizeof *p);    \
        if (p) {                        \
            T init = INIT;              \
            *p = init;                  \
        }                               \
        return p;                       \
    }
MAKER(new_node, Onnx__NodeProto, ONNX__NODE_PROTO__INIT)
MAKER(new_attr, Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT)
MAKER(new_tensor, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT)
MAKER(new_value, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT)
MAKER(new_type, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT)
MAKER(new_ttype, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT)
MAKER(new_shape, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT)
MAKER(new_dim, Onnx__TensorShapeProto__Dimension, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT)
MAKER(new_opset, Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT)
MAKER(new_graph, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT)
MAKER(new_entry, Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT)

/* The model being built: growing node and initializer lists. */
typedef struct builder {
    arena a;
    Onnx__NodeProto **nodes;
    size_t nn, capn;
    Onnx__TensorProto **inits;
    size_t ni, capi;
    int consts;  /* for unique constant names */
} builder;

static void push(builder *b, void ***list, size_t *n, size_t *cap, void *item)
{
    if (!item) {
        b->a.oom = 1;
        return;
    }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void **p = aalloc(&b->a, c * sizeof *p);
        if (!p)
            return;
        if (*n)
            memcpy(p, *list, *n * sizeof *p);
        *list = p;
        *cap = c;
    }
    (*list)[(*n)++] = item;
}

static Onnx__NodeProto *node(builder *b, const char *op, const char *out, int nin, ...)
{
    Onnx__NodeProto *n = new_node(&b->a);
    if (!n)
        return NULL;
    n->op_type = astr(&b->a, op);
    n->name = astr(&b->a, out);
    n->n_output = 1;
    n->output = aalloc(&b->a, sizeof(char *));
    if (n->output)
        n->output[0] = astr(&b->a, out);
    n->n_input = (size_t)nin;
    n->input = aalloc(&b->a, sizeof(char *) * (size_t)(nin ? nin : 1));
    va_list ap;
    va_start(ap, nin);
    for (int i = 0; i < nin && n->input; i++)
        n->input[i] = astr(&b->a, va_arg(ap, const char *));
    va_end(ap);
    push(b, (void ***)&b->nodes, &b->nn, &b->capn, n);
    return n;
}

static Onnx__AttributeProto *attr(builder *b, Onnx__NodeProto *n, const char *name)
{
    Onnx__AttributeProto *a = n ? new_attr(&b->a) : NULL;
    if (!a)
        return NULL;
    a->name = astr(&b->a, name);
    Onnx__AttributeProto **list = aalloc(&b->a, sizeof *list * (n->n_attribute + 1));
    if (!list)
        return NULL;
    if (n->n_attribute)
        memcpy(list, n->attribute, sizeof *list * n->n_attribute);
    list[n->n_attribute++] = a;
    n->attribute = list;
    return a;
}

static void attr_int(builder *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, n, name);
    if (a) {
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = v;
    }
}

static void attr_float(builder *b, Onnx__NodeProto *n, const char *name, double v)
{
    Onnx__AttributeProto *a = attr(b, n, name);
    if (a) {
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        a->has_f = 1;
        a->f = (float)v;
    }
}

static void attr_ints(builder *b, Onnx__NodeProto *n, const char *name, int count, const int *v)
{
    Onnx__AttributeProto *a = attr(b, n, name);
    int64_t *d = a ? aalloc(&b->a, sizeof *d * (size_t)count) : NULL;
    if (!d)
        return;
    for (int i = 0; i < count; i++)
        d[i] = v[i];
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = (size_t)count;
    a->ints = d;
}

/* A float initializer; data is borrowed. rank 0 = a scalar. */
static void init_tensor(builder *b, const char *name, int rank, const int64_t *dim, const float *data,
                        int64_t count)
{
    Onnx__TensorProto *t = new_tensor(&b->a);
    if (!t)
        return;
    t->name = astr(&b->a, name);
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)rank;
    t->dims = aalloc(&b->a, sizeof(int64_t) * (size_t)(rank ? rank : 1));
    if (t->dims && rank)
        memcpy(t->dims, dim, sizeof(int64_t) * (size_t)rank);
    t->has_raw_data = 1;
    t->raw_data.len = sizeof(float) * (size_t)count;
    t->raw_data.data = (uint8_t *)data;
    push(b, (void ***)&b->inits, &b->ni, &b->capi, t);
}

/* A scalar constant's name (an initializer holding v). */
static const char *constant(builder *b, double v)
{
    float *f = aalloc(&b->a, sizeof *f);
    char name[32];
    if (!f)
        return "";
    *f = (float)v;
    rt_fmt(name, sizeof name, "const_%d", b->consts++);
    init_tensor(b, name, 0, NULL, f, 1);
    return b->inits && b->ni ? b->inits[b->ni - 1]->name : "";
}

static Onnx__ValueInfoProto *value_info(builder *b, const char *name, const graph_shape *s)
{
    Onnx__ValueInfoProto *v = new_value(&b->a);
    Onnx__TypeProto *tp = new_type(&b->a);
    Onnx__TypeProto__Tensor *tt = new_ttype(&b->a);
    Onnx__TensorShapeProto *sh = new_shape(&b->a);
    Onnx__TensorShapeProto__Dimension **dims = aalloc(&b->a, sizeof *dims * (size_t)s->rank);
    if (!v || !tp || !tt || !sh || !dims)
        return NULL;
    for (int k = 0; k < s->rank; k++) {
        if (!(dims[k] = new_dim(&b->a)))
            return NULL;
        if (k == 0) {
            dims[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dims[k]->dim_param = astr(&b->a, "N");
        } else {
            dims[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dims[k]->dim_value = s->dim[k];
        }
    }
    sh->n_dim = (size_t)s->rank;
    sh->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = astr(&b->a, name);
    v->type = tp;
    return v;
}

static const train_tensor *find(const train_tensor *t, int nt, int node, const char *param)
{
    for (int i = 0; i < nt; i++)
        if (t[i].node == node && strcmp(t[i].param, param) == 0)
            return &t[i];
    return NULL;
}

static const char *weight(builder *b, const train_tensor *t, int nt, int node, const char *param)
{
    const train_tensor *w = find(t, nt, node, param);
    if (!w)
        return NULL;
    init_tensor(b, w->name, w->rank, w->dim, w->data, w->count);
    return w->name;
}

static void window(builder *b, Onnx__NodeProto *n, const graph_attrs *a, int dilation)
{
    int pads[4] = {a->padding[0], a->padding[1], a->padding[0], a->padding[1]};
    attr_ints(b, n, "kernel_shape", 2, a->kernel);
    attr_ints(b, n, "strides", 2, a->stride);
    attr_ints(b, n, "pads", 4, pads);
    if (dilation)
        attr_ints(b, n, "dilations", 2, a->dilation);
}

/* The ONNX nodes of graph node k, reading x (and y), writing out. */
static int emit(builder *b, const graph *g, int k, char names[][24], const train_tensor *t, int nt,
                char *err, size_t errlen)
{
    const graph_node *nd = &g->nodes[k];
    const graph_attrs *a = &nd->a;
    const char *x = nd->n_inputs ? names[nd->inputs[0]] : "", *out = names[k];
    char tmp[4][40];
    for (int i = 0; i < 4; i++)
        rt_fmt(tmp[i], sizeof tmp[i], "%s_t%d", out, i);
    Onnx__NodeProto *n = NULL;
    switch (nd->op) {
    case GRAPH_OP_CONV2D: {
        const char *w = weight(b, t, nt, k, "weight"), *bias = a->bias ? weight(b, t, nt, k, "bias") : NULL;
        n = bias ? node(b, "Conv", out, 3, x, w, bias) : node(b, "Conv", out, 2, x, w);
        window(b, n, a, 1);
        attr_int(b, n, "group", a->groups);
        break;
    }
    case GRAPH_OP_BATCHNORM2D:
    case GRAPH_OP_BATCHNORM1D:  /* BatchNormalization takes [N, C] as well */
        n = node(b, "BatchNormalization", out, 5, x, weight(b, t, nt, k, "weight"),
                 weight(b, t, nt, k, "bias"), weight(b, t, nt, k, "running_mean"),
                 weight(b, t, nt, k, "running_var"));
        attr_float(b, n, "epsilon", a->eps);
        attr_float(b, n, "momentum", 1 - a->momentum);  /* ONNX weighs the old value */
        break;
    case GRAPH_OP_LAYERNORM: {  /* opset 17: over the last axis; [N, C, H, W] goes NHWC */
        const char *w = weight(b, t, nt, k, "weight"), *bias = weight(b, t, nt, k, "bias");
        int rank4 = nd->shape.rank == 4;
        static const int nhwc[4] = {0, 2, 3, 1}, nchw[4] = {0, 3, 1, 2};
        if (rank4)
            attr_ints(b, node(b, "Transpose", tmp[0], 1, x), "perm", 4, nhwc);
        n = node(b, "LayerNormalization", rank4 ? tmp[1] : out, 3, rank4 ? tmp[0] : x, w, bias);
        attr_int(b, n, "axis", -1);
        attr_float(b, n, "epsilon", a->eps);
        if (rank4)
            attr_ints(b, node(b, "Transpose", out, 1, tmp[1]), "perm", 4, nchw);
        break;
    }
    case GRAPH_OP_ELU: attr_float(b, node(b, "Elu", out, 1, x), "alpha", a->alpha); break;
    case GRAPH_OP_MISH:  /* opset 17 has no Mish: x * tanh(softplus(x)) */
        node(b, "Softplus", tmp[0], 1, x);
        node(b, "Tanh", tmp[1], 1, tmp[0]);
        node(b, "Mul", out, 2, x, tmp[1]);
        break;
    case GRAPH_OP_PRELU: {  /* the slopes broadcast from the right: [C, 1, 1] on NCHW */
        const train_tensor *w = find(t, nt, k, "weight");
        int64_t dim[3] = {w ? w->count : 0, 1, 1};
        int rank = nd->shape.rank == 4 && w && w->count > 1 ? 3 : 1;
        if (w)
            init_tensor(b, w->name, rank, dim, w->data, w->count);
        node(b, "PRelu", out, 2, x, w ? w->name : NULL);
        break;
    }
    case GRAPH_OP_SOFTMAX: attr_int(b, node(b, "Softmax", out, 1, x), "axis", a->dim); break;
    case GRAPH_OP_RELU: node(b, "Relu", out, 1, x); break;
    case GRAPH_OP_SIGMOID: node(b, "Sigmoid", out, 1, x); break;
    case GRAPH_OP_TANH: node(b, "Tanh", out, 1, x); break;
    case GRAPH_OP_HARDSWISH: node(b, "HardSwish", out, 1, x); break;
    case GRAPH_OP_LEAKYRELU:
        attr_float(b, node(b, "LeakyRelu", out, 1, x), "alpha", a->negative_slope);
        break;
    case GRAPH_OP_SILU:
        node(b, "Sigmoid", tmp[0], 1, x);
        node(b, "Mul", out, 2, x, tmp[0]);
        break;
    case GRAPH_OP_GELU:
        if (!a->approximate_tanh) {
            node(b, "Div", tmp[0], 2, x, constant(b, sqrt(2.0)));
            node(b, "Erf", tmp[1], 1, tmp[0]);
        } else {  /* tanh(sqrt(2/pi) * (x + 0.044715 x^3)) */
            node(b, "Mul", tmp[0], 2, x, x);
            node(b, "Mul", tmp[2], 2, tmp[0], x);
            node(b, "Mul", tmp[3], 2, tmp[2], constant(b, 0.044715));
            node(b, "Add", tmp[0], 2, x, tmp[3]);
            node(b, "Mul", tmp[2], 2, tmp[0], constant(b, sqrt(2.0 / M_PI)));
            node(b, "Tanh", tmp[1], 1, tmp[2]);
        }
        node(b, "Add", tmp[2], 2, tmp[1], constant(b, 1.0));
        node(b, "Mul", tmp[3], 2, x, tmp[2]);
        node(b, "Mul", out, 2, tmp[3], constant(b, 0.5));
        break;
    case GRAPH_OP_MAXPOOL2D:
        n = node(b, "MaxPool", out, 1, x);
        window(b, n, a, 1);
        attr_int(b, n, "ceil_mode", a->ceil_mode);
        break;
    case GRAPH_OP_AVGPOOL2D:
        n = node(b, "AveragePool", out, 1, x);
        window(b, n, a, 0);
        attr_int(b, n, "ceil_mode", a->ceil_mode);
        attr_int(b, n, "count_include_pad", a->count_include_pad);
        break;
    case GRAPH_OP_ADAPTIVEAVGPOOL2D: node(b, "GlobalAveragePool", out, 1, x); break;
    case GRAPH_OP_ADAPTIVEMAXPOOL2D: node(b, "GlobalMaxPool", out, 1, x); break;
    case GRAPH_OP_FLATTEN: attr_int(b, node(b, "Flatten", out, 1, x), "axis", 1); break;
    case GRAPH_OP_LINEAR: {
        const char *w = weight(b, t, nt, k, "weight"), *bias = a->bias ? weight(b, t, nt, k, "bias") : NULL;
        n = bias ? node(b, "Gemm", out, 3, x, w, bias) : node(b, "Gemm", out, 2, x, w);
        attr_int(b, n, "transB", 1);
        break;
    }
    case GRAPH_OP_DROPOUT:
    case GRAPH_OP_DROPOUT2D:
    case GRAPH_OP_IDENTITY: node(b, "Identity", out, 1, x); break;
    case GRAPH_OP_ADD: node(b, "Add", out, 2, x, names[nd->inputs[1]]); break;
    case GRAPH_OP_MUL: node(b, "Mul", out, 2, x, names[nd->inputs[1]]); break;
    case GRAPH_OP_MUL_SCALAR: node(b, "Mul", out, 2, x, constant(b, a->other)); break;
    case GRAPH_OP_ADD_SCALAR: node(b, "Add", out, 2, x, constant(b, a->other)); break;
    case GRAPH_OP_CAT: {
        n = node(b, "Concat", out, 0);
        char **in = n ? aalloc(&b->a, sizeof(char *) * (size_t)nd->n_inputs) : NULL;
        if (!in)
            return TRAIN_ENOMEM;
        for (int i = 0; i < nd->n_inputs; i++)
            in[i] = astr(&b->a, names[nd->inputs[i]]);
        n->input = in;
        n->n_input = (size_t)nd->n_inputs;
        attr_int(b, n, "axis", 1);
        break;
    }
    default:
        rt_fmt(err, errlen, "ONNX export: no form for op %s", graph_op_name(nd->op));
        return TRAIN_EUNSUPPORTED;
    }
    for (size_t i = 0; i < b->nn; i++)  /* a weight that was not found */
        for (size_t j = 0; b->nodes[i] && j < b->nodes[i]->n_input; j++)
            if (!b->nodes[i]->input[j]) {
                rt_fmt(err, errlen, "ONNX export: a parameter of node %d (%s) is missing", k,
                       graph_op_name(nd->op));
                return TRAIN_EARG;
            }
    return b->a.oom ? TRAIN_ENOMEM : 0;
}

int model_onnx_write(const char *path, const graph *g, const train_tensor *t, int nt,
                     const char *graph_hash, char *err, size_t errlen)
{
    builder b;
    memset(&b, 0, sizeof b);
    char (*names)[24] = aalloc(&b.a, sizeof *names * (size_t)g->n);
    int rc = names ? 0 : TRAIN_ENOMEM;
    for (int k = 0; k < g->n && !rc; k++)
        rt_fmt(names[k], sizeof names[k], "%s", k == 0 ? "input" : k == g->output ? "logits" : "");
    for (int k = 1; k < g->n && !rc; k++) {
        if (k != g->output)
            rt_fmt(names[k], sizeof names[k], "h%d", k);
        rc = emit(&b, g, k, names, t, nt, err, errlen);
    }
    Onnx__GraphProto *gp = rc ? NULL : new_graph(&b.a);
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto *op = new_opset(&b.a);
    Onnx__ValueInfoProto **vin = aalloc(&b.a, sizeof *vin), **vout = aalloc(&b.a, sizeof *vout);
    Onnx__StringStringEntryProto *meta = new_entry(&b.a), **metas = aalloc(&b.a, sizeof *metas);
    if (!rc && (!gp || !op || !vin || !vout || !meta || !metas))
        rc = TRAIN_ENOMEM;
    if (!rc) {
        vin[0] = value_info(&b, "input", &g->nodes[0].shape);
        vout[0] = value_info(&b, "logits", &g->nodes[g->output].shape);
        gp->name = astr(&b.a, "llmnas");
        gp->n_node = b.nn;
        gp->node = b.nodes;
        gp->n_initializer = b.ni;
        gp->initializer = b.inits;
        gp->n_input = 1;
        gp->input = vin;
        gp->n_output = 1;
        gp->output = vout;
        op->domain = astr(&b.a, "");
        op->has_version = 1;
        op->version = TRAIN_MODEL_ONNX_OPSET;
        meta->key = astr(&b.a, "llmnas_graph_hash");
        meta->value = astr(&b.a, graph_hash);
        metas[0] = meta;
        model.has_ir_version = 1;
        model.ir_version = 8;
        model.n_opset_import = 1;
        model.opset_import = &op;
        model.producer_name = astr(&b.a, "llmnas");
        model.producer_version = astr(&b.a, LLMNAS_VERSION);
        model.graph = gp;
        model.n_metadata_props = 1;
        model.metadata_props = metas;
        if (b.a.oom || !vin[0] || !vout[0])
            rc = TRAIN_ENOMEM;
    }
    if (!rc) {
        size_t len = onnx__model_proto__get_packed_size(&model);
        uint8_t *buf = malloc(len ? len : 1);
        char tmp[4200];
        rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = buf ? fopen(tmp, "wb") : NULL;
        int ok = f && onnx__model_proto__pack(&model, buf) == len && fwrite(buf, 1, len, f) == len;
        ok = f && fclose(f) == 0 && ok;
        if (!buf)
            rc = TRAIN_ENOMEM;
        else if (!ok || rename(tmp, path) != 0) {
            rt_fmt(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            remove(tmp);
            rc = TRAIN_EDATA;
        }
        free(buf);
    }
    if (rc == TRAIN_ENOMEM && !err[0])
        rt_fmt(err, errlen, "ONNX export: out of memory");
    arena_free(&b.a);
    return rc;
}
