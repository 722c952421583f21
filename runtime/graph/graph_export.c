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

typedef struct text_buf {
    char *s;
    size_t len, cap;
    int oom;
} text_buf;

static void text_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_buf *b, const char *fmt, ...)
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

static char *text_done(text_buf *b)
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

int graph_layers(const graph *g, graph_layer **out)
{
    *out = NULL;
    int *order, *newid, m = canonical(g, &order, &newid);
    if (m < 0)
        return -1;
    size_t n_in = 0;
    for (int k = 0; k < m; k++)
        n_in += (size_t)g->nodes[order[k]].n_inputs;
    graph_layer *rows = malloc((size_t)m * sizeof *rows + n_in * sizeof(int));
    if (!rows) {
        free(order);
        free(newid);
        return -1;
    }
    int *ids = (int *)(rows + m);
    for (int k = 0; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        graph_layer *r = &rows[k];
        r->id = k;
        r->node = n;
        lower_name(n, k, r->name, sizeof r->name);
        r->n_inputs = n->n_inputs;
        r->inputs = ids;
        for (int j = 0; j < n->n_inputs; j++)
            *ids++ = newid[n->inputs[j]];
    }
    free(order);
    free(newid);
    *out = rows;
    return m;
}

char *graph_summary(const graph *g)
{
    graph_layer *rows;
    int m = graph_layers(g, &rows);
    if (m < 0)
        return NULL;
    text_buf b = {0};
    char shape[64], c1[32], c2[32], t[64];
    static const char rule[] =
        "==================================================================================="
        "=========";
    text_printf(&b, "%-30s %-20s %12s %15s  %s\n%s\n", "Layer (type)", "Output shape", "Param #",
              "FLOPs", "Connected to", rule);
    int64_t used_params = 0, used_flops = 0, used_act = 0;
    for (int k = 0; k < m; k++) {
        const graph_node *n = rows[k].node;
        snprintf(t, sizeof t, "%s (%s)", rows[k].name, graph_op_name(n->op));
        text_printf(&b, "%-30s %-20s %12s %15s  ", t, graph_shape_str(&n->shape, shape, sizeof shape),
                  commas(n->params, c1, sizeof c1), commas(n->flops, c2, sizeof c2));
        for (int j = 0; j < rows[k].n_inputs; j++)
            text_printf(&b, "%s%s", j ? ", " : "", rows[rows[k].inputs[j]].name);
        text_printf(&b, "\n");
        used_params += n->params;
        used_flops += n->flops;
        used_act += n->act_bytes;
    }
    text_printf(&b, "%s\n", rule);
    text_printf(&b, "Total params: %s\n", commas(used_params, c1, sizeof c1));
    text_printf(&b, "Forward FLOPs per image: %s (%.2f MFLOP; conv and linear, 2 x MACs)\n",
              commas(used_flops, c1, sizeof c1), (double)used_flops / 1e6);
    text_printf(&b, "Activation memory per image: %s bytes (%.2f MiB, float32, all outputs)\n",
              commas(used_act, c1, sizeof c1), (double)used_act / 1048576.0);
    text_printf(&b, "Layers: %d\n", m - 1);
    free(rows);
    return text_done(&b);
}

/* ---- export templates (graph_op_info.lua, .py_module, .py_call) ------------------- */

typedef struct lang {
    int py;                   /* 0: the candidate language, 1: PyTorch */
    const char *self;         /* PyTorch forward: the node's module ("self.layernorm_3") */
    const graph *g;
    char (*names)[24];        /* Lua: variable of each canonical id */
    const int *newid;
} lang;

static void put_value(text_buf *b, const lang *l, const graph_node *n, int id)
{
    const graph_attr_info *ai = graph_attr_info_get(id);
    int64_t v = graph_attr_int(&n->a, id, 0);
    switch (ai->type) {
    case GRAPH_T_PAIR: {
        int64_t w = graph_attr_int(&n->a, id, 1);
        if (l->py)
            text_printf(b, "(%lld, %lld)", (long long)v, (long long)w);
        else if (v == w)
            text_printf(b, "%lld", (long long)v);
        else
            text_printf(b, "{%lld, %lld}", (long long)v, (long long)w);
        break;
    }
    case GRAPH_T_BOOL:
        text_printf(b, "%s", v ? (l->py ? "True" : "true") : (l->py ? "False" : "false"));
        break;
    case GRAPH_T_NUM: text_printf(b, "%s", num(graph_attr_num(&n->a, id))); break;
    case GRAPH_T_ENUM: text_printf(b, l->py ? "%s" : "\"%s\"", ai->choices[v]); break;
    default:
        if (!l->py && id == GRAPH_A_OUT && l->g->classes > 0 && v == l->g->classes &&
            n == &l->g->nodes[l->g->output])
            text_printf(b, "classes");
        else
            text_printf(b, "%lld", (long long)v);
        break;
    }
}

static void put_input(text_buf *b, const lang *l, const graph_node *n, int k)
{
    if (k >= n->n_inputs)
        return;
    if (l->py)
        text_printf(b, "h%d", l->newid[n->inputs[k]]);
    else
        text_printf(b, "%s", l->names[l->newid[n->inputs[k]]]);
}

/* ", {stride = 2, bias = false}": the options that differ from their default
 * (all of them, once one differs, for GRAPH_OPF_LUA_ALL_OPTS). */
static void put_options(text_buf *b, const lang *l, const graph_node *n)
{
    const graph_op_info *oi = graph_op_info_get(n->op);
    unsigned opts = oi->attrs & ~oi->fixed, differ = 0;
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++)
        if ((opts & GRAPH_ATTR_BIT(id)) && !graph_attr_is_default(n->op, &n->a, id))
            differ |= GRAPH_ATTR_BIT(id);
    if (differ && (oi->flags & GRAPH_OPF_LUA_ALL_OPTS))
        differ = opts;
    int k = 0;
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        if (!(differ & GRAPH_ATTR_BIT(id)))
            continue;
        text_printf(b, "%s%s = ", k++ ? ", " : ", {", graph_attr_info_get(id)->option);
        put_value(b, l, n, id);
    }
    if (k)
        text_printf(b, "}");
}

static int attr_by_key(const char *key, size_t len)
{
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        const char *k = graph_attr_info_get(id)->key;
        if (strlen(k) == len && strncmp(k, key, len) == 0)
            return id;
    }
    return GRAPH_A_NONE;
}

/* Write template t for node n (the tokens are described in graph.h). */
static void expand(text_buf *b, const lang *l, const graph_node *n, const char *t)
{
    const graph *g = l->g;
    while (*t) {
        const char *d = strchr(t, '$');
        if (!d) {
            text_printf(b, "%s", t);
            return;
        }
        text_printf(b, "%.*s", (int)(d - t), t);
        int opt = d[1] == '?';
        const char *w = d + 1 + opt, *e = w;
        while (isalnum((unsigned char)*e) || *e == '_')
            e++;
        size_t len = (size_t)(e - w);
        t = e;
#define IS(lit) (len == sizeof(lit) - 1 && strncmp(w, lit, len) == 0)
        if (isdigit((unsigned char)*w)) {
            put_input(b, l, n, atoi(w));
        } else if (IS("self")) {
            text_printf(b, "%s", l->self ? l->self : "");
        } else if (IS("name")) {
            text_printf(b, "%s", graph_op_name(n->op));
        } else if (IS("inputs")) {
            for (int j = 0; j < n->n_inputs; j++) {
                text_printf(b, "%s", j ? ", " : "");
                put_input(b, l, n, j);
            }
        } else if (IS("in")) {
            text_printf(b, "%lld",
                      (long long)(n->n_inputs ? g->nodes[n->inputs[0]].shape.dim[1] : 0));
        } else if (IS("opts")) {
            put_options(b, l, n);
        } else {
            int id = attr_by_key(w, len);
            if (id == GRAPH_A_NONE)
                continue;  /* a template typo: graph_ops' test catches it */
            if (opt && graph_attr_is_default(n->op, &n->a, id))
                continue;
            text_printf(b, "%s", opt ? ", " : "");
            put_value(b, l, n, id);
        }
#undef IS
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
    text_buf b = {0};
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
    text_printf(&b, "-- exported by llmnas: graph %s, input [B, %lld, %lld, %lld], %s params\n",
              h, (long long)g->nodes[0].shape.dim[1], (long long)g->nodes[0].shape.dim[2],
              (long long)g->nodes[0].shape.dim[3], commas(st.params, c1, sizeof c1));
    text_printf(&b, "function Net(x, classes)\n");
    if (table)
        text_printf(&b, "  local t = {}\n");
    for (int k = 0; k < m; k++) {
        if (slot[k] == 0)
            snprintf(names[k], sizeof names[k], "x");
        else if (table)
            snprintf(names[k], sizeof names[k], "t[%d]", slot[k]);
        else
            snprintf(names[k], sizeof names[k], "x%d", slot[k]);
    }
    lang l = {0, NULL, g, names, newid};
    for (int k = 1; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        int fresh = !table && !declared[slot[k]];
        declared[slot[k]] = 1;
        text_printf(&b, "  %s%s = ", fresh ? "local " : "", names[k]);
        /* inputs are named by their own slot; names[] is per node */
        const char *t = graph_op_info_get(n->op)->lua;
        expand(&b, &l, n, t ? t : "nn.$name($0)");
        text_printf(&b, "\n");
    }
    text_printf(&b, "  return %s\nend\n", names[m - 1]);
done:
    free(last), free(slot), free(busy), free(declared), free(names);
    free(order), free(newid);
    return text_done(&b);
}

/* ---- PyTorch export -------------------------------------------------------------- */

char *graph_to_pytorch(const graph *g)
{
    int *order, *newid, m = canonical(g, &order, &newid);
    if (m < 0)
        return NULL;
    text_buf b = {0};
    char h[GRAPH_HASH_HEX] = "", name[48], c1[32];
    graph_hash(g, h);
    graph_stats st;
    graph_stats_get(g, &st);
    const graph_shape *in = &g->nodes[0].shape;
    text_printf(&b, "# exported by llmnas: graph %s, input [B, %lld, %lld, %lld], %s params\n",
              h, (long long)in->dim[1], (long long)in->dim[2], (long long)in->dim[3],
              commas(st.params, c1, sizeof c1));
    text_printf(&b, "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                  "    def __init__(self):\n        super().__init__()\n");
    lang l = {1, NULL, g, NULL, newid};
    for (int k = 1; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        const graph_op_info *oi = graph_op_info_get(n->op);
        if (oi->py_call)
            continue;
        lower_name(n, k, name, sizeof name);
        text_printf(&b, "        self.%s = ", name);
        expand(&b, &l, n, oi->py_module ? oi->py_module : "nn.$name()");
        text_printf(&b, "\n");
    }
    text_printf(&b, "\n    def forward(self, x):\n        h0 = x\n");
    for (int k = 1; k < m; k++) {
        const graph_node *n = &g->nodes[order[k]];
        const graph_op_info *oi = graph_op_info_get(n->op);
        const char *call = oi->py_call;
        char self[64];
        text_printf(&b, "        h%d = ", k);
        lower_name(n, k, name, sizeof name);
        snprintf(self, sizeof self, "self.%s", name);
        if (!call && oi->py_call4 && g->nodes[n->inputs[0]].shape.rank == 4)
            call = oi->py_call4;
        l.self = self;
        if (call)
            expand(&b, &l, n, call);
        else
            text_printf(&b, "self.%s(h%d)", name, newid[n->inputs[0]]);
        text_printf(&b, "\n");
    }
    text_printf(&b, "        return h%d\n\n\nif __name__ == \"__main__\":\n"
                  "    net = Net()\n"
                  "    out = net(torch.zeros(2, %lld, %lld, %lld))\n"
                  "    print(sum(p.numel() for p in net.parameters()), tuple(out.shape))\n",
              m - 1, (long long)in->dim[1], (long long)in->dim[2], (long long)in->dim[3]);
    free(order);
    free(newid);
    return text_done(&b);
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
