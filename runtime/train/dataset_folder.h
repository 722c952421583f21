/*
 * dataset_folder.h — a user's image folder as a dataset (Lua-free).
 *
 * Layout (torchvision's ImageFolder, Keras's image_dataset_from_directory):
 *
 *     PATH/train/<class>/ *.{png,jpg,jpeg}   required (or PATH/<class>/... when
 *     PATH/test/<class>/ *.{png,jpg,jpeg}    PATH has no train/ folder)
 *
 * Class names are the folder names of train/, sorted bytewise; a test/ class
 * must be one of them. Subfolders of a class folder are walked too; names
 * starting with '.' are ignored. Validation is held out from train by the
 * trainer, seeded, as for the built-in datasets.
 *
 * The dataset name carries the options, so that everything which passes a
 * dataset name around (train_opts, the per-process cache, forked workers,
 * Lua, --dataset) carries them too:
 *
 *     folder:PATH[?key=value&...]   or "folder" with the data directory as PATH
 *
 *     size=N        images resized to N x N (default: the median of the training
 *                   images' shorter sides, clamped to 8..64)
 *     channels=1|3  grey or RGB (default: 3 if any training image is in colour)
 *     bad=stop|skip a bad image (corrupt, truncated, unknown format, 0 bytes,
 *                   over the pixel limit) stops loading with its name (default),
 *                   or is skipped and counted
 *     max_pixels=N  declared width x height above which a file is bad
 *                   (default IMG_DEFAULT_MAX_PIXELS, 64 M)
 *     cache=DIR|off where the decoded cache lives (default $LLMNAS_CACHE_DIR,
 *                   else llmnas.db/cache, beside the default store)
 *
 * Images are decoded once (image_decode.h, in parallel on the OpenMP team)
 * and cached as one uint8 file: a header, class names, file names, labels and
 * pixels, with a CRC-32 of all of it at the end. The cache is keyed by the
 * SHA-256 of the options and the folder's file list with sizes and mtimes: a
 * changed folder is decoded again; a cache whose checksum does not match is
 * reported and rebuilt. Per-channel mean and std are computed from the
 * training images (the whole train/ folder, validation included: the hold-out
 * is the trainer's).
 *
 * While decoding, a progress line is written to stderr when it is a terminal;
 * skipped images are reported on stderr once, with the first one's reason.
 */
#ifndef LLMNAS_DATASET_FOLDER_H
#define LLMNAS_DATASET_FOLDER_H

#include <stddef.h>
#include <stdint.h>

#include "train/dataset_data.h"

#define DS_FOLDER_PREFIX "folder"

/* What a folder dataset knows beyond the pixels (ds_dataset.folder). */
typedef struct ds_folder {
    char root[4096];       /* PATH as given */
    int size, channels;    /* resolved */
    int skip_bad;          /* 1: bad=skip */
    int skipped;           /* images skipped as bad */
    char first_bad[512];   /* the first skipped image's reason, "" if none */
    int nclasses;
    char **classes;        /* [nclasses], sorted */
    char **train_files;    /* [train.n] paths relative to root, in split order */
    char **test_files;     /* [test.n] */
    int ntrain, ntest;     /* lengths of train_files, test_files */
    char cache_path[4096]; /* "" when caching is off */
    int from_cache;        /* 1: loaded from the cache without decoding */
    char cache_note[256];  /* why it was decoded: "no cache yet", "the folder changed", ... */
    double seconds;        /* scanning + decoding (or reading the cache) */
} ds_folder;

/* 1 if name is a folder dataset name ("folder" or "folder:..."). */
int ds_folder_is(const char *name);

/* Load the folder into the zeroed dataset d (the registry's loader for
 * "folder:", dataset.c; ds_load is the entry point): arg is the text after
 * "folder:" (PATH[?options]; "" = dir, the data directory as the registry resolved it). Errors: DS_EIO
 * (folder missing, unreadable file, symlink loop), DS_EFORMAT (a bad image
 * with bad=stop, an empty class folder, fewer than two classes, more than
 * 256), DS_EARG (bad options), DS_ENOMEM; Ctrl-C while decoding gives DS_EIO
 * with "interrupted". err names the file. On failure d may hold parts;
 * ds_free(d) frees them. */
int ds_folder_fill(const char *arg, const char *dir, ds_dataset *d, char *err, size_t errlen);

/* Free what ds_dataset.folder holds (NULL is fine); ds_free calls it. */
void ds_folder_free(ds_folder *f);

#endif
