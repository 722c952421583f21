/*
 * train_plan.c — the plan of a compiled net: its buffers (allocated, deferred
 * and shared by lifetime, or views), its step lists, the reorders and adds
 * that move tensors and gradients between layouts, its parameters, and the
 * oneDNN descriptors of graph shapes. See train_plan.h. The ops
 * (train_ops.c) and the lifecycle (train_net.c) both build on it; it calls
 * neither.
 */
#include "train/train_plan.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "train/dataset.h"
#include "base/rt.h"

/* ---- bookkeeping: memories, primitives, steps ---- */

/* Room for element `used` of array v (capacity *cap, elements of `size` bytes):
 * v itself while it fits, else v grown by doubling (from `first`), or NULL
 * (v untouched) when out of memory. */
static void *tn_room(void *v, int used, int *cap, size_t size, int first)
{
    if (used < *cap)
        return v;
    int c = *cap ? *cap * 2 : first;
    void *g = realloc(v, size * (size_t)c);
    if (g)
        *cap = c;
    return g;
}

static int track_mem(train_net *n, dnnl_memory_t m)
{
    dnnl_memory_t *v = tn_room(n->mems, n->nmems, &n->capmems, sizeof *v, 64);
    if (!v)
        return TRAIN_ENOMEM;
    n->mems = v;
    n->mems[n->nmems++] = m;
    return 0;
}

static int defer_mem(train_net *n, dnnl_memory_t m, dnnl_memory_t base, size_t size)
{
    struct deferred *v = tn_room(n->dm, n->ndm, &n->capdm, sizeof *v, 64);
    if (!v)
        return TRAIN_ENOMEM;
    n->dm = v;
    n->dm[n->ndm++] = (struct deferred){m, base, size, -1, -1, -1, -1, -1};
    return 0;
}

/* A buffer that keeps its own memory: written or read outside the step lists
 * (input, parameters, BN statistics, dropout masks, the loss's gradient). */
int tn_private_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    int d = n->defer;
    n->defer = 0;
    int rc = tn_new_mem(n, md, out);
    n->defer = d;
    return rc;
}

static int is_deferred(const train_net *n, dnnl_memory_t m)
{
    for (int i = 0; i < n->ndm; i++)
        if (n->dm[i].m == m)
            return 1;
    return 0;
}

int tn_new_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t *out)
{
    if (n->defer) {
        CK(dnnl_memory_create(out, md, n->eng, DNNL_MEMORY_NONE), "memory");
        if (track_mem(n, *out)) {
            dnnl_memory_destroy(*out);
            return TRAIN_ENOMEM;
        }
        return defer_mem(n, *out, NULL, dop_md_size(md));
    }
    dnnl_status_t st = dnnl_memory_create(out, md, n->eng, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_out_of_memory) {
        rt_fmt(n->err, sizeof n->err, "node %d (%s): out of memory allocating %zu bytes "
               "(%zu allocated so far)", n->cur, n->cur_name, dop_md_size(md), n->bytes);
        return TRAIN_ENOMEM;
    }
    CK(st, "memory allocation");
    n->bytes += dop_md_size(md);
    if (track_mem(n, *out)) {
        dnnl_memory_destroy(*out);
        return TRAIN_ENOMEM;
    }
    /* Padding in blocked layouts must stay zero; fresh memory is zeroed so
     * element-wise code may run over the whole physical buffer. */
    memset(tn_ptr(*out), 0, dop_md_size(md));
    return 0;
}

/* A memory over another one's buffer (a view: flatten, concat slices). */
int tn_view_mem(train_net *n, const dnnl_memory_desc_t *md, dnnl_memory_t base,
                    dnnl_memory_t *out)
{
    int deferred = is_deferred(n, base);
    CK(dnnl_memory_create(out, md, n->eng, deferred ? DNNL_MEMORY_NONE : tn_ptr(base)),
       "memory view");
    TRY(track_mem(n, *out));
    return deferred ? defer_mem(n, *out, base, 0) : 0;
}

/* Give every deferred buffer memory: lifetimes are the first and last
 * backward steps that touch it (through views too); biggest first, each goes
 * into the first block whose buffers it does not overlap. */
static int deferred_index(const train_net *n, dnnl_memory_t m)
{
    for (int i = 0; i < n->ndm; i++)
        if (n->dm[i].m == m) {
            if (!n->dm[i].base)
                return i;
            m = n->dm[i].base;
            i = -1;  /* restart: find the base */
        }
    return -1;
}

static int cmp_size_desc(const void *a, const void *b)
{
    const struct deferred *x = *(struct deferred *const *)a, *y = *(struct deferred *const *)b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static void note_uses(train_net *n, const steplist *l, int offset, int eval)
{
    for (int s = 0; s < l->n; s++)
        for (int a = 0; a < l->v[s].nargs; a++) {
            int i = deferred_index(n, l->v[s].args[a].memory);
            if (i < 0)
                continue;
            int *first = eval ? &n->dm[i].efirst : &n->dm[i].first;
            int *last = eval ? &n->dm[i].elast : &n->dm[i].last;
            if (*first < 0)
                *first = offset + s;
            *last = offset + s;
        }
}

/* Read outside the step lists (the loss reads the logits): live always. */
static void pin(train_net *n, dnnl_memory_t m)
{
    int i = deferred_index(n, m);
    if (i >= 0) {
        n->dm[i].first = n->dm[i].efirst = 0;
        n->dm[i].last = n->dm[i].elast = INT_MAX;
    }
}

static int overlap(int f1, int l1, int f2, int l2)
{
    return f1 >= 0 && f2 >= 0 && !(l1 < f2 || l2 < f1);
}

int tn_assign_buffers(train_net *n)
{
    /* one timeline: forward-train then backward; another: forward-eval */
    note_uses(n, &n->fwd_train, 0, 0);
    note_uses(n, &n->bwd, n->fwd_train.n, 0);
    note_uses(n, &n->fwd_eval, 0, 1);
    pin(n, n->logits);
    pin(n, n->L[n->out].dst);
    struct deferred **order = malloc(sizeof *order * (size_t)(n->ndm ? n->ndm : 1));
    size_t *bsize = calloc((size_t)(n->ndm ? n->ndm : 1), sizeof *bsize);
    if (!order || !bsize) {
        free(order);
        free(bsize);
        return TRAIN_ENOMEM;
    }
    int no = 0, nb = 0;
    for (int i = 0; i < n->ndm; i++)
        if (!n->dm[i].base)
            order[no++] = &n->dm[i];
    qsort(order, (size_t)no, sizeof *order, cmp_size_desc);
    for (int i = 0; i < no; i++) {
        struct deferred *d = order[i];
        for (int b = 0; b <= nb && d->block < 0; b++) {
            int free_ = 1;
            for (int j = 0; j < i && free_ && b < nb; j++)
                if (order[j]->block == b &&
                    (overlap(order[j]->first, order[j]->last, d->first, d->last) ||
                     overlap(order[j]->efirst, order[j]->elast, d->efirst, d->elast)))
                    free_ = 0;
            if (free_) {
                d->block = b;
                if (b == nb)
                    nb++;
                if (d->size > bsize[b])
                    bsize[b] = d->size;
            }
        }
    }
    free(order);
    n->blocks = calloc((size_t)(nb ? nb : 1), sizeof *n->blocks);
    if (!n->blocks) {
        free(bsize);
        return TRAIN_ENOMEM;
    }
    n->nblocks = nb;
    for (int b = 0; b < nb; b++) {
        size_t sz = (bsize[b] + 63) / 64 * 64;
        n->blocks[b] = aligned_alloc(64, sz ? sz : 64);
        if (!n->blocks[b]) {
            free(bsize);
            return TRAIN_ENOMEM;
        }
        memset(n->blocks[b], 0, sz);
        n->bytes += sz;
    }
    free(bsize);
    for (int i = 0; i < n->ndm; i++) {
        int r = deferred_index(n, n->dm[i].m);
        dnnl_memory_set_data_handle(n->dm[i].m, n->blocks[n->dm[r].block]);
    }
    return 0;
}

void *tn_ptr(dnnl_memory_t m)
{
    void *p = NULL;
    dnnl_memory_get_data_handle(m, &p);
    return p;
}

const dnnl_memory_desc_t *tn_md(dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

int tn_push_step(train_net *n, steplist *l, const step *s)
{
    step *v = tn_room(l->v, l->n, &l->cap, sizeof *v, 32);
    if (!v)
        return TRAIN_ENOMEM;
    l->v = v;
    l->v[l->n++] = *s;
    return 0;
}

static void note_impl(train_net *n, const char *what, const char *impl)
{
    char line[160];
    rt_fmt(line, sizeof line, "%s: %s\n", what, impl);
    if (strstr(n->impls, line))
        return;
    size_t len = strlen(n->impls);
    if (len + strlen(line) < sizeof n->impls)
        memcpy(n->impls + len, line, strlen(line) + 1);
    if (strncmp(impl, "ref", 3) == 0 && (strstr(what, "conv") || strstr(what, "ip")))
        n->ref_impls++;
}

static int grow_scratch(train_net *n)
{
    dnnl_memory_t *v = tn_room(n->scratch, n->nscratch, &n->capscratch, sizeof *v, 64);
    if (!v)
        return TRAIN_ENOMEM;
    n->scratch = v;
    return 0;
}

/* Create the primitive of pd (which is destroyed here) and fill the step's
 * primitive and scratchpad; the caller adds the other arguments. */
int tn_make_prim(train_net *n, dnnl_primitive_desc_t pd, const char *what, step *s)
{
    memset(s, 0, sizeof *s);
    note_impl(n, what, dop_impl(pd));
    const dnnl_memory_desc_t *sp = dop_query_md(pd, DNNL_ARG_SCRATCHPAD);
    size_t sz = sp ? dop_md_size(sp) : 0;
    dnnl_primitive_t p = NULL;
    dnnl_status_t st = dnnl_primitive_create(&p, pd);
    if (st == dnnl_success && sz > 0) {
        dnnl_memory_t m = NULL;
        st = dnnl_memory_create(&m, sp, n->eng, DNNL_MEMORY_NONE);
        if (st == dnnl_success) {
            if (track_mem(n, m) || (n->nscratch == n->capscratch && grow_scratch(n))) {
                dnnl_primitive_destroy(p);
                dnnl_primitive_desc_destroy(pd);
                return TRAIN_ENOMEM;
            }
            n->scratch[n->nscratch++] = m;
            if (sz > n->scratch_size)
                n->scratch_size = sz;
            s->args[s->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m};
        }
    }
    dnnl_primitive_desc_destroy(pd);
    CK(st, what);
    dnnl_primitive_t *v = tn_room(n->prims, n->nprims, &n->capprims, sizeof *v, 64);
    if (!v) {
        dnnl_primitive_destroy(p);
        return TRAIN_ENOMEM;
    }
    n->prims = v;
    n->prims[n->nprims++] = p;
    s->prim = p;
    return 0;
}

void tn_arg(step *s, int a, dnnl_memory_t m)
{
    s->args[s->nargs++] = (dnnl_exec_arg_t){a, m};
}

/* Append to the forward lists: both, or training / eval only. */
int tn_push_fwd(train_net *n, int which, const step *s)
{
    if (which != FWD_EVAL)
        TRY(tn_push_step(n, &n->fwd_train, s));
    if (which != FWD_TRAIN)
        TRY(tn_push_step(n, &n->fwd_eval, s));
    return 0;
}

/* A reorder step src -> dst into list l (or both forward lists if l NULL). */
int tn_add_reorder(train_net *n, steplist *l, dnnl_memory_t src, dnnl_memory_t dst)
{
    dnnl_primitive_desc_t pd;
    CK(dop_reorder(&pd, n->eng, tn_md(src), tn_md(dst)), "reorder");
    step s;
    TRY(tn_make_prim(n, pd, "reorder", &s));
    tn_arg(&s, DNNL_ARG_FROM, src);
    tn_arg(&s, DNNL_ARG_TO, dst);
    return l ? tn_push_step(n, l, &s) : tn_push_fwd(n, FWD_BOTH, &s);
}

/* The memory to pass as an input that must have layout want: have itself, or
 * a copy reordered into want by a step added now (to l, or both forward lists). */
int tn_bind_input(train_net *n, steplist *l, const dnnl_memory_desc_t *want,
                      dnnl_memory_t have, dnnl_memory_t *out)
{
    if (dop_md_equal(want, tn_md(have))) {
        *out = have;
        return 0;
    }
    TRY(tn_new_mem(n, want, out));
    return tn_add_reorder(n, l, have, *out);
}

int tn_add_binary_step(train_net *n, steplist *l, dnnl_alg_kind_t alg, dnnl_memory_t a,
                           dnnl_memory_t b, dnnl_memory_t dst)
{
    dnnl_primitive_desc_t pd;
    CK(dop_binary(&pd, n->eng, alg, tn_md(a), tn_md(b), tn_md(dst)), "binary");
    step s;
    TRY(tn_make_prim(n, pd, alg == dnnl_binary_add ? "binary add" : "binary mul", &s));
    tn_arg(&s, DNNL_ARG_SRC_0, a);
    tn_arg(&s, DNNL_ARG_SRC_1, b);
    tn_arg(&s, DNNL_ARG_DST, dst);
    return tn_push_step(n, l, &s);
}


int tn_grad_out_begin(train_net *n, const dnnl_memory_desc_t *want, int t, tn_grad_out *g)
{
    layer *T = &n->L[t];
    g->target = t;
    g->accumulate = T->written;
    T->written = 1;
    if (!g->accumulate && dop_md_equal(want, tn_md(T->ddst))) {
        g->mem = T->ddst;
        return 0;
    }
    return tn_new_mem(n, want, &g->mem);
}

int tn_grad_out_end(train_net *n, tn_grad_out *g)
{
    layer *T = &n->L[g->target];
    if (g->mem == T->ddst)
        return 0;
    if (!g->accumulate)
        return tn_add_reorder(n, &n->bwd, g->mem, T->ddst);
    dnnl_memory_t m = g->mem;
    if (!dop_md_equal(tn_md(m), tn_md(T->ddst))) {
        TRY(tn_new_mem(n, tn_md(T->ddst), &m));
        TRY(tn_add_reorder(n, &n->bwd, g->mem, m));
    }
    return tn_add_binary_step(n, &n->bwd, dnnl_binary_add, T->ddst, m, T->ddst);
}

/* Deliver an existing gradient memory m to layer t. */
int tn_grad_route(train_net *n, dnnl_memory_t m, int t)
{
    layer *T = &n->L[t];
    if (!T->written) {
        T->written = 1;
        return tn_add_reorder(n, &n->bwd, m, T->ddst);
    }
    if (!dop_md_equal(tn_md(m), tn_md(T->ddst))) {
        dnnl_memory_t tmp;
        TRY(tn_new_mem(n, tn_md(T->ddst), &tmp));
        TRY(tn_add_reorder(n, &n->bwd, m, tmp));
        m = tmp;
    }
    return tn_add_binary_step(n, &n->bwd, dnnl_binary_add, T->ddst, m, T->ddst);
}

/* ---- parameters ---- */

int tn_add_param(train_net *n, int node, const char *name, int trainable,
                     const dnnl_memory_desc_t *master, int ndims, const dnnl_dims_t dims, int *idx)
{
    param *v = tn_room(n->P, n->np, &n->capp, sizeof *v, 32);
    if (!v)
        return TRAIN_ENOMEM;
    n->P = v;
    param *p = &n->P[n->np];
    memset(p, 0, sizeof *p);
    p->node = node;
    p->name = name;
    p->trainable = trainable;
    CK(dop_md(&p->plain, ndims, dims, dop_plain_tag(ndims)), "parameter layout");
    p->count = 1;
    for (int i = 0; i < ndims; i++)
        p->count *= dims[i];
    TRY(tn_private_mem(n, master, &p->w));
    if (trainable) {
        TRY(tn_private_mem(n, master, &p->g));
        TRY(tn_private_mem(n, master, &p->v));
    }
    *idx = n->np++;
    return 0;
}

/* Copy between a parameter memory and a plain float array. */
int tn_copy_plain(train_net *n, dnnl_memory_t m, const dnnl_memory_desc_t *plain, float *buf,
                  int to_plain)
{
    dnnl_memory_t u;
    CK(dnnl_memory_create(&u, plain, n->eng, buf), "memory");
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = to_plain ? dop_reorder(&pd, n->eng, tn_md(m), plain)
                                : dop_reorder(&pd, n->eng, plain, tn_md(m));
    if (st != dnnl_success) {
        dnnl_memory_destroy(u);
        CK(st, "reorder");
    }
    /* user scratchpad mode: give it a private one */
    const dnnl_memory_desc_t *sp = dop_query_md(pd, DNNL_ARG_SCRATCHPAD);
    size_t sz = sp ? dop_md_size(sp) : 0;
    void *sbuf = sz ? malloc(sz) : NULL;
    dnnl_memory_t sm = NULL;
    if (sz)
        dnnl_memory_create(&sm, sp, n->eng, sbuf);
    dnnl_primitive_t p;
    st = dnnl_primitive_create(&p, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_FROM, to_plain ? m : u}, {DNNL_ARG_TO, to_plain ? u : m},
                                {DNNL_ARG_SCRATCHPAD, sm}};
        st = dnnl_primitive_execute(p, n->stream, sz ? 3 : 2, a);
        dnnl_stream_wait(n->stream);
        dnnl_primitive_destroy(p);
    }
    if (sm)
        dnnl_memory_destroy(sm);
    free(sbuf);
    dnnl_memory_destroy(u);
    CK(st, "reorder");
    return 0;
}

/* PyTorch's default initialisation: kaiming_uniform_(a=sqrt(5)) gives
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights, the same bound for biases. */
int tn_init_uniform(train_net *n, int pi, double bound)
{
    param *p = &n->P[pi];
    float *buf = malloc(sizeof(float) * (size_t)p->count);
    if (!buf)
        return TRAIN_ENOMEM;
    for (int64_t i = 0; i < p->count; i++)
        buf[i] = (float)((ds_rand_uniform(&n->init_rng) * 2 - 1) * bound);
    int rc = tn_copy_plain(n, p->w, &p->plain, buf, 0);
    free(buf);
    return rc;
}

int tn_init_const(train_net *n, int pi, float v)
{
    param *p = &n->P[pi];
    float *buf = malloc(sizeof(float) * (size_t)p->count);
    if (!buf)
        return TRAIN_ENOMEM;
    for (int64_t i = 0; i < p->count; i++)
        buf[i] = v;
    int rc = tn_copy_plain(n, p->w, &p->plain, buf, 0);
    free(buf);
    return rc;
}

/* ---- shapes ---- */

static void dims_of(const graph_shape *s, int batch, dnnl_dims_t d, int *nd)
{
    *nd = s->rank;
    d[0] = batch;
    for (int i = 1; i < s->rank; i++)
        d[i] = s->dim[i];
}

int tn_md_any(dnnl_memory_desc_t *md, const graph_shape *s, int batch)
{
    dnnl_dims_t d = {0};
    int nd;
    dims_of(s, batch, d, &nd);
    return dop_md(md, nd, d, dnnl_format_tag_any) == dnnl_success ? 0 : TRAIN_EDNNL;
}

int tn_md_plain(dnnl_memory_desc_t *md, const graph_shape *s, int batch)
{
    dnnl_dims_t d = {0};
    int nd;
    dims_of(s, batch, d, &nd);
    return dop_md(md, nd, d, dop_plain_tag(nd)) == dnnl_success ? 0 : TRAIN_EDNNL;
}

int tn_md_act(const train_net *n, dnnl_memory_desc_t *md, const graph_shape *s, int plain)
{
    dnnl_dims_t d = {0};
    int nd;
    dims_of(s, n->batch, d, &nd);
    return dop_md_dt(md, nd, d, n->act, plain ? dop_plain_tag(nd) : dnnl_format_tag_any) ==
                   dnnl_success ? 0 : TRAIN_EDNNL;
}

/* Conv / pool geometry, PyTorch conventions; the right padding is grown
 * until oneDNN's output size equals the graph's (ceil_mode). */
void tn_geometry(const graph_node *gn, const graph_shape *in, dop_conv *c, dnnl_dims_t kernel)
{
    for (int i = 0; i < 2; i++) {
        int64_t H = in->dim[2 + i], O = gn->shape.dim[2 + i];
        c->stride[i] = gn->a.stride[i] > 0 ? gn->a.stride[i] : gn->a.kernel[i];
        c->dilation[i] = gn->a.dilation[i] > 0 ? gn->a.dilation[i] : 1;
        c->pad_l[i] = gn->a.padding[i];
        kernel[i] = gn->a.kernel[i];
        int64_t ext = (kernel[i] - 1) * c->dilation[i] + 1;
        c->pad_r[i] = c->pad_l[i];
        while ((H + c->pad_l[i] + c->pad_r[i] - ext) / c->stride[i] + 1 < O)
            c->pad_r[i]++;
        while (c->pad_r[i] > -c->pad_l[i] &&
               (H + c->pad_l[i] + c->pad_r[i] - ext) / c->stride[i] + 1 > O)
            c->pad_r[i]--;
    }
}

int tn_channel_block(const dnnl_memory_desc_t *md, int *cl)
{
    static const struct { dnnl_format_tag_t tag; int b; } blocks[] = {
        {dnnl_aBcd16b, 16}, {dnnl_aBcd8b, 8}, {dnnl_acdb, 0}};
    *cl = 0;
    if (md->ndims != 4 || (md->data_type != dnnl_f32 && md->data_type != dnnl_bf16))
        return 0;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        dnnl_memory_desc_t want;
        if (dop_md_dt(&want, 4, md->dims, md->data_type, blocks[i].tag) != dnnl_success ||
            !dop_md_equal(md, &want))
            continue;
        if (blocks[i].b)
            return blocks[i].b;
        *cl = 1;
        return md->dims[1] % 16 == 0 ? 16 : md->dims[1] % 8 == 0 ? 8 : 0;
    }
    return 0;
}
