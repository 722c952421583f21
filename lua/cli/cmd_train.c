/*
 * cmd_train.c — `llmnas train ARCH.lua`: train one candidate network on a
 * dataset with the paper's recipe (or the options given) and print its
 * metrics; a progress line on a terminal. Compiling goes through the sandbox
 * (lua/cmd_arch.h), training through a forked worker unless --in-process.
 */
#include "cli/cli.h"
#include "cli/cmd_arch.h"
#include "train/dataset.h"
#include "train/dataset_folder.h"
#include "base/rt.h"
#include "train/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char train_usage[] =
    "llmnas train ARCH.lua [--dataset NAME] [--data DIR] [--epochs N] [--subset N] [--lr X] "
    "[--image-size N] [--save DIR] [--precision fp32|bf16|auto] [--test] [--json]";

static const char train_help[] =
    "usage: llmnas train ARCH.lua [OPTIONS]\n"
    "\n"
    "Trains one candidate network (the candidate language, or a graph .json) and\n"
    "prints validation accuracy and loss, training loss, time and throughput.\n"
    "Defaults are the paper's proxy recipe: epochs @epochs@, batch @batch@, SGD lr @lr@,\n"
    "momentum @momentum@, weight decay @weight_decay@, per-step cosine schedule, seed @seed@,\n"
    "a share of @val_fraction@ of the training set held out for validation; each epoch is\n"
    "full batches, @drop_last@.\n"
    "\n"
    "options:\n"
    "  --dataset NAME     one of the datasets below (default @DEFAULT_DATASET@)\n"
    "  --image-size N     image folders: resize to N x N (default: the median shorter side,\n"
    "                     8..64; area averaging when shrinking, bilinear when enlarging)\n"
    "  --channels 1|3     image folders: grey or RGB (default: RGB if any image is colour)\n"
    "  --bad-images stop|skip  image folders: a corrupt, truncated, empty or over-size image\n"
    "                     stops loading (default) or is skipped and counted\n"
    "  --save DIR         write the trained model there: weights (safetensors), ONNX,\n"
    "                     architecture, recipe, classes, preprocessing (llmnas predict DIR)\n"
    "  --data DIR         dataset directory (default: $LLMNAS_DATA, else ./data; a dataset\n"
    "                     with a system copy, such as Debian's Fashion-MNIST, uses it only\n"
    "                     when no directory was chosen)\n"
    "  --epochs N         epochs (default @epochs@)\n"
    "  --batch N          batch size (default @batch@)\n"
    "  --subset N         train on N images of the training split (default all)\n"
    "  --stratified       the subset has the same number of images per class\n"
    "  --val-fraction X   share held out for validation (default @val_fraction@)\n"
    "  --lr X             learning rate (default @lr@)\n"
    "  --momentum X       (default @momentum@)\n"
    "  --weight-decay X   (default @weight_decay@)\n"
    "  --no-cosine        constant learning rate\n"
    "  --augment on|off   random crop + flip (default: the dataset's, on for CIFAR)\n"
    "  --seed N           (default @seed@)\n"
    "  --threads N        OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
    "  --time-limit S     stop training after S seconds (status timeout)\n"
    "  --test             also evaluate on the test split\n"
    "  --json             print the result as one JSON object\n"
    "  --in-process       train in this process, not in a forked worker\n"
    "  --winograd         Winograd convolutions where oneDNN has them (AVX-512): faster,\n"
    "                     less precise\n"
    "  --precision P      fp32, bf16 (mixed precision: bf16 activations and conv / linear\n"
    "                     weights, fp32 master weights, loss and update) or auto (bf16 where\n"
    "                     the CPU has native bf16 dot products, else fp32); default @precision@.\n"
    "                     bf16 on a CPU without native bf16 is refused (emulation is slower\n"
    "                     than fp32)\n"
    "  -h, --help         this help\n"
    "\n"
    "datasets:\n"
    "@DATASETS@\n"
    "\n"
    "exit codes: 0 trained, 64 bad usage, 65 the candidate does not compile or\n"
    "did not train (too_large, diverged, timeout, crashed...), 66 file or dataset\n"
    "not readable, 70 internal error, 130 interrupted\n";

/* The recipe's defaults for the help text, from train_opts_default (one place). */
static const char *help_field(const char *name)
{
    static char buf[32];
    train_opts o;
    train_opts_default(&o);
    if (strcmp(name, "epochs") == 0) rt_fmt(buf, sizeof buf, "%d", o.epochs);
    else if (strcmp(name, "batch") == 0) rt_fmt(buf, sizeof buf, "%d", o.batch);
    else if (strcmp(name, "lr") == 0) rt_fmt(buf, sizeof buf, "%g", o.lr);
    else if (strcmp(name, "momentum") == 0) rt_fmt(buf, sizeof buf, "%g", o.momentum);
    else if (strcmp(name, "weight_decay") == 0) rt_fmt(buf, sizeof buf, "%g", o.weight_decay);
    else if (strcmp(name, "seed") == 0) rt_fmt(buf, sizeof buf, "%llu", (unsigned long long)o.seed);
    else if (strcmp(name, "val_fraction") == 0) rt_fmt(buf, sizeof buf, "%g", o.val_fraction);
    else if (strcmp(name, "drop_last") == 0)
        return o.drop_last ? "a last partial batch is dropped" : "a last partial batch is trained on";
    else if (strcmp(name, "precision") == 0) rt_fmt(buf, sizeof buf, "%s", train_precision_name(o.precision));
    else return NULL;
    return buf;
}

typedef struct progress_state {
    int tty;
    int shown;
} progress_state;

static int on_progress(const train_progress *p, void *ud)
{
    progress_state *s = ud;
    if (!s->tty)
        return 0;
    fprintf(stderr, "\r\033[Kepoch %d/%d  step %d/%d  loss %.4f  %.0f images/s  %.0f s", p->epoch,
            p->epochs, p->step, p->steps, p->loss, p->images_per_s, p->seconds);
    fflush(stderr);
    s->shown = 1;
    return 0;
}

/* Parse a number option value; returns 0 or prints usage and returns EX_USAGE. */
static int num_arg(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return cli_usage_error("train", train_usage, "%s needs a number in [%g, %g], got '%s'",
                               flag, lo, hi, v);
    *out = x;
    return 0;
}

static void print_text(const train_result *r, const train_opts *o, const char *path,
                       const graph *g)
{
    printf("%s on %s: %d epoch%s, %d training images, %d validation images\n", path, o->dataset,
           r->epochs_done, r->epochs_done == 1 ? "" : "s", r->ntrain, r->nval);
    printf("  val_acc      %.4f\n  val_loss     %.4f\n  train_loss   %.4f\n", r->val_acc,
           r->val_loss, r->train_loss);
    if (o->test)
        printf("  test_acc     %.4f\n  test_loss    %.4f\n", r->test_acc, r->test_loss);
    printf("  params       %lld\n  flops        %lld per image\n", (long long)r->params,
           (long long)r->flops);
    printf("  seconds      %.2f training, %.2f evaluation\n  images/s     %.0f\n", r->seconds,
           r->eval_seconds, r->images_per_s);
    printf("  peak RSS     %.0f MiB\n", r->peak_rss_mib);
    char why[160];
    int native = train_cpu_bf16(why, sizeof why);
    int k = o->precision == TRAIN_PRECISION_AUTO && native ? train_bf16_unchecked(g) : -1;
    if (k >= 0)
        rt_fmt(why + strlen(why), sizeof why - strlen(why), "; but op %s has no bf16 path yet",
               graph_op_name(g->nodes[k].op));
    printf("  precision    %s (asked %s; %s bf16: %s)\n", r->bf16 ? "bf16" : "fp32",
           train_precision_name(o->precision), native ? "native" : "no native", why);
}

static void print_json(const train_result *r, const train_opts *o, const char *kind,
                       const char *msg, const graph *g)
{
    cJSON *j = cJSON_CreateObject();
    char h[GRAPH_HASH_HEX] = "";
    graph_hash(g, h);
    cJSON_AddStringToObject(j, "status", kind);
    if (msg && *msg)
        cJSON_AddStringToObject(j, "message", msg);
    cJSON_AddStringToObject(j, "dataset", o->dataset);
    cJSON_AddStringToObject(j, "graph_hash", h);
    cJSON_AddStringToObject(j, "precision", r->bf16 ? "bf16" : "fp32");
    cJSON_AddStringToObject(j, "precision_asked", train_precision_name(o->precision));
    train_result_to_json(r, j, 1);  /* out of memory shows as missing fields */
    char *s = cJSON_PrintUnformatted(j);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(j);
}

/* Options with a value: returns 1 consumed, 0 not ours, or -EX_USAGE. */
/* The image-folder options, appended to a folder dataset's name
 * (dataset_folder.h): "folder:PATH?size=32&channels=1". */
typedef struct folder_flags {
    char q[128];
} folder_flags;

static int folder_arg(const char *flag, const char *v, folder_flags *fo)
{
    double x;
    int rc = 0;
    size_t n = strlen(fo->q);
    if (strcmp(flag, "--image-size") == 0) {
        if (!(rc = num_arg(flag, v, 1, 1024, &x)))
            rt_fmt(fo->q + n, sizeof fo->q - n, "&size=%d", (int)x);
    } else if (strcmp(flag, "--channels") == 0) {
        if (strcmp(v, "1") && strcmp(v, "3"))
            return cli_usage_error("train", train_usage, "--channels needs 1 or 3, got '%s'", v);
        rt_fmt(fo->q + n, sizeof fo->q - n, "&channels=%s", v);
    } else {
        if (strcmp(v, "stop") && strcmp(v, "skip"))
            return cli_usage_error("train", train_usage, "--bad-images needs stop or skip, got '%s'", v);
        rt_fmt(fo->q + n, sizeof fo->q - n, "&bad=%s", v);
    }
    return rc;
}

static int parse_value_opt(int argc, char **argv, int *i, train_opts *o, folder_flags *fo)
{
    static const char *const names[] = {"--dataset", "--data", "--epochs", "--subset", "--lr",
                                        "--batch", "--val-fraction", "--momentum",
                                        "--weight-decay", "--seed", "--threads", "--time-limit",
                                        "--augment", "--image-size", "--channels",
                                        "--bad-images", "--save", "--precision", NULL};
    const char *a = argv[*i], *v = NULL;
    int k;
    for (k = 0; names[k]; k++) {
        size_t n = strlen(names[k]);
        if (strcmp(a, names[k]) == 0) {
            if (*i + 1 >= argc)
                return -cli_usage_error("train", train_usage, "option %s needs a value", a);
            v = argv[++*i];
            break;
        }
        if (strncmp(a, names[k], n) == 0 && a[n] == '=') {
            v = a + n + 1;
            break;
        }
    }
    if (!names[k])
        return 0;
    double x = 0;
    int rc = 0;
    switch (k) {
    case 0: o->dataset = v; break;
    case 1: o->data_dir = v; break;
    case 2: if (!(rc = num_arg(a, v, 1, 10000, &x))) o->epochs = (int)x; break;
    case 3: if (!(rc = num_arg(a, v, 0, 1e9, &x))) o->subset = (int)x; break;
    case 4: if (!(rc = num_arg(a, v, 1e-12, 1e30, &x))) o->lr = x; break;
    case 5: if (!(rc = num_arg(a, v, 1, 65536, &x))) o->batch = (int)x; break;
    case 6: if (!(rc = num_arg(a, v, 0, 0.99, &x))) o->val_fraction = x; break;
    case 7: if (!(rc = num_arg(a, v, 0, 1, &x))) o->momentum = x; break;
    case 8: if (!(rc = num_arg(a, v, 0, 1, &x))) o->weight_decay = x; break;
    case 9: if (!(rc = num_arg(a, v, 0, 9.2e18, &x))) o->seed = (uint64_t)x; break;
    case 10: if (!(rc = num_arg(a, v, 1, 1024, &x))) o->threads = (int)x; break;
    case 11: if (!(rc = num_arg(a, v, 0.001, 1e7, &x))) o->time_limit = x; break;
    case 13: case 14: case 15:
        if (!(rc = folder_arg(a, v, fo)))
            break;
        return -rc;
    case 16: o->save_dir = v; break;
    case 17:
        o->precision = train_precision_parse(v);
        if (o->precision < 0)
            rc = cli_usage_error("train", train_usage, "--precision needs fp32, bf16 or auto, got '%s'", v);
        break;
    case 12:
        if (strcmp(v, "on") == 0)
            o->augment = 1;
        else if (strcmp(v, "off") == 0)
            o->augment = 0;
        else
            rc = cli_usage_error("train", train_usage, "--augment needs on or off, got '%s'", v);
    }
    return rc ? -rc : 1;
}

/* One line on stderr about an image folder: what was found, and whether it
 * was decoded or read from the cache (and why it was decoded). */
static void folder_note(const ds_dataset *d)
{
    const ds_folder *f = d->folder;
    fprintf(stderr, "llmnas train: %s: %d classes, %d training and %d test images, %dx%dx%d, "
            "mean", f->root, f->nclasses, d->train.n, d->test.n, f->channels, f->size, f->size);
    for (int c = 0; c < f->channels; c++)
        fprintf(stderr, " %.4f", d->mean[c]);
    fprintf(stderr, " std");
    for (int c = 0; c < f->channels; c++)
        fprintf(stderr, " %.4f", d->std[c]);
    if (f->from_cache)
        fprintf(stderr, "; read from the cache in %.2f s\n", f->seconds);
    else
        fprintf(stderr, "; decoded in %.2f s (%s)%s%s\n", f->seconds, f->cache_note,
                f->skipped ? "; bad images skipped: " : "", f->skipped ? "see above" : "");
}

static int exit_code(int rc, const char *kind)
{
    if (rc == 0)
        return EX_OK;
    if (rc == TRAIN_EINTERRUPTED || strcmp(kind, "interrupted") == 0)
        return 130;
    if (rc == TRAIN_EDATA)
        return EX_NOINPUT;
    if (rc == TRAIN_ENOMEM || rc == TRAIN_EDNNL || rc == TRAIN_EARG)
        return EX_SOFTWARE;
    return EX_DATAERR;
}

int cmd_train(int argc, char **argv);
int cmd_train(int argc, char **argv)
{
    train_opts o;
    train_opts_default(&o);
    folder_flags fo = {""};
    char spec[4400];
    int json = 0, in_process = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            cli_print_help(train_help, help_field);
            return EX_OK;
        }
        int r = parse_value_opt(argc, argv, &i, &o, &fo);
        if (r < 0)
            return -r;
        if (r)
            continue;
        if (strcmp(a, "--test") == 0)
            o.test = 1;
        else if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--stratified") == 0)
            o.stratified = 1;
        else if (strcmp(a, "--no-cosine") == 0)
            o.cosine = 0;
        else if (strcmp(a, "--in-process") == 0)
            in_process = 1;
        else if (strcmp(a, "--winograd") == 0)
            o.winograd = 1;
        else if (a[0] == '-' && a[1])
            return cli_usage_error("train", train_usage, "unknown option '%s'", a);
        else if (path)
            return cli_usage_error("train", train_usage, "one file at a time, got '%s' too", a);
        else
            path = a;
    }
    if (!path)
        return cli_usage_error("train", train_usage, "no file given");
    if (fo.q[0]) {
        if (!ds_folder_is(o.dataset))
            return cli_usage_error("train", train_usage,
                                   "--image-size, --channels and --bad-images are for image folders "
                                   "(--dataset folder:PATH)");
        rt_fmt(spec, sizeof spec, "%s%s%s", o.dataset, strchr(o.dataset, '?') ? "&" : "?", fo.q + 1);
        o.dataset = spec;
    }

    char err[1024], kind[32];
    int bf16;
    if (train_precision_resolve(o.precision, &bf16, err, sizeof err)) {
        fprintf(stderr, "llmnas train: %s\n", err);
        return EX_USAGE;
    }
    const ds_dataset *d;
    if (train_dataset_get(o.dataset, o.data_dir, &d, err, sizeof err)) {
        fprintf(stderr, "llmnas train: %s\n", err);
        return EX_NOINPUT;
    }
    if (d->folder)
        folder_note(d);
    sandbox_opts so;
    sandbox_opts_default(&so);
    so.c = d->c, so.h = d->h, so.w = d->w, so.classes = d->classes;
    graph *g;
    int rc = arch_cli_load("train", path, &so, &g);
    if (rc)
        return rc;

    rt_catch_interrupt(NULL);
    progress_state ps = {isatty(STDERR_FILENO), 0};
    o.progress = on_progress;
    o.progress_ud = &ps;
    o.progress_every = 0.25;
    train_result r;
    if (in_process) {
        rc = train_evaluate(g, &o, &r, err, sizeof err);
        rt_fmt(kind, sizeof kind, "%s", train_kind(rc));
    } else {
        rc = train_evaluate_isolated(g, &o, NULL, &r, kind, sizeof kind, err, sizeof err);
    }
    rt_release_interrupt();
    if (ps.shown)
        fputs("\r\033[K", stderr);
    if (json)
        print_json(&r, &o, kind, rc ? err : NULL, g);
    else if (!rc)
        print_text(&r, &o, path, g);
    if (rc)
        fprintf(stderr, "llmnas train: %s: %s (%s)\n", path, err[0] ? err : train_strerror(rc), kind);
    graph_free(g);
    train_cache_clear();
    return exit_code(rc, kind);
}
