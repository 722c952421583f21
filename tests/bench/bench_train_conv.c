/*
 * bench_train_conv.c — the bare oneDNN convolution rate for the conv layers
 * of a network: each layer's forward, backward-data (skipped for the first
 * layer, as the trainer does) and backward-weights primitives with layouts
 * chosen by oneDNN ("any"), timed alone on random data. Prints one JSON
 * object: total conv FLOPs of a training step (3 x forward, 2 x for the first
 * layer), the time those primitives take back to back, and the rate.
 *
 *   bench_train_conv GRAPH.json [BATCH [THREADS [REPEATS [WINOGRAD]]]]
 *
 * Run by tests/bench/bench_train.py, which compares the trainer's achieved
 * rate with it; without arguments it says so and exits.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/dnnl_ops.h"
#include "graph/graph.h"
#include "base/rt.h"

#define CHECK(x)                                                              \
    do {                                                                      \
        dnnl_status_t s_ = (x);                                               \
        if (s_ != dnnl_success) {                                             \
            fprintf(stderr, "bench_train_conv: %s failed (%d)\n", #x, (int)s_); \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

typedef struct prim {
    dnnl_primitive_t p;
    int nargs;
    dnnl_exec_arg_t args[5];
} prim;

static dnnl_memory_t mem(dnnl_engine_t eng, const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *h;
    dnnl_memory_get_data_handle(m, &h);
    float *f = h;
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return m;
}

/* The primitive of pd with its scratchpad; arguments added by the caller. */
static prim make(dnnl_engine_t eng, dnnl_primitive_desc_t pd)
{
    prim r = {0};
    CHECK(dnnl_primitive_create(&r.p, pd));
    const dnnl_memory_desc_t *sp = dop_query_md(pd, DNNL_ARG_SCRATCHPAD);
    if (sp && dnnl_memory_desc_get_size(sp)) {
        r.args[r.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem(eng, sp)};
    }
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        puts("bench_train_conv: run by tests/bench/bench_train.py (usage: bench_train_conv GRAPH.json [BATCH [THREADS [REPEATS]]])");
        return 0;
    }
    int batch = argc > 2 ? atoi(argv[2]) : 128, threads = argc > 3 ? atoi(argv[3]) : 0;
    int reps = argc > 4 ? atoi(argv[4]) : 10, wino = argc > 5 ? atoi(argv[5]) : 0;
    if (threads > 0)
        omp_set_num_threads(threads);
    char *json = slurp(argv[1]), err[512];
    graph *g;
    if (!json || graph_from_json(json, &g, err, sizeof err)) {
        fprintf(stderr, "bench_train_conv: %s: %s\n", argv[1], json ? err : "unreadable");
        return 1;
    }
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    prim *ps = calloc((size_t)g->n * 3, sizeof *ps);
    int np = 0;
    double flops = 0;
    for (int k = 0; k < g->n; k++) {
        const graph_node *n = &g->nodes[k];
        if (n->op != GRAPH_OP_CONV2D)
            continue;
        const graph_shape *is = &g->nodes[n->inputs[0]].shape, *os = &n->shape;
        int G = n->a.groups;
        dnnl_dims_t sd = {batch, is->dim[1], is->dim[2], is->dim[3]};
        dnnl_dims_t dd = {batch, os->dim[1], os->dim[2], os->dim[3]};
        dnnl_dims_t wd = {G, n->a.out / G, is->dim[1] / G, n->a.kernel[0], n->a.kernel[1]};
        dnnl_dims_t wd4 = {n->a.out, is->dim[1], n->a.kernel[0], n->a.kernel[1]};
        dnnl_memory_desc_t src, dst, wei;
        dop_md(&src, 4, sd, dnnl_format_tag_any);
        dop_md(&dst, 4, dd, dnnl_format_tag_any);
        if (G > 1)
            dop_md(&wei, 5, wd, dnnl_format_tag_any);
        else
            dop_md(&wei, 4, wd4, dnnl_format_tag_any);
        dop_conv c = {{n->a.stride[0], n->a.stride[1]}, {n->a.dilation[0], n->a.dilation[1]},
                      {n->a.padding[0], n->a.padding[1]}, {n->a.padding[0], n->a.padding[1]}, wino};
        dnnl_primitive_desc_t fpd, bd, bw;
        CHECK(dop_conv_fwd(&fpd, eng, &src, &wei, NULL, &dst, &c));
        dnnl_memory_t ms = mem(eng, dop_query_md(fpd, DNNL_ARG_SRC));
        dnnl_memory_t mw = mem(eng, dop_query_md(fpd, DNNL_ARG_WEIGHTS));
        dnnl_memory_t md = mem(eng, dop_query_md(fpd, DNNL_ARG_DST));
        prim p = make(eng, fpd);
        p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, ms};
        p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mw};
        p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DST, md};
        ps[np++] = p;
        flops += (double)n->flops * batch;
        CHECK(dop_conv_bwd_weights(&bw, eng, &src, &wei, NULL, &dst, &c, fpd));
        p = make(eng, bw);
        p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, mem(eng, dop_query_md(bw, DNNL_ARG_SRC))};
        p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, mem(eng, dop_query_md(bw, DNNL_ARG_DIFF_DST))};
        p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, mem(eng, dop_query_md(bw, DNNL_ARG_DIFF_WEIGHTS))};
        ps[np++] = p;
        flops += (double)n->flops * batch;
        if (n->inputs[0] != 0) {
            CHECK(dop_conv_bwd_data(&bd, eng, &src, &wei, &dst, &c, fpd));
            p = make(eng, bd);
            p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, mem(eng, dop_query_md(bd, DNNL_ARG_DIFF_SRC))};
            p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mem(eng, dop_query_md(bd, DNNL_ARG_WEIGHTS))};
            p.args[p.nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, mem(eng, dop_query_md(bd, DNNL_ARG_DIFF_DST))};
            ps[np++] = p;
            flops += (double)n->flops * batch;
            dnnl_primitive_desc_destroy(bd);
        }
        dnnl_primitive_desc_destroy(fpd);
        dnnl_primitive_desc_destroy(bw);
    }
    /* one warm-up pass, then the best of `reps` passes (the machine is shared) */
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = rt_now();
        for (int i = 0; i < np; i++)
            CHECK(dnnl_primitive_execute(ps[i].p, st, ps[i].nargs, ps[i].args));
        dnnl_stream_wait(st);
        double t = rt_now() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    printf("{\"conv_primitives\":%d,\"conv_flops_per_step\":%.0f,\"conv_seconds_per_step\":%.6f,"
           "\"conv_gflops\":%.2f}\n", np, flops, best, flops / best / 1e9);
    graph_free(g);
    free(json);
    return 0;
}
