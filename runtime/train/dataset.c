/*
 * dataset.c — IDX and CIFAR loaders, the dataset registry, hold-out split,
 * subsets and batch conversion. See dataset.h.
 *
 * Files are read whole through zlib (gzread reads plain files unchanged), so
 * offsets in messages are offsets in the uncompressed bytes.
 */
#include "train/dataset.h"
#include "train/dataset_folder.h"
#include "base/rt.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Read a whole (possibly gzipped) file. *buf malloc'd. */
static int read_all(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        rt_fmt(err, errlen, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
        return DS_EIO;
    }
    gzbuffer(f, 1 << 20);
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) {
        gzclose(f);
        return DS_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                gzclose(f);
                rt_fmt(err, errlen, "%s: out of memory after %zu bytes", path, n);
                return DS_ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        size_t want = cap - n > INT_MAX ? INT_MAX : cap - n;
        int r = gzread(f, b + n, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(f, &zerr);
            rt_fmt(err, errlen, "%s: offset %zu: corrupt compressed data (%s)", path, n, m);
            free(b);
            gzclose(f);
            return DS_EFORMAT;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    /* A gzip stream cut short reads as EOF with Z_BUF_ERROR. */
    int zerr = Z_OK;
    gzerror(f, &zerr);
    gzclose(f);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        rt_fmt(err, errlen, "%s: offset %zu: compressed stream truncated", path, n);
        free(b);
        return DS_EFORMAT;
    }
    *buf = b;
    *len = n;
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parse an IDX header: magic 0x00 0x00 0x08 ndim, then ndim big-endian sizes. */
static int idx_header(const char *path, const uint8_t *b, size_t len, int ndim,
                      uint32_t *dims, char *err, size_t errlen)
{
    if (len < 4) {
        rt_fmt(err, errlen, "%s: offset 0: expected a 4-byte IDX magic number, file has %zu bytes",
               base_name(path), len);
        return DS_EFORMAT;
    }
    uint32_t magic = be32(b), want = 0x00000800u | (uint32_t)ndim;
    if (magic != want) {
        rt_fmt(err, errlen, "%s: offset 0: expected IDX magic 0x%08x (unsigned bytes, %d dimension%s), got 0x%08x",
               base_name(path), want, ndim, ndim > 1 ? "s" : "", magic);
        return DS_EFORMAT;
    }
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr) {
        rt_fmt(err, errlen, "%s: offset %zu: expected a %zu-byte header, file ends after %zu bytes",
               base_name(path), len, hdr, len);
        return DS_EFORMAT;
    }
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(b + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > (1u << 26)) {
            rt_fmt(err, errlen, "%s: offset %d: dimension %d is %u, expected 1..%u",
                   base_name(path), 4 + 4 * i, i, dims[i], 1u << 26);
            return DS_EFORMAT;
        }
    }
    return 0;
}

int ds_load_idx(const char *images_path, const char *labels_path, ds_split *s,
                int classes, char *err, size_t errlen)
{
    uint8_t *ib = NULL, *lb = NULL;
    size_t il = 0, ll = 0;
    uint32_t idim[3], ldim[1];
    int rc = read_all(images_path, &ib, &il, err, errlen);
    if (rc)
        return rc;
    if ((rc = idx_header(images_path, ib, il, 3, idim, err, errlen)))
        goto out;
    if ((rc = read_all(labels_path, &lb, &ll, err, errlen)))
        goto out;
    if ((rc = idx_header(labels_path, lb, ll, 1, ldim, err, errlen)))
        goto out;
    rc = DS_EFORMAT;
    size_t n = idim[0], px = (size_t)idim[1] * idim[2];
    if (ldim[0] != idim[0]) {
        rt_fmt(err, errlen, "%s: offset 4: expected %u labels (as many as images in %s), header says %u",
               base_name(labels_path), idim[0], base_name(images_path), ldim[0]);
        goto out;
    }
    if (il != 16 + n * px) {
        rt_fmt(err, errlen, "%s: offset %zu: expected %zu bytes of pixels (%zu x %u x %u) ending at offset %zu, file %s at %zu",
               base_name(images_path), (size_t)16, n * px, n, idim[1], idim[2], 16 + n * px,
               il < 16 + n * px ? "ends" : "continues past it, ending", il);
        goto out;
    }
    if (ll != 8 + n) {
        rt_fmt(err, errlen, "%s: offset 8: expected %zu label bytes ending at offset %zu, file %s at %zu",
               base_name(labels_path), n, 8 + n, ll < 8 + n ? "ends" : "continues past it, ending", ll);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (lb[8 + i] >= classes) {
            rt_fmt(err, errlen, "%s: offset %zu: expected a label below %d, got %u",
                   base_name(labels_path), 8 + i, classes, lb[8 + i]);
            goto out;
        }
    s->n = (int)n;
    s->c = 1;
    s->h = (int)idim[1];
    s->w = (int)idim[2];
    s->x = malloc(n * px);
    s->y = malloc(n);
    if (!s->x || !s->y) {
        ds_split_free(s);
        rc = DS_ENOMEM;
        rt_fmt(err, errlen, "%s: out of memory", base_name(images_path));
        goto out;
    }
    memcpy(s->x, ib + 16, n * px);
    memcpy(s->y, lb + 8, n);
    rc = 0;
out:
    free(ib);
    free(lb);
    return rc;
}

#define CIFAR_PX 3072

int ds_load_cifar(const char *const *paths, int npaths, int label_bytes, int label_index,
                  int classes, ds_split *s, char *err, size_t errlen)
{
    size_t rec = (size_t)label_bytes + CIFAR_PX, total = 0;
    uint8_t **bufs = calloc((size_t)npaths, sizeof *bufs);
    size_t *lens = calloc((size_t)npaths, sizeof *lens);
    int rc = 0;
    if (!bufs || !lens) {
        rc = DS_ENOMEM;
        goto out;
    }
    for (int f = 0; f < npaths; f++) {
        if ((rc = read_all(paths[f], &bufs[f], &lens[f], err, errlen)))
            goto out;
        if (lens[f] == 0 || lens[f] % rec) {
            rt_fmt(err, errlen, "%s: offset %zu: expected whole %zu-byte records (%d label byte%s + 3072 pixels), file ends %zu bytes into record %zu",
                   base_name(paths[f]), lens[f] - lens[f] % rec, rec, label_bytes,
                   label_bytes > 1 ? "s" : "", lens[f] % rec, lens[f] / rec);
            rc = DS_EFORMAT;
            goto out;
        }
        for (size_t r = 0; r < lens[f] / rec; r++)
            for (int k = 0; k < label_bytes; k++) {
                int lim = label_bytes == 2 && k == 0 ? 20 : (label_bytes == 2 ? 100 : 10);
                uint8_t v = bufs[f][r * rec + (size_t)k];
                if (v >= lim) {
                    rt_fmt(err, errlen, "%s: offset %zu: expected a %s label below %d in record %zu, got %u",
                           base_name(paths[f]), r * rec + (size_t)k,
                           label_bytes == 1 ? "class" : k == 0 ? "coarse" : "fine", lim, r, v);
                    rc = DS_EFORMAT;
                    goto out;
                }
            }
        total += lens[f] / rec;
    }
    if (total > INT_MAX) {
        rc = DS_EFORMAT;
        goto out;
    }
    s->n = (int)total;
    s->c = 3;
    s->h = s->w = 32;
    s->x = malloc(total * CIFAR_PX);
    s->y = malloc(total);
    if (!s->x || !s->y) {
        ds_split_free(s);
        rc = DS_ENOMEM;
        goto out;
    }
    size_t i = 0;
    for (int f = 0; f < npaths; f++)
        for (size_t r = 0; r < lens[f] / rec; r++, i++) {
            const uint8_t *p = bufs[f] + r * rec;
            s->y[i] = p[label_index];
            memcpy(s->x + i * CIFAR_PX, p + label_bytes, CIFAR_PX);
        }
    (void)classes;
out:
    if (bufs)
        for (int f = 0; f < npaths; f++)
            free(bufs[f]);
    free(bufs);
    free(lens);
    return rc;
}

/* ---- registry ---- */

/* Loaders of the registry's formats. arg is the rest of the name after a
 * scheme (NULL for plain names); dirs are the directories to search, in order. */
static int load_idx(const ds_info *e, const char *arg, const char *const *dirs, int ndirs,
                    ds_dataset *d, char *err, size_t errlen);
static int load_cifar(const ds_info *e, const char *arg, const char *const *dirs, int ndirs,
                      ds_dataset *d, char *err, size_t errlen);

/* Image folders (dataset_folder.c): arg is "PATH[?options]", or "" for the data directory. */
static int load_folder(const ds_info *e, const char *arg, const char *const *dirs, int ndirs,
                       ds_dataset *d, char *err, size_t errlen)
{
    (void)e;
    return ds_folder_fill(arg ? arg : "", ndirs ? dirs[0] : "", d, err, errlen);  /* dirs[0]: the data directory (no subdir) */
}

#define FMNIST_DEBIAN "/usr/share/datasets/fashion-mnist"  /* Debian's dataset-fashion-mnist */
#define CIFAR_MEAN {0.4914f, 0.4822f, 0.4465f}
#define CIFAR_STD {0.2470f, 0.2435f, 0.2616f}
#define CIFAR100_MEAN {0.5071f, 0.4865f, 0.4409f}
#define CIFAR100_STD {0.2673f, 0.2564f, 0.2762f}

/* The one list of datasets: the trainer, train.datasets(), the search's task
 * shapes and both commands' --help read it. The first entry is the default.
 * variant: IDX unused; CIFAR 1 = CIFAR-10, 2 = CIFAR-100 fine, 3 = coarse. */
static const ds_info registry[] = {
    {"fashion-mnist", "Zalando's clothing images (Debian: dataset-fashion-mnist)", 1, 28, 28, 10,
     60000, 10000, "fashion-mnist", FMNIST_DEBIAN, {0.2860f}, {0.3530f}, 0, load_idx, 0},
    {"mnist", "handwritten digits (IDX files)", 1, 28, 28, 10, 60000, 10000, "mnist", NULL,
     {0.1307f}, {0.3081f}, 0, load_idx, 0},
    {"cifar10", "CIFAR-10 binary version", 3, 32, 32, 10, 50000, 10000, "cifar-10-batches-bin",
     NULL, CIFAR_MEAN, CIFAR_STD, 1, load_cifar, 1},
    {"cifar100", "CIFAR-100 binary version, fine labels", 3, 32, 32, 100, 50000, 10000,
     "cifar-100-binary", NULL, CIFAR100_MEAN, CIFAR100_STD, 1, load_cifar, 2},
    {"cifar100-coarse", "CIFAR-100 binary version, coarse labels (superclasses)", 3, 32, 32, 20,
     50000, 10000, "cifar-100-binary", NULL, CIFAR100_MEAN, CIFAR100_STD, 1, load_cifar, 3},
    {DS_FOLDER_PREFIX ":", "your PNG/JPEG files: PATH/train/<class>/*.png|jpg, optional PATH/test/ "
     "(options: doc/training.md)", 0, 0, 0, 0, 0, 0, NULL, NULL, {0}, {1}, 0, load_folder, 0},
};
#define NREGISTRY ((int)(sizeof registry / sizeof registry[0]))

int ds_count(void)
{
    return NREGISTRY;
}

const ds_info *ds_at(int i)
{
    return i >= 0 && i < NREGISTRY ? &registry[i] : NULL;
}

const char *ds_default_name(void)
{
    return registry[0].name;
}

static int is_scheme(const ds_info *e)
{
    size_t n = strlen(e->name);
    return n > 0 && e->name[n - 1] == ':';
}

const ds_info *ds_find(const char *name, const char **arg)
{
    if (arg)
        *arg = NULL;
    if (!name)
        return NULL;
    for (int i = 0; i < NREGISTRY; i++) {
        const ds_info *e = &registry[i];
        if (is_scheme(e)) {
            size_t n = strlen(e->name);
            if (strncmp(name, e->name, n) == 0) {
                if (arg)
                    *arg = name + n;
                return e;
            }
            /* The scheme without its path ("folder", "folder?size=32"): the data
             * directory is the folder, as `--dataset folder --data DIR` says. */
            if (strncmp(name, e->name, n - 1) == 0 && (name[n - 1] == '\0' || name[n - 1] == '?')) {
                if (arg)
                    *arg = name + n - 1;
                return e;
            }
        } else if (strcmp(name, e->name) == 0) {
            return e;
        }
    }
    return NULL;
}

const char *ds_names(void)
{
    static char names[1024];
    if (!names[0]) {
        size_t n = 0;
        for (int i = 0; i < NREGISTRY && n < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s%s", i ? ", " : "",
                                  registry[i].name, is_scheme(&registry[i]) ? "PATH" : "");
    }
    return names;
}

const char *ds_data_dir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *e = getenv("LLMNAS_DATA");
    return e && *e ? e : "data";
}

int ds_data_dir_chosen(const char *dir)
{
    const char *e = getenv("LLMNAS_DATA");
    return (dir && *dir) || (e && *e);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Find file `f` (or f.gz) under the candidate directories; path into out. */
static int find_file(const char *const *dirs, int ndirs, const char *f, char *out, size_t len)
{
    for (int i = 0; i < ndirs; i++) {
        rt_fmt(out, len, "%s/%s", dirs[i], f);
        if (exists(out))
            return 1;
        rt_fmt(out, len, "%s/%s.gz", dirs[i], f);
        if (exists(out))
            return 1;
    }
    return 0;
}

/* "not found in A, B" plus, when a chosen directory hid the system copy, why it
 * was not used: a user who named a folder must not silently train on another. */
static void not_found(const ds_info *e, const char *what, const char *const *dirs, int ndirs,
                      char *err, size_t errlen)
{
    size_t n = (size_t)snprintf(err, errlen, "dataset %s: %s not found in ", e->name, what);
    for (int i = 0; i < ndirs && n < errlen; i++)
        n += (size_t)snprintf(err + n, errlen - n, "%s%s", i ? ", " : "", dirs[i]);
    if (e->system_dir && (ndirs == 0 || strcmp(dirs[ndirs - 1], e->system_dir) != 0) && n < errlen)
        snprintf(err + n, errlen - n,
                 " (the data directory was chosen with --data or LLMNAS_DATA, so %s is not "
                 "used: point --data at a folder holding the files, or leave it out)",
                 e->system_dir);
}

static int load_idx_pair(const ds_info *e, const char *const *dirs, int nd, const char *img,
                         const char *lab, ds_split *s, char *err, size_t errlen)
{
    char ip[4096], lp[4096], what[256];
    if (!find_file(dirs, nd, img, ip, sizeof ip) || !find_file(dirs, nd, lab, lp, sizeof lp)) {
        rt_fmt(what, sizeof what, "%s or %s (optionally .gz)", img, lab);
        not_found(e, what, dirs, nd, err, errlen);
        return DS_EIO;
    }
    return ds_load_idx(ip, lp, s, e->classes, err, errlen);
}

static int load_idx(const ds_info *e, const char *arg, const char *const *dirs, int ndirs,
                    ds_dataset *d, char *err, size_t errlen)
{
    (void)arg;
    int rc = load_idx_pair(e, dirs, ndirs, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           &d->train, err, errlen);
    if (!rc)
        rc = load_idx_pair(e, dirs, ndirs, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                           &d->test, err, errlen);
    return rc;
}

static int load_cifar_files(const ds_info *e, const char *const *dirs, int nd, int test,
                            ds_split *s, char *err, size_t errlen)
{
    static const char *c10_train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                      "data_batch_4.bin", "data_batch_5.bin"};
    static const char *c10_test[] = {"test_batch.bin"};
    static const char *c100_train[] = {"train.bin"}, *c100_test[] = {"test.bin"};
    int c10 = e->variant == 1;
    const char **names = c10 ? (test ? c10_test : c10_train) : (test ? c100_test : c100_train);
    int n = c10 && !test ? 5 : 1;
    char paths[5][4096];
    const char *pp[5];
    for (int i = 0; i < n; i++) {
        if (!find_file(dirs, nd, names[i], paths[i], sizeof paths[i])) {
            not_found(e, names[i], dirs, nd, err, errlen);
            return DS_EIO;
        }
        pp[i] = paths[i];
    }
    int lb = c10 ? 1 : 2, li = e->variant == 2 ? 1 : 0;
    return ds_load_cifar(pp, n, lb, li, e->classes, s, err, errlen);
}

static int load_cifar(const ds_info *e, const char *arg, const char *const *dirs, int ndirs,
                      ds_dataset *d, char *err, size_t errlen)
{
    (void)arg;
    int rc = load_cifar_files(e, dirs, ndirs, 0, &d->train, err, errlen);
    if (!rc)
        rc = load_cifar_files(e, dirs, ndirs, 1, &d->test, err, errlen);
    return rc;
}

int ds_load(const char *name, const char *dir, ds_dataset **out, char *err, size_t errlen)
{
    const char *arg;
    const ds_info *e = ds_find(name, &arg);
    if (!e) {
        rt_fmt(err, errlen, "unknown dataset '%s' (known: %s)", name ? name : "(null)", ds_names());
        return DS_EUNKNOWN;
    }
    char sub[4096];
    const char *root = ds_data_dir(dir);
    rt_fmt(sub, sizeof sub, "%s/%s", root, e->subdir ? e->subdir : "");
    /* The system copy only when nobody chose a directory (see ds_data_dir_chosen). */
    const char *dirs[3];
    int nd = 0;
    if (e->subdir)
        dirs[nd++] = sub;
    dirs[nd++] = root;
    if (e->system_dir && !ds_data_dir_chosen(dir))
        dirs[nd++] = e->system_dir;
    ds_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return DS_ENOMEM;
    rt_fmt(d->name, sizeof d->name, "%s", name);
    d->classes = e->classes;
    memcpy(d->mean, e->mean, sizeof d->mean);
    memcpy(d->std, e->std, sizeof d->std);
    d->augment = e->augment;
    int rc = e->load(e, arg, dirs, nd, d, err, errlen);
    if (!rc && (d->train.h != d->test.h || d->train.w != d->test.w)) {
        rt_fmt(err, errlen, "dataset %s: training images are %dx%d but test images %dx%d", name,
               d->train.h, d->train.w, d->test.h, d->test.w);
        rc = DS_EFORMAT;
    }
    if (!rc && d->classes <= 0) {
        rt_fmt(err, errlen, "dataset %s: the loader found no classes", name);
        rc = DS_EFORMAT;
    }
    if (rc) {
        ds_free(d);
        return rc;
    }
    d->c = d->train.c;
    d->h = d->train.h;
    d->w = d->train.w;
    *out = d;
    return 0;
}

void ds_free(ds_dataset *d)
{
    if (!d)
        return;
    ds_split_free(&d->train);
    ds_split_free(&d->test);
    ds_folder_free(d->folder);
    free(d);
}

/* ---- randomness, split, subsets ---- */

uint64_t ds_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double ds_rand_uniform(uint64_t *state)
{
    return (double)(ds_rand(state) >> 11) * (1.0 / 9007199254740992.0);
}

void ds_shuffle(int *idx, int n, uint64_t *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(ds_rand(rng) % (uint64_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void ds_indices_free(ds_indices *ix)
{
    if (!ix)
        return;
    free(ix->train);
    free(ix->val);
    memset(ix, 0, sizeof *ix);
}

int ds_make_split(const ds_split *s, double val_fraction, uint64_t seed, int subset,
                  int stratified, ds_indices *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!(val_fraction >= 0 && val_fraction < 1)) {
        rt_fmt(err, errlen, "validation fraction must be in [0, 1), got %g", val_fraction);
        return DS_EARG;
    }
    if (subset < 0) {
        rt_fmt(err, errlen, "subset must be >= 0, got %d", subset);
        return DS_EARG;
    }
    int n = s->n, nval = (int)lround(val_fraction * n);
    int *perm = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!perm)
        return DS_ENOMEM;
    for (int i = 0; i < n; i++)
        perm[i] = i;
    uint64_t rng = seed;
    ds_shuffle(perm, n, &rng);
    int ntr = n - nval;
    if (ntr <= 0) {
        free(perm);
        rt_fmt(err, errlen, "no training images left after holding out %d for validation", nval);
        return DS_EARG;
    }
    int want = subset > 0 && subset < ntr ? subset : ntr;
    out->val = malloc(sizeof(int) * (size_t)(nval ? nval : 1));
    out->train = malloc(sizeof(int) * (size_t)want);
    if (!out->val || !out->train) {
        free(perm);
        ds_indices_free(out);
        return DS_ENOMEM;
    }
    memcpy(out->val, perm, sizeof(int) * (size_t)nval);
    out->nval = nval;
    const int *pool = perm + nval;
    if (!stratified || want == ntr) {
        memcpy(out->train, pool, sizeof(int) * (size_t)want);
        out->ntrain = want;
    } else {
        int quota[256] = {0}, classes = 0, k = 0;
        for (int i = 0; i < ntr; i++)
            if (s->y[pool[i]] + 1 > classes)
                classes = s->y[pool[i]] + 1;
        for (int c = 0; c < classes; c++)
            quota[c] = want / classes + (c < want % classes);
        /* Keep the permuted order, taking each class up to its quota. */
        for (int i = 0; i < ntr && k < want; i++) {
            int c = s->y[pool[i]];
            if (quota[c] > 0) {
                quota[c]--;
                out->train[k++] = pool[i];
            }
        }
        out->ntrain = k;
    }
    free(perm);
    return 0;
}

/* ---- batches ---- */

void ds_batch_fill(const ds_dataset *d, const ds_split *s, const int *idx, int n,
                   float *x, int32_t *y, int augment, uint64_t *rng)
{
    int C = s->c, H = s->h, W = s->w;
    float scale[3], shift[3];
    for (int c = 0; c < C && c < 3; c++) {
        scale[c] = 1.0f / (255.0f * d->std[c]);
        shift[c] = -d->mean[c] / d->std[c];
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *src = s->x + (size_t)idx[i] * (size_t)(C * H * W);
        float *dst = x + (size_t)i * (size_t)(C * H * W);
        y[i] = s->y[idx[i]];
        if (!augment) {
            for (int c = 0; c < C; c++)
                for (int p = 0; p < H * W; p++)
                    dst[c * H * W + p] = src[c * H * W + p] * scale[c] + shift[c];
            continue;
        }
        /* RandomCrop(size, padding=4) then RandomHorizontalFlip: the crop's
         * top-left corner in the padded image is uniform in [0, 8]. */
        int dy = (int)(ds_rand(rng) % 9) - 4, dx = (int)(ds_rand(rng) % 9) - 4;
        int flip = (int)(ds_rand(rng) & 1);
        for (int c = 0; c < C; c++)
            for (int r = 0; r < H; r++)
                for (int q = 0; q < W; q++) {
                    int sr = r + dy, sq = (flip ? W - 1 - q : q) + dx;
                    int v = sr >= 0 && sr < H && sq >= 0 && sq < W ? src[(c * H + sr) * W + sq] : 0;
                    dst[(c * H + r) * W + q] = (float)v * scale[c] + shift[c];
                }
    }
}

const char *ds_strerror(int code)
{
    switch (code) {
    case DS_OK: return "DS_OK: success";
    case DS_EIO: return "DS_EIO: file missing or unreadable";
    case DS_EFORMAT: return "DS_EFORMAT: malformed dataset file";
    case DS_ENOMEM: return "DS_ENOMEM: out of memory";
    case DS_EUNKNOWN: return "DS_EUNKNOWN: unknown dataset";
    case DS_EARG: return "DS_EARG: bad argument";
    default: return "DS_E?: unknown error code";
    }
}
