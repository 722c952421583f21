/*
 * dataset_data.h — a dataset in memory: its images as bytes, its splits, and
 * the loaders' return codes. The registry and the built-in formats
 * (dataset.h) and the image-folder loader (dataset_folder.h) both fill it;
 * it knows neither, so neither needs the other to describe what it fills.
 */
#ifndef LLMNAS_DATASET_DATA_H
#define LLMNAS_DATASET_DATA_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    DS_OK = 0,
    DS_EIO = -2501,       /* file missing or unreadable */
    DS_EFORMAT = -2502,   /* wrong magic, dimensions or size (message names file and offset) */
    DS_ENOMEM = -2503,
    DS_EUNKNOWN = -2504,  /* no dataset of that name */
    DS_EARG = -2505,      /* bad split / subset arguments */
};

/* One split (train or test): n images of c x h x w bytes and their labels. */
typedef struct ds_split {
    int n, c, h, w;
    uint8_t *x;       /* [n, c, h, w] */
    uint8_t *y;       /* [n], each < classes */
} ds_split;

typedef struct ds_dataset {
    char name[256];         /* as asked for ("cifar10", "folder:PATH") */
    int c, h, w, classes;
    float mean[3], std[3];  /* per channel, on pixel/255 */
    int augment;            /* 1: CIFAR-style crop + flip is the dataset's default */
    ds_split train, test;
    struct ds_folder *folder;  /* image folders only (dataset_folder.h): classes, files; else NULL */
} ds_dataset;

/* Free a split's arrays and zero it (NULL is fine). */
static inline void ds_split_free(ds_split *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

#endif
