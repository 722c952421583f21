/*
 * train.c — the training job: dataset, split, the paper's recipe, caps,
 * divergence / time / interrupt checks, evaluation. See train.h.
 */
#include "train/train.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "train/dataset.h"
#include "train/train_model.h"
#include "base/rt.h"

/* ---- dataset cache (one per process; a forked worker inherits it) ---- */

static ds_dataset *cache;
static char cache_key[4200];

int train_dataset_get(const char *name, const char *dir, const ds_dataset **out, char *err,
                      size_t errlen)
{
    char key[sizeof cache_key];
    /* The same directory with and without a user's choice searches different places. */
    rt_fmt(key, sizeof key, "%s\n%s\n%d", name, ds_data_dir(dir), ds_data_dir_chosen(dir));
    if (cache && strcmp(key, cache_key) == 0) {
        *out = cache;
        return 0;
    }
    ds_dataset *d;
    int rc = ds_load(name, dir, &d, err, errlen);
    if (rc)
        return TRAIN_EDATA;
    ds_free(cache);
    cache = d;
    memcpy(cache_key, key, sizeof key);
    *out = d;
    return 0;
}

void train_cache_clear(void)
{
    ds_free(cache);
    cache = NULL;
    cache_key[0] = '\0';
}

void train_opts_default(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dataset = ds_default_name();
    o->epochs = 1;
    o->batch = 128;
    o->val_fraction = 0.1;
    o->lr = 0.01;
    o->momentum = 0.9;
    o->weight_decay = 5e-4;
    o->cosine = 1;
    o->drop_last = 1;
    o->augment = -1;
    o->seed = 43;
    o->max_params = TRAIN_DEFAULT_MAX_PARAMS;
    o->max_flops = TRAIN_DEFAULT_MAX_FLOPS;
    o->max_act_bytes = TRAIN_DEFAULT_MAX_ACT_BYTES;
    o->progress_every = 1.0;
    o->precision = TRAIN_PRECISION_FP32;
}

double train_lr_at(const train_opts *o, int step, int total)
{
    return o->cosine ? o->lr * 0.5 * (1 + cos(M_PI * step / total)) : o->lr;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Too large? Checked before anything is allocated. Activation memory: every
 * output and its gradient for a batch, plus pooling / BN workspaces (x3). */
static int check_caps(const graph *g, const train_opts *o, train_result *r, char *err, size_t errlen)
{
    graph_stats s;
    graph_stats_get(g, &s);
    r->params = s.params;
    r->flops = s.flops;
    int64_t mp = o->max_params > 0 ? o->max_params : TRAIN_DEFAULT_MAX_PARAMS;
    int64_t mf = o->max_flops > 0 ? o->max_flops : TRAIN_DEFAULT_MAX_FLOPS;
    int64_t ma = o->max_act_bytes > 0 ? o->max_act_bytes : TRAIN_DEFAULT_MAX_ACT_BYTES;
    int64_t act = s.act_bytes * o->batch * 3;
    if (s.params > mp) {
        rt_fmt(err, errlen, "too large: %.2f M parameters (cap %.2f M)", s.params / 1e6, mp / 1e6);
        return TRAIN_ETOOLARGE;
    }
    if (s.flops > mf) {
        rt_fmt(err, errlen, "too large: %.2f GFLOPs per image (cap %.2f)", s.flops / 1e9, mf / 1e9);
        return TRAIN_ETOOLARGE;
    }
    if (act > ma) {
        rt_fmt(err, errlen, "too large: about %.2f GiB of activations for a batch of %d (cap %.2f GiB)",
               act / 1073741824.0, o->batch, ma / 1073741824.0);
        return TRAIN_ETOOLARGE;
    }
    return 0;
}

static int check_fit(const graph *g, const ds_dataset *d, char *err, size_t errlen)
{
    const graph_shape *in = &g->nodes[0].shape, *out = &g->nodes[g->output].shape;
    if (in->rank != 4 || in->dim[1] != d->c || in->dim[2] != d->h || in->dim[3] != d->w) {
        char b[64];
        rt_fmt(err, errlen, "the network's input is %s but %s images are [B, %d, %d, %d]",
               graph_shape_str(in, b, sizeof b), d->name, d->c, d->h, d->w);
        return TRAIN_EDATA;
    }
    if (out->rank != 2 || out->dim[1] != d->classes) {
        char b[64];
        rt_fmt(err, errlen, "the network's output is %s but %s has %d classes",
               graph_shape_str(out, b, sizeof b), d->name, d->classes);
        return TRAIN_EDATA;
    }
    return 0;
}

/* What inference over some images measured: summed loss and hits. */
typedef struct eval_sums {
    double loss;
    long hits;
    int n;
} eval_sums;

/* Add the net's inference-mode loss and hits over images idx[0..n) to *e, in
 * batches of B from idx[0]: sums over a whole split taken in pieces that start
 * at batch boundaries are the same, bit for bit, as over the split at once. */
static int eval_add(train_net *net, const ds_dataset *d, const ds_split *s, const int *idx, int n,
                    eval_sums *e, char *err, size_t errlen)
{
    int B = train_net_batch(net);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
    if (!y)
        return TRAIN_ENOMEM;
    double total = e->loss;
    long hits = e->hits;
    int rc = 0;
    uint64_t unused_rng = 0;  /* no augmentation in evaluation */
    for (int i = 0; i < n && !rc; i += B) {
        int rows = n - i < B ? n - i : B;
        float *x = train_net_input(net);
        ds_batch_fill(d, s, idx + i, rows, x, y, 0, &unused_rng);
        /* pad a short last batch: inference is per image */
        memset(x + (size_t)rows * d->c * d->h * d->w, 0,
               sizeof(float) * (size_t)(B - rows) * d->c * d->h * d->w);
        double l;
        int c;
        if ((rc = train_net_forward(net, 0)))
            break;
        rc = train_net_loss(net, y, rows, 0, &l, &c);
        if (rc == TRAIN_EDIVERGED) {
            rt_fmt(err, errlen, "evaluation loss is not finite");
            break;
        }
        total += l * rows;
        hits += c;
        if (rt_interrupted())
            rc = TRAIN_EINTERRUPTED;
    }
    free(y);
    if (!rc) {
        e->loss = total;
        e->hits = hits;
        e->n += n;
    }
    return rc;
}

/* Mean loss and accuracy over images idx[0..n): the sums of `done` (the first
 * done->n of them, already measured) and of the rest. */
static int evaluate_from(train_net *net, const ds_dataset *d, const ds_split *s, const int *idx,
                         int n, const eval_sums *done, double *acc, double *loss, char *err,
                         size_t errlen)
{
    eval_sums e = done ? *done : (eval_sums){0, 0, 0};
    int rc = eval_add(net, d, s, idx + e.n, n - e.n, &e, err, errlen);
    if (!rc) {
        *acc = n ? (double)e.hits / n : NAN;
        *loss = n ? e.loss / n : NAN;
    }
    return rc;
}

static int evaluate(train_net *net, const ds_dataset *d, const ds_split *s, const int *idx, int n,
                    double *acc, double *loss, char *err, size_t errlen)
{
    return evaluate_from(net, d, s, idx, n, NULL, acc, loss, err, errlen);
}

typedef struct job {
    const graph *g;
    const train_opts *o;
    const ds_dataset *d;
    ds_indices ix;
    train_net *net;
    train_result *r;
    eval_sums final_probe;  /* the last checkpoint's probe: the start of the validation */
    double final_probe_seconds;  /* its time, the validation's (not the probes') */
    char *err;
    size_t errlen;
} job;

/* The step (1-based) of checkpoint k of n over total steps. */
static int checkpoint_step(int k, int n, int total)
{
    return (int)(((long long)total * k + n - 1) / n);
}

/* A checkpoint's probe: the first opts.probe validation images in inference
 * mode. After the last step the weights are final: those images are the start
 * of the validation that follows, so their sums are kept for it (when they end
 * on a batch boundary, which keeps the validation's sums bit for bit). */
static void probe(job *j, train_progress *p, int last)
{
    int n = j->o->probe < j->ix.nval ? j->o->probe : j->ix.nval;
    p->probe_acc = p->probe_loss = NAN;
    if (n <= 0)
        return;
    double t0 = rt_now();
    char err[128];
    eval_sums e = {0, 0, 0};
    if (eval_add(j->net, j->d, &j->d->train, j->ix.val, n, &e, err, sizeof err) == 0) {
        p->probe_acc = (double)e.hits / n;
        p->probe_loss = e.loss / n;
        if (last && (n % train_net_batch(j->net) == 0 || n == j->ix.nval)) {
            j->final_probe = e;
            j->final_probe_seconds = rt_now() - t0;
        }
    }
    j->r->probe_seconds += rt_now() - t0;
}

static int train_loop(job *j)
{
    const train_opts *o = j->o;
    const ds_dataset *d = j->d;
    train_result *r = j->r;
    int B = train_net_batch(j->net);
    int per_epoch = j->ix.ntrain / B, total = per_epoch * o->epochs;
    int augment = o->augment < 0 ? d->augment : o->augment;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
    int *order = malloc(sizeof(int) * (size_t)j->ix.ntrain);
    if (!y || !order) {
        free(y);
        free(order);
        return TRAIN_ENOMEM;
    }
    memcpy(order, j->ix.train, sizeof(int) * (size_t)j->ix.ntrain);
    uint64_t rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
    double t0 = rt_now(), last = t0;
    int rc = 0, step = 0;
    int ncp = o->checkpoints > total ? total : o->checkpoints, cp = 1;
    double window = 0;
    int window_n = 0, window_hits = 0;
    for (int e = 0; e < o->epochs && !rc; e++) {
        ds_shuffle(order, j->ix.ntrain, &rng);
        double sum = 0;
        int count = 0;
        for (int s = 0; s < per_epoch && !rc; s++, step++) {
            ds_batch_fill(d, &d->train, order + (size_t)s * B, B, train_net_input(j->net), y,
                          augment, &rng);
            double loss;
            int hits = 0;
            if ((rc = train_net_forward(j->net, 1)))
                break;
            rc = train_net_loss(j->net, y, B, 1, &loss, &hits);
            if (rc == TRAIN_EDIVERGED) {
                r->diverged_step = step + 1;
                rt_fmt(j->err, j->errlen, "diverged: the training loss became %s at step %d of %d",
                       isnan(loss) ? "NaN" : "infinite", step + 1, total);
                break;
            }
            if ((rc = train_net_backward(j->net)))
                break;
            train_sgd sgd = {train_lr_at(o, step, total), o->momentum, o->weight_decay};
            train_net_update(j->net, &sgd);
            sum += loss;
            count++;
            window += loss;
            window_n++;
            window_hits += hits;
            r->train_loss = sum / count;
            double now = rt_now();
            r->steps = step + 1;
            r->seconds = now - t0;
            if (rt_interrupted()) {
                rc = TRAIN_EINTERRUPTED;
                rt_fmt(j->err, j->errlen, "interrupted at step %d of %d", step + 1, total);
            } else if (o->time_limit > 0 && now - t0 > o->time_limit && step + 1 < total) {
                rc = TRAIN_ETIMEOUT;
                rt_fmt(j->err, j->errlen, "timeout: %.0f s limit reached at step %d of %d",
                       o->time_limit, step + 1, total);
            }
            int at_cp = ncp > 0 && cp <= ncp && step + 1 == checkpoint_step(cp, ncp, total);
            if (o->progress && (at_cp || now - last >= o->progress_every || step + 1 == total || rc)) {
                train_progress p = {.epoch = e + 1, .epochs = o->epochs, .step = step + 1,
                                    .steps = total, .loss = r->train_loss, .window_loss = NAN,
                                    .window_acc = NAN, .probe_acc = NAN, .probe_loss = NAN};
                if (at_cp && !rc) {
                    p.checkpoint = cp++;
                    p.window_loss = window / window_n;
                    p.window_acc = (double)window_hits / ((double)window_n * B);
                    window = 0, window_n = 0, window_hits = 0;
                    probe(j, &p, step + 1 == total);
                    now = rt_now();
                }
                last = now;
                p.seconds = now - t0;
                p.build_seconds = r->build_seconds;
                p.probe_seconds = r->probe_seconds;
                p.images_per_s = (double)(step + 1) * B / (p.seconds - r->probe_seconds);
                if (o->progress(&p, o->progress_ud) && !rc) {
                    rc = TRAIN_ESTOPPED;
                    rt_fmt(j->err, j->errlen, "stopped at step %d of %d", step + 1, total);
                }
            }
        }
        if (!rc)
            r->epochs_done = e + 1;
    }
    r->seconds = rt_now() - t0;
    double pure = r->seconds - r->probe_seconds;
    r->images_per_s = pure > 0 ? (double)r->steps * B / pure : 0;
    free(y);
    free(order);
    return rc;
}

static int run_job(job *j)
{
    const train_opts *o = j->o;
    train_result *r = j->r;
    int rc = ds_make_split(&j->d->train, o->val_fraction < 0 ? 0 : o->val_fraction, o->seed,
                           o->subset, o->stratified, &j->ix, j->err, j->errlen);
    if (rc)
        return rc == DS_ENOMEM ? TRAIN_ENOMEM : TRAIN_EARG;
    if (o->val_subset > 0 && o->val_subset < j->ix.nval)
        j->ix.nval = o->val_subset;
    r->ntrain = j->ix.ntrain;
    r->nval = j->ix.nval;
    int B = o->batch < j->ix.ntrain ? o->batch : j->ix.ntrain;
    train_net_opts no = {.seed = o->seed, .fuse = 1, .winograd = o->winograd, .bf16 = r->bf16};
    double tb = rt_now();
    rc = train_net_build(j->g, B, &no, &j->net, j->err, j->errlen);
    r->build_seconds = rt_now() - tb;
    if (rc)
        return rc;
    if ((rc = train_loop(j)))
        return rc;
    /* the shared final probe is validation work: its time moves there */
    r->seconds -= j->final_probe_seconds;
    r->probe_seconds -= j->final_probe_seconds;
    double t0 = rt_now() - j->final_probe_seconds;
    if (j->ix.nval > 0 &&
        (rc = evaluate_from(j->net, j->d, &j->d->train, j->ix.val, j->ix.nval, &j->final_probe,
                            &r->val_acc, &r->val_loss, j->err, j->errlen)))
        return rc;
    if (o->test) {
        int *all = malloc(sizeof(int) * (size_t)j->d->test.n);
        if (!all)
            return TRAIN_ENOMEM;
        for (int i = 0; i < j->d->test.n; i++)
            all[i] = i;
        rc = evaluate(j->net, j->d, &j->d->test, all, j->d->test.n, &r->test_acc, &r->test_loss,
                      j->err, j->errlen);
        free(all);
    }
    r->eval_seconds = rt_now() - t0;
    if (!rc && o->save_dir)
        rc = train_model_save(o->save_dir, j->net, j->g, j->d, &j->ix, o, r, j->err, j->errlen);
    return rc;
}

int train_evaluate(const graph *g, const train_opts *opts, train_result *r, char *err,
                   size_t errlen)
{
    train_opts o;
    if (opts)
        o = *opts;
    else
        train_opts_default(&o);
    if (!o.dataset)
        o.dataset = ds_default_name();
    train_result_init(r);
    r->probe_seconds = 0;  /* a sum over the checkpoints, not a single measure */
    if (o.epochs < 1 || o.batch < 1 || !(o.lr > 0) || o.momentum < 0 || o.weight_decay < 0) {
        rt_fmt(err, errlen, "bad training options: epochs %d, batch %d, lr %g, momentum %g, weight decay %g",
               o.epochs, o.batch, o.lr, o.momentum, o.weight_decay);
        return r->status = TRAIN_EARG;
    }
    if (o.drop_last != 1) {
        rt_fmt(err, errlen, "drop_last = false is not supported: the trainer compiles its "
               "primitives for one batch size, so an epoch's last partial batch is always "
               "dropped (as PyTorch's drop_last=True); choose a subset that is a multiple of "
               "the batch to train on every image");
        return r->status = TRAIN_EARG;
    }
    err[0] = '\0';
    if (!g || g->output < 0) {
        rt_fmt(err, errlen, "the graph has no output");
        return r->status = TRAIN_EARG;
    }
    int rc = train_precision_resolve(o.precision, &r->bf16, err, errlen);
    if (rc)
        return r->status = rc;
    if (o.precision == TRAIN_PRECISION_AUTO && train_bf16_unchecked(g) >= 0)
        r->bf16 = 0;  /* auto never refuses: an op without a checked bf16 path trains in fp32 */
    rc = check_caps(g, &o, r, err, errlen);
    if (rc)
        return r->status = rc;
    if (o.threads > 0)
        omp_set_num_threads(o.threads);
    const ds_dataset *d;
    if ((rc = train_dataset_get(o.dataset, o.data_dir, &d, err, errlen)) ||
        (rc = check_fit(g, d, err, errlen))) {
        r->peak_rss_mib = peak_rss_mib();
        return r->status = rc;
    }
    job j = {.g = g, .o = &o, .d = d, .r = r, .err = err, .errlen = errlen};
    double tj = rt_now();
    rc = run_job(&j);
    r->job_seconds = rt_now() - tj;
    if (rc && !err[0])
        rt_fmt(err, errlen, "%s", train_strerror(rc));
    train_net_free(j.net);
    ds_indices_free(&j.ix);
    r->peak_rss_mib = peak_rss_mib();
    return r->status = rc;
}
