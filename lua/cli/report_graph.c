/*
 * report_graph.c — the best network of a run drawn as a DAG: its code compiled
 * again in the sandbox (a separate worker process, as every candidate is), the
 * graph written as DOT (one node per layer with its attributes and parameters,
 * each edge labelled with the tensor shape it carries) and laid out and rendered
 * to SVG by Graphviz's libgvc ("dot" layout).
 */
#include "cli/report.h"
#include "cli/snapshot.h"
#include "graph/graph.h"
#include "sandbox/sandbox.h"

#include <graphviz/gvc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Larger graphs take dot too long for a page that refreshes; the summary table stays. */
#define RP_MAX_DRAWN_NODES 400

typedef struct { char *b; size_t n, cap; int oom; } buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->b ? b->b + b->n : NULL, b->b ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->b && b->n + (size_t)k < b->cap) { b->n += (size_t)k; return; }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
        char *nb = realloc(b->b, cap);
        if (!nb) { b->oom = 1; return; }
        b->b = nb, b->cap = cap;
    }
}

static const char *count(char *t, size_t n, int64_t v)
{
    if (v >= 1000000) snprintf(t, n, "%.2fM", (double)v / 1e6);
    else if (v >= 10000) snprintf(t, n, "%.1fK", (double)v / 1e3);
    else snprintf(t, n, "%lld", (long long)v);
    return t;
}

/* The node's label: op and the attributes that tell layers apart. */
static void node_label(buf *b, const graph_node *nd)
{
    const graph_attrs *a = &nd->a;
    char t[32];
    bprintf(b, "%s", graph_op_name(nd->op));
    switch (nd->op) {
    case GRAPH_OP_INPUT:
        bprintf(b, "\\n%lldx%lldx%lld", (long long)nd->shape.dim[1], (long long)nd->shape.dim[2],
                (long long)nd->shape.dim[3]);
        break;
    case GRAPH_OP_CONV2D:
        bprintf(b, " %dx%d, %lld ch", a->kernel[0], a->kernel[1], (long long)a->out);
        if (a->stride[0] != 1 || a->stride[1] != 1) bprintf(b, ", stride %d", a->stride[0]);
        if (a->dilation[0] != 1) bprintf(b, ", dilation %d", a->dilation[0]);
        if (a->groups != 1) bprintf(b, ", groups %d", a->groups);
        break;
    case GRAPH_OP_MAXPOOL2D:
    case GRAPH_OP_AVGPOOL2D:
        bprintf(b, " %dx%d", a->kernel[0], a->kernel[1]);
        if (a->stride[0] != a->kernel[0]) bprintf(b, ", stride %d", a->stride[0]);
        break;
    case GRAPH_OP_LINEAR: bprintf(b, " -> %lld", (long long)a->out); break;
    case GRAPH_OP_DROPOUT: bprintf(b, " p=%.2g", a->p); break;
    default: break;
    }
    if (nd->params > 0) bprintf(b, "\\n%s params", count(t, sizeof t, nd->params));
}

static const char *node_shape(graph_op op)
{
    switch (op) {
    case GRAPH_OP_INPUT: return "shape=invhouse";
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_LINEAR: return "shape=box, style=\"rounded,filled\", fillcolor=\"#dbe9f6\"";
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL:
    case GRAPH_OP_CAT: return "shape=diamond, style=filled, fillcolor=\"#f6e3cf\"";
    case GRAPH_OP_MAXPOOL2D:
    case GRAPH_OP_AVGPOOL2D:
    case GRAPH_OP_ADAPTIVEAVGPOOL2D: return "shape=trapezium, style=filled, fillcolor=\"#e3f1e6\"";
    default: return "shape=ellipse";
    }
}

static char *graph_dot(const graph *g)
{
    buf b = {0};
    bprintf(&b, "digraph net {\n  graph [rankdir=TB, nodesep=0.3, ranksep=0.35, fontname=\"DejaVu Sans\"];\n"
                "  node [fontname=\"DejaVu Sans\", fontsize=10, margin=\"0.08,0.03\"];\n"
                "  edge [fontname=\"DejaVu Sans\", fontsize=8, color=\"#555555\", fontcolor=\"#333333\"];\n");
    for (int i = 0; i < g->n; i++) {
        const graph_node *nd = &g->nodes[i];
        bprintf(&b, "  n%d [id=\"layer%d\", %s%s, label=\"", i, i, node_shape(nd->op),
                i == g->output ? ", peripheries=2" : "");
        node_label(&b, nd);
        bprintf(&b, "\"];\n");
    }
    for (int i = 0; i < g->n; i++) {
        const graph_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) {
            const graph_shape *sh = &g->nodes[nd->inputs[k]].shape;
            bprintf(&b, "  n%d -> n%d [label=\" ", nd->inputs[k], i);
            for (int d = 1; d < sh->rank; d++) bprintf(&b, "%s%lld", d > 1 ? "x" : "", (long long)sh->dim[d]);
            bprintf(&b, "\"];\n");
        }
    }
    if (g->output >= 0) {
        const graph_shape *sh = &g->nodes[g->output].shape;
        bprintf(&b, "  out [shape=plaintext, label=\"output\"];\n  n%d -> out [label=\" ", g->output);
        for (int d = 1; d < sh->rank; d++) bprintf(&b, "%s%lld", d > 1 ? "x" : "", (long long)sh->dim[d]);
        bprintf(&b, "\"];\n");
    }
    bprintf(&b, "}\n");
    if (b.oom) { free(b.b); return NULL; }
    return b.b;
}

/* One Graphviz context for the process, never freed: libgvc frees its text-font cache
 * with a context, while its pango plugin (loaded once) keeps a pointer into that cache,
 * so a second context's first label compared a freed font name (AddressSanitizer:
 * heap-use-after-free in textspan_size when a report draws a second run's network). */
static GVC_t *graph_context(void)
{
    static GVC_t *gvc;
    if (!gvc) gvc = gvContext();
    return gvc;
}

static char *render_svg(const char *dot, char *err, size_t errlen)
{
    GVC_t *gvc = graph_context();
    Agraph_t *ag = gvc ? agmemread(dot) : NULL;
    char *data = NULL, *out = NULL;
    unsigned int len = 0;
    if (!ag) snprintf(err, errlen, "Graphviz could not read the network's DOT");
    else if (gvLayout(gvc, ag, "dot") != 0) snprintf(err, errlen, "Graphviz's dot layout failed");
    else {
        if (gvRenderData(gvc, ag, "svg", &data, &len) != 0 || !data)
            snprintf(err, errlen, "Graphviz could not render SVG (is libgvc's core plugin installed?)");
        else out = rp_svg_inline(data);
        if (data) gvFreeRenderData(data);
        gvFreeLayout(gvc, ag);
    }
    if (ag) agclose(ag);
    return out;
}

int rp_best_graph(mem_store *s, const rp_run *r, char **svg, char **summary, char *err, size_t errlen)
{
    *svg = *summary = NULL;
    if (!r->best_iter) {
        snprintf(err, errlen, "no valid candidate");
        return -1;
    }
    char *text = NULL;
    int rc = mem_get(s, r->id, r->best_iter, &text);
    if (rc) {
        snprintf(err, errlen, "%s", mem_errmsg(s));
        return -1;
    }
    cJSON *rec = cJSON_Parse(text);
    mem_free(text);
    const char *code = snap_jstr(rec, "code");
    if (!code) {
        snprintf(err, errlen, "iteration %u has no code", r->best_iter);
        cJSON_Delete(rec);
        return -1;
    }
    sandbox_opts o;
    sandbox_opts_default(&o);
    o.c = (int64_t)r->in_c, o.h = (int64_t)r->in_h, o.w = (int64_t)r->in_w;
    o.classes = (int)r->classes; /* Net(x, classes) is called with the task's classes */
    graph *g = NULL;
    char kind[SANDBOX_KIND_LEN], msg[512];
    double secs;
    rc = sandbox_compile_isolated(code, strlen(code), &o, &g, kind, msg, sizeof msg, &secs);
    cJSON_Delete(rec);
    if (rc) {
        snprintf(err, errlen, "its code does not compile again (%s: %s)", kind, msg);
        return -1;
    }
    *summary = graph_summary(g);
    if (g->n > RP_MAX_DRAWN_NODES) {
        snprintf(err, errlen, "%d layers: too many to draw (the table lists them)", g->n);
        graph_free(g);
        return -1;
    }
    char *dot = graph_dot(g);
    graph_free(g);
    if (!dot) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *svg = render_svg(dot, err, errlen);
    free(dot);
    return *svg ? 0 : -1;
}
