/* test_graph.c — graph IR: shape rules, counts, canonical form and hash, JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static char err[512];

static int add1(graph *g, graph_op op, const graph_attrs *a, int in)
{
    int id = -1;
    int rc = graph_add(g, op, a, &in, 1, 0, &id, err, sizeof err);
    if (rc)
        fail_msg("graph_add(%s): %s", graph_op_name(op), err);
    return id;
}

static int add2(graph *g, graph_op op, int x, int y)
{
    int in[2] = {x, y}, id = -1;
    int rc = graph_add(g, op, NULL, in, 2, 0, &id, err, sizeof err);
    if (rc)
        fail_msg("graph_add(%s): %s", graph_op_name(op), err);
    return id;
}

static int conv(graph *g, int in, int out, int k, int stride, int pad, int bias)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_CONV2D, &a);
    a.out = out;
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.padding[0] = a.padding[1] = pad;
    a.bias = bias;
    return add1(g, GRAPH_OP_CONV2D, &a, in);
}

static int pool(graph *g, graph_op op, int in, int k, int stride, int pad, int ceil)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.padding[0] = a.padding[1] = pad;
    a.ceil_mode = ceil;
    return add1(g, op, &a, in);
}

static int linear(graph *g, int in, int out)
{
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_LINEAR, &a);
    a.out = out;
    return add1(g, GRAPH_OP_LINEAR, &a, in);
}

static int cbr(graph *g, int x, int c)
{
    x = conv(g, x, c, 3, 1, 1, 0);
    x = add1(g, GRAPH_OP_BATCHNORM2D, NULL, x);
    return add1(g, GRAPH_OP_RELU, NULL, x);
}

/* The "small" reference network of /work/shared/bench. */
static graph *small_net(void)
{
    graph *g;
    assert_int_equal(graph_new(&g, 1, 28, 28), 0);
    int x = pool(g, GRAPH_OP_MAXPOOL2D, cbr(g, 0, 32), 2, 0, 0, 0);
    x = pool(g, GRAPH_OP_MAXPOOL2D, cbr(g, x, 64), 2, 0, 0, 0);
    x = linear(g, add1(g, GRAPH_OP_FLATTEN, NULL, x), 10);
    assert_int_equal(graph_set_output(g, x, 10, err, sizeof err), 0);
    assert_int_equal(graph_finalize(g), 0);
    return g;
}

static void test_small_counts(void **state)
{
    (void)state;
    graph *g = small_net();
    graph_stats s;
    graph_stats_get(g, &s);
    assert_int_equal(s.params, 50282);
    assert_int_equal(s.flops, 7739648);  /* 7.74 MFLOP, bench/README.md */
    assert_int_equal(s.layers, 10);
    char b[64];
    assert_string_equal(graph_shape_str(&g->nodes[g->output].shape, b, sizeof b), "[B, 10]");
    graph_free(g);
}

static void test_vgg_counts(void **state)
{
    (void)state;
    graph *g;
    assert_int_equal(graph_new(&g, 1, 28, 28), 0);
    int x = pool(g, GRAPH_OP_MAXPOOL2D, cbr(g, cbr(g, 0, 64), 64), 2, 0, 0, 0);
    x = pool(g, GRAPH_OP_MAXPOOL2D, cbr(g, cbr(g, x, 128), 128), 2, 0, 0, 0);
    x = cbr(g, cbr(g, x, 256), 256);
    x = add1(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, NULL, x);
    x = linear(g, add1(g, GRAPH_OP_FLATTEN, NULL, x), 10);
    assert_int_equal(graph_set_output(g, x, 10, err, sizeof err), 0);
    graph_stats s;
    graph_stats_get(g, &s);
    assert_int_equal(s.params, 1147722);
    assert_true(s.flops > 232115000 && s.flops < 232125000);
    graph_free(g);
}

static void test_window_rules(void **state)
{
    (void)state;
    graph *g;
    assert_int_equal(graph_new(&g, 3, 7, 7), 0);
    /* ceil_mode: 7 -> ceil((7-3)/2)+1 = 3 either way; 8 with k2 s2: 4 */
    int a = pool(g, GRAPH_OP_MAXPOOL2D, 0, 2, 2, 0, 1);
    assert_int_equal(g->nodes[a].shape.dim[2], 4);  /* floor would give 3 */
    int b = pool(g, GRAPH_OP_MAXPOOL2D, 0, 2, 2, 0, 0);
    assert_int_equal(g->nodes[b].shape.dim[2], 3);
    /* the last window must start inside the input or left padding */
    int c = pool(g, GRAPH_OP_AVGPOOL2D, 0, 3, 3, 1, 1);
    assert_int_equal(g->nodes[c].shape.dim[2], 3);
    /* conv with dilation 2: effective kernel 5 */
    graph_attrs at;
    graph_attrs_default(GRAPH_OP_CONV2D, &at);
    at.out = 6;
    at.kernel[0] = at.kernel[1] = 3;
    at.dilation[0] = at.dilation[1] = 2;
    at.groups = 3;
    int d = add1(g, GRAPH_OP_CONV2D, &at, 0);
    assert_int_equal(g->nodes[d].shape.dim[2], 3);
    assert_int_equal(g->nodes[d].params, 6 * 1 * 9 + 6);
    assert_int_equal(g->nodes[d].flops, 2 * 6 * 9 * 9);
    /* pool stride defaults to the kernel */
    graph_attrs pa;
    graph_attrs_default(GRAPH_OP_MAXPOOL2D, &pa);
    pa.kernel[0] = pa.kernel[1] = 3;
    int e = add1(g, GRAPH_OP_MAXPOOL2D, &pa, 0);
    assert_int_equal(g->nodes[e].a.stride[0], 3);
    assert_int_equal(g->nodes[e].shape.dim[3], 2);
    graph_free(g);
}

static void test_errors(void **state)
{
    (void)state;
    graph *g;
    int id, in = 0;
    assert_int_equal(graph_new(&g, 32, 7, 7), 0);
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_LINEAR, &a);
    a.out = 10;
    assert_int_equal(graph_add(g, GRAPH_OP_LINEAR, &a, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_ESHAPE);
    assert_non_null(strstr(err, "Linear: expected a [B, F] input, got [B, 32, 7, 7]"));
    graph_attrs_default(GRAPH_OP_CONV2D, &a);
    a.out = 8;
    a.kernel[0] = a.kernel[1] = 0;
    assert_int_equal(graph_add(g, GRAPH_OP_CONV2D, &a, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_EARG);
    assert_non_null(strstr(err, "kernel_size must be positive, got 0"));
    a.kernel[0] = a.kernel[1] = 9;
    assert_int_equal(graph_add(g, GRAPH_OP_CONV2D, &a, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_ESHAPE);
    assert_non_null(strstr(err, "[B, 32, 7, 7]"));
    a.kernel[0] = a.kernel[1] = 3;
    a.groups = 5;
    assert_int_equal(graph_add(g, GRAPH_OP_CONV2D, &a, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_ESHAPE);
    /* pool padding above half the kernel */
    graph_attrs_default(GRAPH_OP_MAXPOOL2D, &a);
    a.kernel[0] = a.kernel[1] = 2;
    a.padding[0] = a.padding[1] = 2;
    assert_int_equal(graph_add(g, GRAPH_OP_MAXPOOL2D, &a, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_EARG);
    /* broadcasting */
    int p = pool(g, GRAPH_OP_MAXPOOL2D, 0, 2, 2, 0, 0);
    int two[2] = {0, p};
    assert_int_equal(graph_add(g, GRAPH_OP_ADD, NULL, two, 2, 3, &id, err, sizeof err),
                     GRAPH_ESHAPE);
    assert_non_null(strstr(err, "cannot be broadcast"));
    int se = add1(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, NULL, 0);
    int m = add2(g, GRAPH_OP_MUL, 0, se);
    assert_int_equal(g->nodes[m].shape.dim[2], 7);
    /* output check */
    assert_int_equal(graph_set_output(g, m, 10, err, sizeof err), GRAPH_ESHAPE);
    assert_non_null(strstr(err, "must be [B, 10], got [B, 32, 7, 7]"));
    /* bad input id */
    in = 999;
    assert_int_equal(graph_add(g, GRAPH_OP_RELU, NULL, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_EARG);
    /* huge: overflow is refused, not wrapped */
    graph_attrs_default(GRAPH_OP_CONV2D, &a);
    a.out = (int64_t)1 << 29;
    a.kernel[0] = a.kernel[1] = 3;
    in = 0;
    assert_int_equal(graph_add(g, GRAPH_OP_CONV2D, &a, &in, 1, 3, &id, err, sizeof err), 0);
    a.kernel[0] = a.kernel[1] = 1;
    in = id;
    /* 2^58 params fit, but 2 x 49 x 2^58 FLOPs do not */
    assert_int_equal(graph_add(g, GRAPH_OP_CONV2D, &a, &in, 1, 3, &id, err, sizeof err),
                     GRAPH_ETOOBIG);
    graph_free(g);
}

static void test_node_cap(void **state)
{
    (void)state;
    graph *g;
    assert_int_equal(graph_new(&g, 1, 4, 4), 0);
    g->max_nodes = 100;
    int x = 0, id, rc = 0, n = 0;
    while ((rc = graph_add(g, GRAPH_OP_RELU, NULL, &x, 1, 0, &id, err, sizeof err)) == 0) {
        x = id;
        n++;
    }
    assert_int_equal(rc, GRAPH_ETOOBIG);
    assert_int_equal(n, 99);
    assert_non_null(strstr(err, "too many layers"));
    graph_free(g);
}

/* Two residual branches; `swap` creates them in the other order, and names
 * the operands of add the other way round. */
static char *branches_json(int swap, int variant, char hash[GRAPH_HASH_HEX])
{
    graph *g;
    assert_int_equal(graph_new(&g, 3, 16, 16), 0);
    int stem = cbr(g, 0, 16);
    int a, b;
    if (!swap) {
        a = conv(g, stem, 16, 3, 1, 1, 0);
        b = conv(g, stem, 16, 1, 1, 0, variant);
    } else {
        add1(g, GRAPH_OP_RELU, NULL, stem);  /* dead node */
        b = conv(g, stem, 16, 1, 1, 0, variant);
        a = conv(g, stem, 16, 3, 1, 1, 0);
    }
    int s = swap ? add2(g, GRAPH_OP_ADD, b, a) : add2(g, GRAPH_OP_ADD, a, b);
    int in[2] = {s, stem}, c;
    assert_int_equal(graph_add(g, GRAPH_OP_CAT, NULL, in, 2, 0, &c, err, sizeof err), 0);
    int x = add1(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, NULL, c);
    x = linear(g, add1(g, GRAPH_OP_FLATTEN, NULL, x), 10);
    assert_int_equal(graph_set_output(g, x, 10, err, sizeof err), 0);
    assert_int_equal(graph_hash(g, hash), 0);  /* before finalize: same canonical bytes */
    assert_int_equal(graph_finalize(g), 0);
    char h2[GRAPH_HASH_HEX];
    assert_int_equal(graph_hash(g, h2), 0);
    assert_string_equal(hash, h2);
    char *j = graph_to_json(g);
    graph_free(g);
    return j;
}

static void test_canonical(void **state)
{
    (void)state;
    char h1[GRAPH_HASH_HEX], h2[GRAPH_HASH_HEX], h3[GRAPH_HASH_HEX];
    char *j1 = branches_json(0, 0, h1), *j2 = branches_json(1, 0, h2);
    char *j3 = branches_json(0, 1, h3);
    assert_string_equal(j1, j2);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 32);
    assert_string_not_equal(h1, h3);  /* one bias flag differs */
    assert_null(strchr(j1, ' '));
    assert_non_null(strstr(j1, "{\"input\":[3,16,16],\"nodes\":[{\"op\":\"Input\"},"));
    free(j1), free(j2), free(j3);
}

static void test_hash_sensitivity(void **state)
{
    (void)state;
    /* cat is not commutative; one stride, one pool mode each change the hash */
    char hs[6][GRAPH_HASH_HEX];
    for (int v = 0; v < 6; v++) {
        graph *g;
        assert_int_equal(graph_new(&g, 3, 8, 8), 0);
        int a = conv(g, 0, 4, 3, 1, 1, 1), b = conv(g, 0, 8, 3, 1, 1, 1);
        int in[2] = {v == 1 ? b : a, v == 1 ? a : b}, c;
        assert_int_equal(graph_add(g, GRAPH_OP_CAT, NULL, in, 2, 0, &c, err, sizeof err), 0);
        int p = pool(g, v == 2 ? GRAPH_OP_AVGPOOL2D : GRAPH_OP_MAXPOOL2D, c, 2,
                     v == 3 ? 1 : 2, 0, v == 4);
        int x = linear(g, add1(g, GRAPH_OP_FLATTEN, NULL, p), v == 5 ? 11 : 10);
        assert_int_equal(graph_set_output(g, x, 0, err, sizeof err), 0);
        assert_int_equal(graph_hash(g, hs[v]), 0);
        graph_free(g);
    }
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            assert_string_not_equal(hs[i], hs[j]);
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    char h[GRAPH_HASH_HEX], h2[GRAPH_HASH_HEX];
    char *j = branches_json(0, 0, h);
    graph *g;
    assert_int_equal(graph_from_json(j, &g, err, sizeof err), 0);
    char *j2 = graph_to_json(g);
    assert_string_equal(j, j2);
    assert_int_equal(graph_hash(g, h2), 0);
    assert_string_equal(h, h2);
    assert_int_equal(g->classes, 10);
    graph_free(g);
    free(j2);
    free(j);

    g = small_net();
    j = graph_to_json(g);
    graph_free(g);
    assert_int_equal(graph_from_json(j, &g, err, sizeof err), 0);
    graph_stats s;
    graph_stats_get(g, &s);
    assert_int_equal(s.params, 50282);
    graph_free(g);
    free(j);
}

static void test_json_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "[]", "{\"version\":1}", "not json",
        "{\"input\":[1,28,28],\"nodes\":[{\"op\":\"Input\"}],\"output\":0,\"version\":2}",
        "{\"input\":[1,28,28],\"nodes\":[{\"op\":\"Input\"},{\"op\":\"Frob\",\"inputs\":[0]}],"
        "\"output\":1,\"version\":1}",
        "{\"input\":[1,28,28],\"nodes\":[{\"op\":\"Input\"},{\"op\":\"ReLU\",\"inputs\":[1]}],"
        "\"output\":1,\"version\":1}",
        "{\"input\":[1,28,28],\"nodes\":[{\"op\":\"Input\"},{\"op\":\"ReLU\",\"inputs\":[0],"
        "\"kernel\":[3,3]}],\"output\":1,\"version\":1}",
        "{\"input\":[1,28,28],\"nodes\":[{\"op\":\"Input\"},{\"op\":\"Linear\",\"inputs\":[0],"
        "\"out\":10}],\"output\":1,\"version\":1}",
        "{\"input\":[1,28,28],\"nodes\":[{\"op\":\"Input\"}],\"output\":0,\"version\":1,\"x\":1}",
        "{\"input\":[0,28,28],\"nodes\":[{\"op\":\"Input\"}],\"output\":0,\"version\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        graph *g = (graph *)1;
        int rc = graph_from_json(bad[i], &g, err, sizeof err);
        if (rc == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_null(g);
        assert_true(strlen(err) > 0);
    }
}

static void test_names(void **state)
{
    (void)state;
    for (int op = 0; op < GRAPH_OP_COUNT; op++)
        assert_int_equal(graph_op_from_name(graph_op_name((graph_op)op)), op);
    assert_int_equal(graph_op_from_name("conv2d"), -1);
    assert_non_null(strstr(graph_strerror(GRAPH_ESHAPE), "GRAPH_ESHAPE"));
}

/* ---- randomized: the same DAG created in different topological orders ---- */

typedef struct spec {
    graph_op op;
    int out;          /* conv channels */
    int in[3], n_in;
} spec;

static unsigned rnd(unsigned *st)
{
    *st = *st * 1103515245u + 12345u;
    return (*st >> 16) & 0x7fff;
}

/* Channels of spec node i (inputs have smaller ids). */
static int spec_channels(const spec *sp, int i)
{
    switch (sp[i].op) {
    case GRAPH_OP_INPUT: return 3;
    case GRAPH_OP_CONV2D: return sp[i].out;
    case GRAPH_OP_CAT: {
        int c = 0;
        for (int k = 0; k < sp[i].n_in; k++)
            c += spec_channels(sp, sp[i].in[k]);
        return c;
    }
    default: return spec_channels(sp, sp[i].in[0]);
    }
}

static int random_spec(spec *sp, int n, unsigned *st)
{
    sp[0].op = GRAPH_OP_INPUT;
    for (int i = 1; i < n; i++) {
        spec *s = &sp[i];
        int r = (int)(rnd(st) % 4);
        int a = (int)(rnd(st) % (unsigned)(rnd(st) % 2 ? i : (i < 3 ? i : 3)));
        s->in[0] = a;
        s->n_in = 1;
        s->op = GRAPH_OP_RELU;
        if (r == 0) {
            s->op = GRAPH_OP_CONV2D;
            s->out = 4 + 4 * (int)(rnd(st) % 2);
        } else if (r == 1) {
            for (int b = i - 1; b >= 0; b--)
                if (b != a && spec_channels(sp, b) == spec_channels(sp, a) && rnd(st) % 2) {
                    s->op = GRAPH_OP_ADD;
                    s->in[1] = b;
                    s->n_in = 2;
                    break;
                }
        } else if (r == 2 && i > 2) {
            s->op = GRAPH_OP_CAT;
            s->n_in = 2 + (int)(rnd(st) % 2);
            for (int k = 1; k < s->n_in; k++)
                s->in[k] = (int)(rnd(st) % (unsigned)i);
        }
    }
    return n;
}

/* Build sp in a random topological order (seed), output = cat of the sinks,
 * pooled; the add operands swapped when swap_add. */
static void build_spec(const spec *sp, int n, unsigned seed, int swap_add, int tweak,
                       char hash[GRAPH_HASH_HEX])
{
    graph *g;
    assert_int_equal(graph_new(&g, 3, 8, 8), 0);
    int id[64], done[64] = {0}, made = 1;
    id[0] = 0;
    done[0] = 1;
    while (made < n) {
        int ready[64], nr = 0;
        for (int i = 1; i < n; i++) {
            int ok = !done[i];
            for (int k = 0; ok && k < sp[i].n_in; k++)
                ok = done[sp[i].in[k]];
            if (ok)
                ready[nr++] = i;
        }
        int i = ready[rnd(&seed) % (unsigned)nr];
        int in[3];
        for (int k = 0; k < sp[i].n_in; k++)
            in[k] = id[sp[i].in[k]];
        if (swap_add && sp[i].op == GRAPH_OP_ADD) {
            int t = in[0];
            in[0] = in[1];
            in[1] = t;
        }
        graph_attrs a;
        graph_attrs_default(sp[i].op, &a);
        a.out = sp[i].out;
        if (tweak == i)
            a.bias = 0;
        int rc = graph_add(g, sp[i].op, &a, in, sp[i].n_in, 0, &id[i], err, sizeof err);
        if (rc)
            fail_msg("%s", err);
        done[i] = 1;
        made++;
    }
    /* the output: cat of the sinks (nodes nobody uses), in spec order */
    int all[64], used[64] = {0}, ns = 0, c;
    for (int i = 1; i < n; i++)
        for (int k = 0; k < sp[i].n_in; k++)
            used[sp[i].in[k]] = 1;
    for (int i = 0; i < n; i++)
        if (!used[i])
            all[ns++] = id[i];
    if (ns == 1)
        all[ns++] = id[0];
    assert_int_equal(graph_add(g, GRAPH_OP_CAT, NULL, all, ns, 0, &c, err, sizeof err), 0);
    int x = add1(g, GRAPH_OP_ADAPTIVEAVGPOOL2D, NULL, c);
    x = linear(g, add1(g, GRAPH_OP_FLATTEN, NULL, x), 10);
    assert_int_equal(graph_set_output(g, x, 10, err, sizeof err), 0);
    assert_int_equal(graph_finalize(g), 0);
    assert_int_equal(graph_hash(g, hash), 0);
    char *j = graph_to_json(g);
    graph *back;
    assert_int_equal(graph_from_json(j, &back, err, sizeof err), 0);
    char h2[GRAPH_HASH_HEX];
    assert_int_equal(graph_hash(back, h2), 0);
    assert_string_equal(hash, h2);
    graph_free(back);
    free(j);
    graph_free(g);
}

static void test_random_creation_orders(void **state)
{
    (void)state;
    unsigned st = 43;
    for (int trial = 0; trial < 2000; trial++) {
        spec sp[40];
        int n = random_spec(sp, 8 + (int)(rnd(&st) % 30), &st);
        char h0[GRAPH_HASH_HEX], h1[GRAPH_HASH_HEX], h2[GRAPH_HASH_HEX];
        build_spec(sp, n, 1000u + (unsigned)trial, 0, -1, h0);
        build_spec(sp, n, 7u * (unsigned)trial + 5u, 1, -1, h1);
        if (strcmp(h0, h1) != 0)
            fail_msg("trial %d: same DAG, other creation order: %s vs %s", trial, h0, h1);
        int conv = -1;
        for (int i = 1; i < n && conv < 0; i++)
            if (sp[i].op == GRAPH_OP_CONV2D)
                conv = i;
        if (conv > 0) {
            build_spec(sp, n, 99u, 0, conv, h2);
            if (strcmp(h0, h2) == 0)
                fail_msg("trial %d: dropping one conv bias left the hash unchanged", trial);
        }
    }
}

/* Mutated JSON never crashes the reader (run under SANITIZER=address too), and
 * whatever it accepts writes back canonically. */
static void test_json_mutations(void **state)
{
    (void)state;
    char h[GRAPH_HASH_HEX];
    char *base = branches_json(0, 0, h);
    size_t n = strlen(base);
    char *buf = malloc(n + 16);
    static const char alphabet[] = "{}[]\",:0123456789-.eE truefalsnul\\";
    unsigned st = 7;
    int accepted = 0;
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(buf, base, n + 1);
        int edits = 1 + (int)(rnd(&st) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rnd(&st) % n;
            int what = (int)(rnd(&st) % 3);
            if (what == 0)
                buf[at] = alphabet[rnd(&st) % (sizeof alphabet - 1)];
            else if (what == 1 && at + 1 < n)
                memmove(buf + at, buf + at + 1, n - at);  /* delete */
            else
                buf[at] = (char)('0' + rnd(&st) % 10);
        }
        graph *g = NULL;
        int rc = graph_from_json(buf, &g, err, sizeof err);
        if (rc == 0) {
            accepted++;
            char *j = graph_to_json(g);
            graph *g2;
            assert_non_null(j);
            assert_int_equal(graph_from_json(j, &g2, err, sizeof err), 0);
            char *j2 = graph_to_json(g2);
            assert_string_equal(j, j2);
            free(j), free(j2);
            graph_free(g2);
            graph_free(g);
        } else {
            assert_null(g);
            assert_true(err[0] != '\0');
        }
    }
    assert_true(accepted > 0);  /* some edits (e.g. another channel count) stay valid */
    free(buf);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_counts),
        cmocka_unit_test(test_vgg_counts),
        cmocka_unit_test(test_window_rules),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_node_cap),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_hash_sensitivity),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_random_creation_orders),
        cmocka_unit_test(test_json_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
