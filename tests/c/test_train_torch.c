/* test_train_torch.c — agreement with PyTorch (Debian's python3-torch, run
 * as /usr/bin/python3 tests/py/train_agree.py DIR).
 *
 * For each network of train_nets.h (together they use every op): export the
 * graph, the initial weights, 10 batches (and the dropout masks drawn), then
 * the first step's logits, loss and every gradient, the weights after 10 SGD
 * steps (momentum, weight decay, cosine schedule) and the inference-mode
 * logits afterwards (BN running statistics). The script rebuilds the network
 * in PyTorch from the same weights, replays the batches and compares; the
 * tolerances are stated in the script. Skipped when torch is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/dataset.h"
#include "train/train.h"
#include "train/train_plan.h"
#include "train_nets.h"

#define STEPS 10

static char dir[256];
static int bf16;  /* the bf16 cases: llmnas in bf16 against PyTorch fp32 and its bf16 autocast */

static void dump(const char *name, const void *p, size_t bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, bytes, f), bytes);
    fclose(f);
}

static void dump_graph(const graph *g)
{
    char path[512];
    snprintf(path, sizeof path, "%s/graph.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int k = 0; k < g->n; k++) {
        const graph_node *n = &g->nodes[k];
        const graph_attrs *a = &n->a;
        fprintf(f, "%d %s %d", k, graph_op_name(n->op), n->n_inputs);
        for (int j = 0; j < n->n_inputs; j++)
            fprintf(f, " %d", n->inputs[j]);
        fprintf(f, " shape %d", n->shape.rank);
        for (int i = 1; i < n->shape.rank; i++)
            fprintf(f, " %lld", (long long)n->shape.dim[i]);
        fprintf(f, " out %lld k %d %d s %d %d p %d %d d %d %d g %d bias %d ceil %d incl %d "
                   "eps %.9g mom %.9g slope %.9g drop %.9g approx %d other %.17g alpha %.17g "
                   "np %lld init %.17g dim %d\n",
                (long long)a->out, a->kernel[0], a->kernel[1], a->stride[0], a->stride[1],
                a->padding[0], a->padding[1], a->dilation[0], a->dilation[1], a->groups, a->bias,
                a->ceil_mode, a->count_include_pad, a->eps, a->momentum, a->negative_slope, a->p,
                a->approximate_tanh, a->other, a->alpha, (long long)a->num_parameters, a->init,
                a->dim);
    }
    fprintf(f, "output %d\n", g->output);
    fclose(f);
}

static void dump_params(train_net *n, const char *prefix, int grad)
{
    for (int i = 0; i < train_net_nparams(n); i++) {
        train_param_info pi;
        train_net_param_info(n, i, &pi);
        if (grad && !pi.trainable)
            continue;
        float *v = malloc(sizeof(float) * (size_t)pi.count);
        assert_int_equal(train_net_param_get(n, i, grad, v), 0);
        char name[64];
        snprintf(name, sizeof name, "%s%d.bin", prefix, i);
        dump(name, v, sizeof(float) * (size_t)pi.count);
        free(v);
    }
}

static void agree(int net, int fuse, int c, int h, int w, int classes, int batch, double lr)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();  /* counted as skipped: tests/run.sh fails the run unless SKIP_OK=1 */
    snprintf(dir, sizeof dir, "/tmp/test_train_torch.XXXXXX");
    assert_non_null(mkdtemp(dir));
    graph *g = tn_build(net, c, h, w, classes);
    train_net_opts o = {.seed = 11 + (uint64_t)net, .fuse = fuse, .bf16 = bf16};
    train_net *n;
    char err[512];
    if (train_net_build(g, batch, &o, &n, err, sizeof err))
        fail_msg("%s: %s", tn_names[net], err);
    dump_graph(g);
    {
        char path[512];
        snprintf(path, sizeof path, "%s/params.txt", dir);
        FILE *f = fopen(path, "w");
        for (int i = 0; i < train_net_nparams(n); i++) {
            train_param_info pi;
            train_net_param_info(n, i, &pi);
            fprintf(f, "%d %d %s %lld %d\n", i, pi.node, pi.name, (long long)pi.count, pi.trainable);
        }
        fprintf(f, "batch %d steps %d lr %.9g momentum 0.9 wd 0.0005 input %d %d %d classes %d\n",
                batch, STEPS, lr, c, h, w, classes);
        fclose(f);
    }
    dump_params(n, "init", 0);
    uint64_t rng = 1000 + (uint64_t)net;
    size_t per = (size_t)batch * c * h * w;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
    size_t out_count = (size_t)batch * (size_t)classes;
    float *z = malloc(sizeof(float) * out_count);
    double losses[STEPS];
    train_opts sched;  /* the trainer's own schedule, compared with CosineAnnealingLR */
    train_opts_default(&sched);
    sched.lr = lr;
    sched.cosine = 1;
    for (int s = 0; s < STEPS; s++) {
        float *x = train_net_input(n);
        for (size_t i = 0; i < per; i++)
            x[i] = (float)(ds_rand_uniform(&rng) * 2 - 1);
        for (int i = 0; i < batch; i++)
            y[i] = (int32_t)(ds_rand(&rng) % (uint64_t)classes);
        char name[64];
        snprintf(name, sizeof name, "x%d.bin", s);
        dump(name, x, sizeof(float) * per);
        snprintf(name, sizeof name, "y%d.bin", s);
        dump(name, y, sizeof(int32_t) * (size_t)batch);
        assert_int_equal(train_net_forward(n, 1), 0);
        for (int k = 0; k < g->n; k++)
            if ((g->nodes[k].op == GRAPH_OP_DROPOUT || g->nodes[k].op == GRAPH_OP_DROPOUT2D) &&
                g->nodes[k].a.p > 0) {
                const graph_shape *ks = &g->nodes[k].shape;
                size_t cnt = (size_t)batch * (size_t)ks->dim[1] *
                             (size_t)(ks->rank == 4 ? ks->dim[2] * ks->dim[3] : 1);
                float *m = malloc(sizeof(float) * cnt);
                assert_int_equal(train_net_node_get(n, k, 2, m), 0);
                snprintf(name, sizeof name, "mask%d_%d.bin", k, s);
                dump(name, m, sizeof(float) * cnt);
                free(m);
            }
        assert_int_equal(train_net_loss(n, y, batch, 1, &losses[s], NULL), 0);
        if (s == 0) {
            assert_int_equal(train_net_node_get(n, g->output, 0, z), 0);
            dump("logits0.bin", z, sizeof(float) * out_count);
        }
        assert_int_equal(train_net_backward(n), 0);
        if (s == 0)
            dump_params(n, "grad", 1);
        train_sgd sgd = {train_lr_at(&sched, s, STEPS), 0.9, 5e-4};
        assert_int_equal(train_net_update(n, &sgd), 0);
        if (s == 0)
            dump_params(n, "step1_", 0);
    }
    dump("losses.bin", losses, sizeof losses);
    dump_params(n, "final", 0);
    /* inference mode on the first batch again */
    {
        char path[512];
        snprintf(path, sizeof path, "%s/x0.bin", dir);
        FILE *f = fopen(path, "rb");
        assert_int_equal(fread(train_net_input(n), sizeof(float), per, f), per);
        fclose(f);
    }
    assert_int_equal(train_net_forward(n, 0), 0);
    assert_int_equal(train_net_node_get(n, g->output, 0, z), 0);
    dump("eval_logits.bin", z, sizeof(float) * out_count);
    free(y);
    free(z);
    train_net_free(n);
    graph_free(g);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/py/train_agree.py %s %s%s", dir, tn_names[net],
             bf16 ? " --bf16" : "");
    int rc = system(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
    if (WEXITSTATUS(rc) == 77)
        skip();
    if (rc != 0)
        fail_msg("%s (fuse %d): PyTorch disagrees (see above)", tn_names[net], fuse);
}

/* train_lr_at against torch.optim.lr_scheduler.CosineAnnealingLR, step by step: the
 * learning rate of every step of a run of 7 (T_max = 7), then of a run of 1000 (where an
 * off-by-one step is a relative error of only ~1e-5), and the constant rate without cosine. */
static void test_torch_cosine_schedule(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    static const int totals[] = {7, 1000};
    for (size_t t = 0; t < sizeof totals / sizeof *totals; t++) {
        int total = totals[t];
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import sys\ntry:\n import torch\nexcept ImportError:\n"
                 " sys.exit(77)\np = torch.nn.Parameter(torch.zeros(1))\n"
                 "o = torch.optim.SGD([p], lr=0.05)\n"
                 "s = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=%d)\n"
                 "for i in range(%d):\n print(repr(o.param_groups[0][\"lr\"]))\n o.step()\n"
                 " s.step()\n'",
                 total, total);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        train_opts o;
        train_opts_default(&o);
        o.lr = 0.05;
        o.cosine = 1;
        int k = 0;
        double ref;
        while (fscanf(f, "%lf", &ref) == 1) {
            double ours = train_lr_at(&o, k, total);
            if (!(fabs(ours - ref) <= 1e-12 + 1e-9 * ref))
                fail_msg("step %d of %d: lr %.12g, CosineAnnealingLR %.12g", k, total, ours,
                         ref);
            k++;
        }
        int rc = pclose(f);
        if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
            skip();
        assert_int_equal(rc, 0);
        assert_int_equal(k, total);
        o.cosine = 0;
        assert_true(train_lr_at(&o, total / 2, total) == 0.05);
    }
}

static void test_torch_cbrp(void **s) { (void)s; agree(0, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_grouped_dropout(void **s) { (void)s; agree(1, 1, 3, 9, 9, 5, 8, 0.05); }
static void test_torch_gelu_pools(void **s) { (void)s; agree(2, 1, 3, 9, 9, 5, 8, 0.05); }
static void test_torch_cat(void **s) { (void)s; agree(3, 0, 3, 6, 6, 5, 8, 0.05); }
static void test_torch_residual_se(void **s) { (void)s; agree(4, 1, 3, 8, 8, 5, 8, 0.05); agree(4, 0, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_identity_cat(void **s) { (void)s; agree(5, 1, 2, 5, 5, 5, 8, 0.05); }
static void test_torch_small(void **s) { (void)s; agree(6, 1, 1, 28, 28, 10, 32, 0.01); }
static void test_torch_relayout(void **s) { (void)s; agree(7, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_wide(void **s) { (void)s; agree(8, 1, 3, 16, 16, 5, 32, 0.05); }
static void test_torch_dense_cat(void **s) { (void)s; agree(9, 1, 3, 6, 6, 5, 8, 0.05); }
static void test_torch_pools(void **s) { (void)s; agree(10, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_scalar_bcast(void **s) { (void)s; agree(11, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_layernorm(void **s) { (void)s; agree(13, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_prelu_elu_mish_max(void **s) { (void)s; agree(14, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_softmax_dropout2d(void **s) { (void)s; agree(15, 1, 3, 8, 8, 5, 8, 0.05); }
static void test_torch_bn1d(void **s) { (void)s; agree(12, 1, 3, 8, 8, 5, 8, 0.05); agree(12, 0, 3, 8, 8, 5, 8, 0.05); }

/* bf16: where the CPU has it natively (skipped elsewhere), on the nets that
 * cover conv / BN / pooling / dropout / residual and SE / linear, with a
 * batch large enough for BN statistics that bf16 rounding does not dominate. */
static void test_torch_bf16(void **s)
{
    (void)s;
    char why[160];
    if (!train_cpu_bf16(why, sizeof why)) {
        print_message("no native bf16 (%s)\n", why);
        skip();
    }
    bf16 = 1;
    agree(0, 1, 3, 8, 8, 5, 32, 0.05);
    agree(1, 1, 3, 9, 9, 5, 32, 0.05);
    agree(4, 0, 3, 8, 8, 5, 32, 0.05);
    agree(6, 1, 1, 28, 28, 10, 32, 0.01);
    agree(8, 1, 3, 16, 16, 5, 32, 0.05);
    agree(9, 1, 3, 6, 6, 5, 32, 0.05);
    bf16 = 0;
}

int main(void)
{
    /* LLMNAS_TEST_ONLY=pattern (cmocka's wildcards): only the matching tests (make mutants) */
    if (getenv("LLMNAS_TEST_ONLY"))
        cmocka_set_test_filter(getenv("LLMNAS_TEST_ONLY"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_cosine_schedule),
        cmocka_unit_test(test_torch_cbrp),
        cmocka_unit_test(test_torch_grouped_dropout),
        cmocka_unit_test(test_torch_gelu_pools),
        cmocka_unit_test(test_torch_cat),
        cmocka_unit_test(test_torch_residual_se),
        cmocka_unit_test(test_torch_identity_cat),
        cmocka_unit_test(test_torch_small),
        cmocka_unit_test(test_torch_relayout),
        cmocka_unit_test(test_torch_wide),
        cmocka_unit_test(test_torch_dense_cat),
        cmocka_unit_test(test_torch_pools),
        cmocka_unit_test(test_torch_scalar_bcast),
        cmocka_unit_test(test_torch_bn1d),
        cmocka_unit_test(test_torch_layernorm),
        cmocka_unit_test(test_torch_prelu_elu_mish_max),
        cmocka_unit_test(test_torch_softmax_dropout2d),
        cmocka_unit_test(test_torch_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
