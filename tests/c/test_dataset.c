/* test_dataset.c — IDX / CIFAR loaders on generated files (good, truncated,
 * corrupt), the registry, split, subsets, normalisation and augmentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "train/dataset.h"

static char tmpdir[256];

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void write_file(const char *path, const uint8_t *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, b, (unsigned)n), (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b, 1, n, f), n);
        fclose(f);
    }
}

/* n images of h x w with pixel = (i + r * w + q) & 255, label i % 10. */
static void make_idx(const char *dir, const char *prefix, int n, int h, int w, int gz)
{
    size_t il = 16 + (size_t)n * h * w, ll = 8 + (size_t)n;
    uint8_t *ib = malloc(il), *lb = malloc(ll);
    put32(ib, 0x803);
    put32(ib + 4, (uint32_t)n);
    put32(ib + 8, (uint32_t)h);
    put32(ib + 12, (uint32_t)w);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < h * w; p++)
            ib[16 + (size_t)i * h * w + p] = (uint8_t)(i + p);
    put32(lb, 0x801);
    put32(lb + 4, (uint32_t)n);
    for (int i = 0; i < n; i++)
        lb[8 + i] = (uint8_t)(i % 10);
    char p[512];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", dir, prefix, gz ? ".gz" : "");
    write_file(p, ib, il, gz);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", dir, prefix, gz ? ".gz" : "");
    write_file(p, lb, ll, gz);
    free(ib);
    free(lb);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dataset.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

static void test_idx_plain_and_gz(void **state)
{
    (void)state;
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/mnist", tmpdir);
    mkdir(dir, 0700);
    make_idx(dir, "train", 50, 28, 28, 1);
    make_idx(dir, "t10k", 20, 28, 28, 0);
    ds_dataset *d = NULL;
    int rc = ds_load("mnist", tmpdir, &d, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(d->train.n, 50);
    assert_int_equal(d->test.n, 20);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, 28);
    assert_int_equal(d->classes, 10);
    assert_int_equal(d->train.x[3 * 784 + 5], 8);
    assert_int_equal(d->train.y[13], 3);
    assert_int_equal(d->augment, 0);
    ds_free(d);
}

static void expect_error(const char *images, const char *labels, int code, const char *needle)
{
    ds_split s = {0};
    char err[512] = "";
    int rc = ds_load_idx(images, labels, &s, 10, err, sizeof err);
    if (rc != code || !strstr(err, needle))
        fail_msg("rc %d (want %d), err '%s' (want '%s')", rc, code, err, needle);
    assert_null(s.x);
}

static void test_idx_corrupt(void **state)
{
    (void)state;
    char dir[300], ip[400], lp[400], bad[400];
    snprintf(dir, sizeof dir, "%s/corrupt", tmpdir);
    mkdir(dir, 0700);
    make_idx(dir, "train", 10, 4, 4, 0);
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte", dir);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte", dir);
    uint8_t b[16 + 160];
    FILE *f = fopen(ip, "rb");
    assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);

    /* truncated pixels */
    snprintf(bad, sizeof bad, "%s/trunc", dir);
    write_file(bad, b, sizeof b - 7, 0);
    expect_error(bad, lp, DS_EFORMAT, "trunc: offset 16: expected 160 bytes of pixels");
    /* truncated header */
    write_file(bad, b, 10, 0);
    expect_error(bad, lp, DS_EFORMAT, "expected a 16-byte header");
    /* wrong magic (labels file given as images) */
    expect_error(lp, lp, DS_EFORMAT, "offset 0: expected IDX magic 0x00000803");
    /* label count mismatch */
    uint8_t b2[sizeof b];
    memcpy(b2, b, sizeof b);
    put32(b2 + 4, 9);
    write_file(bad, b2, 16 + 9 * 16, 0);
    expect_error(bad, lp, DS_EFORMAT, "expected 9 labels");
    /* label out of range */
    uint8_t lab[18];
    put32(lab, 0x801);
    put32(lab + 4, 10);
    memset(lab + 8, 1, 10);
    lab[12] = 42;
    snprintf(bad, sizeof bad, "%s/badlab", dir);
    write_file(bad, lab, sizeof lab, 0);
    expect_error(ip, bad, DS_EFORMAT, "badlab: offset 12: expected a label below 10, got 42");
    /* gz cut in the middle */
    snprintf(bad, sizeof bad, "%s/cut.gz", dir);
    write_file(bad, b, sizeof b, 1);
    FILE *g = fopen(bad, "rb");
    uint8_t gzb[4096];
    size_t gn = fread(gzb, 1, sizeof gzb, g);
    fclose(g);
    write_file(bad, gzb, gn / 2, 0);
    expect_error(bad, lp, DS_EFORMAT, "cut.gz: offset");
    /* missing */
    expect_error("/nonexistent/file", lp, DS_EIO, "/nonexistent/file: cannot open");
}

static void make_cifar(const char *path, int n, int label_bytes, int base)
{
    size_t rec = (size_t)label_bytes + 3072;
    uint8_t *b = calloc((size_t)n, rec);
    for (int i = 0; i < n; i++) {
        uint8_t *r = b + (size_t)i * rec;
        if (label_bytes == 1)
            r[0] = (uint8_t)((base + i) % 10);
        else {
            r[0] = (uint8_t)((base + i) % 20);
            r[1] = (uint8_t)((base + i) % 100);
        }
        for (int p = 0; p < 3072; p++)
            r[label_bytes + p] = (uint8_t)(p / 1024 * 50 + i);  /* channel-major: R plane, G, B */
    }
    write_file(path, b, (size_t)n * rec, 0);
    free(b);
}

static void test_cifar10(void **state)
{
    (void)state;
    char dir[300], p[400], err[512];
    snprintf(dir, sizeof dir, "%s/cifar-10-batches-bin", tmpdir);
    mkdir(dir, 0700);
    for (int i = 1; i <= 5; i++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", dir, i);
        make_cifar(p, 4, 1, i * 4);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    make_cifar(p, 3, 1, 0);
    ds_dataset *d = NULL;
    assert_int_equal(ds_load("cifar10", tmpdir, &d, err, sizeof err), 0);
    assert_int_equal(d->train.n, 20);
    assert_int_equal(d->test.n, 3);
    assert_int_equal(d->c, 3);
    assert_int_equal(d->h, 32);
    assert_int_equal(d->augment, 1);
    assert_int_equal(d->train.y[0], 4);   /* batch 1 base 4 */
    assert_int_equal(d->train.y[19], 3);  /* batch 5 base 20, i = 3 -> 23 % 10 */
    assert_int_equal(d->train.x[(size_t)5 * 3072 + 2048], 100 + 1);  /* B plane of image 5 (i=1) */
    ds_free(d);

    /* truncated record */
    snprintf(p, sizeof p, "%s/test_batch.bin", dir);
    FILE *f = fopen(p, "r+b");
    assert_int_equal(ftruncate(fileno(f), 3073 * 2 + 100), 0);
    fclose(f);
    d = NULL;
    int rc = ds_load("cifar10", tmpdir, &d, err, sizeof err);
    assert_int_equal(rc, DS_EFORMAT);
    assert_non_null(strstr(err, "test_batch.bin: offset 6146: expected whole 3073-byte records"));
    assert_null(d);
}

static void test_cifar100(void **state)
{
    (void)state;
    char dir[300], p[400], err[512];
    snprintf(dir, sizeof dir, "%s/cifar-100-binary", tmpdir);
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/train.bin", dir);
    make_cifar(p, 30, 2, 70);
    snprintf(p, sizeof p, "%s/test.bin", dir);
    make_cifar(p, 5, 2, 0);
    ds_dataset *d = NULL;
    assert_int_equal(ds_load("cifar100", tmpdir, &d, err, sizeof err), 0);
    assert_int_equal(d->classes, 100);
    assert_int_equal(d->train.y[29], 99);  /* fine label (70 + 29) % 100 */
    ds_free(d);
    assert_int_equal(ds_load("cifar100-coarse", tmpdir, &d, err, sizeof err), 0);
    assert_int_equal(d->classes, 20);
    assert_int_equal(d->train.y[29], 99 % 20);
    ds_free(d);

    /* a fine label of 100 is corrupt */
    uint8_t rec[3074] = {3, 100};
    write_file(p, rec, sizeof rec, 0);
    int rc = ds_load("cifar100", tmpdir, &d, err, sizeof err);
    assert_int_equal(rc, DS_EFORMAT);
    assert_non_null(strstr(err, "test.bin: offset 1: expected a fine label below 100 in record 0, got 100"));
}

static void test_registry_errors(void **state)
{
    (void)state;
    char err[512];
    ds_dataset *d = NULL;
    assert_int_equal(ds_load("imagenet", tmpdir, &d, err, sizeof err), DS_EUNKNOWN);
    assert_non_null(strstr(err, "unknown dataset 'imagenet'"));
    char empty[300];
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    mkdir(empty, 0700);
    assert_int_equal(ds_load("cifar10", empty, &d, err, sizeof err), DS_EIO);
    assert_non_null(strstr(err, "data_batch_1.bin not found"));
    setenv("LLMNAS_DATA", "/x/y", 1);
    assert_string_equal(ds_data_dir(NULL), "/x/y");
    assert_string_equal(ds_data_dir("/a"), "/a");
    unsetenv("LLMNAS_DATA");
}

static void test_split_subset(void **state)
{
    (void)state;
    ds_split s = {.n = 1000, .c = 1, .h = 1, .w = 1};
    s.y = malloc(1000);
    for (int i = 0; i < 1000; i++)
        s.y[i] = (uint8_t)(i < 500 ? 0 : 1 + i % 4);  /* unbalanced: half class 0 */
    ds_indices a, b;
    char err[256];
    assert_int_equal(ds_make_split(&s, 0.1, 43, 0, 0, &a, err, sizeof err), 0);
    assert_int_equal(a.nval, 100);
    assert_int_equal(a.ntrain, 900);
    /* disjoint and complete */
    char *seen = calloc(1000, 1);
    for (int i = 0; i < a.nval; i++)
        seen[a.val[i]]++;
    for (int i = 0; i < a.ntrain; i++)
        seen[a.train[i]]++;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
    /* deterministic for a seed, different for another, validation independent of subset */
    assert_int_equal(ds_make_split(&s, 0.1, 43, 50, 1, &b, err, sizeof err), 0);
    assert_memory_equal(a.val, b.val, sizeof(int) * 100);
    assert_int_equal(b.ntrain, 50);
    int count[5] = {0};
    for (int i = 0; i < 50; i++)
        count[s.y[b.train[i]]]++;
    for (int c = 0; c < 5; c++)
        assert_int_equal(count[c], 10);
    ds_indices_free(&b);
    assert_int_equal(ds_make_split(&s, 0.1, 44, 0, 0, &b, err, sizeof err), 0);
    assert_memory_not_equal(a.val, b.val, sizeof(int) * 100);
    ds_indices_free(&b);
    /* first-N subset keeps the permuted order */
    assert_int_equal(ds_make_split(&s, 0.1, 43, 7, 0, &b, err, sizeof err), 0);
    assert_memory_equal(a.train, b.train, sizeof(int) * 7);
    ds_indices_free(&b);
    ds_indices_free(&a);
    assert_int_equal(ds_make_split(&s, 1.5, 43, 0, 0, &a, err, sizeof err), DS_EARG);
    free(s.y);
}

static void test_batch_fill(void **state)
{
    (void)state;
    ds_dataset d = {.c = 3, .h = 32, .w = 32, .mean = {0.5f, 0.5f, 0.5f}, .std = {0.25f, 0.5f, 1.0f}};
    ds_split s = {.n = 2, .c = 3, .h = 32, .w = 32};
    s.x = malloc(2 * 3072);
    s.y = malloc(2);
    for (int i = 0; i < 2 * 3072; i++)
        s.x[i] = (uint8_t)(i % 251);
    s.y[0] = 7;
    s.y[1] = 2;
    int idx[2] = {1, 0};
    float *x = malloc(sizeof(float) * 2 * 3072);
    int32_t y[2];
    uint64_t rng = 1;
    ds_batch_fill(&d, &s, idx, 2, x, y, 0, &rng);
    assert_int_equal(y[0], 2);
    assert_int_equal(y[1], 7);
    for (int c = 0; c < 3; c++) {
        int p = c * 1024 + 33;
        float want = ((float)s.x[3072 + p] / 255.0f - 0.5f) / d.std[c];
        assert_float_equal(x[p], want, 1e-5);
    }
    /* augmentation: every output row is the flipped and/or shifted source, padding = pixel 0 */
    int shifted = 0, flipped = 0;
    for (int trial = 0; trial < 20; trial++) {
        ds_batch_fill(&d, &s, idx, 1, x, y, 1, &rng);
        /* recover dx, dy, flip by brute force */
        int found = 0;
        for (int fl = 0; fl < 2 && !found; fl++)
            for (int dy = -4; dy <= 4 && !found; dy++)
                for (int dx = -4; dx <= 4 && !found; dx++) {
                    int ok = 1;
                    for (int c = 0; c < 3 && ok; c++)
                        for (int r = 0; r < 32 && ok; r++)
                            for (int q = 0; q < 32 && ok; q++) {
                                int sr = r + dy, sq = (fl ? 31 - q : q) + dx;
                                int v = sr >= 0 && sr < 32 && sq >= 0 && sq < 32
                                            ? s.x[3072 + (c * 32 + sr) * 32 + sq] : 0;
                                float want = ((float)v / 255.0f - 0.5f) / d.std[c];
                                if (fabsf(x[(c * 32 + r) * 32 + q] - want) > 1e-5f)
                                    ok = 0;
                            }
                    if (ok) {
                        found = 1;
                        shifted += dx != 0 || dy != 0;
                        flipped += fl;
                    }
                }
        assert_true(found);
    }
    assert_true(shifted > 10);
    assert_true(flipped > 3 && flipped < 17);
    free(x);
    free(s.x);
    free(s.y);
}

/* The registry is the one list: every entry is complete, findable by name,
 * named by ds_names, and entry 0 is the default. */
static void test_registry_table(void **state)
{
    (void)state;
    assert_true(ds_count() >= 5);
    assert_null(ds_at(-1));
    assert_null(ds_at(ds_count()));
    assert_string_equal(ds_default_name(), ds_at(0)->name);
    assert_string_equal(ds_default_name(), "fashion-mnist");
    for (int i = 0; i < ds_count(); i++) {
        const ds_info *e = ds_at(i);
        const char *arg = "unset";
        assert_ptr_equal(ds_find(e->name, &arg), e);
        size_t len = strlen(e->name);
        if (len && e->name[len - 1] == ':')
            assert_string_equal(arg, "");  /* a scheme (folder:): the rest is its argument */
        else
            assert_null(arg);
        assert_non_null(strstr(ds_names(), e->name));
        assert_non_null(e->load);
        assert_non_null(e->about);
        assert_true(e->c == 0 || (e->c >= 1 && e->c <= 3 && e->h > 0 && e->w > 0 && e->classes > 1));
    }
    const ds_info *cc = ds_find("cifar100-coarse", NULL);
    assert_non_null(cc);
    assert_int_equal(cc->classes, 20);
    assert_int_equal(cc->c, 3);
    assert_int_equal(cc->ntrain, 50000);
    assert_null(ds_find("cifar100-", NULL));
    assert_null(ds_find("", NULL));
    assert_null(ds_find(NULL, NULL));
}

/* issue #18: a chosen data directory that does not hold the dataset is an error
 * naming what was looked for where, not a silent fall back to the system copy. */
static void test_chosen_dir_is_not_bypassed(void **state)
{
    (void)state;
    char err[1024], empty[300];
    ds_dataset *d = NULL;
    snprintf(empty, sizeof empty, "%s/wrong", tmpdir);
    mkdir(empty, 0700);
    unsetenv("LLMNAS_DATA");
    assert_false(ds_data_dir_chosen(NULL));
    assert_false(ds_data_dir_chosen(""));
    assert_true(ds_data_dir_chosen(empty));
    int rc = ds_load("fashion-mnist", empty, &d, err, sizeof err);
    assert_int_equal(rc, DS_EIO);
    assert_null(d);
    assert_non_null(strstr(err, "dataset fashion-mnist: train-images-idx3-ubyte or "
                                "train-labels-idx1-ubyte (optionally .gz) not found in "));
    assert_non_null(strstr(err, "/wrong/fashion-mnist, "));
    assert_non_null(strstr(err, "so /usr/share/datasets/fashion-mnist is not used"));
    /* the same through the environment */
    setenv("LLMNAS_DATA", empty, 1);
    assert_true(ds_data_dir_chosen(NULL));
    assert_int_equal(ds_load("fashion-mnist", NULL, &d, err, sizeof err), DS_EIO);
    assert_non_null(strstr(err, "is not used"));
    unsetenv("LLMNAS_DATA");
    /* a chosen directory that holds the files is used */
    char fm[sizeof empty + 32];
    snprintf(fm, sizeof fm, "%s/fashion-mnist", empty);
    mkdir(fm, 0700);
    make_idx(fm, "train", 20, 28, 28, 0);
    make_idx(fm, "t10k", 10, 28, 28, 1);
    assert_int_equal(ds_load("fashion-mnist", empty, &d, err, sizeof err), 0);
    assert_int_equal(d->train.n, 20);
    assert_int_equal(d->test.n, 10);
    ds_free(d);
}

static void test_fashion_mnist_installed(void **state)
{
    (void)state;
    char err[512];
    ds_dataset *d = NULL;
    /* No directory chosen (and no ./data/fashion-mnist): Debian's copy. */
    unsetenv("LLMNAS_DATA");
    int rc = ds_load("fashion-mnist", NULL, &d, err, sizeof err);
    if (rc == DS_EIO)
        skip();  /* Debian's dataset-fashion-mnist not installed */
    assert_int_equal(rc, 0);
    assert_int_equal(d->train.n, 60000);
    assert_int_equal(d->test.n, 10000);
    assert_int_equal(d->h, 28);
    double sum = 0;
    for (size_t i = 0; i < (size_t)60000 * 784; i++)
        sum += d->train.x[i];
    assert_float_equal(sum / (60000.0 * 784 * 255), 0.2860, 1e-3);
    ds_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_plain_and_gz),
        cmocka_unit_test(test_idx_corrupt),
        cmocka_unit_test(test_cifar10),
        cmocka_unit_test(test_cifar100),
        cmocka_unit_test(test_registry_errors),
        cmocka_unit_test(test_registry_table),
        cmocka_unit_test(test_chosen_dir_is_not_bypassed),
        cmocka_unit_test(test_split_subset),
        cmocka_unit_test(test_batch_fill),
        cmocka_unit_test(test_fashion_mnist_installed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
