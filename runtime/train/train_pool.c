/*
 * train_pool.c — max pooling for training in C, on oneDNN's channel-blocked
 * layouts (aBcd16b, aBcd8b: [B][C/b][H][W][b], the last b channels one
 * vector) and channels-last ([B][H][W][C], b adjacent channels one vector). See train_pool.h.
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
 * Layouts: the channel-blocked ones and channels-last (acdb, which bf16
 * convolutions choose), f32 and bf16 (a maximum is one of its inputs: exact
 * in either; bf16 only where windows do not overlap, so that no gradient is a
 * bf16 sum). oneDNN's bf16 training pooling took 11 + 14 ms for 128x32x28x28
 * on one AMX core, a third of the `small` net's bf16 step.
 *
 * Deliberately avoided: plain layouts (the caller reorders to blocks, as it
 * does for oneDNN's own pooling), and other data types (oneDNN keeps those).
 */
#include "train/train_pool.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/rt.h"

#define MAXB 16  /* the widest channel block */

/* The geometry of node k as the loops read it: planes of b channels (one
 * vector), pixels xs (input) and ys (output) elements apart within a plane —
 * b in the blocked layouts, C in channels-last (acdb), where a plane is b
 * adjacent channels of every pixel. */
typedef struct pool_geo {
    int B, CB, b, H, W, OH, OW, kH, kW, SH, SW, PH, PW, DH, DW;
    int bf;     /* elements are bf16 (else f32) */
    int is22;   /* 2x2 windows, stride 2, no padding, tiling the input exactly */
    size_t xs, ys;              /* elements between pixels: input, output */
    size_t in_n, in_cb;         /* elements between images, between planes: input */
    size_t out_n, out_cb;       /* the same in the output (and in ws) */
} pool_geo;

static void geo_of(const train_net *n, int k, const dnnl_memory_desc_t *src, pool_geo *p)
{
    const layer *Lk = &n->L[k];
    const graph_shape *os = &n->g->nodes[k].shape;
    int cl;
    p->b = tn_channel_block(src, &cl);
    p->bf = src->data_type == dnnl_bf16;
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
    size_t C = (size_t)p->CB * p->b, in_px = (size_t)p->H * p->W, out_px = (size_t)p->OH * p->OW;
    p->xs = cl ? C : (size_t)p->b;
    p->ys = p->xs;
    p->in_n = in_px * C, p->out_n = out_px * C;
    p->in_cb = cl ? (size_t)p->b : in_px * p->b;
    p->out_cb = cl ? (size_t)p->b : out_px * p->b;
}

/* dx[i] = on ? g[j] : 0, as bit patterns (memcpy, no aliasing): a select
 * written as an integer AND vectorises where the float one compiled to
 * branches. */
static inline __attribute__((always_inline)) void sel(void *dx, size_t i, const void *g, size_t j,
                                                      uint32_t on, const int bf)
{
    if (bf) {
        ((uint16_t *)dx)[i] = (uint16_t)(((const uint16_t *)g)[j] & (0u - on));
        return;
    }
    uint32_t v;
    memcpy(&v, (const float *)g + j, sizeof v);
    v &= 0u - on;
    memcpy((float *)dx + i, &v, sizeof v);
}

/* The common case, 2x2 windows with stride 2 tiling the input, with the block
 * size a constant so that each lane loop is one vector. Window positions:
 * 0 top left, 1 top right, 2 bottom left, 3 bottom right. */
static inline __attribute__((always_inline)) void fwd22(const pool_geo *p, const void *x, void *y,
                                                        uint8_t *ws, const int b, const int bf)
{
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            size_t i0 = ((size_t)2 * oh * p->W + 2 * ow) * p->xs, i1 = i0 + p->xs;
            size_t i2 = i0 + (size_t)p->W * p->xs, i3 = i2 + p->xs;
            size_t o = ((size_t)oh * p->OW + ow) * p->ys;
            uint8_t arg[MAXB];
            #pragma omp simd
            for (int l = 0; l < b; l++) {
                float v1 = tn_ld(x, i1 + l, bf), v2 = tn_ld(x, i2 + l, bf), v3 = tn_ld(x, i3 + l, bf);
                float m = tn_ld(x, i0 + l, bf);
                uint32_t k = 0;
                int t = (v1 > m) | (v1 != v1);
                m = t ? v1 : m, k = t ? 1u : k;
                t = (v2 > m) | (v2 != v2);
                m = t ? v2 : m, k = t ? 2u : k;
                t = (v3 > m) | (v3 != v3);
                m = t ? v3 : m, k = t ? 3u : k;
                tn_st(y, o + l, m, bf);
                arg[l] = (uint8_t)k;
            }
            if (ws)
                memcpy(ws + o, arg, (size_t)b);
        }
}

static inline __attribute__((always_inline)) void bwd22(const pool_geo *p, const void *dy,
                                                        const uint8_t *ws, void *dx, const int b,
                                                        const int bf)
{
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            size_t i0 = ((size_t)2 * oh * p->W + 2 * ow) * p->xs, i1 = i0 + p->xs;
            size_t i2 = i0 + (size_t)p->W * p->xs, i3 = i2 + p->xs;
            size_t o = ((size_t)oh * p->OW + ow) * p->ys;
            const uint8_t *a = ws + o;
            #pragma omp simd
            for (int l = 0; l < b; l++) {
                uint32_t k = a[l];
                sel(dx, i0 + l, dy, o + l, k == 0, bf), sel(dx, i1 + l, dy, o + l, k == 1, bf);
                sel(dx, i2 + l, dy, o + l, k == 2, bf), sel(dx, i3 + l, dy, o + l, k == 3, bf);
            }
        }
}

/* Any other window: kernel, stride, padding, dilation as the node says. */
static inline __attribute__((always_inline)) void fwd_any(const pool_geo *p, const void *x, void *y,
                                                          uint8_t *ws, const int bf)
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
                    size_t v = ((size_t)ih * p->W + iw) * p->xs;
                    uint8_t j = (uint8_t)(kh * p->kW + kw);
                    for (int l = 0; l < b; l++) {
                        float e = tn_ld(x, v + l, bf);
                        int take = first || e > m[l] || e != e;
                        m[l] = take ? e : m[l];
                        arg[l] = take ? j : arg[l];
                    }
                    first = 0;
                }
            }
            size_t o = ((size_t)oh * p->OW + ow) * p->ys;
            for (int l = 0; l < b; l++)
                tn_st(y, o + l, first ? -INFINITY : m[l], bf);
            if (ws)
                memcpy(ws + o, arg, (size_t)b);
        }
}

/* Accumulates, so that overlapping windows sum their gradients: exact in bf16
 * only where windows do not overlap (tn_cpool_fwd takes bf16 only then). */
static inline __attribute__((always_inline)) void bwd_any(const pool_geo *p, const void *dy,
                                                          const uint8_t *ws, void *dx, const int bf)
{
    const int b = p->b;
    for (size_t px = 0; px < (size_t)p->H * p->W; px++)
        for (int l = 0; l < b; l++)
            tn_st(dx, px * p->xs + l, 0.0f, bf);
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            size_t o = ((size_t)oh * p->OW + ow) * p->ys;
            const uint8_t *a = ws + o;
            for (int l = 0; l < b; l++) {
                int ih = oh * p->SH - p->PH + a[l] / p->kW * p->DH;
                int iw = ow * p->SW - p->PW + a[l] % p->kW * p->DW;
                size_t i = ((size_t)ih * p->W + iw) * p->xs + l;
                tn_st(dx, i, tn_ld(dx, i, bf) + tn_ld(dy, o + l, bf), bf);
            }
        }
}

/* One plane of b channels: y [OH][OW] and ws (NULL: inference) the window
 * position (kh * kW + kw) of each output element's maximum; backward the
 * other way. Cloned for AVX-512 and AVX2 (the build targets the baseline
 * x86-64). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void fwd_plane(const pool_geo *p, const void *x, void *y, uint8_t *ws)
{
    if (p->is22 && p->b == 16)
        p->bf ? fwd22(p, x, y, ws, 16, 1) : fwd22(p, x, y, ws, 16, 0);
    else if (p->is22 && p->b == 8)
        p->bf ? fwd22(p, x, y, ws, 8, 1) : fwd22(p, x, y, ws, 8, 0);
    else
        p->bf ? fwd_any(p, x, y, ws, 1) : fwd_any(p, x, y, ws, 0);
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void bwd_plane(const pool_geo *p, const void *dy, const uint8_t *ws, void *dx)
{
    if (p->is22 && p->b == 16)
        p->bf ? bwd22(p, dy, ws, dx, 16, 1) : bwd22(p, dy, ws, dx, 16, 0);
    else if (p->is22 && p->b == 8)
        p->bf ? bwd22(p, dy, ws, dx, 8, 1) : bwd22(p, dy, ws, dx, 8, 0);
    else
        p->bf ? bwd_any(p, dy, ws, dx, 1) : bwd_any(p, dy, ws, dx, 0);
}

/* Steps. Forward: args src, dst[, ws] (no ws: inference). Backward: ddst, ws, dsrc.
 * One plane (image, channel block) per iteration. */
static void step_fwd(train_net *n, step *s)
{
    pool_geo p;
    geo_of(n, s->node, tn_md(s->args[0].memory), &p);
    const char *x = tn_ptr(s->args[0].memory);
    char *y = tn_ptr(s->args[1].memory);
    uint8_t *ws = s->nargs > 2 ? tn_ptr(s->args[2].memory) : NULL;
    size_t es = p.bf ? 2 : 4;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < p.B * p.CB; i++) {
        size_t in = (size_t)(i / p.CB) * p.in_n + (size_t)(i % p.CB) * p.in_cb;
        size_t out = (size_t)(i / p.CB) * p.out_n + (size_t)(i % p.CB) * p.out_cb;
        fwd_plane(&p, x + in * es, y + out * es, ws ? ws + out : NULL);
    }
}

static void step_bwd(train_net *n, step *s)
{
    pool_geo p;
    geo_of(n, s->node, tn_md(s->args[2].memory), &p);
    const char *dy = tn_ptr(s->args[0].memory);
    const uint8_t *ws = tn_ptr(s->args[1].memory);
    char *dx = tn_ptr(s->args[2].memory);
    size_t es = p.bf ? 2 : 4;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < p.B * p.CB; i++) {
        size_t in = (size_t)(i / p.CB) * p.in_n + (size_t)(i % p.CB) * p.in_cb;
        size_t out = (size_t)(i / p.CB) * p.out_n + (size_t)(i % p.CB) * p.out_cb;
        bwd_plane(&p, dy + out * es, ws + out, dx + in * es);
    }
}

int tn_cpool_fwd(train_net *n, int k, dnnl_memory_t src)
{
    layer *Lk = &n->L[k];
    const dnnl_memory_desc_t *md = tn_md(src);
    int bf = md->data_type == dnnl_bf16, cl;
    /* bf16 gradients of overlapping windows would be summed in bf16: oneDNN's then */
    int overlap = (Lk->kernel[0] - 1) * Lk->geo.dilation[0] + 1 > Lk->geo.stride[0] ||
                  (Lk->kernel[1] - 1) * Lk->geo.dilation[1] + 1 > Lk->geo.stride[1];
    if (n->onednn_only || n->g->nodes[k].op != GRAPH_OP_MAXPOOL2D || md->ndims != 4 ||
        (md->data_type != dnnl_f32 && !bf) || (bf && overlap) ||
        Lk->kernel[0] * Lk->kernel[1] > 255)
        return 1;
    if (!tn_channel_block(md, &cl)) {
        /* plain NCHW, 4-channel blocks after a grouped conv...: 16-channel blocks first */
        dnnl_memory_desc_t blocked;
        dnnl_memory_t m;
        if (dop_md_dt(&blocked, 4, md->dims, md->data_type, dnnl_aBcd16b) != dnnl_success)
            return 1;
        TRY(tn_new_mem(n, &blocked, &m));
        TRY(tn_add_reorder(n, NULL, src, m));
        src = m;
        md = tn_md(src);
    }
    int b = tn_channel_block(md, &cl);
    dnnl_dims_t od = {md->dims[0], md->dims[1], n->g->nodes[k].shape.dim[2],
                      n->g->nodes[k].shape.dim[3]};
    dnnl_memory_desc_t dst, ws;  /* dst in src's layout; ws one byte per dst element */
    CK(dop_md_dt(&dst, 4, od, md->data_type, cl ? dnnl_acdb : b == 16 ? dnnl_aBcd16b : dnnl_aBcd8b),
       "pooling layout");
    dnnl_dims_t wd = {(dnnl_dim_t)(dop_md_size(&dst) / (bf ? 2 : 4))};
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
