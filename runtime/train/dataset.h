/*
 * dataset.h — image-classification datasets held in memory as bytes (Lua-free).
 *
 * Formats: IDX (gzipped or plain; MNIST, Fashion-MNIST and any IDX3/IDX1
 * pair) and CIFAR-10 / CIFAR-100 binary. Every file is validated (magic
 * number, dimensions, exact size): a corrupt or truncated file gives an error
 * naming the file, the byte offset and what was expected, never a crash.
 *
 * One registry (dataset.c, ds_info) is the only list of datasets: the
 * trainer, the Lua module (train.datasets()), the search's task shapes and
 * the --help of `llmnas run` and `llmnas train` all read it. It resolves a
 * name to files under a data directory (ds_data_dir): DIR/SUBDIR/ then DIR/
 * itself, and — only when no directory was chosen — a system copy (Debian's
 * /usr/share/datasets/fashion-mnist). A chosen directory that lacks the files
 * is an error naming every place looked in, never a silent fallback.
 * Names ending in ':' are schemes ("folder:") matching NAME:ARG.
 *
 * Images stay as bytes, [N, C, H, W] in CHW order; batches are converted to
 * normalised float32 on the fly (ds_batch_fill), with the paper's CIFAR
 * augmentation (random crop 32 with zero padding 4, horizontal flip) when
 * asked. Converting a batch of 128 costs well under a millisecond, so it runs
 * on the training thread between steps: a prefetch thread would take a core
 * away from oneDNN's OpenMP team, and ONEDNN.md measured how badly two
 * OpenMP threads collapse when a core is taken from them.
 *
 * Return codes: 0, or a negative DS_E* code; err receives a message.
 * Thread rules: a loaded dataset is read-only and may be shared; ds_batch_fill
 * writes only its outputs.
 */
#ifndef LLMNAS_DATASET_H
#define LLMNAS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "train/dataset_data.h"

/* The return codes, ds_split and ds_dataset: dataset_data.h. */

/* ---- the registry ---- */

/* One registered dataset: what every layer knows about it. A row of the
 * table in dataset.c; adding a dataset is adding a row (and, for a new file
 * format, its loader). */
typedef struct ds_info {
    const char *name;        /* "fashion-mnist"; ending in ':' = a scheme ("folder:") */
    const char *about;       /* one line for --help */
    int c, h, w, classes;    /* input shape and classes; 0 where only the files tell (schemes) */
    int ntrain, ntest;       /* images in the standard train and test splits (0: the files tell) */
    const char *subdir;      /* searched as DIR/subdir/ before DIR/ (NULL: DIR/ only) */
    const char *system_dir;  /* a packaged copy used when no directory was chosen, or NULL */
    float mean[3], std[3];   /* per channel, on pixel/255 */
    int augment;             /* 1: CIFAR-style crop + flip by default */
    /* Fill d->train and d->test from the first of dirs[0..ndirs) holding the
     * files; arg is the text after a scheme's ':' (NULL for plain names).
     * Returns 0 or a DS_E* code with err naming what was looked for where. */
    int (*load)(const struct ds_info *e, const char *arg, const char *const *dirs, int ndirs,
                struct ds_dataset *d, char *err, size_t errlen);
    int variant;             /* the loader's own parameter (CIFAR: 1 = 10, 2 = 100 fine, 3 = coarse) */
} ds_info;

/* Number of registered datasets, and entry i (0..ds_count()-1; NULL outside).
 * Entry 0 is the default dataset. */
int ds_count(void);
const ds_info *ds_at(int i);

/* The default dataset's name (entry 0): the one default every layer uses. */
const char *ds_default_name(void);

/* The entry for name: an exact plain name, or a scheme whose prefix name
 * starts with ("folder:PATH" -> "folder:", *arg = "PATH"), or the scheme without
 * its colon ("folder", "folder?size=32" -> *arg = "" / "?size=32": no path, the
 * data directory is the folder). arg may be NULL. Returns NULL for an unknown name. */
const ds_info *ds_find(const char *name, const char **arg);

/* Comma-separated list of registered names (schemes as "folder:PATH"), for
 * messages and --help. Static storage. */
const char *ds_names(void);

/* The data directory: dir if non-NULL and non-empty, else $LLMNAS_DATA, else
 * "data". Returns a pointer to static or caller storage. */
const char *ds_data_dir(const char *dir);

/* Nonzero when the user chose the data directory (dir non-empty or
 * $LLMNAS_DATA set): then a system copy (ds_info.system_dir) is not used. */
int ds_data_dir_chosen(const char *dir);

/* Load a registered dataset by name (ds_find) from data directory dir (see
 * ds_data_dir; NULL = default). *out owned by the caller, freed with ds_free.
 * "folder:PATH[?options]" is an image folder (dataset_folder.h).
 * DS_EUNKNOWN lists the known names; DS_EIO names the files and every
 * directory looked in. */
int ds_load(const char *name, const char *dir, ds_dataset **out, char *err, size_t errlen);
/* Free a loaded dataset (NULL is fine). */
void ds_free(ds_dataset *d);

/* ---- low-level loaders ---- */

/* An IDX3 image file and its IDX1 label file (either gzipped or plain) into
 * a zeroed split (free with ds_split_free, dataset_data.h); labels must be below classes. */
int ds_load_idx(const char *images_path, const char *labels_path, ds_split *s,
                int classes, char *err, size_t errlen);
/* CIFAR binary: records of label byte(s) + 3072 pixel bytes. label_bytes is 1
 * (CIFAR-10) or 2 (CIFAR-100: coarse, fine); label_index picks which (0 or 1). */
int ds_load_cifar(const char *const *paths, int npaths, int label_bytes, int label_index,
                  int classes, ds_split *s, char *err, size_t errlen);

/* A seeded hold-out: a permutation of the n training images (seed); the first
 * round(val_fraction * n) go to validation, the rest to training. Then `subset`
 * (0 = all) keeps that many training images: the first ones of the permuted
 * order, or with stratified = 1 the same number per class (remainder to the
 * lowest classes). Validation does not depend on subset, so scores of
 * different subset sizes compare. Arrays malloc'd, caller frees. */
typedef struct ds_indices {
    int *train, *val;
    int ntrain, nval;
} ds_indices;
int ds_make_split(const ds_split *s, double val_fraction, uint64_t seed, int subset,
                  int stratified, ds_indices *out, char *err, size_t errlen);
/* Free the index arrays and zero ix (NULL is fine). */
void ds_indices_free(ds_indices *ix);

/* Fill x [n, c, h, w] float32 ((pixel/255 - mean) / std) and y [n] with the
 * images idx[0..n). augment: random crop with padding 4 (padding is pixel 0)
 * and horizontal flip, drawn from *rng. */
void ds_batch_fill(const ds_dataset *d, const ds_split *s, const int *idx, int n,
                   float *x, int32_t *y, int augment, uint64_t *rng);

/* Shuffle idx[0..n) in place (Fisher-Yates) with *rng. */
void ds_shuffle(int *idx, int n, uint64_t *rng);

/* The generator used everywhere in training (splitmix64): deterministic, tiny. */
uint64_t ds_rand(uint64_t *state);
double ds_rand_uniform(uint64_t *state); /* [0, 1) */

/* "DS_EIO: ..." — a static string for any code (unknown codes included). */
const char *ds_strerror(int code);

#endif
