/* test_train_bf16.c — bf16 mixed precision against fp32 on the same weights.
 *
 * Every network of train_nets.h (together they use every op) is built twice
 * from one seed, fp32 and bf16; the same batches go through both. bf16 keeps
 * 8 significant bits, so a value rounded once is off by up to 2^-9 = 0.2%
 * relative; through a few layers and a softmax the logits differ by up to
 * 3.5% of their largest element, and every BatchNorm the gradient passes on
 * the way back adds 5-8% (its backward subtracts the gradient's mean, which
 * cancels most of it): measured worst, L2-relative, 17% on gradients and 15%
 * on the change of the weights over 5 steps — the same as PyTorch's own bf16
 * autocast against its fp32 on these nets (test_train_torch's bf16 case:
 * 7-12% on gradients, up to 33% on updates). The tolerances sit about 2x
 * above the measured worst and far below what a real fault gives (a wrong
 * weight layout, a gradient left unconverted: differences of the order of the
 * tensor itself). bf16 that silently ran fp32 is caught too: the two nets
 * must differ.
 *
 * The cases run only where train_cpu_bf16() says bf16 is native (skipped,
 * and counted as skipped, elsewhere). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/dataset.h"
#include "train/train_plan.h"
#include "train_nets.h"

#define B 32
/* train_nets.h's first nets: the ops whose bf16 path is checked; the later nets'
 * ops refuse bf16 (test_bf16_refuses_unchecked_ops) */
#define BF16_NETS 11
#define K 5
#define STEPS 5

/* Tolerances: logits as a share of the fp32 tensor's largest |element|, gradients and
 * updates in L2 relative to the fp32 tensor's norm. */
static double TOL_LOGITS = 0.1, TOL_GRAD = 0.3, TOL_UPDATE = 0.35;

/* Net n's backward list has a C step (not a primitive) for node k. */
static int tn_c_step(const train_net *n, int k)
{
    for (int i = 0; i < n->bwd.n; i++)
        if (n->bwd.v[i].fn && n->bwd.v[i].node == k)
            return 1;
    return 0;
}

static void need_bf16(void)
{
    char why[160];
    if (!train_cpu_bf16(why, sizeof why)) {
        print_message("no native bf16 here (%s): skipped\n", why);
        skip();
    }
}

static void fill(train_net *n, size_t per, uint64_t seed)
{
    float *x = train_net_input(n);
    for (size_t i = 0; i < per; i++)
        x[i] = (float)(ds_rand_uniform(&seed) * 2 - 1);
}

/* max|a-b| / max|b| (l2 = 0) or ||a-b|| / ||b|| (l2 = 1). */
static double rel(const float *a, const float *b, size_t cnt, int l2)
{
    double e = 0, s = 0;
    for (size_t i = 0; i < cnt; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (l2) {
            e += d * d;
            s += (double)b[i] * b[i];
        } else {
            e = d > e ? d : e;
            s = fabs(b[i]) > s ? fabs(b[i]) : s;
        }
    }
    if (l2) {
        e = sqrt(e);
        s = sqrt(s);
    }
    return s > 0 ? e / s : e;
}

static float *get_param(train_net *n, int i, int grad, int64_t *count)
{
    train_param_info pi;
    train_net_param_info(n, i, &pi);
    float *v = malloc(sizeof(float) * (size_t)pi.count);
    assert_non_null(v);
    assert_int_equal(train_net_param_get(n, i, grad, v), 0);
    *count = pi.count;
    return v;
}

/* The next trainable parameter at index >= *i of two nets built from one graph:
 * its info and both nets' gradients (caller frees). 0 when there is none left. */
static int next_grads(train_net *n[2], int *i, train_param_info *pi, float **a, float **b,
                      int64_t *cnt)
{
    for (; *i < train_net_nparams(n[0]); ++*i) {
        train_net_param_info(n[0], *i, pi);
        if (!pi->trainable)
            continue;
        *a = get_param(n[0], *i, 1, cnt);
        *b = get_param(n[1], *i, 1, cnt);
        return 1;
    }
    return 0;
}

static void compare(int net, int fuse)
{
    int c = net == 6 ? 1 : 3, hw = net == 6 ? 28 : 9;
    graph *g = tn_build(net, c, hw, hw, K);
    train_net *n[2];
    char err[512];
    for (int p = 0; p < 2; p++) {
        train_net_opts o = {.seed = 21 + (uint64_t)net, .fuse = fuse, .bf16 = p};
        if (train_net_build(g, B, &o, &n[p], err, sizeof err))
            fail_msg("net %s (%s): build: %s", tn_names[net], p ? "bf16" : "fp32", err);
    }
    /* no reference implementation of anything where fp32 has none (a residual add
     * of two bf16 layouts once took seconds per call in ref:any) */
    if (n[1]->ref_impls || (strstr(train_net_impls(n[1]), ": ref") &&
                            !strstr(train_net_impls(n[0]), ": ref")))
        fail_msg("net %s bf16 uses a reference implementation:\n%s", tn_names[net],
                 train_net_impls(n[1]));
    /* the convolutions and linear layers really are bf16 in one, fp32 in the other */
    int low = 0;
    for (int k = 0; k < g->n; k++) {
        graph_op op = g->nodes[k].op;
        if ((op == GRAPH_OP_CONV2D || op == GRAPH_OP_LINEAR) && n[1]->L[k].alias == k) {
            assert_int_equal(tn_md(n[1]->L[k].dst)->data_type, dnnl_bf16);
            assert_int_equal(tn_md(n[0]->L[k].dst)->data_type, dnnl_f32);
            assert_non_null(n[1]->L[k].wlow);
            low++;
        }
    }
    assert_true(low > 0);
    size_t per = (size_t)B * c * hw * hw;
    int32_t y[B];
    for (int i = 0; i < B; i++)
        y[i] = i % K;
    float *z[2];
    size_t zc = (size_t)B * K;
    double worst_logits = 0, worst_grad = 0, worst_update = 0;
    int differ = 0, np = train_net_nparams(n[0]);
    assert_int_equal(np, train_net_nparams(n[1]));
    float **init = calloc((size_t)np, sizeof *init);
    for (int i = 0; i < np; i++) {
        int64_t cnt;
        init[i] = get_param(n[0], i, 0, &cnt);
        float *other = get_param(n[1], i, 0, &cnt);
        if (memcmp(init[i], other, sizeof(float) * (size_t)cnt))
            fail_msg("net %s: parameter %d starts different in bf16", tn_names[net], i);
        free(other);
    }
    for (int s = 0; s < STEPS; s++) {
        double loss[2];
        for (int p = 0; p < 2; p++) {
            fill(n[p], per, 500 + (uint64_t)s);
            assert_int_equal(train_net_forward(n[p], 1), 0);
            z[p] = malloc(sizeof(float) * zc);
            assert_int_equal(train_net_node_get(n[p], g->output, 0, z[p]), 0);
            assert_int_equal(train_net_loss(n[p], y, B, 1, &loss[p], NULL), 0);
            assert_int_equal(train_net_backward(n[p]), 0);
        }
        double e = rel(z[1], z[0], zc, 0);
        differ |= memcmp(z[0], z[1], sizeof(float) * zc) != 0;
        worst_logits = e > worst_logits ? e : worst_logits;
        if (e > TOL_LOGITS)
            fail_msg("net %s fuse %d step %d: bf16 logits off by %.3g of max (tolerance %g)",
                     tn_names[net], fuse, s, e, TOL_LOGITS);
        if (s == 0) {
            train_param_info pi;
            float *a, *b;
            int64_t cnt;
            for (int i = 0; next_grads(n, &i, &pi, &a, &b, &cnt); i++) {
                double eg = rel(b, a, (size_t)cnt, 1);
                worst_grad = eg > worst_grad ? eg : worst_grad;
                if (getenv("BF16_VERBOSE"))
                    print_message("    node %d (%s) %s: %.3g\n", pi.node,
                                  graph_op_name(g->nodes[pi.node].op), pi.name, eg);
                if (eg > TOL_GRAD)
                    fail_msg("net %s fuse %d: gradient of node %d %s off by %.3g of max in bf16 "
                             "(tolerance %g)", tn_names[net], fuse, pi.node, pi.name, eg, TOL_GRAD);
                free(a);
                free(b);
            }
        }
        for (int p = 0; p < 2; p++) {
            train_sgd sgd = {0.05, 0.9, 5e-4};
            assert_int_equal(train_net_update(n[p], &sgd), 0);
            free(z[p]);
        }
    }
    for (int i = 0; i < np; i++) {
        train_param_info pi;
        train_net_param_info(n[0], i, &pi);
        int64_t cnt;
        float *a = get_param(n[0], i, 0, &cnt), *b = get_param(n[1], i, 0, &cnt);
        for (int64_t j = 0; j < cnt; j++) {
            a[j] -= init[i][j];
            b[j] -= init[i][j];
        }
        double eu = rel(b, a, (size_t)cnt, 1);
        worst_update = eu > worst_update ? eu : worst_update;
        if (eu > TOL_UPDATE)
            fail_msg("net %s fuse %d: node %d %s moved %.3g (L2, relative) apart in bf16 over %d "
                     "steps (tolerance %g)", tn_names[net], fuse, pi.node, pi.name, eu, STEPS,
                     TOL_UPDATE);
        free(a);
        free(b);
        free(init[i]);
    }
    free(init);
    if (!differ)
        fail_msg("net %s: bf16 and fp32 logits are identical: bf16 did not run", tn_names[net]);
    print_message("  %-12s fuse %d: worst bf16/fp32 difference: logits %.3g, gradients %.3g, "
                  "updates over %d steps %.3g\n", tn_names[net], fuse, worst_logits, worst_grad,
                  STEPS, worst_update);
    train_net_free(n[0]);
    train_net_free(n[1]);
    graph_free(g);
}

static void test_bf16_agrees_with_fp32(void **state)
{
    (void)state;
    need_bf16();
    for (int i = 0; i < BF16_NETS; i++)
        compare(i, 1);
    compare(0, 0);
    compare(4, 0);
}

/* The trainer's own C loops in bf16 against oneDNN (train_net_opts.onednn_only)
 * on the same weights, two batches. Max pooling (train_pool.c): a maximum is
 * one of its inputs and, windows not overlapping, each input gradient one
 * output gradient, so the pooled outputs, the logits and every gradient agree
 * bit for bit (a wrong channels-last stride, a window index off by one, a bf16
 * element read as half a float would not). Nets 0 and 6 must take the C path:
 * 2x2 pools on a blocked and, after a bf16 convolution, a channels-last layout.
 * The one-channel first conv's weight gradient (train_wgrad.c, net 6) reads
 * the fp32 input where oneDNN reads its bf16 copy: within 1% (L2). */
static void test_bf16_c_pool_matches_onednn(void **state)
{
    (void)state;
    need_bf16();
    static const int nets[] = {0, 6, 7, 2, 10};  /* 2, 10: overlapping windows, oneDNN's */
    for (size_t q = 0; q < sizeof nets / sizeof nets[0]; q++) {
        int net = nets[q], c = net == 6 ? 1 : 3, hw = net == 6 ? 28 : 9;
        graph *g = tn_build(net, c, hw, hw, K);
        train_net *n[2];
        char err[512];
        for (int p = 0; p < 2; p++) {
            train_net_opts o = {.seed = 8, .fuse = 1, .keep_all = 1, .bf16 = 1, .onednn_only = p};
            if (train_net_build(g, B, &o, &n[p], err, sizeof err))
                fail_msg("net %s: build: %s", tn_names[net], err);
        }
        int pools = 0, c_pools = 0, cl = 0, wgrad = 0;
        for (int k = 0; k < g->n; k++)
            if (g->nodes[k].op == GRAPH_OP_MAXPOOL2D && n[0]->L[k].alias == k) {
                pools++;
                c_pools += n[0]->L[k].c_pool;
                assert_false(n[1]->L[k].c_pool);
                cl += n[0]->L[k].c_pool && tn_md(n[0]->L[k].dst)->format_desc.blocking.strides[1] == 1;
            }
        if (net == 0 || net == 6)
            assert_int_equal(c_pools, pools);
        if (net == 6)
            assert_true(cl > 0);  /* the second stage: channels-last after conv 2 */
        int32_t y[B];
        for (int i = 0; i < B; i++)
            y[i] = i % K;
        for (int s = 0; s < 2; s++) {
            for (int p = 0; p < 2; p++) {
                double l;
                fill(n[p], (size_t)B * c * hw * hw, 70 + (uint64_t)s);
                assert_int_equal(train_net_forward(n[p], 1), 0);
                assert_int_equal(train_net_loss(n[p], y, B, 1, &l, NULL), 0);
                assert_int_equal(train_net_backward(n[p]), 0);
            }
            for (int k = 0; k < g->n; k++) {
                if (g->nodes[k].op != GRAPH_OP_MAXPOOL2D && k != g->output)
                    continue;
                size_t cnt = (size_t)B;
                for (int d = 1; d < g->nodes[k].shape.rank; d++)
                    cnt *= (size_t)g->nodes[k].shape.dim[d];
                float *a = malloc(sizeof(float) * cnt), *b = malloc(sizeof(float) * cnt);
                assert_int_equal(train_net_node_get(n[0], k, 0, a), 0);
                assert_int_equal(train_net_node_get(n[1], k, 0, b), 0);
                if (memcmp(a, b, sizeof(float) * cnt))
                    fail_msg("net %s step %d: node %d (%s) differs from oneDNN's pooling",
                             tn_names[net], s, k, graph_op_name(g->nodes[k].op));
                free(a);
                free(b);
            }
            train_param_info pi;
            float *a, *b;
            int64_t cnt;
            for (int i = 0; next_grads(n, &i, &pi, &a, &b, &cnt); i++) {
                const graph_node *pn = &g->nodes[pi.node];
                if (pn->op == GRAPH_OP_CONV2D && g->nodes[pn->inputs[0]].shape.dim[1] == 1) {
                    double e = rel(a, b, (size_t)cnt, 1);
                    if (e > 0.01)
                        fail_msg("net %s step %d: the C weight gradient of node %d %s is %.3g "
                                 "(L2) from oneDNN's", tn_names[net], s, pi.node, pi.name, e);
                    wgrad++;
                } else if (memcmp(a, b, sizeof(float) * (size_t)cnt)) {
                    fail_msg("net %s step %d: gradient of node %d %s differs from oneDNN's",
                             tn_names[net], s, pi.node, pi.name);
                }
                free(a);
                free(b);
            }
        }
        if (net == 6)
            assert_true(wgrad > 0 && tn_c_step(n[0], 1) && !tn_c_step(n[1], 1));
        print_message("  %-12s %d of %d max pools in C (%d channels-last): bit-identical to "
                      "oneDNN's\n", tn_names[net], c_pools, pools, cl);
        train_net_free(n[0]);
        train_net_free(n[1]);
        graph_free(g);
    }
}

/* Ops without a checked bf16 path refuse it with a message, never run it. */
static void test_bf16_refuses_unchecked_ops(void **state)
{
    (void)state;
    int refused = 0;
    for (int i = BF16_NETS; i < TN_COUNT; i++) {
        graph *g = tn_build(i, 3, 8, 8, K);
        train_net_opts o = {.seed = 1, .fuse = 1, .bf16 = 1};
        train_net *n = NULL;
        char err[512];
        int rc = train_net_build(g, B, &o, &n, err, sizeof err);
        if (rc) {
            assert_int_equal(rc, TRAIN_EUNSUPPORTED);
            assert_non_null(strstr(err, "not yet supported in bf16"));
            refused++;
        }
        train_net_free(n);
        graph_free(g);
    }
    print_message("%d of %d later test nets refuse bf16\n", refused, TN_COUNT - BF16_NETS);
    assert_true(TN_COUNT == BF16_NETS || refused > 0);
}

/* The master weights stay fp32: an update far below bf16's resolution of the
 * weight (2^-8 relative) but far above fp32's (2^-24) must show in full. */
static void test_bf16_master_weights_are_fp32(void **state)
{
    (void)state;
    need_bf16();
    graph *g = tn_build(0, 3, 8, 8, K);
    train_net_opts o = {.seed = 3, .fuse = 1, .bf16 = 1};
    train_net *n;
    char err[512];
    assert_int_equal(train_net_build(g, B, &o, &n, err, sizeof err), 0);
    fill(n, (size_t)B * 3 * 8 * 8, 9);
    int32_t y[B] = {0};
    double l;
    assert_int_equal(train_net_forward(n, 1), 0);
    assert_int_equal(train_net_loss(n, y, B, 1, &l, NULL), 0);
    assert_int_equal(train_net_backward(n), 0);
    int checked = 0;
    for (int i = 0; i < train_net_nparams(n); i++) {
        train_param_info pi;
        train_net_param_info(n, i, &pi);
        if (!pi.trainable || strcmp(pi.name, "weight") != 0)
            continue;
        int64_t cnt;
        float *w0 = get_param(n, i, 0, &cnt), *gr = get_param(n, i, 1, &cnt);
        double gmax = 0;
        for (int64_t j = 0; j < cnt; j++)
            gmax = fmax(gmax, fabs(gr[j]));
        /* the largest step is 1e-4 of the weights' typical size: 1/40 of a bf16 ulp */
        double lr = 1e-5 / (gmax > 0 ? gmax : 1);
        train_sgd sgd = {lr, 0.9, 0};  /* first step: w -= lr * g exactly */
        assert_int_equal(train_net_update(n, &sgd), 0);
        float *w1 = get_param(n, i, 0, &cnt);
        int moved = 0;
        for (int64_t j = 0; j < cnt; j++) {
            double want = (double)w0[j] - lr * gr[j];
            if (fabs(w1[j] - want) > 1e-7 * fmax(1, fabs(w0[j])) + 1e-3 * fabs(lr * gr[j]))
                fail_msg("node %d weight[%lld]: %.9g after a step of %.3g, want %.9g", pi.node,
                         (long long)j, w1[j], -lr * gr[j], want);
            moved += w1[j] != w0[j];
        }
        assert_true(moved > cnt / 2);
        checked++;
        free(w0);
        free(gr);
        free(w1);
        break;  /* one tensor: later steps carry momentum */
    }
    assert_true(checked == 1);
    train_net_free(n);
    graph_free(g);
}

/* The precision names and auto's choice follow train_cpu_bf16; an explicit
 * bf16 where it is not native is refused with a message saying what to use. */
static void test_precision_resolve(void **state)
{
    (void)state;
    static const char *const names[] = {"fp32", "bf16", "auto"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(train_precision_parse(names[i]), i);
        assert_string_equal(train_precision_name(i), names[i]);
    }
    assert_int_equal(train_precision_parse("fp16"), -1);
    assert_int_equal(train_precision_parse(NULL), -1);
    assert_null(train_precision_name(3));
    char err[256] = "", why[160];
    int native = train_cpu_bf16(why, sizeof why), bf16 = -1;
    print_message("native bf16: %d (%s)\n", native, why);
    assert_non_null(strstr(why, "oneDNN ISA"));
    assert_int_equal(train_precision_resolve(TRAIN_PRECISION_FP32, &bf16, err, sizeof err), 0);
    assert_int_equal(bf16, 0);
    assert_int_equal(train_precision_resolve(TRAIN_PRECISION_AUTO, &bf16, err, sizeof err), 0);
    assert_int_equal(bf16, native);
    int rc = train_precision_resolve(TRAIN_PRECISION_BF16, &bf16, err, sizeof err);
    if (native) {
        assert_int_equal(rc, 0);
        assert_int_equal(bf16, 1);
    } else {
        assert_int_equal(rc, TRAIN_EUNSUPPORTED);
        assert_non_null(strstr(err, "fp32 or auto"));
    }
    assert_int_equal(train_precision_resolve(7, &bf16, err, sizeof err), TRAIN_EARG);
}

/* A training job records the precision it ran in and learns in both. */
static void test_job_records_precision(void **state)
{
    (void)state;
    need_bf16();
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0)
        skip();
    graph *g = tn_build(6, 1, 28, 28, 10);
    double acc[2], loss[2];
    for (int p = 0; p < 2; p++) {
        train_opts o;
        train_opts_default(&o);
        o.subset = 2048;
        o.val_subset = 1000;
        o.precision = p ? TRAIN_PRECISION_AUTO : TRAIN_PRECISION_FP32;
        train_result r;
        char err[512];
        assert_int_equal(train_evaluate(g, &o, &r, err, sizeof err), 0);
        assert_int_equal(r.bf16, p);
        acc[p] = r.val_acc;
        loss[p] = r.val_loss;
        assert_true(r.val_acc > 0.5);
    }
    print_message("small on 2048 images: val_acc fp32 %.4f, bf16 %.4f; val_loss fp32 %.5f, "
                  "bf16 %.5f\n", acc[0], acc[1], loss[0], loss[1]);
    assert_true(loss[0] != loss[1]);  /* bf16 ran */
    graph_free(g);
}

int main(void)
{
    if (getenv("BF16_TOL_SCALE")) {  /* calibration: scale every tolerance */
        double f = atof(getenv("BF16_TOL_SCALE"));
        TOL_LOGITS *= f, TOL_GRAD *= f, TOL_UPDATE *= f;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precision_resolve),
        cmocka_unit_test(test_bf16_agrees_with_fp32),
        cmocka_unit_test(test_bf16_c_pool_matches_onednn),
        cmocka_unit_test(test_bf16_master_weights_are_fp32),
        cmocka_unit_test(test_bf16_refuses_unchecked_ops),
        cmocka_unit_test(test_job_records_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
