/* test_train.c — the training job: learning on real Fashion-MNIST (a subset),
 * determinism, the caps, divergence, timeout, dataset mismatch, progress,
 * CIFAR-format data with augmentation, and the forked-worker path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/dataset.h"
#include "train/train.h"
#include "train_nets.h"

static int have_fmnist(void)
{
    return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0;
}

static void base_opts(train_opts *o)
{
    train_opts_default(o);
    o->threads = 2;
    o->subset = 2048;
    o->stratified = 1;
    o->val_subset = 1000;
    o->data_dir = NULL;  /* no directory chosen: Fashion-MNIST from the Debian package */
}

/* The small reference net (tn_build 6: conv-bn-relu-pool x2, linear) on
 * Fashion-MNIST with base_opts in *o; skips the test when the Debian dataset
 * is not installed. */
static graph *small_fmnist(train_opts *o)
{
    if (!have_fmnist())
        skip();
    base_opts(o);
    return tn_build(6, 1, 28, 28, 10);
}

static int progress_calls;
static int on_progress(const train_progress *p, void *ud)
{
    (void)ud;
    assert_true(p->step >= 1 && p->step <= p->steps);
    assert_true(isfinite(p->loss));
    progress_calls++;
    return 0;
}

/* Runs after in-process training: the worker must not hang on libgomp's
 * pool of the parent's threads. */
static void test_isolated_worker(void **state)
{
    (void)state;
    train_opts o;
    graph *g = small_fmnist(&o);
    o.progress = on_progress;
    o.progress_every = 0;
    train_result r;
    char kind[32], err[512];
    progress_calls = 0;
    int rc = train_evaluate_isolated(g, &o, NULL, &r, kind, sizeof kind, err, sizeof err);
    if (rc)
        fail_msg("%s: %s", kind, err);
    assert_string_equal(kind, "ok");
    assert_true(r.val_acc > 0.6);
    assert_int_equal(r.steps, 16);
    assert_true(progress_calls >= 16);
    /* a too-large network reports its kind through the worker */
    o.max_params = 1000;
    rc = train_evaluate_isolated(g, &o, NULL, &r, kind, sizeof kind, err, sizeof err);
    assert_int_equal(rc, TRAIN_ETOOLARGE);
    assert_string_equal(kind, "too_large");
    assert_non_null(strstr(err, "parameters"));
    graph_free(g);
}

/* Early abort's reports: checkpoints at fixed steps with a probe, and a stop. */
typedef struct cp_log {
    int steps[16], n;
    int stop_at;        /* checkpoint at which to ask for a stop, 0 = never */
    int bad_probe;
    double window_acc[16];
} cp_log;

static int on_checkpoint(const train_progress *p, void *ud)
{
    cp_log *l = ud;
    if (!p->checkpoint)
        return 0;
    if (l->n < 16) {
        l->window_acc[l->n] = p->window_acc;
        l->steps[l->n++] = p->step;
    }
    if (!(p->probe_acc >= 0 && p->probe_acc <= 1) || !isfinite(p->probe_loss) || !isfinite(p->window_loss) ||
        !(p->window_acc >= 0 && p->window_acc <= 1))
        l->bad_probe++;
    return l->stop_at && p->checkpoint == l->stop_at;
}

static void test_checkpoints_and_early_stop(void **state)
{
    (void)state;
    train_opts o;
    graph *g = small_fmnist(&o);
    train_result plain, probed, r;
    char err[512], kind[32];
    if (train_evaluate(g, &o, &plain, err, sizeof err))
        fail_msg("%s", err);
    cp_log log = {0};
    o.checkpoints = 4;
    o.probe = 200;
    o.progress = on_checkpoint;
    o.progress_ud = &log;
    o.progress_every = 1e9;  /* checkpoints only */
    if (train_evaluate(g, &o, &probed, err, sizeof err))
        fail_msg("%s", err);
    /* 2048 images, batch 128: 16 steps; checkpoints at ceil(16 k / 4) */
    assert_int_equal(log.n, 4);
    assert_int_equal(log.steps[0], 4);
    assert_int_equal(log.steps[1], 8);
    assert_int_equal(log.steps[3], 16);
    assert_int_equal(log.bad_probe, 0);
    assert_true(probed.probe_seconds > 0);
    /* the window's training accuracy is the hits of its steps: a network that
     * learns (val_acc > 0.6 below) classifies far more of the last window's
     * images than of the first one's */
    assert_true(log.window_acc[3] > log.window_acc[0] + 0.2);
    /* probing is inference only: the training is the same, bit for bit */
    assert_true(probed.val_acc == plain.val_acc && probed.train_loss == plain.train_loss);
    /* a probe of whole batches after the last step is the start of the validation:
     * measured once and shared, with the same sums as validating from scratch */
    cp_log whole = {0};
    o.probe = 256;
    o.progress_ud = &whole;
    if (train_evaluate(g, &o, &probed, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(whole.n, 4);
    assert_true(probed.val_acc == plain.val_acc && probed.val_loss == plain.val_loss);
    o.probe = 200;

    cp_log stop = {.stop_at = 2};
    o.progress_ud = &stop;
    int rc = train_evaluate(g, &o, &r, err, sizeof err);
    assert_int_equal(rc, TRAIN_ESTOPPED);
    assert_string_equal(train_kind(rc), "pruned");
    assert_int_equal(r.steps, 8);
    assert_true(r.build_seconds > 0 && r.probe_seconds > 0);
    /* in a worker, the parent kills the child and reports what the last report said */
    cp_log stop2 = {.stop_at = 2};
    o.progress_ud = &stop2;
    rc = train_evaluate_isolated(g, &o, NULL, &r, kind, sizeof kind, err, sizeof err);
    assert_int_equal(rc, TRAIN_ESTOPPED);
    assert_string_equal(kind, "pruned");
    assert_int_equal(r.steps, 8);
    assert_int_equal(stop2.n, 2);
    assert_true(r.cpu_seconds > 0);
    /* ... including the build and the probes so far, so a pruned record's time
     * breakdown is complete (two probes of 200 images ran) */
    assert_true(r.build_seconds > 0);
    assert_true(r.probe_seconds > 0 && r.probe_seconds < r.seconds);
    graph_free(g);
}

static void test_learns_and_is_deterministic(void **state)
{
    (void)state;
    train_opts o;
    graph *g = small_fmnist(&o);
    train_result a, b;
    char err[512];
    int rc = train_evaluate(g, &o, &a, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    print_message("small on 2048 images: val_acc %.4f val_loss %.4f train_loss %.4f, %.0f img/s\n",
                  a.val_acc, a.val_loss, a.train_loss, a.images_per_s);
    assert_true(a.val_acc > 0.6);
    assert_true(a.val_loss < 1.2);
    assert_int_equal(a.ntrain, 2048);
    assert_int_equal(a.nval, 1000);
    assert_int_equal(a.params, 50282);
    assert_true(isnan(a.test_acc));
    assert_int_equal(train_evaluate(g, &o, &b, err, sizeof err), 0);
    assert_true(a.val_loss == b.val_loss && a.train_loss == b.train_loss);
    /* another seed gives other numbers */
    o.seed = 44;
    o.test = 1;
    assert_int_equal(train_evaluate(g, &o, &b, err, sizeof err), 0);
    assert_true(a.val_loss != b.val_loss);
    assert_true(b.test_acc > 0.6 && b.test_acc <= 1.0);
    graph_free(g);
}

/* --winograd trains too (oneDNN uses it on AVX-512 only; elsewhere it is direct). */
static void test_winograd_option(void **state)
{
    (void)state;
    train_opts o;
    graph *g = small_fmnist(&o);
    o.winograd = 1;
    train_result r;
    char err[512];
    int rc = train_evaluate(g, &o, &r, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    print_message("small with --winograd on 2048 images: val_acc %.4f\n", r.val_acc);
    assert_true(r.val_acc > 0.6);
    graph_free(g);
}

static void test_failures(void **state)
{
    (void)state;
    train_opts o;
    graph *g = small_fmnist(&o);
    train_result r;
    char err[512];
    o.max_flops = 1000000;
    assert_int_equal(train_evaluate(g, &o, &r, err, sizeof err), TRAIN_ETOOLARGE);
    assert_non_null(strstr(err, "GFLOPs"));
    assert_string_equal(train_kind(r.status), "too_large");
    base_opts(&o);
    o.max_act_bytes = 1 << 20;
    assert_int_equal(train_evaluate(g, &o, &r, err, sizeof err), TRAIN_ETOOLARGE);
    assert_non_null(strstr(err, "activations"));

    base_opts(&o);
    o.lr = 1e30;
    assert_int_equal(train_evaluate(g, &o, &r, err, sizeof err), TRAIN_EDIVERGED);
    assert_true(r.diverged_step >= 1 && r.diverged_step <= 16);
    assert_non_null(strstr(err, "diverged"));
    assert_string_equal(train_kind(r.status), "diverged");

    base_opts(&o);
    o.subset = 0;
    o.time_limit = 0.05;
    assert_int_equal(train_evaluate(g, &o, &r, err, sizeof err), TRAIN_ETIMEOUT);
    assert_non_null(strstr(err, "timeout"));
    assert_true(r.steps >= 1 && r.steps < 421);

    base_opts(&o);
    o.dataset = "imagenet";
    assert_int_equal(train_evaluate(g, &o, &r, err, sizeof err), TRAIN_EDATA);
    assert_non_null(strstr(err, "unknown dataset"));
    graph_free(g);

    graph *g3 = tn_build(6, 3, 32, 32, 10);
    base_opts(&o);
    assert_int_equal(train_evaluate(g3, &o, &r, err, sizeof err), TRAIN_EDATA);
    assert_non_null(strstr(err, "[B, 1, 28, 28]"));
    graph_free(g3);
}

/* CIFAR-10 binary files written here (40 images a batch file), trained with
 * the default augmentation. */
static void test_cifar_format_with_augmentation(void **state)
{
    (void)state;
    char dir[64] = "/tmp/test_train.XXXXXX", sub[128], p[256];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir);
    mkdir(sub, 0700);
    uint64_t rng = 3;
    uint8_t rec[3073];
    for (int f = 0; f <= 5; f++) {
        if (f == 0)
            snprintf(p, sizeof p, "%s/test_batch.bin", sub);
        else
            snprintf(p, sizeof p, "%s/data_batch_%d.bin", sub, f);
        FILE *fp = fopen(p, "wb");
        for (int i = 0; i < 40; i++) {
            rec[0] = (uint8_t)(i % 10);
            /* class-dependent brightness so there is something to learn */
            for (int q = 1; q < 3073; q++)
                rec[q] = (uint8_t)(rec[0] * 20 + ds_rand(&rng) % 40);
            fwrite(rec, 1, sizeof rec, fp);
        }
        fclose(fp);
    }
    graph *g = tn_build(0, 3, 32, 32, 10);
    train_opts o;
    train_opts_default(&o);
    o.dataset = "cifar10";
    o.data_dir = dir;
    o.batch = 16;
    o.epochs = 3;
    o.threads = 2;
    o.test = 1;
    train_result r;
    char err[512];
    int rc = train_evaluate(g, &o, &r, err, sizeof err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(r.ntrain, 180);
    assert_int_equal(r.nval, 20);
    assert_int_equal(r.steps, 3 * (180 / 16));
    /* the test split (40 images) was evaluated: a whole number of hits, a real loss */
    assert_true(r.test_acc >= 0 && r.test_acc <= 1);
    assert_true(fabs(r.test_acc * 40 - round(r.test_acc * 40)) < 1e-9);
    assert_true(isfinite(r.test_loss) && r.test_loss > 0);
    train_cache_clear();
    graph_free(g);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    assert_int_equal(system(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_and_is_deterministic),
        cmocka_unit_test(test_isolated_worker),
        cmocka_unit_test(test_checkpoints_and_early_stop),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_winograd_option),
        cmocka_unit_test(test_cifar_format_with_augmentation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    train_cache_clear();
    return rc;
}
