/*
 * train_wgrad.c — the weight (and bias) gradient of a one-channel Conv2d in
 * C: the first layer of a grey-image net (Fashion-MNIST, MNIST). See
 * train_wgrad.h.
 *
 * Why not oneDNN: with one input channel the reduction of each weight is a
 * dot product over B*OH*OW pixels, and oneDNN 2.6 pads the input to 8 or 16
 * channels for it (ONEDNN.md: 6-8.5 GFLOP/s). On the `small` net it took
 * 9.5 ms of a 240 ms fp32 step and, in bf16, 8 ms of 75 plus a 2 ms reorder of
 * the output gradient into channels-last. Here each output pixel's gradient
 * is one vector of b channels (the blocked or channels-last layout the
 * gradient already has), multiplied by the kH*kW input pixels of its window
 * into kH*kW vector accumulators: read once, no reorder, memory-bound.
 *
 * Deterministic: each thread sums a fixed set of planes (static schedule),
 * and the threads' partial sums are added in thread order. Sums are fp32, as
 * oneDNN's.
 *
 * Deliberately avoided: more than one input channel (oneDNN's kernels are
 * fast there) and groups.
 */
#include "train/train_wgrad.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "base/rt.h"

#define MAXB 16  /* the widest channel block */
#define MAXT 49  /* window taps kH*kW handled (7x7) */

/* The geometry as the loops read it: x the plain [B][1][H][W] input, dy the
 * output gradient [B, F, OH, OW] in planes of b channels (image, channel
 * block), pixels ys elements apart within a plane. */
typedef struct wg_geo {
    int B, CB, b, H, W, OH, OW, kH, kW, SH, SW, PH, PW, DH, DW;
    int xbf, ybf;               /* x, dy in bf16 (else f32) */
    size_t ys, out_n, out_cb;   /* elements between pixels, images, planes of dy */
} wg_geo;

static void geo_of(const train_net *n, int k, const dnnl_memory_desc_t *x,
                   const dnnl_memory_desc_t *dy, wg_geo *p)
{
    const layer *Lk = &n->L[k];
    int cl;
    p->b = tn_channel_block(dy, &cl);
    p->xbf = x->data_type == dnnl_bf16, p->ybf = dy->data_type == dnnl_bf16;
    p->B = (int)dy->dims[0];
    p->CB = (int)(dy->padded_dims[1] / (p->b ? p->b : 1));
    p->H = (int)x->dims[2], p->W = (int)x->dims[3];
    p->OH = (int)dy->dims[2], p->OW = (int)dy->dims[3];
    p->kH = (int)n->g->nodes[k].a.kernel[0], p->kW = (int)n->g->nodes[k].a.kernel[1];
    p->SH = (int)Lk->geo.stride[0], p->SW = (int)Lk->geo.stride[1];
    p->PH = (int)Lk->geo.pad_l[0], p->PW = (int)Lk->geo.pad_l[1];
    p->DH = (int)Lk->geo.dilation[0], p->DW = (int)Lk->geo.dilation[1];
    size_t F = (size_t)p->CB * p->b, px = (size_t)p->OH * p->OW;
    p->ys = cl ? F : (size_t)p->b;
    p->out_n = px * F;
    p->out_cb = cl ? (size_t)p->b : px * p->b;
}

/* One plane: acc[t][l] += sum over output pixels of dy[pixel][l] * x[the
 * pixel's tap t], accb[l] += dy[pixel][l]. b, bf constants: one vector per
 * lane loop. */
static inline __attribute__((always_inline)) void plane(const wg_geo *p, const void *x,
                                                        const void *dy, float *acc, float *accb,
                                                        const int b, const int xbf, const int ybf)
{
    const int KH = p->kH, KW = p->kW, T = KH * KW;
    float a[MAXT][MAXB], ab[MAXB];
    for (int t = 0; t < T; t++)
        for (int l = 0; l < b; l++)
            a[t][l] = 0;
    for (int l = 0; l < b; l++)
        ab[l] = 0;
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            size_t o = ((size_t)oh * p->OW + ow) * p->ys;
            float g[MAXB];
            #pragma omp simd
            for (int l = 0; l < b; l++) {
                g[l] = tn_ld(dy, o + l, ybf);
                ab[l] += g[l];
            }
            for (int kh = 0; kh < KH; kh++) {
                int ih = oh * p->SH - p->PH + kh * p->DH;
                if (ih < 0 || ih >= p->H)
                    continue;
                for (int kw = 0; kw < KW; kw++) {
                    int iw = ow * p->SW - p->PW + kw * p->DW;
                    if (iw < 0 || iw >= p->W)
                        continue;
                    float v = tn_ld(x, (size_t)ih * p->W + iw, xbf);
                    #pragma omp simd
                    for (int l = 0; l < b; l++)
                        a[kh * KW + kw][l] += g[l] * v;
                }
            }
        }
    for (int t = 0; t < T; t++)
        for (int l = 0; l < b; l++)
            acc[t * b + l] += a[t][l];
    for (int l = 0; l < b; l++)
        accb[l] += ab[l];
}

/* Cloned for AVX-512 and AVX2 (the build targets the baseline x86-64). */
/* The common case, 16-channel blocks and a 3x3 window, with the nine
 * accumulators and the bias sum as vector variables: as array elements they
 * went through memory, a store-to-load chain per tap. */
typedef float v16 __attribute__((vector_size(64)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef uint32_t u32x16 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) void ld16(v16 *g, const void *dy, size_t o,
                                                       const int ybf)
{
    if (!ybf) {
        memcpy(g, (const float *)dy + o, sizeof *g);
        return;
    }
    u16x16 h;
    memcpy(&h, (const uint16_t *)dy + o, sizeof h);
    u32x16 u = __builtin_convertvector(h, u32x16) << 16;
    memcpy(g, &u, sizeof *g);
}

static inline __attribute__((always_inline)) void plane3x3_16(const wg_geo *p, const void *x,
                                                              const void *dy, float *acc,
                                                              float *accb, const int xbf,
                                                              const int ybf)
{
    v16 a[9], ab = {0};
    for (int t = 0; t < 9; t++)
        a[t] = ab;
    for (int oh = 0; oh < p->OH; oh++)
        for (int ow = 0; ow < p->OW; ow++) {
            v16 g;
            ld16(&g, dy, ((size_t)oh * p->OW + ow) * p->ys, ybf);
            ab += g;
            #pragma GCC unroll 3
            for (int kh = 0; kh < 3; kh++) {
                int ih = oh * p->SH - p->PH + kh * p->DH;
                if (ih < 0 || ih >= p->H)
                    continue;
                #pragma GCC unroll 3
                for (int kw = 0; kw < 3; kw++) {
                    int iw = ow * p->SW - p->PW + kw * p->DW;
                    if (iw < 0 || iw >= p->W)
                        continue;
                    a[kh * 3 + kw] += g * tn_ld(x, (size_t)ih * p->W + iw, xbf);
                }
            }
        }
    for (int t = 0; t < 9; t++)
        for (int l = 0; l < 16; l++)
            acc[t * 16 + l] += a[t][l];
    for (int l = 0; l < 16; l++)
        accb[l] += ab[l];
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void plane_any(const wg_geo *p, const void *x, const void *dy, float *acc, float *accb)
{
    int k3 = p->kH == 3 && p->kW == 3 && p->b == 16;
    if (k3 && !p->xbf)
        p->ybf ? plane3x3_16(p, x, dy, acc, accb, 0, 1) : plane3x3_16(p, x, dy, acc, accb, 0, 0);
    else if (k3)
        plane3x3_16(p, x, dy, acc, accb, 1, 1);
    else if (p->b == 16)
        plane(p, x, dy, acc, accb, 16, p->xbf, p->ybf);
    else
        plane(p, x, dy, acc, accb, 8, p->xbf, p->ybf);
}

/* Args: 0 x, 1 dy, 2 dW plain [F][1][kH][kW] fp32, 3 the threads' partial sums
 * (its size sets the thread count), 4 (optional) dbias [F]. */
static void step_wgrad1(train_net *n, step *s)
{
    wg_geo p;
    geo_of(n, s->node, tn_md(s->args[0].memory), tn_md(s->args[1].memory), &p);
    const char *x = tn_ptr(s->args[0].memory), *dy = tn_ptr(s->args[1].memory);
    float *dw = tn_ptr(s->args[2].memory), *part = tn_ptr(s->args[3].memory);
    float *db = s->nargs > 4 ? tn_ptr(s->args[4].memory) : NULL;
    int T = p.kH * p.kW, F = (int)tn_md(s->args[1].memory)->dims[1];
    size_t per = (size_t)p.CB * p.b * (T + 1);  /* a thread's sums: weights, then bias */
    int nt = (int)(dop_md_size(tn_md(s->args[3].memory)) / sizeof(float) / per);
    memset(part, 0, sizeof(float) * per * (size_t)nt);
    size_t xs = p.xbf ? 2 : 4, es = p.ybf ? 2 : 4, img = (size_t)p.H * p.W;
    #pragma omp parallel num_threads(nt)
    {
        float *mine = part + (size_t)omp_get_thread_num() * per;
        #pragma omp for schedule(static)
        for (int i = 0; i < p.B * p.CB; i++) {
            int im = i / p.CB, cb = i % p.CB;
            float *acc = mine + (size_t)cb * p.b * T;
            float *accb = mine + (size_t)p.CB * p.b * T + (size_t)cb * p.b;
            plane_any(&p, x + im * img * xs, dy + (im * p.out_n + cb * p.out_cb) * es, acc, accb);
        }
    }
    for (int f = 0; f < F; f++) {
        int cb = f / p.b, l = f % p.b;
        for (int t = 0; t < T; t++) {
            float v = 0;
            for (int th = 0; th < nt; th++)
                v += part[(size_t)th * per + ((size_t)cb * T + t) * p.b + l];
            dw[(size_t)f * T + t] = v;
        }
        if (db) {
            float v = 0;
            for (int th = 0; th < nt; th++)
                v += part[(size_t)th * per + (size_t)p.CB * p.b * T + (size_t)f];
            db[f] = v;
        }
    }
}

int tn_wgrad1_bwd(train_net *n, int k)
{
    layer *Lk = &n->L[k];
    const graph_node *gn = &n->g->nodes[k];
    dnnl_memory_t x = n->L[Lk->in[0]].dst;
    const dnnl_memory_desc_t *xmd = tn_md(x);
    int cl;
    dnnl_memory_desc_t xplain;
    if (n->onednn_only || gn->op != GRAPH_OP_CONV2D || xmd->ndims != 4 || xmd->dims[1] != 1 ||
        gn->a.kernel[0] * gn->a.kernel[1] > MAXT || !tn_channel_block(tn_md(Lk->ddst), &cl) ||
        dop_md_dt(&xplain, 4, xmd->dims, xmd->data_type, dnnl_abcd) != dnnl_success ||
        !dop_md_equal(xmd, &xplain))
        return 1;
    param *W = &n->P[Lk->p[0]], *bias = Lk->p[1] >= 0 ? &n->P[Lk->p[1]] : NULL;
    dnnl_memory_t dw = W->g;
    if (!dop_md_equal(&W->plain, tn_md(W->g)))
        TRY(tn_new_mem(n, &W->plain, &dw));
    /* the threads' partial sums, for as many threads as the passes will run */
    int bl = tn_channel_block(tn_md(Lk->ddst), &cl);
    int64_t CB = tn_md(Lk->ddst)->padded_dims[1] / bl;
    dnnl_dims_t pd = {(dnnl_dim_t)omp_get_max_threads() * CB * bl *
                      (gn->a.kernel[0] * gn->a.kernel[1] + 1)};
    dnnl_memory_desc_t pmd;
    dnnl_memory_t part;
    CK(dop_md(&pmd, 1, pd, dnnl_a), "layout");
    TRY(tn_new_mem(n, &pmd, &part));
    step s = {.fn = step_wgrad1, .node = k, .nargs = bias ? 5 : 4};
    s.args[0].memory = x;  /* listed so buffer lifetimes see them */
    s.args[1].memory = Lk->ddst;
    s.args[2].memory = dw;
    s.args[3].memory = part;
    if (bias)
        s.args[4].memory = bias->g;
    TRY(tn_push_step(n, &n->bwd, &s));
    return dw == W->g ? 0 : tn_add_reorder(n, &n->bwd, dw, W->g);
}
