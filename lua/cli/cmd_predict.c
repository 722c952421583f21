/*
 * cmd_predict.c — `llmnas predict MODEL_DIR IMAGE|FOLDER...`: classify images
 * with a model saved by `llmnas train --save`, using its recorded
 * preprocessing; top-k classes with probabilities, as text or JSON lines.
 *
 * Images are decoded in parallel (the OpenMP team) a batch at a time and run
 * through the network in batches, so a folder of 10,000 images costs about
 * what the trainer's own evaluation of 10,000 images costs.
 */
#include "cli/cli.h"
#include "base/rt.h"
#include "train/train.h"
#include "train/train_model.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char predict_usage[] =
    "llmnas predict MODEL_DIR IMAGE|FOLDER... [--top K] [--json] [--logits] [--batch N]";

static const char predict_help[] =
    "usage: llmnas predict MODEL_DIR IMAGE|FOLDER... [OPTIONS]\n"
    "\n"
    "Classifies PNG and JPEG images with a model saved by `llmnas train --save DIR`.\n"
    "Each image is preprocessed as the training images were (resized to the\n"
    "model's input size, grey or RGB, normalised with the recorded mean and std).\n"
    "A FOLDER is searched recursively for .png, .jpg and .jpeg files (sorted).\n"
    "Text output: one line per image, the file then `class probability` pairs.\n"
    "\n"
    "options:\n"
    "  --top K            classes shown per image (default 3, at most the class count)\n"
    "  --json             one JSON object per line: file, top (class, index, prob)\n"
    "  --logits           with --json: also the raw logits\n"
    "  --batch N          images per inference batch (default 128)\n"
    "  --threads N        OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
    "  -h, --help         this help\n"
    "\n"
    "An image that cannot be read is reported on stderr and the others are still\n"
    "classified. A summary (images, seconds, images/s) goes to stderr.\n"
    "\n"
    "exit codes: 0 all classified, 64 bad usage, 65 some image could not be read,\n"
    "66 model folder not readable, 130 interrupted\n";

typedef struct paths {
    char **v;
    int n, cap;
} paths;

static int add_path(paths *p, const char *s)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 256;
        char **v = realloc(p->v, sizeof *v * (size_t)cap);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    return (p->v[p->n++] = strdup(s)) ? 0 : -1;
}

static void paths_free(paths *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return n[0] != '.' && dot &&
           (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0);
}

/* Image files under dir, recursively (depth-capped against symlink loops). */
static int walk(const char *dir, int depth, paths *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "llmnas predict: %s: cannot read the folder: %s\n", dir, strerror(errno));
        return -1;
    }
    int first = out->n, rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) && !rc) {
        if (de->d_name[0] == '.')
            continue;
        char p[8192];
        struct stat st;
        rt_fmt(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 32)
                rc = walk(p, depth + 1, out);
        } else if (image_name(de->d_name)) {
            rc = add_path(out, p);
        }
    }
    closedir(d);
    qsort(out->v + first, (size_t)(out->n - first), sizeof *out->v, cmp_str);
    return rc;
}

typedef struct popts {
    int top, json, logits, batch, threads;
} popts;

static void print_one(const train_model *m, const char *file, const float *logits, const popts *o)
{
    int K = train_model_classes(m);
    double mx = logits[0], sum = 0;
    for (int k = 1; k < K; k++)
        mx = fmax(mx, logits[k]);
    double *p = malloc(sizeof(double) * (size_t)K);
    int *ord = malloc(sizeof(int) * (size_t)K);
    if (!p || !ord) {
        free(p);
        free(ord);
        return;
    }
    for (int k = 0; k < K; k++)
        sum += p[k] = exp(logits[k] - mx);
    for (int k = 0; k < K; k++) {
        p[k] /= sum;
        ord[k] = k;
    }
    int top = o->top < K ? o->top : K;
    for (int i = 0; i < top; i++)  /* partial selection: ties keep the lower index first */
        for (int j = i + 1; j < K; j++)
            if (p[ord[j]] > p[ord[i]] || (p[ord[j]] == p[ord[i]] && ord[j] < ord[i])) {
                int t = ord[i];
                ord[i] = ord[j];
                ord[j] = t;
            }
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", file);
        cJSON *arr = cJSON_AddArrayToObject(j, "top");
        for (int i = 0; i < top; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "class", train_model_class_name(m, ord[i]));
            cJSON_AddNumberToObject(e, "index", ord[i]);
            cJSON_AddNumberToObject(e, "prob", p[ord[i]]);
            cJSON_AddItemToArray(arr, e);
        }
        if (o->logits) {
            cJSON *l = cJSON_AddArrayToObject(j, "logits");
            for (int k = 0; k < K; k++)
                cJSON_AddItemToArray(l, cJSON_CreateNumber(logits[k]));
        }
        char *s = cJSON_PrintUnformatted(j);
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(j);
    } else {
        printf("%s", file);
        for (int i = 0; i < top; i++)
            printf("\t%s %.4f", train_model_class_name(m, ord[i]), p[ord[i]]);
        putchar('\n');
    }
    free(p);
    free(ord);
}

static int parse(int argc, char **argv, popts *o, const char **model, paths *in)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(predict_help, stdout);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--logits") == 0) {
            o->logits = 1;
        } else if (strcmp(a, "--top") == 0 || strcmp(a, "--batch") == 0 || strcmp(a, "--threads") == 0) {
            char *end;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end || v < 1 || v > 65536)
                return cli_usage_error("predict", predict_usage, "%s needs a number 1..65536", a);
            i++;
            *(a[2] == 't' && a[3] == 'o' ? &o->top : a[2] == 'b' ? &o->batch : &o->threads) = (int)v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("predict", predict_usage, "unknown option '%s'", a);
        } else if (!*model) {
            *model = a;
        } else {
            struct stat st;
            if (stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (walk(a, 0, in))
                    return EX_NOINPUT;
            } else if (add_path(in, a)) {
                return EX_SOFTWARE;
            }
        }
    }
    if (!*model)
        return cli_usage_error("predict", predict_usage, "no model folder given");
    if (in->n == 0)
        return cli_usage_error("predict", predict_usage, "no images given (files or folders)");
    return 0;
}

int cmd_predict(int argc, char **argv);
int cmd_predict(int argc, char **argv)
{
    popts o = {3, 0, 0, 128, 0};
    const char *model = NULL;
    paths in = {0};
    int rc = parse(argc, argv, &o, &model, &in);
    if (rc) {
        paths_free(&in);
        return rc < 0 ? EX_OK : rc;
    }
    if (o.threads)
        omp_set_num_threads(o.threads);
    char err[1024];
    train_model *m;
    if (train_model_load(model, o.batch, &m, err, sizeof err)) {
        fprintf(stderr, "llmnas predict: %s\n", err);
        paths_free(&in);
        return EX_NOINPUT;
    }
    rt_catch_interrupt(NULL);  /* Ctrl-C ends after the batch in hand; a second one at once */
    int c, h, w, K = train_model_classes(m), B = o.batch, bad = 0, done = 0;
    train_model_input(m, &c, &h, &w);
    size_t per = (size_t)c * h * w;
    float *x = malloc(sizeof(float) * per * (size_t)B), *logits = malloc(sizeof(float) * (size_t)B * K);
    int *ok = malloc(sizeof(int) * (size_t)B), *slot = malloc(sizeof(int) * (size_t)B);
    char (*msg)[512] = malloc(sizeof *msg * (size_t)B);
    double t0 = rt_now(), tdec = 0, tnet = 0;
    rc = x && logits && ok && slot && msg ? 0 : EX_SOFTWARE;
    for (int i = 0; i < in.n && !rc; i += B) {
        int n = in.n - i < B ? in.n - i : B;
        double t1 = rt_now();
#pragma omp parallel for schedule(dynamic, 4)
        for (int k = 0; k < n; k++)
            ok[k] = train_model_preprocess(m, in.v[i + k], x + per * k, msg[k], sizeof msg[k]) == 0;
        int kept = 0;  /* pack the readable ones together */
        for (int k = 0; k < n; k++) {
            if (!ok[k]) {
                fprintf(stderr, "llmnas predict: %s\n", msg[k]);
                bad++;
                continue;
            }
            if (kept != k)
                memcpy(x + per * kept, x + per * k, sizeof(float) * per);
            slot[kept++] = i + k;
        }
        double t2 = rt_now();
        tdec += t2 - t1;
        if (kept && train_model_logits(m, x, kept, logits)) {
            fprintf(stderr, "llmnas predict: inference failed\n");
            rc = EX_SOFTWARE;
            break;
        }
        tnet += rt_now() - t2;
        for (int k = 0; k < kept; k++)
            print_one(m, in.v[slot[k]], logits + (size_t)k * K, &o);
        done += kept;
        if (rt_interrupted())
            rc = 130;
    }
    rt_release_interrupt();
    double t = rt_now() - t0;
    fprintf(stderr, "llmnas predict: %d image%s in %.2f s (decoding %.2f s, network %.2f s): "
            "%.0f images/s%s\n", done, done == 1 ? "" : "s", t, tdec, tnet, t > 0 ? done / t : 0.0,
            bad ? "; some images could not be read" : "");
    free(x), free(logits), free(ok), free(slot), free(msg);
    paths_free(&in);
    train_model_free(m);
    return rc ? rc : bad ? EX_DATAERR : EX_OK;
}
