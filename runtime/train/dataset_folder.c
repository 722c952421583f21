/*
 * dataset_folder.c — image folders: the options in the name, the walk, the
 * decoded cache, mean / std. See dataset_folder.h.
 *
 * The walk stats every file (for the cache key) but opens none; with a valid
 * cache a folder of 100,000 images costs those stats and one read. Decoding
 * runs on the OpenMP team, one image per iteration; failures are collected
 * per file; with bad=stop the first failure in file order among the images
 * decoded before the stop is the one reported.
 */
#include "train/dataset_folder.h"
#include "train/image_decode.h"
#include "base/hash.h"
#include "base/rt.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_DEPTH 32
#define CACHE_MAGIC "LLMNASF1"

int ds_folder_is(const char *name)
{
    size_t n = strlen(DS_FOLDER_PREFIX);
    return name && strncmp(name, DS_FOLDER_PREFIX, n) == 0 &&
           (name[n] == '\0' || name[n] == ':' || name[n] == '?');
}

/* ---- options ----------------------------------------------------------------- */

typedef struct fopts {
    char root[4096];
    int size, channels;  /* 0 = auto */
    int skip_bad;
    int64_t max_pixels;
    char cache_dir[4096]; /* "" = off */
} fopts;

static int parse_int(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

/* arg: "PATH[?options]", or "" / "?options" for the data directory dir. */
static int parse_spec(const char *arg, const char *dir, fopts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    const char *env = getenv("LLMNAS_CACHE_DIR");
    rt_fmt(o->cache_dir, sizeof o->cache_dir, "%s", env && *env ? env : "llmnas.db/cache");
    char spec[4200];
    rt_fmt(spec, sizeof spec, DS_FOLDER_PREFIX ":%s", arg);
    const char *q = strchr(arg, '?');  /* the options, if any */
    size_t plen = q ? (size_t)(q - arg) : strlen(arg);
    const char *path = arg;
    if (plen == 0) {  /* "folder" or "folder:?size=32": the data directory */
        path = dir ? dir : "";
        plen = strlen(path);
    }
    if (plen == 0 || plen >= sizeof o->root) {
        rt_fmt(err, errlen, "dataset %s: no folder given (folder:PATH, or --dataset folder --data PATH)",
               spec);
        return DS_EARG;
    }
    memcpy(o->root, path, plen);
    o->root[plen] = '\0';
    while (plen > 1 && o->root[plen - 1] == '/')
        o->root[--plen] = '\0';
    for (const char *s = q ? q + 1 : NULL; s && *s;) {
        const char *amp = strchr(s, '&'), *eq = strchr(s, '=');
        size_t n = amp ? (size_t)(amp - s) : strlen(s);
        char key[32] = "", val[4096] = "";
        if (!eq || eq > s + n || (size_t)(eq - s) >= sizeof key || n - (size_t)(eq - s) > sizeof val) {
            rt_fmt(err, errlen, "dataset %s: option '%.*s' is not key=value", spec, (int)n, s);
            return DS_EARG;
        }
        memcpy(key, s, (size_t)(eq - s));
        memcpy(val, eq + 1, n - (size_t)(eq - s) - 1);
        int64_t x = 0;
        int bad = 0;
        if (strcmp(key, "size") == 0)
            bad = parse_int(val, 1, 1024, &x) || ((o->size = (int)x), 0);
        else if (strcmp(key, "channels") == 0)
            bad = strcmp(val, "auto") == 0 ? 0 : (parse_int(val, 1, 3, &x) || x == 2 || ((o->channels = (int)x), 0));
        else if (strcmp(key, "bad") == 0)
            bad = strcmp(val, "skip") == 0 ? ((o->skip_bad = 1), 0) : strcmp(val, "stop") != 0;
        else if (strcmp(key, "max_pixels") == 0)
            bad = parse_int(val, 1, INT64_MAX, &o->max_pixels);
        else if (strcmp(key, "cache") == 0)
            rt_fmt(o->cache_dir, sizeof o->cache_dir, "%s", strcmp(val, "off") == 0 ? "" : val);
        else {
            rt_fmt(err, errlen, "dataset %s: unknown option '%s' (known: size, channels, bad, max_pixels, cache)",
                   spec, key);
            return DS_EARG;
        }
        if (bad) {
            rt_fmt(err, errlen, "dataset %s: bad value '%s' for %s (size 1..1024, channels 1|3|auto, "
                   "bad stop|skip, max_pixels > 0)", spec, val, key);
            return DS_EARG;
        }
        s = amp ? amp + 1 : NULL;
    }
    if (o->max_pixels <= 0)
        o->max_pixels = IMG_DEFAULT_MAX_PIXELS;
    return 0;
}

/* ---- the walk ------------------------------------------------------------------ */

typedef struct entry {
    char *rel;           /* relative to the root */
    int label;
    int64_t size, mtime_ns;
    int bad;             /* known bad before decoding: 0 bytes, unknown extension */
} entry;

typedef struct elist {
    entry *e;
    int n, cap;
} elist;

static void elist_free(elist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->e[i].rel);
    free(l->e);
    memset(l, 0, sizeof *l);
}

static int elist_add(elist *l, const char *rel, int label, const struct stat *st, int bad)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        entry *e = realloc(l->e, sizeof *e * (size_t)cap);
        if (!e)
            return DS_ENOMEM;
        l->e = e;
        l->cap = cap;
    }
    entry *e = &l->e[l->n];
    if (!(e->rel = strdup(rel)))
        return DS_ENOMEM;
    e->label = label;
    e->size = st->st_size;
    e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    e->bad = bad;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dir (no '.' names); *names malloc'd. */
static int list_dir(const char *dir, char ***names, int *count, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    *names = NULL;
    *count = 0;
    if (!d) {
        rt_fmt(err, errlen, "%s: cannot read the folder: %s", dir, strerror(errno));
        return DS_EIO;
    }
    int cap = 0, n = 0, rc = 0;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                rc = DS_ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(de->d_name))) {
            rc = DS_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        for (int i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_str); /* v is NULL for an empty folder */
    *names = v;
    *count = n;
    return 0;
}

static void free_names(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

typedef struct walker {
    const char *root;
    dev_t dev[MAX_DEPTH];
    ino_t ino[MAX_DEPTH];
    int depth;
    elist *out;
    char *err;
    size_t errlen;
} walker;

/* Walk root/rel (a directory) for class `label`, following symlinks; a
 * directory already on the current path is a loop. */
static int walk(walker *w, const char *rel, int label)
{
    char dir[8192];
    rt_fmt(dir, sizeof dir, "%s/%s", w->root, rel);
    struct stat st;
    if (stat(dir, &st) != 0) {
        rt_fmt(w->err, w->errlen, "%s: %s", dir,
               errno == ELOOP ? "symlink loop (too many levels of symbolic links)" : strerror(errno));
        return DS_EIO;
    }
    for (int i = 0; i < w->depth; i++)
        if (w->dev[i] == st.st_dev && w->ino[i] == st.st_ino) {
            rt_fmt(w->err, w->errlen, "%s: symlink loop: it leads back to a folder above it", dir);
            return DS_EIO;
        }
    if (w->depth == MAX_DEPTH) {
        rt_fmt(w->err, w->errlen, "%s: folders nested more than %d deep", dir, MAX_DEPTH);
        return DS_EIO;
    }
    w->dev[w->depth] = st.st_dev;
    w->ino[w->depth] = st.st_ino;
    w->depth++;
    char **names;
    int n, rc = list_dir(dir, &names, &n, w->err, w->errlen);
    for (int i = 0; i < n && !rc; i++) {
        char sub[8192], full[8192];
        rt_fmt(sub, sizeof sub, "%s/%s", rel, names[i]);
        rt_fmt(full, sizeof full, "%s/%s", w->root, sub);
        if (stat(full, &st) != 0) {
            rt_fmt(w->err, w->errlen, "%s: %s", full,
                   errno == ELOOP ? "symlink loop (too many levels of symbolic links)"
                                  : strerror(errno));
            rc = DS_EIO;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(w, sub, label);
        } else if (S_ISREG(st.st_mode)) {
            rc = elist_add(w->out, sub, label, &st, st.st_size == 0 ? 1 : !image_ext(names[i]) ? 2 : 0);
        }
    }
    free_names(names, n);
    w->depth--;
    return rc;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Classes = the folders of split_dir; files of every class into *out. */
static int scan_split(const char *root, const char *split, char **classes, int nclasses,
                      elist *out, char *err, size_t errlen)
{
    char dir[4200];
    rt_fmt(dir, sizeof dir, "%s%s%s", root, *split ? "/" : "", split);
    char **names;
    int n, rc = list_dir(dir, &names, &n, err, errlen);
    if (rc)
        return rc;
    walker w = {.root = root, .out = out, .err = err, .errlen = errlen};
    for (int i = 0; i < n && !rc; i++) {
        char rel[4200], full[8400];
        rt_fmt(rel, sizeof rel, "%s%s%s", split, *split ? "/" : "", names[i]);
        rt_fmt(full, sizeof full, "%s/%s", root, rel);
        if (!is_dir(full))
            continue;  /* a README beside the class folders */
        int label = -1;
        for (int c = 0; c < nclasses; c++)
            if (strcmp(classes[c], names[i]) == 0)
                label = c;
        if (label < 0) {
            rt_fmt(err, errlen, "%s: class folder '%s' is not among the training classes", full,
                   names[i]);
            rc = DS_EFORMAT;
            break;
        }
        int before = out->n;
        rc = walk(&w, rel, label);
        if (!rc && out->n == before) {
            rt_fmt(err, errlen, "%s: class folder '%s' has no images", full, names[i]);
            rc = DS_EFORMAT;
        }
    }
    free_names(names, n);
    return rc;
}

/* The class names: the sub-folders of the training folder, sorted. */
static int scan_classes(const char *train_dir, char ***classes, int *n, char *err, size_t errlen)
{
    char **names;
    int count, rc = list_dir(train_dir, &names, &count, err, errlen);
    if (rc)
        return rc;
    int k = 0;
    for (int i = 0; i < count; i++) {
        char full[8400];
        rt_fmt(full, sizeof full, "%s/%s", train_dir, names[i]);
        if (is_dir(full))
            names[k++] = names[i];
        else
            free(names[i]);
    }
    if (k < 2 || k > 256) {
        rt_fmt(err, errlen, "%s: %d class folder%s; image classification needs 2 to 256 "
               "(layout: PATH/train/<class>/*.png|jpg)", train_dir, k, k == 1 ? "" : "s");
        free_names(names, k);
        return DS_EFORMAT;
    }
    *classes = names;
    *n = k;
    return 0;
}

/* ---- the cache file ------------------------------------------------------------ */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *v, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void put_i32(wbuf *b, int32_t v) { put(b, &v, 4); }

static void put_str(wbuf *b, const char *s)
{
    uint16_t n = (uint16_t)strlen(s);
    put(b, &n, 2);
    put(b, s, n);
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, off;
    int bad;
} rbuf;

static const void *take(rbuf *b, size_t n)
{
    if (b->bad || b->n - b->off < n) {
        b->bad = 1;
        return NULL;
    }
    const void *v = b->p + b->off;
    b->off += n;
    return v;
}

static int32_t take_i32(rbuf *b)
{
    const void *v = take(b, 4);
    int32_t x = 0;
    if (v)
        memcpy(&x, v, 4);
    return x;
}

static char *take_str(rbuf *b)
{
    const void *v = take(b, 2);
    uint16_t n = 0;
    if (v)
        memcpy(&n, v, 2);
    const char *s = take(b, n);
    char *r = s ? malloc((size_t)n + 1) : NULL;
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    } else {
        b->bad = 1;
    }
    return r;
}

static int write_cache(const ds_dataset *d, const char *key, const char *path)
{
    const ds_folder *f = d->folder;
    wbuf b = {0};
    put(&b, CACHE_MAGIC, 8);
    put(&b, key, 64);
    put_i32(&b, f->size);
    put_i32(&b, f->channels);
    put_i32(&b, f->nclasses);
    put_i32(&b, d->train.n);
    put_i32(&b, d->test.n);
    put_i32(&b, f->skipped);
    put(&b, d->mean, sizeof d->mean);
    put(&b, d->std, sizeof d->std);
    put_str(&b, f->first_bad);
    for (int i = 0; i < f->nclasses; i++)
        put_str(&b, f->classes[i]);
    for (int i = 0; i < d->train.n; i++)
        put_str(&b, f->train_files[i]);
    for (int i = 0; i < d->test.n; i++)
        put_str(&b, f->test_files[i]);
    size_t px = (size_t)f->channels * f->size * f->size;
    put(&b, d->train.y, (size_t)d->train.n);
    put(&b, d->test.y, (size_t)d->test.n);
    put(&b, d->train.x, px * (size_t)d->train.n);
    put(&b, d->test.x, px * (size_t)d->test.n);
    uint32_t crc = (uint32_t)crc32(0L, b.p, (uInt)0);
    for (size_t off = 0; off < b.n; off += 1u << 30) {
        size_t n = b.n - off < (1u << 30) ? b.n - off : (1u << 30);
        crc = (uint32_t)crc32(crc, b.p + off, (uInt)n);
    }
    put(&b, &crc, 4);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    char tmp[4200];
    rt_fmt(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    int ok = fp && fwrite(b.p, 1, b.n, fp) == b.n;
    ok = fp && fclose(fp) == 0 && ok;
    free(b.p);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int split_alloc(ds_split *s, int n, int c, int size)
{
    s->n = n, s->c = c, s->h = s->w = size;
    s->x = malloc((size_t)c * size * size * (size_t)(n ? n : 1));
    s->y = malloc((size_t)(n ? n : 1));
    return s->x && s->y ? 0 : DS_ENOMEM;
}

/* 0 loaded, 1 no usable cache (note says why), < 0 out of memory. */
static int read_cache(ds_dataset *d, const char *key, const char *path, char *note, size_t notelen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        rt_fmt(note, notelen, "no cache yet");
        return 1;
    }
    struct stat st;
    uint8_t *p = NULL;
    int ok = fstat(fileno(fp), &st) == 0 && st.st_size >= 8 + 64 + 4 &&
             (p = malloc((size_t)st.st_size)) && fread(p, 1, (size_t)st.st_size, fp) == (size_t)st.st_size;
    fclose(fp);
    if (!ok) {
        free(p);
        rt_fmt(note, notelen, "cache %s unreadable or damaged (too short)", path);
        return 1;
    }
    size_t n = (size_t)st.st_size;
    if (memcmp(p, CACHE_MAGIC, 8) != 0) {
        free(p);
        rt_fmt(note, notelen, "cache %s damaged (bad magic)", path);
        return 1;
    }
    if (memcmp(p + 8, key, 64) != 0) {
        free(p);
        rt_fmt(note, notelen, "the folder changed since it was cached");
        return 1;
    }
    uint32_t crc = (uint32_t)crc32(0L, NULL, 0), want;
    for (size_t off = 0; off < n - 4; off += 1u << 30) {
        size_t k = n - 4 - off < (1u << 30) ? n - 4 - off : (1u << 30);
        crc = (uint32_t)crc32(crc, p + off, (uInt)k);
    }
    memcpy(&want, p + n - 4, 4);
    if (crc != want) {
        free(p);
        rt_fmt(note, notelen, "cache %s damaged (checksum mismatch)", path);
        return 1;
    }
    rbuf b = {p, n - 4, 72, 0};
    ds_folder *f = d->folder;
    f->size = take_i32(&b);
    f->channels = take_i32(&b);
    f->nclasses = take_i32(&b);
    int ntr = take_i32(&b), nte = take_i32(&b);
    f->skipped = take_i32(&b);
    const void *m = take(&b, sizeof d->mean), *s = take(&b, sizeof d->std);
    int rc = 1;
    if (b.bad || f->size < 1 || f->size > 1024 || (f->channels != 1 && f->channels != 3) ||
        f->nclasses < 2 || f->nclasses > 256 || ntr < 1 || nte < 0)
        goto bad;
    memcpy(d->mean, m, sizeof d->mean);
    memcpy(d->std, s, sizeof d->std);
    char *fb = take_str(&b);
    if (fb)
        rt_fmt(f->first_bad, sizeof f->first_bad, "%s", fb);
    free(fb);
    f->classes = calloc((size_t)f->nclasses, sizeof *f->classes);
    f->train_files = calloc((size_t)ntr, sizeof *f->train_files);
    f->test_files = calloc((size_t)(nte ? nte : 1), sizeof *f->test_files);
    f->ntrain = ntr;
    f->ntest = nte;
    if (!f->classes || !f->train_files || !f->test_files) {
        rc = -1;
        goto bad;
    }
    for (int i = 0; i < f->nclasses; i++)
        f->classes[i] = take_str(&b);
    for (int i = 0; i < ntr; i++)
        f->train_files[i] = take_str(&b);
    for (int i = 0; i < nte; i++)
        f->test_files[i] = take_str(&b);
    size_t px = (size_t)f->channels * f->size * f->size;
    if (split_alloc(&d->train, ntr, f->channels, f->size) ||
        split_alloc(&d->test, nte, f->channels, f->size)) {
        rc = -1;
        goto bad;
    }
    const void *ytr = take(&b, (size_t)ntr), *yte = take(&b, (size_t)nte);
    const void *xtr = take(&b, px * ntr), *xte = take(&b, px * nte);
    if (b.bad || b.off != b.n)
        goto bad;
    memcpy(d->train.y, ytr, (size_t)ntr);
    memcpy(d->test.y, yte, (size_t)nte);
    memcpy(d->train.x, xtr, px * ntr);
    memcpy(d->test.x, xte, px * nte);
    for (int i = 0; i < ntr; i++)
        if (d->train.y[i] >= f->nclasses)
            goto bad;
    for (int i = 0; i < nte; i++)
        if (d->test.y[i] >= f->nclasses)
            goto bad;
    free(p);
    return 0;
bad:
    free(p);
    rt_fmt(note, notelen, "cache %s damaged (inconsistent contents)", path);
    return rc;
}

/* ---- decoding ------------------------------------------------------------------ */

static void progress(const char *root, int done, int total, double t0, int final)
{
    static double last;
    double now = rt_now();
    if (!final && now - last < 0.2)
        return;
    last = now;
    fprintf(stderr, "\r\033[Kdecoding %s: %d/%d images (%.0f/s)%s", root, done, total,
            done / (now - t0 > 1e-9 ? now - t0 : 1e-9), final ? "\r\033[K" : "");
    fflush(stderr);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Pick size and channels from the training images' headers when not given. */
static int resolve_auto(const fopts *o, elist *tr, int *size, int *channels, char *err,
                        size_t errlen)
{
    *size = o->size;
    *channels = o->channels;
    if (*size && *channels)
        return 0;
    int *sides = malloc(sizeof(int) * (size_t)tr->n), k = 0, colour = 0;
    if (!sides)
        return DS_ENOMEM;
    for (int i = 0; i < tr->n; i++) {
        if (tr->e[i].bad)
            continue;
        char path[8400], e[256];
        img_info in;
        rt_fmt(path, sizeof path, "%s/%s", o->root, tr->e[i].rel);
        if (img_probe(path, &in, e, sizeof e) == 0) {
            sides[k++] = in.width < in.height ? in.width : in.height;
            colour |= in.channels == 3;
        }  /* a bad header is reported when the file is decoded */
    }
    qsort(sides, (size_t)k, sizeof *sides, cmp_int);
    if (!*size)
        *size = k ? (sides[k / 2] < 8 ? 8 : sides[k / 2] > 64 ? 64 : sides[k / 2]) : 32;
    if (!*channels)
        *channels = colour ? 3 : 1;
    free(sides);
    (void)err, (void)errlen;
    return 0;
}

/* Decode every entry of l into split s (bad ones dropped with bad=skip);
 * names receives the kept relative paths. */
static int decode_list(const fopts *o, ds_folder *f, elist *l, ds_split *s, char ***names,
                       int *done, int total, double t0, int tty, char *err, size_t errlen)
{
    size_t px = (size_t)f->channels * f->size * f->size;
    int n = l->n, rc = 0;
    uint8_t *x = malloc(px * (size_t)(n ? n : 1));
    char **msg = calloc((size_t)(n ? n : 1), sizeof *msg);
    *names = calloc((size_t)(n ? n : 1), sizeof **names);
    if (!x || !msg || !*names) {
        free(x);
        free(msg);
        return DS_ENOMEM;
    }
    volatile int stop = 0;
#pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < n; i++) {
        if (stop)
            continue;
        char path[8400], e[700];
        rt_fmt(path, sizeof path, "%s/%s", o->root, l->e[i].rel);
        int r;
        if (l->e[i].bad == 1) {
            rt_fmt(e, sizeof e, "%s: the file has 0 bytes", path);
            r = IMG_EEMPTY;
        } else if (l->e[i].bad == 2) {
            rt_fmt(e, sizeof e, "%s: unknown image format (supported: .png, .jpg, .jpeg)", path);
            r = IMG_EFORMAT;
        } else {
            r = img_load(path, f->size, f->channels, o->max_pixels, x + px * (size_t)i, NULL, e,
                         sizeof e);
        }
        if (r && !(msg[i] = strdup(e)))
            msg[i] = strdup("out of memory");
        if (r && !o->skip_bad)
            stop = 1;
        if (rt_interrupted())
            stop = 1;
        int d;
#pragma omp atomic capture
        d = ++*done;
        if (tty && omp_get_thread_num() == 0)
            progress(o->root, d, total, t0, 0);
    }
    if (rt_interrupted()) {
        rt_fmt(err, errlen, "%s: interrupted while decoding", o->root);
        rc = DS_EIO;
    }
    int k = 0, bad = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!msg[i]) {
            if (k != i)
                memmove(x + px * (size_t)k, x + px * (size_t)i, px);
            if (!((*names)[k] = strdup(l->e[i].rel))) {
                rc = DS_ENOMEM;
                break;
            }
            l->e[k].label = l->e[i].label;
            k++;
            continue;
        }
        if (!o->skip_bad) {
            int others = 0;
            for (int j = i + 1; j < n; j++)
                others += msg[j] != NULL;
            rt_fmt(err, errlen, "%s%s (--bad-images skip, or bad=skip in the dataset name, skips bad images and counts them)",
                   msg[i], others ? " (and more bad images after it)" : "");
            rc = DS_EFORMAT;
            break;
        }
        if (!bad++ && !f->first_bad[0])
            rt_fmt(f->first_bad, sizeof f->first_bad, "%s", msg[i]);
    }
    f->skipped += bad;
    for (int i = 0; i < n; i++)
        free(msg[i]);
    free(msg);
    if (rc) {
        free_names(*names, k);
        *names = NULL;
        free(x);
        return rc;
    }
    s->n = k, s->c = f->channels, s->h = s->w = f->size;
    s->x = x;
    s->y = malloc((size_t)(k ? k : 1));
    if (!s->y)
        return DS_ENOMEM;
    for (int i = 0; i < k; i++)
        s->y[i] = (uint8_t)l->e[i].label;
    return 0;
}


void ds_folder_free(ds_folder *f)
{
    if (!f)
        return;
    free_names(f->classes, f->nclasses);
    free_names(f->train_files, f->ntrain);
    free_names(f->test_files, f->ntest);
    free(f);
}

/* Back to an empty folder dataset (after a cache that could not be used). */
static void folder_reset(ds_dataset *d)
{
    ds_folder *f = d->folder;
    ds_split_free(&d->train);
    ds_split_free(&d->test);
    free_names(f->classes, f->nclasses);
    free_names(f->train_files, f->ntrain);
    free_names(f->test_files, f->ntest);
    f->classes = f->train_files = f->test_files = NULL;
    f->nclasses = f->ntrain = f->ntest = f->skipped = 0;
    f->first_bad[0] = '\0';
}

/* SHA-256 over the options and every file's name, class, size and mtime. */
static int folder_key(const fopts *o, const elist *tr, const elist *te, char key[HASH_SHA256_HEX])
{
    wbuf b = {0};
    char line[8600];
    rt_fmt(line, sizeof line, "llmnas folder cache 1\nsize=%d channels=%d bad=%d max_pixels=%lld\n",
           o->size, o->channels, o->skip_bad, (long long)o->max_pixels);
    put(&b, line, strlen(line));
    const elist *ls[2] = {tr, te};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ls[k]->n; i++) {
            const entry *e = &ls[k]->e[i];
            rt_fmt(line, sizeof line, "%d\t%d\t%s\t%lld\t%lld\n", k, e->label, e->rel,
                   (long long)e->size, (long long)e->mtime_ns);
            put(&b, line, strlen(line));
        }
    int rc = b.oom ? DS_ENOMEM : hash_sha256_hex(b.p, b.n, key) ? DS_ENOMEM : 0;
    free(b.p);
    return rc;
}

static int mkdirs(const char *path)
{
    char p[4096];
    rt_fmt(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void mean_std(ds_dataset *d)
{
    const ds_split *s = &d->train;
    size_t plane = (size_t)s->h * s->w;
    for (int c = 0; c < s->c; c++) {
        double sum = 0, sq = 0;
        for (int i = 0; i < s->n; i++) {
            const uint8_t *p = s->x + ((size_t)i * s->c + c) * plane;
            uint64_t a = 0, b = 0;
            for (size_t k = 0; k < plane; k++) {
                a += p[k];
                b += (uint64_t)p[k] * p[k];
            }
            sum += (double)a;
            sq += (double)b;
        }
        double n = (double)s->n * plane, m = sum / n / 255.0;
        double var = sq / n / (255.0 * 255.0) - m * m;
        d->mean[c] = (float)m;
        d->std[c] = (float)(var > 1e-12 ? sqrt(var) : 1.0);
    }
}

/* Decode both splits; check no class lost all its images to bad=skip. */
static int decode_all(const fopts *o, ds_dataset *d, elist *tr, elist *te, char *err,
                      size_t errlen)
{
    ds_folder *f = d->folder;
    int rc = resolve_auto(o, tr, &f->size, &f->channels, err, errlen);
    if (rc)
        return rc;
    int done = 0, total = tr->n + te->n, tty = isatty(STDERR_FILENO);
    double t0 = rt_now();
    rc = decode_list(o, f, tr, &d->train, &f->train_files, &done, total, t0, tty, err, errlen);
    if (!rc)
        f->ntrain = d->train.n;
    if (!rc)
        rc = decode_list(o, f, te, &d->test, &f->test_files, &done, total, t0, tty, err, errlen);
    if (!rc)
        f->ntest = d->test.n;
    if (tty)
        progress(o->root, done, total, t0, 1);
    if (rc)
        return rc;
    int *count = calloc((size_t)f->nclasses, sizeof *count);
    if (!count)
        return DS_ENOMEM;
    for (int i = 0; i < d->train.n; i++)
        count[d->train.y[i]]++;
    for (int c = 0; c < f->nclasses && !rc; c++)
        if (!count[c]) {
            rt_fmt(err, errlen, "%s: class '%s' has no readable training images (%d bad images skipped; first: %s)",
                   o->root, f->classes[c], f->skipped, f->first_bad);
            rc = DS_EFORMAT;
        }
    free(count);
    return rc;
}

static int cache_file(const fopts *o, char *path, size_t len)
{
    char real[PATH_MAX], h[17], buf[PATH_MAX + 128];
    if (!o->cache_dir[0] || !realpath(o->root, real))
        return -1;
    rt_fmt(buf, sizeof buf, "%s\n%d %d %d %lld", real, o->size, o->channels, o->skip_bad,
           (long long)o->max_pixels);
    if (hash_sha256_prefix(buf, strlen(buf), h, 16) || mkdirs(o->cache_dir))
        return -1;
    const char *b = strrchr(real, '/');
    rt_fmt(path, len, "%s/folder-%.40s-%s.u8", o->cache_dir, b && b[1] ? b + 1 : "root", h);
    return 0;
}

static int scan(const fopts *o, ds_folder *f, elist *tr, elist *te, char *err, size_t errlen)
{
    char train_dir[4200], test_dir[4200];
    struct stat st;
    if (stat(o->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rt_fmt(err, errlen, "%s: %s (an image folder is PATH/train/<class>/*.png|jpg)", o->root,
               errno == 0 || S_ISREG(st.st_mode) ? "not a folder" : strerror(errno));
        return DS_EIO;
    }
    rt_fmt(train_dir, sizeof train_dir, "%s/train", o->root);
    rt_fmt(test_dir, sizeof test_dir, "%s/test", o->root);
    int split = is_dir(train_dir);
    int rc = scan_classes(split ? train_dir : o->root, &f->classes, &f->nclasses, err, errlen);
    if (!rc)
        rc = scan_split(o->root, split ? "train" : "", f->classes, f->nclasses, tr, err, errlen);
    if (!rc && split && is_dir(test_dir))
        rc = scan_split(o->root, "test", f->classes, f->nclasses, te, err, errlen);
    return rc;
}

int ds_folder_fill(const char *arg, const char *dir, ds_dataset *d, char *err, size_t errlen)
{
    fopts o;
    int rc = parse_spec(arg ? arg : "", dir, &o, err, errlen);
    if (rc)
        return rc;
    double t0 = rt_now();
    if (!(d->folder = calloc(1, sizeof *d->folder)))
        return DS_ENOMEM;
    ds_folder *f = d->folder;
    rt_fmt(f->root, sizeof f->root, "%s", o.root);
    f->skip_bad = o.skip_bad;
    if (!d->name[0])
        rt_fmt(d->name, sizeof d->name, DS_FOLDER_PREFIX ":%s", o.root);
    elist tr = {0}, te = {0};
    char key[HASH_SHA256_HEX];
    if ((rc = scan(&o, f, &tr, &te, err, errlen)) || (rc = folder_key(&o, &tr, &te, key)))
        goto out;
    if (cache_file(&o, f->cache_path, sizeof f->cache_path) == 0) {
        char **classes = f->classes;
        int nclasses = f->nclasses;
        f->classes = NULL;
        f->nclasses = 0;
        int r = read_cache(d, key, f->cache_path, f->cache_note, sizeof f->cache_note);
        if (r == 0) {
            f->from_cache = 1;
            free_names(classes, nclasses);
            goto done;
        }
        if (strstr(f->cache_note, "damaged"))
            fprintf(stderr, "llmnas: %s: decoding the folder again\n", f->cache_note);
        folder_reset(d);
        f->classes = classes;
        f->nclasses = nclasses;
        if (r < 0) {
            rc = DS_ENOMEM;
            goto out;
        }
    } else {
        f->cache_path[0] = '\0';
        rt_fmt(f->cache_note, sizeof f->cache_note, "caching off");
    }
    if ((rc = decode_all(&o, d, &tr, &te, err, errlen)))
        goto out;
    mean_std(d);
    if (f->cache_path[0] && write_cache(d, key, f->cache_path) != 0)
        fprintf(stderr, "llmnas: could not write the image cache %s: %s (continuing without it)\n",
                f->cache_path, strerror(errno));
    if (f->skipped)
        fprintf(stderr, "llmnas: %s: skipped %d bad image%s (first: %s)\n", o.root, f->skipped,
                f->skipped == 1 ? "" : "s", f->first_bad);
done:
    d->classes = f->nclasses;
    d->c = f->channels;
    d->h = d->w = f->size;
    d->test.c = d->train.c;
    d->test.h = d->test.w = d->train.h;
    f->seconds = rt_now() - t0;
    rc = 0;
out:
    elist_free(&tr);
    elist_free(&te);
    return rc;
}

