/* test_train_ops.c — finite-difference gradient checks of every op's backward
 * pass, through small networks (train_nets.h) that together use every op,
 * with BN+ReLU fusion on and off; plus SGD, BN running statistics and the
 * inference path. The loss is a function of every parameter, so checking
 * d loss / d parameter for parameters upstream of an op checks that op's
 * data gradient, and its own parameters check its weight gradient. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "train/dataset.h"
#include "train/train_plan.h"
#include "train_nets.h"

#define B 4
#define K 5
static double fd_h = 1e-4;  /* larger steps straddle ReLU / max-pool kinks of these tiny BN nets */

static double loss_of(train_net *n, const int32_t *y)
{
    double l;
    assert_int_equal(train_net_forward(n, 1), 0);
    assert_int_equal(train_net_loss(n, y, B, 0, &l, NULL), 0);
    return l;
}

static void fill_input(train_net *n, int c, int h, int w, uint64_t seed)
{
    float *x = train_net_input(n);
    for (int i = 0; i < B * c * h * w; i++)
        x[i] = (float)(ds_rand_uniform(&seed) * 2 - 1);
}

/* Forward (training), the loss with its gradient, backward; then the SGD
 * update when sgd is given. */
static void train_step(train_net *n, const int32_t *y, const train_sgd *sgd)
{
    double l;
    assert_int_equal(train_net_forward(n, 1), 0);
    assert_int_equal(train_net_loss(n, y, B, 1, &l, NULL), 0);
    assert_int_equal(train_net_backward(n), 0);
    if (sgd)
        assert_int_equal(train_net_update(n, sgd), 0);
}

/* The input of train_nets.h's net i: the small net (6) reads [B, 1, 28, 28]
 * as Fashion-MNIST, the others [B, 3, hw, hw]. */
static void net_input(int i, int hw, int *c, int *h)
{
    *c = i == 6 ? 1 : 3;
    *h = i == 6 ? 28 : hw;
}

/* Net i (input as net_input, 9x9) built twice with the same seed: *a keeps
 * every buffer private (keep_all), *b shares them by lifetime and folds BN
 * into convolutions for inference. */
static graph *twin_nets(int i, int *c, int *hw, train_net **a, train_net **b)
{
    net_input(i, 9, c, hw);
    graph *g = tn_build(i, *c, *hw, *hw, K);
    char err[256];
    train_net_opts oa = {.seed = 5, .fuse = 1, .keep_all = 1}, ob = {.seed = 5, .fuse = 1};
    assert_int_equal(train_net_build(g, B, &oa, a, err, sizeof err), 0);
    assert_int_equal(train_net_build(g, B, &ob, b, err, sizeof err), 0);
    return g;
}

/* Flatten -> Linear(cin -> 3) on a [B, cin, 1, 1] input, built with the
 * default options; *logits is the Linear's node. */
static graph *linear_net(int cin, train_net **n, int *logits)
{
    graph *g;
    assert_int_equal(graph_new(&g, cin, 1, 1), 0);
    *logits = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, 0), 3);
    tn_finish(g, *logits, 3);
    char err[256];
    assert_int_equal(train_net_build(g, B, NULL, n, err, sizeof err), 0);
    return g;
}

/* Tolerance of one probe: |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|).
 * The absolute part is the float32 noise floor of a central difference of the loss (about
 * 1e-7 * loss / h); the relative part the truncation error of the difference. Smooth nets
 * (no BatchNorm over 4 images feeding ReLU / max-pool kinks) meet the tight one with room
 * (worst probe at 0.6 of it when it was set); the BN + ReLU nets the loose one. FD_ATOL and
 * FD_RTOL override both (for calibration). */
#define FD_TIGHT 5e-4, 1e-2
#define FD_LOOSE 2e-3, 3e-2
static double fd_atol = -1, fd_rtol = -1;
static int fd_probes = 24;

/* One central-difference probe of element j of `v` (count elements, written back with set),
 * compared with the analytic derivative ana. Returns 1 if it disagrees. */
static int probe(train_net *n, const int32_t *y, float *v, int64_t j, double ana, double atol,
                 double rtol, double *worst, void (*set)(train_net *, int, const float *),
                 int which, const char *what)
{
    float keep = v[j];
    double hstep = fd_h * fmax(1.0, fabs(keep));
    v[j] = (float)(keep + hstep);
    set(n, which, v);
    double lp = loss_of(n, y);
    v[j] = (float)(keep - hstep);
    set(n, which, v);
    double lm = loss_of(n, y);
    v[j] = keep;
    set(n, which, v);
    double num = (lp - lm) / (2 * hstep);
    double err = fabs(num - ana), tol = atol + rtol * fmax(fabs(num), fabs(ana));
    if (err / tol > *worst)
        *worst = err / tol;
    if (err <= tol)
        return 0;
    print_message("  %s[%lld]: analytic %.6g numeric %.6g\n", what, (long long)j, ana, num);
    return 1;
}

static void set_param(train_net *n, int i, const float *v) { train_net_param_set(n, i, v); }
/* Check every trainable parameter tensor at up to fd_probes elements. */
static void gradcheck(int net, int fuse, int c, int h, int w, double atol, double rtol)
{
    if (fd_atol >= 0)
        atol = fd_atol;
    if (fd_rtol >= 0)
        rtol = fd_rtol;
    graph *g = tn_build(net, c, h, w, K);
    train_net_opts o = {.seed = 7 + (uint64_t)net, .fuse = fuse};
    train_net *n;
    char err[512], what[160];
    int rc = train_net_build(g, B, &o, &n, err, sizeof err);
    if (rc)
        fail_msg("net %s: build: %s", tn_names[net], err);
    fill_input(n, c, h, w, 100 + (uint64_t)net);
    int32_t y[B] = {0, 3, 1, 4};
    double worst = 0;
    train_step(n, y, NULL);
    n->drop_frozen = 1;
    int np = train_net_nparams(n), checked = 0, bad = 0;
    for (int i = 0; i < np; i++) {
        train_param_info pi;
        train_net_param_info(n, i, &pi);
        if (!pi.trainable)
            continue;
        float *wv = malloc(sizeof(float) * (size_t)pi.count);
        float *gv = malloc(sizeof(float) * (size_t)pi.count);
        assert_int_equal(train_net_param_get(n, i, 0, wv), 0);
        assert_int_equal(train_net_param_get(n, i, 1, gv), 0);
        int probes = pi.count < fd_probes ? (int)pi.count : fd_probes;
        snprintf(what, sizeof what, "%s fuse=%d node %d %s", tn_names[net], fuse, pi.node, pi.name);
        for (int q = 0; q < probes; q++) {
            int64_t j = (int64_t)q * pi.count / probes + (q * 7) % (pi.count / probes > 0 ? pi.count / probes : 1);
            checked++;
            bad += probe(n, y, wv, j, gv[j], atol, rtol, &worst, set_param, i, what);
        }
        free(wv);
        free(gv);
    }
    print_message("  %s fuse=%d: %d probes, %d outside the tolerance, worst error %.2f of it\n",
                  tn_names[net], fuse, checked, bad, worst);
    /* A probe may straddle a ReLU / max-pool kink; more than 2% is a bug. */
    if (bad > checked / 50)
        fail_msg("net %s (fuse %d): %d of %d gradient probes disagree", tn_names[net], fuse, bad, checked);
    assert_true(checked >= 10);
    train_net_free(n);
    graph_free(g);
}

static void test_grad_cbrp(void **s) { (void)s; gradcheck(0, 0, 3, 8, 8, FD_LOOSE); gradcheck(0, 1, 3, 8, 8, FD_LOOSE); }
static void test_grad_grouped(void **s) { (void)s; gradcheck(1, 1, 3, 9, 9, FD_TIGHT); }
static void test_grad_gelu_pools(void **s) { (void)s; gradcheck(2, 1, 3, 9, 9, FD_TIGHT); }
static void test_grad_cat(void **s) { (void)s; gradcheck(3, 1, 3, 6, 6, FD_TIGHT); gradcheck(3, 0, 3, 6, 6, FD_TIGHT); }
static void test_grad_residual(void **s) { (void)s; gradcheck(4, 1, 3, 6, 6, FD_LOOSE); gradcheck(4, 0, 3, 6, 6, FD_LOOSE); }
static void test_grad_identity_cat(void **s) { (void)s; gradcheck(5, 1, 2, 5, 5, FD_TIGHT); }
static void test_grad_small(void **s) { (void)s; gradcheck(6, 1, 1, 8, 8, FD_LOOSE); }
static void test_grad_relayout(void **s) { (void)s; gradcheck(7, 1, 3, 8, 8, FD_LOOSE); }
static void test_grad_pools(void **s) { (void)s; gradcheck(10, 1, 3, 8, 8, FD_TIGHT); }
static void test_grad_scalar_bcast(void **s) { (void)s; gradcheck(11, 1, 3, 6, 6, FD_TIGHT); }
static void test_grad_bn1d(void **s) { (void)s; gradcheck(12, 1, 3, 6, 6, FD_LOOSE); gradcheck(12, 0, 3, 6, 6, FD_LOOSE); }
static void test_grad_layernorm(void **s) { (void)s; gradcheck(13, 1, 3, 6, 6, FD_TIGHT); }
static void test_grad_prelu_elu_mish_max(void **s) { (void)s; gradcheck(14, 1, 3, 6, 6, FD_TIGHT); }
static void test_grad_softmax_dropout2d(void **s) { (void)s; gradcheck(15, 1, 3, 6, 6, FD_TIGHT); }
static void test_grad_dense_cat(void **s) { (void)s; gradcheck(9, 1, 3, 5, 5, FD_LOOSE); }

/* SGD with momentum and weight decay, PyTorch's formula, on a Linear net. */
static void test_sgd_update(void **state)
{
    (void)state;
    train_net *n;
    int x;
    graph *g = linear_net(2, &n, &x);
    fill_input(n, 2, 1, 1, 1);
    int32_t y[B] = {0, 1, 2, 1};
    float w0[6], g1[6], w1[6], g2[6], w2[6];
    train_net_param_get(n, 0, 0, w0);
    train_sgd sgd = {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01};
    train_step(n, y, NULL);
    train_net_param_get(n, 0, 1, g1);
    train_net_update(n, &sgd);
    train_net_param_get(n, 0, 0, w1);
    float v[6];
    for (int i = 0; i < 6; i++) {
        v[i] = g1[i] + 0.01f * w0[i];
        assert_float_equal(w1[i], w0[i] - 0.1f * v[i], 1e-6);
    }
    train_step(n, y, NULL);
    train_net_param_get(n, 0, 1, g2);
    train_net_update(n, &sgd);
    train_net_param_get(n, 0, 0, w2);
    for (int i = 0; i < 6; i++) {
        v[i] = 0.9f * v[i] + g2[i] + 0.01f * w1[i];
        assert_float_equal(w2[i], w1[i] - 0.1f * v[i], 1e-6);
    }
    train_net_free(n);
    graph_free(g);
}

/* BN running statistics: PyTorch's momentum update with unbiased variance,
 * and the inference pass uses them. Also PyTorch's default init bounds. */
static void test_bn_running_and_eval(void **state)
{
    (void)state;
    graph *g = tn_build(0, 3, 8, 8, K);
    train_net *n;
    char err[256];
    train_net_opts o = {.seed = 1, .fuse = 0, .keep_all = 1};
    assert_int_equal(train_net_build(g, B, &o, &n, err, sizeof err), 0);
    fill_input(n, 3, 8, 8, 5);
    /* find the conv (weight count 8*3*3*3) and BN params */
    int conv_w = -1, bn_rm = -1, bn_rv = -1;
    for (int i = 0; i < train_net_nparams(n); i++) {
        train_param_info pi;
        train_net_param_info(n, i, &pi);
        if (pi.count == 216)
            conv_w = i;
        if (!strcmp(pi.name, "running_mean"))
            bn_rm = i;
        if (!strcmp(pi.name, "running_var"))
            bn_rv = i;
    }
    assert_true(conv_w >= 0 && bn_rm >= 0 && bn_rv >= 0);
    float w[216];
    train_net_param_get(n, conv_w, 0, w);
    double bound = 1 / sqrt(27.0), mx = 0;
    for (int i = 0; i < 216; i++)
        mx = fmax(mx, fabs(w[i]));
    assert_true(mx <= bound && mx > 0.8 * bound);
    /* the conv output per channel, to compute the expected statistics */
    int conv_node = train_net_param_info(n, conv_w, &(train_param_info){0}) ? -1 : 0;
    train_param_info pi;
    train_net_param_info(n, conv_w, &pi);
    conv_node = pi.node;
    assert_int_equal(train_net_forward(n, 1), 0);
    float *co = malloc(sizeof(float) * B * 8 * 64);
    assert_int_equal(train_net_node_get(n, conv_node, 0, co), 0);
    float rm[8], rv[8];
    train_net_param_get(n, bn_rm, 0, rm);
    train_net_param_get(n, bn_rv, 0, rv);
    for (int c = 0; c < 8; c++) {
        double s = 0, s2 = 0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < 64; p++) {
                double v = co[(b * 8 + c) * 64 + p];
                s += v;
                s2 += v * v;
            }
        double mean = s / 256, var = s2 / 256 - mean * mean;
        assert_float_equal(rm[c], 0.1 * mean, 1e-5);
        assert_float_equal(rv[c], 0.9 + 0.1 * var * 256 / 255, 1e-5);
    }
    /* inference: BN output = (x - rm) / sqrt(rv + eps) with weight 1, bias 0 */
    assert_int_equal(train_net_forward(n, 0), 0);
    int bn_node = -1;
    train_net_param_info(n, bn_rm, &pi);
    bn_node = pi.node;
    float *bo = malloc(sizeof(float) * B * 8 * 64);
    assert_int_equal(train_net_node_get(n, bn_node, 0, bo), 0);
    for (int c = 0; c < 8; c++)
        assert_float_equal(bo[c * 64 + 5], (co[c * 64 + 5] - rm[c]) / sqrt(rv[c] + 1e-5), 1e-4);
    free(co);
    free(bo);
    train_net_free(n);
    graph_free(g);
}

static void test_loss_and_divergence(void **state)
{
    (void)state;
    train_net *n;
    int x;
    graph *g = linear_net(3, &n, &x);
    fill_input(n, 3, 1, 1, 2);
    train_net_forward(n, 1);
    int32_t y[B] = {0, 1, 2, 0};
    float z[B * 3];
    train_net_node_get(n, x, 0, z);
    double want = 0;
    for (int i = 0; i < B; i++) {
        double s = exp(z[i * 3]) + exp(z[i * 3 + 1]) + exp(z[i * 3 + 2]);
        want += log(s) - z[i * 3 + y[i]];
    }
    double l;
    int correct;
    assert_int_equal(train_net_loss(n, y, B, 1, &l, &correct), 0);
    assert_float_equal(l, want / B, 1e-6);
    /* NaN weights: diverged */
    float w[9];
    for (int i = 0; i < 9; i++)
        w[i] = NAN;
    train_net_param_set(n, 0, w);
    train_net_forward(n, 1);
    assert_int_equal(train_net_loss(n, y, B, 1, &l, &correct), TRAIN_EDIVERGED);
    train_net_free(n);
    graph_free(g);
}

/* The trap: weight and gradient layouts differ between passes; every
 * primitive of the reference net must be a jit one, not ref. */
static void test_no_reference_impls(void **state)
{
    (void)state;
    for (int i = 0; i < TN_COUNT; i++) {
        int c, hw;
        net_input(i, 16, &c, &hw);
        graph *g = tn_build(i, c, hw, hw, 10);
        train_net *n;
        char err[256];
        assert_int_equal(train_net_build(g, 64, NULL, &n, err, sizeof err), 0);
        if (i == 6)
            print_message("%s", train_net_impls(n));
        if (n->ref_impls)
            fail_msg("net %s uses a reference conv / inner product:\n%s", tn_names[i],
                     train_net_impls(n));
        train_net_free(n);
        graph_free(g);
    }
}

/* Backward buffers shared by lifetime must give bit-identical gradients to
 * private ones (a shared buffer's stale contents, e.g. in the padding of a
 * blocked layout, must never leak into a result). */
static void test_shared_buffers_change_nothing(void **state)
{
    (void)state;
    for (int i = 0; i < TN_COUNT; i++) {
        int c, hw;
        train_net *a, *b;
        graph *g = twin_nets(i, &c, &hw, &a, &b);
        int32_t y[B] = {1, 2, 3, 4};
        for (int it = 0; it < 3; it++) {
            train_net *nets[2] = {a, b};
            for (int j = 0; j < 2; j++) {
                fill_input(nets[j], c, hw, hw, 77 + (uint64_t)it);
                train_step(nets[j], y, &(train_sgd){0.1, 0.9, 5e-4});
            }
            for (int p = 0; p < train_net_nparams(a); p++) {
                train_param_info pi;
                train_net_param_info(a, p, &pi);
                if (!pi.trainable)
                    continue;
                float *ga = malloc(sizeof(float) * (size_t)pi.count), *gb = malloc(sizeof(float) * (size_t)pi.count);
                train_net_param_get(a, p, 1, ga);
                train_net_param_get(b, p, 1, gb);
                if (memcmp(ga, gb, sizeof(float) * (size_t)pi.count))
                    fail_msg("net %s iteration %d: gradient of node %d %s differs with shared buffers",
                             tn_names[i], it, pi.node, pi.name);
                free(ga);
                free(gb);
            }
        }
        train_net_free(a);
        train_net_free(b);
        graph_free(g);
    }
}

/* Inference with each BatchNorm folded into the convolution before it
 * (train_fold.c) against the unfolded pass of a keep_all twin (which never
 * folds) with the same weights: the logits agree to float rounding, after
 * every training step (a folded copy of stale weights or running statistics
 * would not), and the fold did happen where a Conv2d feeds a BatchNorm. */
static void test_folded_inference_matches(void **state)
{
    (void)state;
    for (int i = 0; i < TN_COUNT; i++) {
        int c, hw;
        train_net *a, *b;
        graph *g = twin_nets(i, &c, &hw, &a, &b);
        if (i == 0 || i == 6)  /* conv -> BN -> ReLU -> pool */
            assert_non_null(strstr(train_net_impls(b), "conv+bnorm inf"));
        assert_null(strstr(train_net_impls(a), "conv+bnorm inf"));
        int32_t y[B] = {1, 2, 3, 4};
        float za[B * K], zb[B * K];
        for (int it = 0; it < 3; it++) {
            train_net *nets[2] = {a, b};
            float *z[2] = {za, zb};
            for (int j = 0; j < 2; j++) {
                fill_input(nets[j], c, hw, hw, 31 + (uint64_t)it);
                train_step(nets[j], y, &(train_sgd){0.1, 0.9, 5e-4});
                fill_input(nets[j], c, hw, hw, 53 + (uint64_t)it);
                assert_int_equal(train_net_forward(nets[j], 0), 0);
                assert_int_equal(train_net_node_get(nets[j], g->output, 0, z[j]), 0);
            }
            double mx = 0, diff = 0;
            for (int e = 0; e < B * K; e++) {
                mx = fmax(mx, fabs(za[e]));
                diff = fmax(diff, fabs(za[e] - zb[e]));
            }
            if (diff > 1e-5 + 1e-5 * mx)
                fail_msg("net %s step %d: folded inference logits differ by %g (max %g)",
                         tn_names[i], it, diff, mx);
        }
        train_net_free(a);
        train_net_free(b);
        graph_free(g);
    }
}

/* Net n's backward list has a C step (not a primitive) for node k. */
static int has_c_step(const train_net *n, int k)
{
    for (int i = 0; i < n->bwd.n; i++)
        if (n->bwd.v[i].fn && n->bwd.v[i].node == k)
            return 1;
    return 0;
}

/* The trainer's own C loops against oneDNN (train_net_opts.onednn_only) in fp32,
 * same weights and batches, three steps: a one-channel conv's weight and bias
 * gradient (train_wgrad.c) agrees to float rounding (a tap, a stride or a
 * padded channel block mishandled would not), and everything downstream of it
 * too. Two nets: the small one (3x3, padding 1, 32 channels) and a 5x5 stride-2
 * conv with bias into 24 channels (a padded 16-channel block). The gradient
 * checks of test_grad_small hold the C path against finite differences. */
static void test_c_loops_match_onednn(void **state)
{
    (void)state;
    for (int q = 0; q < 2; q++) {
        graph *g;
        int conv;
        if (q == 0) {
            g = tn_build(6, 1, 28, 28, K);
            conv = 1;
        } else {
            assert_int_equal(graph_new(&g, 1, 13, 13), 0);
            conv = tn_conv(g, 0, 24, 5, 2, 1, 1, 1, 1);
            int x = tn_linear(g, tn_op(g, GRAPH_OP_FLATTEN, tn_op(g, GRAPH_OP_RELU, conv)), K);
            tn_finish(g, x, K);
        }
        int hw = q == 0 ? 28 : 13;
        train_net *n[2];
        char err[256];
        for (int p = 0; p < 2; p++) {
            train_net_opts o = {.seed = 4, .fuse = 1, .onednn_only = p};
            assert_int_equal(train_net_build(g, B, &o, &n[p], err, sizeof err), 0);
        }
        assert_true(has_c_step(n[0], conv) && !has_c_step(n[1], conv));
        int32_t y[B] = {1, 2, 3, 4};
        for (int it = 0; it < 3; it++) {
            for (int p = 0; p < 2; p++) {
                fill_input(n[p], 1, hw, hw, 11 + (uint64_t)it);
                train_step(n[p], y, NULL);
            }
            for (int i = 0; i < train_net_nparams(n[0]); i++) {
                train_param_info pi;
                train_net_param_info(n[0], i, &pi);
                if (!pi.trainable)
                    continue;
                float *a = malloc(sizeof(float) * (size_t)pi.count);
                float *b = malloc(sizeof(float) * (size_t)pi.count);
                train_net_param_get(n[0], i, 1, a);
                train_net_param_get(n[1], i, 1, b);
                double mx = 0, diff = 0;
                for (int64_t e = 0; e < pi.count; e++) {
                    mx = fmax(mx, fabs(b[e]));
                    diff = fmax(diff, fabs(a[e] - b[e]));
                }
                if (!(diff <= 1e-5 * mx + 1e-9))
                    fail_msg("net %d step %d: gradient of node %d %s is %g (max %g) from oneDNN's",
                             q, it, pi.node, pi.name, diff, mx);
                free(a);
                free(b);
            }
            for (int p = 0; p < 2; p++)
                assert_int_equal(train_net_update(n[p], &(train_sgd){0.1, 0.9, 5e-4}), 0);
        }
        train_net_free(n[0]);
        train_net_free(n[1]);
        graph_free(g);
    }
}

int main(void)
{
    if (getenv("FD_H"))
        fd_h = atof(getenv("FD_H"));
    if (getenv("FD_ATOL"))
        fd_atol = atof(getenv("FD_ATOL"));
    if (getenv("FD_RTOL"))
        fd_rtol = atof(getenv("FD_RTOL"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_cbrp),
        cmocka_unit_test(test_grad_grouped),
        cmocka_unit_test(test_grad_gelu_pools),
        cmocka_unit_test(test_grad_cat),
        cmocka_unit_test(test_grad_residual),
        cmocka_unit_test(test_grad_identity_cat),
        cmocka_unit_test(test_grad_small),
        cmocka_unit_test(test_grad_relayout),
        cmocka_unit_test(test_grad_dense_cat),
        cmocka_unit_test(test_grad_pools),
        cmocka_unit_test(test_grad_scalar_bcast),
        cmocka_unit_test(test_grad_bn1d),
        cmocka_unit_test(test_grad_layernorm),
        cmocka_unit_test(test_grad_prelu_elu_mish_max),
        cmocka_unit_test(test_grad_softmax_dropout2d),
        cmocka_unit_test(test_sgd_update),
        cmocka_unit_test(test_bn_running_and_eval),
        cmocka_unit_test(test_loss_and_divergence),
        cmocka_unit_test(test_no_reference_impls),
        cmocka_unit_test(test_shared_buffers_change_nothing),
        cmocka_unit_test(test_folded_inference_matches),
        cmocka_unit_test(test_c_loops_match_onednn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
