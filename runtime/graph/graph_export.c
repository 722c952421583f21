/*
 * graph_export.c — a graph as text for people and other tools: a Keras-style
 * summary, a candidate program in the candidate language (which compiles back
 * to the same hash) and PyTorch source (class Net(nn.Module)).
 *
 * Exports walk the graph in canonical order (graph_canonical_order) so they
 * are the same for every graph that hashes the same.
 */
#include "graph/graph.h"
#include "graph/graph_internal.h"
#include "graph/graph_weights.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string ---------------------------------------------------------- */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
}

static char *sb_done(sbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* The shortest decimal that reads back as v ("1e-05", not 1.0000000000000001e-05);
 * a ring of buffers so one printf can take several. */
static const char *num(double v)
{
    static _Thread_local char ring[4][32];
    static _Thread_local int next;
    char *buf = ring[next++ % 4];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* 1234567 -> "1,234,567" */
static char *commas(int64_t v, char *buf, size_t len)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = strlen(raw), j = 0;
    if (v < 0 && j + 1 < len)
        buf[j++] = '-';
    for (size_t i = 0; i < n && j + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = raw[i];
    }
    buf[j] = '\0';
    return buf;
}

/* The graph's nodes in canonical order with remapped ids; the caller frees
 * *order and *newid. Returns the count or -1. */
static int canonical(const graph *g, int **order, int **newid)
{
    int m = 0;
    *order = malloc((size_t)g->n * sizeof **order);
    *newid = malloc((size_t)g->n * sizeof **newid);
    if (!*order || !*newid || graph_canonical_order(g, *order, &m)) {
        free(*order);
        free(*newid);
        return -1;
    }
    for (int i = 0; i < g->n; i++)
        (*newid)[i] = -1;
    for (int k = 0; k < m; k++)
        (*newid)[(*order)[k]] = k;
    return m;
}

static void lower_name(const graph_node *n, int id, char *buf, size_t len)
{
    if (n->op == GRAPH_OP_INPUT) {
        snprintf(buf, len, "input");
        return;
    }
    const char *s = graph_op_name(n->op);
    size_t j = 0;
    for (; s[j] && j + 1 < len; j++)
        buf[j] = (char)tolower((unsigned char)s[j]);
    buf[j] = '\0';
    snprintf(buf + j, len - j, "_%d", id);
}

/* ---- summary ------------------------------------------------------------------ */

char *graph_summary(const graph *g)
{
    int *order, *newid, m = canonical(g, &order, &newid);
    if (m < 0)
        return NULL;
    sbuf b = {0};
    char name[48], shape[64], c1[32], c2[32], t[64];
    static const char rule[] =
        "==================================================================================="
        "=========";
    sb_printf(&b, "%-30s %-20s %12s %15s  %s\n%s\n", "Layer (type)", "Output shape", "Param #",
              "FLOPs", "Connected to", rule);
    for (int k = 0; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        lower_name(n, k, name, sizeof name);
        snprintf(t, sizeof t, "%s (%s)", name, graph_op_name(n->op));
        sb_printf(&b, "%-30s %-20s %12s %15s  ", t, graph_shape_str(&n->shape, shape, sizeof shape),
                  commas(n->params, c1, sizeof c1), commas(n->flops, c2, sizeof c2));
        for (int j = 0; j < n->n_inputs; j++) {
            const graph_node *in = &g->nodes[n->inputs[j]];
            lower_name(in, newid[n->inputs[j]], name, sizeof name);
            sb_printf(&b, "%s%s", j ? ", " : "", name);
        }
        sb_printf(&b, "\n");
    }
    graph_stats s;
    graph_stats_get(g, &s);
    int64_t used_params = 0, used_flops = 0, used_act = 0;
    for (int k = 0; k < m; k++) {
        used_params += g->nodes[order[k]].params;
        used_flops += g->nodes[order[k]].flops;
        used_act += g->nodes[order[k]].act_bytes;
    }
    sb_printf(&b, "%s\n", rule);
    sb_printf(&b, "Total params: %s\n", commas(used_params, c1, sizeof c1));
    sb_printf(&b, "Forward FLOPs per image: %s (%.2f MFLOP; conv and linear, 2 x MACs)\n",
              commas(used_flops, c1, sizeof c1), (double)used_flops / 1e6);
    sb_printf(&b, "Activation memory per image: %s bytes (%.2f MiB, float32, all outputs)\n",
              commas(used_act, c1, sizeof c1), (double)used_act / 1048576.0);
    sb_printf(&b, "Layers: %d\n", m - 1);
    free(order);
    free(newid);
    return sb_done(&b);
}

/* ---- candidate-language export ------------------------------------------------------ */

static void lua_pair(sbuf *b, const int v[2])
{
    if (v[0] == v[1])
        sb_printf(b, "%d", v[0]);
    else
        sb_printf(b, "{%d, %d}", v[0], v[1]);
}

typedef struct optlist {
    sbuf *b;
    int n;
} optlist;

static void opt_begin(optlist *o, const char *key)
{
    sb_printf(o->b, "%s%s = ", o->n++ ? ", " : ", {", key);
}

static void opt_end(optlist *o)
{
    if (o->n)
        sb_printf(o->b, "}");
}

static void lua_window_opts(sbuf *b, const graph_node *n, int pool)
{
    const graph_attrs *a = &n->a;
    optlist o = {b, 0};
    int one[2] = {1, 1};
    int stride_default = pool ? (a->stride[0] == a->kernel[0] && a->stride[1] == a->kernel[1])
                              : (a->stride[0] == 1 && a->stride[1] == 1);
    if (!stride_default) {
        opt_begin(&o, "stride");
        lua_pair(b, a->stride);
    }
    if (a->padding[0] || a->padding[1]) {
        opt_begin(&o, "padding");
        lua_pair(b, a->padding);
    }
    if ((graph_op_fields(n->op) & GF_DILATION) && memcmp(a->dilation, one, sizeof one)) {
        opt_begin(&o, "dilation");
        lua_pair(b, a->dilation);
    }
    if ((graph_op_fields(n->op) & GF_GROUPS) && a->groups != 1) {
        opt_begin(&o, "groups");
        sb_printf(b, "%d", a->groups);
    }
    if ((graph_op_fields(n->op) & GF_BIAS) && !a->bias) {
        opt_begin(&o, "bias");
        sb_printf(b, "false");
    }
    if ((graph_op_fields(n->op) & GF_CEIL) && a->ceil_mode) {
        opt_begin(&o, "ceil_mode");
        sb_printf(b, "true");
    }
    if ((graph_op_fields(n->op) & GF_CIP) && !a->count_include_pad) {
        opt_begin(&o, "count_include_pad");
        sb_printf(b, "false");
    }
    opt_end(&o);
}

static void lua_expr(sbuf *b, const graph *g, const graph_node *n, char names[][24],
                     const int *newid)
{
    const graph_attrs *a = &n->a;
    const char *x = n->n_inputs ? names[newid[n->inputs[0]]] : "";
    switch (n->op) {
    case GRAPH_OP_CONV2D:
        sb_printf(b, "nn.Conv2d(%s, %lld, ", x, (long long)a->out);
        lua_pair(b, a->kernel);
        lua_window_opts(b, n, 0);
        sb_printf(b, ")");
        break;
    case GRAPH_OP_MAXPOOL2D:
    case GRAPH_OP_AVGPOOL2D:
        sb_printf(b, "nn.%s(%s, ", graph_op_name(n->op), x);
        lua_pair(b, a->kernel);
        lua_window_opts(b, n, 1);
        sb_printf(b, ")");
        break;
    case GRAPH_OP_BATCHNORM2D:
        sb_printf(b, "nn.BatchNorm2d(%s", x);
        if (a->eps != 1e-5 || a->momentum != 0.1)
            sb_printf(b, ", {eps = %s, momentum = %s}", num(a->eps), num(a->momentum));
        sb_printf(b, ")");
        break;
    case GRAPH_OP_LINEAR:
        if (g->classes > 0 && a->out == g->classes && n == &g->nodes[g->output])
            sb_printf(b, "nn.Linear(%s, classes", x);
        else
            sb_printf(b, "nn.Linear(%s, %lld", x, (long long)a->out);
        sb_printf(b, "%s)", a->bias ? "" : ", {bias = false}");
        break;
    case GRAPH_OP_LEAKYRELU:
        sb_printf(b, "nn.LeakyReLU(%s, %s)", x, num(a->negative_slope));
        break;
    case GRAPH_OP_GELU:
        sb_printf(b, "nn.GELU(%s%s)", x, a->approximate_tanh ? ", \"tanh\"" : "");
        break;
    case GRAPH_OP_DROPOUT:
        sb_printf(b, "nn.Dropout(%s, %s)", x, num(a->p));
        break;
    case GRAPH_OP_ADAPTIVEAVGPOOL2D:
        sb_printf(b, "nn.AdaptiveAvgPool2d(%s, 1)", x);
        break;
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL:
        sb_printf(b, "%s %s %s", x, n->op == GRAPH_OP_ADD ? "+" : "*",
                  names[newid[n->inputs[1]]]);
        break;
    case GRAPH_OP_CAT:
        sb_printf(b, "nn.cat({");
        for (int j = 0; j < n->n_inputs; j++)
            sb_printf(b, "%s%s", j ? ", " : "", names[newid[n->inputs[j]]]);
        sb_printf(b, "})");
        break;
    default:
        sb_printf(b, "nn.%s(%s)", graph_op_name(n->op), x);
        break;
    }
}

/* Variables are reused once their value is dead, so a chain reads
 * `x = nn.ReLU(x)` and the function stays far below Lua's 200 locals; wide
 * graphs that would need more fall back to a table. */
char *graph_to_lua(const graph *g)
{
    int *order, *newid, m = canonical(g, &order, &newid);
    if (m < 0)
        return NULL;
    int *last = calloc((size_t)m, sizeof *last), *slot = calloc((size_t)m, sizeof *slot);
    char *busy = calloc((size_t)m + 1, 1), *declared = calloc((size_t)m + 1, 1);
    char (*names)[24] = calloc((size_t)m, sizeof *names);
    sbuf b = {0};
    if (!last || !slot || !busy || !declared || !names)
        goto done;
    for (int k = 0; k < m; k++)
        for (int j = 0; j < g->nodes[order[k]].n_inputs; j++)
            last[newid[g->nodes[order[k]].inputs[j]]] = k;
    last[m - 1] = m;
    int nslots = 1;
    busy[0] = declared[0] = 1;
    for (int k = 1; k < m; k++) {  /* dry run: how many variables */
        const graph_node *n = &g->nodes[order[k]];
        for (int j = 0; j < n->n_inputs; j++)
            if (last[newid[n->inputs[j]]] == k)
                busy[slot[newid[n->inputs[j]]]] = 0;
        int s = 0;
        while (busy[s])
            s++;
        busy[s] = 1;
        slot[k] = s;
        if (s + 1 > nslots)
            nslots = s + 1;
    }
    int table = nslots > 150;
    char h[GRAPH_HASH_HEX] = "";
    graph_hash(g, h);
    graph_stats st;
    graph_stats_get(g, &st);
    char c1[32];
    sb_printf(&b, "-- exported by llmnas: graph %s, input [B, %lld, %lld, %lld], %s params\n",
              h, (long long)g->nodes[0].shape.dim[1], (long long)g->nodes[0].shape.dim[2],
              (long long)g->nodes[0].shape.dim[3], commas(st.params, c1, sizeof c1));
    sb_printf(&b, "function Net(x, classes)\n");
    if (table)
        sb_printf(&b, "  local t = {}\n");
    for (int k = 0; k < m; k++) {
        if (slot[k] == 0)
            snprintf(names[k], sizeof names[k], "x");
        else if (table)
            snprintf(names[k], sizeof names[k], "t[%d]", slot[k]);
        else
            snprintf(names[k], sizeof names[k], "x%d", slot[k]);
    }
    for (int k = 1; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        int fresh = !table && !declared[slot[k]];
        declared[slot[k]] = 1;
        sb_printf(&b, "  %s%s = ", fresh ? "local " : "", names[k]);
        /* inputs are named by their own slot; names[] is per node */
        lua_expr(&b, g, n, names, newid);
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "  return %s\nend\n", names[m - 1]);
done:
    free(last), free(slot), free(busy), free(declared), free(names);
    free(order), free(newid);
    return sb_done(&b);
}

/* ---- PyTorch export -------------------------------------------------------------- */

static void py_pair(sbuf *b, const int v[2])
{
    sb_printf(b, "(%d, %d)", v[0], v[1]);
}

static void py_module(sbuf *b, const graph *g, const graph_node *n)
{
    const graph_attrs *a = &n->a;
    int64_t cin = n->n_inputs ? g->nodes[n->inputs[0]].shape.dim[1] : 0;
    switch (n->op) {
    case GRAPH_OP_CONV2D:
        sb_printf(b, "nn.Conv2d(%lld, %lld, kernel_size=", (long long)cin, (long long)a->out);
        py_pair(b, a->kernel);
        sb_printf(b, ", stride=");
        py_pair(b, a->stride);
        sb_printf(b, ", padding=");
        py_pair(b, a->padding);
        sb_printf(b, ", dilation=");
        py_pair(b, a->dilation);
        sb_printf(b, ", groups=%d, bias=%s)", a->groups, a->bias ? "True" : "False");
        break;
    case GRAPH_OP_BATCHNORM2D:
        sb_printf(b, "nn.BatchNorm2d(%lld, eps=%s, momentum=%s)", (long long)cin, num(a->eps),
                  num(a->momentum));
        break;
    case GRAPH_OP_LEAKYRELU:
        sb_printf(b, "nn.LeakyReLU(negative_slope=%s)", num(a->negative_slope));
        break;
    case GRAPH_OP_GELU:
        sb_printf(b, "nn.GELU(approximate='%s')", a->approximate_tanh ? "tanh" : "none");
        break;
    case GRAPH_OP_MAXPOOL2D:
    case GRAPH_OP_AVGPOOL2D:
        sb_printf(b, "nn.%s(kernel_size=", graph_op_name(n->op));
        py_pair(b, a->kernel);
        sb_printf(b, ", stride=");
        py_pair(b, a->stride);
        sb_printf(b, ", padding=");
        py_pair(b, a->padding);
        if (n->op == GRAPH_OP_MAXPOOL2D) {
            sb_printf(b, ", dilation=");
            py_pair(b, a->dilation);
        } else {
            sb_printf(b, ", count_include_pad=%s", a->count_include_pad ? "True" : "False");
        }
        sb_printf(b, ", ceil_mode=%s)", a->ceil_mode ? "True" : "False");
        break;
    case GRAPH_OP_ADAPTIVEAVGPOOL2D:
        sb_printf(b, "nn.AdaptiveAvgPool2d(1)");
        break;
    case GRAPH_OP_FLATTEN:
        sb_printf(b, "nn.Flatten()");
        break;
    case GRAPH_OP_LINEAR:
        sb_printf(b, "nn.Linear(%lld, %lld, bias=%s)", (long long)cin, (long long)a->out,
                  a->bias ? "True" : "False");
        break;
    case GRAPH_OP_DROPOUT:
        sb_printf(b, "nn.Dropout(p=%s)", num(a->p));
        break;
    default:
        sb_printf(b, "nn.%s()", graph_op_name(n->op));
        break;
    }
}

char *graph_to_pytorch(const graph *g)
{
    int *order, *newid, m = canonical(g, &order, &newid);
    if (m < 0)
        return NULL;
    sbuf b = {0};
    char h[GRAPH_HASH_HEX] = "", name[48], c1[32];
    graph_hash(g, h);
    graph_stats st;
    graph_stats_get(g, &st);
    const graph_shape *in = &g->nodes[0].shape;
    sb_printf(&b, "# exported by llmnas: graph %s, input [B, %lld, %lld, %lld], %s params\n",
              h, (long long)in->dim[1], (long long)in->dim[2], (long long)in->dim[3],
              commas(st.params, c1, sizeof c1));
    sb_printf(&b, "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                  "    def __init__(self):\n        super().__init__()\n");
    for (int k = 1; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        if (n->op == GRAPH_OP_ADD || n->op == GRAPH_OP_MUL || n->op == GRAPH_OP_CAT)
            continue;
        lower_name(n, k, name, sizeof name);
        sb_printf(&b, "        self.%s = ", name);
        py_module(&b, g, n);
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "\n    def forward(self, x):\n        h0 = x\n");
    for (int k = 1; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        sb_printf(&b, "        h%d = ", k);
        if (n->op == GRAPH_OP_ADD || n->op == GRAPH_OP_MUL) {
            sb_printf(&b, "h%d %s h%d", newid[n->inputs[0]], n->op == GRAPH_OP_ADD ? "+" : "*",
                      newid[n->inputs[1]]);
        } else if (n->op == GRAPH_OP_CAT) {
            sb_printf(&b, "torch.cat([");
            for (int j = 0; j < n->n_inputs; j++)
                sb_printf(&b, "%sh%d", j ? ", " : "", newid[n->inputs[j]]);
            sb_printf(&b, "], dim=1)");
        } else {
            lower_name(n, k, name, sizeof name);
            sb_printf(&b, "self.%s(h%d)", name, newid[n->inputs[0]]);
        }
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "        return h%d\n\n\nif __name__ == \"__main__\":\n"
                  "    net = Net()\n"
                  "    out = net(torch.zeros(2, %lld, %lld, %lld))\n"
                  "    print(sum(p.numel() for p in net.parameters()), tuple(out.shape))\n",
              m - 1, (long long)in->dim[1], (long long)in->dim[2], (long long)in->dim[3]);
    free(order);
    free(newid);
    return sb_done(&b);
}

/* ---- saved weights: names and the PyTorch loader (graph_weights.h) ---------------- */

int graph_module_name(const graph *g, int node, char *buf, size_t len)
{
    int *order, *newid, m = canonical(g, &order, &newid);
    if (m < 0)
        return GRAPH_ENOMEM;
    int k = node >= 0 && node < g->n ? newid[node] : -1;
    if (k > 0)
        lower_name(&g->nodes[node], k, buf, len);
    free(order);
    free(newid);
    return k > 0 ? 0 : GRAPH_EARG;
}

const char *graph_pytorch_loader(void)
{
    return "\n\n"
           "def load_safetensors(net, path):\n"
           "    \"\"\"Load weights saved by `llmnas train --save` (model.safetensors) into net.\n"
           "\n"
           "    The tensor names are Net's state_dict names, BatchNorm running statistics\n"
           "    included; load_state_dict is strict, so a mismatch is an error.\"\"\"\n"
           "    import json\n"
           "    import struct\n"
           "    with open(path, \"rb\") as f:\n"
           "        n = struct.unpack(\"<Q\", f.read(8))[0]\n"
           "        header = json.loads(f.read(n))\n"
           "        data = f.read()\n"
           "    dtypes = {\"F32\": torch.float32, \"I64\": torch.int64}\n"
           "    state = {}\n"
           "    for name, t in header.items():\n"
           "        if name == \"__metadata__\":\n"
           "            continue\n"
           "        begin, end = t[\"data_offsets\"]\n"
           "        state[name] = torch.frombuffer(bytearray(data[begin:end]),\n"
           "                                       dtype=dtypes[t[\"dtype\"]]).reshape(t[\"shape\"])\n"
           "    net.load_state_dict(state)\n"
           "    return net\n";
}
