/*
 * train_pool.c — max pooling for training in C, on oneDNN's channel-blocked
 * layouts (aBcd16b, aBcd8b: [B][C/b][H][W][b], the last b channels one
 * vector). See train_ops.h (tn_cpool_*).
 *
 * Why not oneDNN: its 2.6 training-mode max pooling (the one with a
 * workspace) measured 22 ms forward and 23 ms backward for 128x32x28x28 on
 * one AVX-512 core, against 2.4 and 2.3 ms for these loops, and pooling was
 * a quarter of the `small` reference net's step (ONEDNN.md measured the same
 * on AVX2). Both passes are memory-bound: forward reads the input once and
 * writes the output and a one-byte window index per output element; backward
 * writes each input gradient element once (non-overlapping windows) or zeroes
 * and accumulates (overlapping or padded ones).
 *
 * PyTorch's semantics: the window is scanned row by row, the first maximum
 * wins ties, a NaN wins (and propagates), padding never wins.
 *
 * Deliberately avoided: plain and channels-last layouts (the caller reorders
 * to blocks, as it does for oneDNN's own pooling), and data types other than
 * f32 (oneDNN keeps those).
 */
#include "train/train_ops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/rt.h"

#define MAXB 16  /* the widest channel block */

/* Channel block of md if it is aBcd16b or aBcd8b in f32, else 0. */
static int block_of(const dnnl_memory_desc_t *md)
{
    static const struct { dnnl_format_tag_t tag; int b; } blocks[] = {
        {dnnl_aBcd16b, 16}, {dnnl_aBcd8b, 8}};
    if (md->ndims != 4 || md->data_type != dnnl_f32)
        return 0;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        dnnl_memory_desc_t want;
        if (dop_md(&want, 4, md->dims, blocks[i].tag) == dnnl_success && dop_md_equal(md, &want))
            return blocks[i].b;
    }
    return 0;
}

/* The geometry of node k as the loops read it. */
typedef struct pool_geo {
    int B, CB, b, H, W, OH, OW, kH, kW, SH, SW, PH, PW, DH, DW;
    int is22;   /* 2x2 windows, stride 2, no padding, tiling the input exactly */
} pool_geo;

static void geo_of(const train_net *n, int k, const dnnl_memory_desc_t *src, pool_geo *p)
{
    const layer *Lk = &n->L[k];
    const graph_shape *os = &n->g->nodes[k].shape;
    p->b = block_of(src);
    p->B = (int)src->dims[0];
    p->CB = (int)(src->padded_dims[1] / (p->b ? p->b : 1));
    p->H = (int)src->dims[2], p->W = (int)src->dims[3];
    p->OH = (int)os->dim[2], p->OW = (int)os->dim[3];
    p->kH = (int)Lk->kernel[0], p->kW = (int)Lk->kernel[1];
    p->SH = (int)Lk->geo.stride[0], p->SW = (int)Lk->geo.stride[1];
    p->PH = (int)Lk->geo.pad_l[0], p->PW = (int)Lk->geo.pad_l[1];
    p->DH = (int)Lk->geo.dilation[0], p->DW = (int)Lk->geo.dilation[1];
    p->is22 = p->kH == 2 && p->kW == 2 && p->SH == 2 && p->SW == 2 && p->PH == 0 && p->PW == 0 &&
              p->DH == 1 && p->DW == 1 && p->OH * 2 == p->H && p->OW * 2 == p->W;
}

/* The common case, 2x2 windows with stride 2 tiling the input, with the block
 * size a constant so that each lane loop is one vector. Window positions:
 * 0 top left, 1 top right, 2 bottom left, 3 bottom right. */
static inline __attribute__((always_inline)) void fwd22(const pool_geo *p, const float *x, float *y,
                                                        uint8_t *ws, const int b)
{
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            const float *v0 = x + ((size_t)2 * oh * p->W + 2 * ow) * b, *v1 = v0 + b;
            const float *v2 = v0 + (size_t)p->W * b, *v3 = v2 + b;
            float *o = y + ((size_t)oh * p->OW + ow) * b;
            uint8_t *a = ws ? ws + ((size_t)oh * p->OW + ow) * b : NULL;
            uint8_t arg[MAXB];
            #pragma omp simd
            for (int l = 0; l < b; l++) {
                float m = v0[l];
                uint32_t k = 0;
                int t = (v1[l] > m) | (v1[l] != v1[l]);
                m = t ? v1[l] : m, k = t ? 1u : k;
                t = (v2[l] > m) | (v2[l] != v2[l]);
                m = t ? v2[l] : m, k = t ? 2u : k;
                t = (v3[l] > m) | (v3[l] != v3[l]);
                m = t ? v3[l] : m, k = t ? 3u : k;
                o[l] = m;
                arg[l] = (uint8_t)k;
            }
            if (a)
                memcpy(a, arg, (size_t)b);
        }
}

/* Gradients move as bit patterns (memcpy, no aliasing): a select written as an
 * integer AND vectorises where the float one compiled to branches. */
static inline __attribute__((always_inline)) void bwd22(const pool_geo *p, const float *dy,
                                                        const uint8_t *ws, float *dx, const int b)
{
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            float *d0 = dx + ((size_t)2 * oh * p->W + 2 * ow) * b, *d1 = d0 + b;
            float *d2 = d0 + (size_t)p->W * b, *d3 = d2 + b;
            const float *g = dy + ((size_t)oh * p->OW + ow) * b;
            const uint8_t *a = ws + ((size_t)oh * p->OW + ow) * b;
            #pragma omp simd
            for (int l = 0; l < b; l++) {
                uint32_t v, k = a[l], r0, r1, r2, r3;
                memcpy(&v, &g[l], sizeof v);
                r0 = v & -(uint32_t)(k == 0), r1 = v & -(uint32_t)(k == 1);
                r2 = v & -(uint32_t)(k == 2), r3 = v & -(uint32_t)(k == 3);
                memcpy(&d0[l], &r0, sizeof r0), memcpy(&d1[l], &r1, sizeof r1);
                memcpy(&d2[l], &r2, sizeof r2), memcpy(&d3[l], &r3, sizeof r3);
            }
        }
}

/* Any other window: kernel, stride, padding, dilation as the node says. */
static void fwd_any(const pool_geo *p, const float *x, float *y, uint8_t *ws)
{
    const int b = p->b;
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            float m[MAXB];
            uint8_t arg[MAXB];
            int first = 1;
            for (int kh = 0; kh < p->kH; kh++) {
                int ih = oh * p->SH - p->PH + kh * p->DH;
                if (ih < 0 || ih >= p->H)
                    continue;
                for (int kw = 0; kw < p->kW; kw++) {
                    int iw = ow * p->SW - p->PW + kw * p->DW;
                    if (iw < 0 || iw >= p->W)
                        continue;
                    const float *v = x + ((size_t)ih * p->W + iw) * b;
                    uint8_t j = (uint8_t)(kh * p->kW + kw);
                    for (int l = 0; l < b; l++) {
                        int take = first || v[l] > m[l] || v[l] != v[l];
                        m[l] = take ? v[l] : m[l];
                        arg[l] = take ? j : arg[l];
                    }
                    first = 0;
                }
            }
            float *o = y + ((size_t)oh * p->OW + ow) * b;
            for (int l = 0; l < b; l++)
                o[l] = first ? -INFINITY : m[l];
            if (ws)
                memcpy(ws + ((size_t)oh * p->OW + ow) * b, arg, (size_t)b);
        }
}

static void bwd_any(const pool_geo *p, const float *dy, const uint8_t *ws, float *dx)
{
    const int b = p->b;
    memset(dx, 0, sizeof(float) * (size_t)p->H * p->W * b);
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            const float *g = dy + ((size_t)oh * p->OW + ow) * b;
            const uint8_t *a = ws + ((size_t)oh * p->OW + ow) * b;
            for (int l = 0; l < b; l++) {
                int ih = oh * p->SH - p->PH + a[l] / p->kW * p->DH;
                int iw = ow * p->SW - p->PW + a[l] % p->kW * p->DW;
                dx[((size_t)ih * p->W + iw) * b + l] += g[l];
            }
        }
}

/* One [H][W][b] plane: y [OH][OW][b] and ws (NULL: inference) the window
 * position (kh * kW + kw) of each output element's maximum; backward the
 * other way. Cloned for AVX-512 and AVX2 (the build targets the baseline
 * x86-64). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void fwd_plane(const pool_geo *p, const float *x, float *y, uint8_t *ws)
{
    if (p->is22 && p->b == 16)
        fwd22(p, x, y, ws, 16);
    else if (p->is22 && p->b == 8)
        fwd22(p, x, y, ws, 8);
    else
        fwd_any(p, x, y, ws);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void bwd_plane(const pool_geo *p, const float *dy, const uint8_t *ws, float *dx)
{
    if (p->is22 && p->b == 16)
        bwd22(p, dy, ws, dx, 16);
    else if (p->is22 && p->b == 8)
        bwd22(p, dy, ws, dx, 8);
    else
        bwd_any(p, dy, ws, dx);
}

/* Steps. Forward: args src, dst[, ws] (no ws: inference). Backward: ddst, ws, dsrc. */
static void step_fwd(train_net *n, step *s)
{
    pool_geo p;
    geo_of(n, s->node, tn_md(s->args[0].memory), &p);
    const float *x = tn_ptr(s->args[0].memory);
    float *y = tn_ptr(s->args[1].memory);
    uint8_t *ws = s->nargs > 2 ? tn_ptr(s->args[2].memory) : NULL;
    size_t in = (size_t)p.H * p.W * p.b, out = (size_t)p.OH * p.OW * p.b;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < p.B * p.CB; i++)
        fwd_plane(&p, x + i * in, y + i * out, ws ? ws + i * out : NULL);
}

static void step_bwd(train_net *n, step *s)
{
    pool_geo p;
    geo_of(n, s->node, tn_md(s->args[2].memory), &p);
    const float *dy = tn_ptr(s->args[0].memory);
    const uint8_t *ws = tn_ptr(s->args[1].memory);
    float *dx = tn_ptr(s->args[2].memory);
    size_t in = (size_t)p.H * p.W * p.b, out = (size_t)p.OH * p.OW * p.b;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < p.B * p.CB; i++)
        bwd_plane(&p, dy + i * out, ws + i * out, dx + i * in);
}

int tn_cpool_fwd(train_net *n, int k, dnnl_memory_t src)
{
    layer *Lk = &n->L[k];
    const dnnl_memory_desc_t *md = tn_md(src);
    if (n->g->nodes[k].op != GRAPH_OP_MAXPOOL2D || md->ndims != 4 || md->data_type != dnnl_f32 ||
        Lk->kernel[0] * Lk->kernel[1] > 255)
        return 1;
    if (!block_of(md)) {
        /* plain NCHW, 4-channel blocks after a grouped conv...: 16-channel blocks first */
        dnnl_memory_desc_t blocked;
        dnnl_memory_t m;
        if (dop_md(&blocked, 4, md->dims, dnnl_aBcd16b) != dnnl_success)
            return 1;
        TRY(tn_new_mem(n, &blocked, &m));
        TRY(tn_add_reorder(n, NULL, src, m));
        src = m;
        md = tn_md(src);
    }
    dnnl_dims_t od = {md->dims[0], md->dims[1], n->g->nodes[k].shape.dim[2],
                      n->g->nodes[k].shape.dim[3]};
    dnnl_memory_desc_t dst, ws;
    CK(dop_md(&dst, 4, od, block_of(md) == 16 ? dnnl_aBcd16b : dnnl_aBcd8b), "pooling layout");
    dnnl_dims_t wd = {(dnnl_dim_t)(dop_md_size(&dst) / sizeof(float))};
    CK(dnnl_memory_desc_init_by_tag(&ws, 1, wd, dnnl_u8, dnnl_a), "pooling workspace");
    Lk->src_bound = src;
    Lk->c_pool = 1;
    TRY(tn_new_mem(n, &dst, &Lk->dst));
    TRY(tn_new_mem(n, &ws, &Lk->ws));
    step s = {.fn = step_fwd, .node = k, .nargs = 3};
    s.args[0].memory = src;  /* listed so buffer lifetimes see them */
    s.args[1].memory = Lk->dst;
    s.args[2].memory = Lk->ws;
    TRY(tn_push_fwd(n, FWD_TRAIN, &s));
    /* inference needs no window indices: oneDNN's is as fast as it gets there */
    dnnl_primitive_desc_t ipd;
    CK(dop_pool_fwd(&ipd, n->eng, dnnl_pooling_max, md, &dst, Lk->kernel, &Lk->geo, 0),
       "pooling inference");
    step e;
    TRY(tn_make_prim(n, ipd, "pool inf", &e));
    tn_arg(&e, DNNL_ARG_SRC, src);
    tn_arg(&e, DNNL_ARG_DST, Lk->dst);
    return tn_push_fwd(n, FWD_EVAL, &e);
}

int tn_cpool_bwd(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    tn_grad_out go;
    TRY(tn_grad_out_begin(n, tn_md(Lk->src_bound), Lk->in[0], &go));
    step s = {.fn = step_bwd, .node = k, .nargs = 3};
    s.args[0].memory = Lk->ddst;
    s.args[1].memory = Lk->ws;
    s.args[2].memory = go.mem;
    TRY(tn_push_step(n, &n->bwd, &s));
    return tn_grad_out_end(n, &go);
}
