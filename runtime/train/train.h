/*
 * train.h — training a candidate graph on oneDNN (Lua-free).
 *
 * Two levels:
 *
 *  1. The network: train_net_build compiles a finalized graph (graph.h) for a
 *     fixed batch size into oneDNN primitives — forward (training and
 *     inference), backward, SGD — with memory layouts chosen by oneDNN
 *     ("any": blocked layouts, kept from the first layer to the last) and
 *     reorders only where two primitives disagree. Lifecycle as in llm.c:
 *     build → (fill input → forward → loss → backward → update)* → free.
 *     Parameters can be read and written in PyTorch's plain layouts
 *     (tests, exports, the PyTorch agreement check).
 *
 *  2. The job: train_evaluate trains a graph on a dataset for some epochs
 *     with the paper's recipe (SGD lr 0.01, momentum 0.9, weight decay 5e-4,
 *     per-step cosine schedule, batch 128, seed 43) and measures validation
 *     (and optionally test) accuracy and loss.
 *
 * Shape legend: B batch, C channels, H height, W width, K classes.
 * Return codes: 0, or a negative TRAIN_E* code; functions taking err/errlen
 * write a message there. Thread rules: a train_net is used by one thread at a
 * time; oneDNN itself runs on the OpenMP team (train_opts.threads).
 * Determinism: the same graph, options, seed and thread count give the same
 * numbers, bit for bit.
 */
#ifndef LLMNAS_TRAIN_H
#define LLMNAS_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "graph/graph.h"

enum {
    TRAIN_OK = 0,
    TRAIN_EARG = -3001,         /* bad option or graph not usable */
    TRAIN_ENOMEM = -3002,
    TRAIN_EDNNL = -3003,        /* oneDNN refused a descriptor or a call */
    TRAIN_EUNSUPPORTED = -3004, /* an op or attribute the trainer cannot run */
    TRAIN_ETOOLARGE = -3005,    /* over a params / FLOPs / activation cap (before allocation) */
    TRAIN_EDIVERGED = -3006,    /* loss became NaN or Inf */
    TRAIN_ETIMEOUT = -3007,     /* over the time limit */
    TRAIN_EINTERRUPTED = -3008, /* rt_interrupted() */
    TRAIN_EDATA = -3009,        /* dataset could not be loaded or does not fit the graph */
    TRAIN_EWORKER = -3010,      /* the training worker died (kind: crashed, limit_memory, ...) */
    TRAIN_ESTOPPED = -3011,     /* the progress callback asked to stop (kind "pruned") */
};

/* "TRAIN_EDIVERGED: ..." — a static string for any code (unknown codes included). */
const char *train_strerror(int code);

/* The status kind of a code, as results and Lua see it: "ok", "too_large",
 * "diverged", "timeout", "interrupted", "data", "unsupported", "crashed",
 * "limit_memory", "pruned", "error" (TRAIN_EDNNL and unknown codes). */
const char *train_kind(int code);

/* One status kind and what a search does with it (class):
 *   "ok"         trained;
 *   "candidate"  the candidate's own outcome: recorded, and cached like a score;
 *   "transient"  may differ next time (timeout, interrupt, a crash): not cached;
 *   "fatal"      fails every candidate alike (the dataset): the search stops.
 * Exported to Lua as train.kinds. code is the TRAIN_E* code the kind comes
 * from (TRAIN_EWORKER for the worker's own kinds). */
typedef struct train_kind_info {
    const char *kind;
    int code;
    const char *klass;
    const char *about;
} train_kind_info;

/* Number of kinds, and kind i (0..train_kind_count()-1; NULL outside). */
int train_kind_count(void);
const train_kind_info *train_kind_at(int i);

/* ---- level 1: the network ---- */

typedef struct train_net train_net;

typedef struct train_net_opts {
    uint64_t seed;   /* initial weights and dropout masks */
    int fuse;        /* 1: fuse BatchNorm + ReLU where the BN output feeds only the ReLU */
    int winograd;    /* 1: let oneDNN use Winograd convolutions where it has them (AVX-512:
                        about 1.6x faster 3x3 convs, but less precise: gradients then differ
                        from PyTorch's by up to a few % of their largest element) */
    int keep_all;    /* 1: every tensor keeps its own buffer (inspection with
                        train_net_node_get); 0: activations, gradients and temporaries
                        whose lifetimes do not overlap share memory */
    int bf16;        /* 1: mixed precision — activations, their gradients and the
                        convolutions' and linear layers' weights in bf16; master weights,
                        gradients of weights, BN statistics, the loss and the update in fp32.
                        Resolve it with train_precision_resolve: the net does not check the
                        CPU (oneDNN emulates bf16 slowly where it is not native) */
    int onednn_only; /* 1: every op by oneDNN, never by the trainer's own C loops (max
                        pooling, a one-channel conv's weight gradient): tests compare the two */
} train_net_opts;

/* Compile g (finalized, output [B, K]) for batch size `batch`. Initial
 * weights follow PyTorch's defaults (kaiming-uniform a = sqrt(5) for Conv2d
 * and Linear weights, U(+-1/sqrt(fan_in)) biases, BN weight 1, bias 0,
 * running mean 0, variance 1) drawn from o->seed. *out owned by the caller;
 * g is borrowed and must outlive the net. o NULL = seed 43, fusion on. */
int train_net_build(const graph *g, int batch, const train_net_opts *o, train_net **out,
                    char *err, size_t errlen);
/* Free the net, its primitives and buffers (NULL is fine). The graph stays. */
void train_net_free(train_net *n);

/* The input buffer, [B, C, H, W] float32 plain: fill it before forward. */
float *train_net_input(train_net *n);
/* The batch size B the net was built for, and the classes K of its output [B, K]. */
int train_net_batch(const train_net *n);
int train_net_classes(const train_net *n);

/* Forward pass; training = 1 uses batch statistics in BN (and updates the
 * running ones with PyTorch's momentum and unbiased variance) and dropout. */
int train_net_forward(train_net *n, int training);

/* Softmax cross-entropy of the logits against labels y[0..rows) (rows <= B;
 * the rest of the batch is ignored): *loss = mean over rows, *correct =
 * argmax hits. With grad = 1 also writes dL/dlogits (mean reduction) for
 * train_net_backward. Returns TRAIN_EDIVERGED if the loss is not finite. */
int train_net_loss(train_net *n, const int32_t *y, int rows, int grad, double *loss,
                   int *correct);

/* Backward pass from the gradient train_net_loss(grad = 1) wrote: fills the
 * parameters' gradients for train_net_update. Needs a training forward first. */
int train_net_backward(train_net *n);

typedef struct train_sgd {
    double lr, momentum, weight_decay;
} train_sgd;
/* w -= lr * (v = momentum * v + g + weight_decay * w), PyTorch's SGD. */
int train_net_update(train_net *n, const train_sgd *s);

/* Parameters in PyTorch's order and layouts (Conv2d weight [O, I/G, KH, KW],
 * bias [O]; BatchNorm2d weight, bias, running_mean, running_var [C]; Linear
 * weight [O, I], bias [O]). Running statistics are listed but not trained. */
typedef struct train_param_info {
    int node;          /* graph node id */
    const char *name;  /* "weight", "bias", "running_mean", "running_var" */
    int64_t count;     /* elements */
    int trainable;
} train_param_info;
/* Number of parameter tensors, and tensor i's description (0..nparams-1;
 * TRAIN_EARG outside). */
int train_net_nparams(const train_net *n);
int train_net_param_info(const train_net *n, int i, train_param_info *info);
/* Copy a parameter (grad = 0) or its last gradient (grad = 1) into out[count]
 * in plain layout, or set a parameter from plain values. */
int train_net_param_get(train_net *n, int i, int grad, float *out);
int train_net_param_set(train_net *n, int i, const float *in);

/* A node's output (grad = 0) or its gradient (grad = 1) after the last pass,
 * meaningful for any node only with keep_all (otherwise buffers are reused
 * within a pass; the output node's value always stays), plain NCHW / NC,
 * out[B * per-image elements]. Dropout nodes: grad = 2 gives the mask
 * (0 or 1/(1-p)). Returns TRAIN_EARG if the node keeps no such tensor. */
int train_net_node_get(train_net *n, int node, int grad, float *out);

/* One line per primitive kind and implementation ("conv fwd: brgconv:avx2"),
 * for benchmarks and the "no ref: where jit is expected" check. Owned by n. */
const char *train_net_impls(const train_net *n);

/* ---- arithmetic precision ---- */

/* The precision a job asks for (train_opts.precision). auto = bf16 where the
 * CPU computes bf16 dot products natively and every op of the network has a
 * checked bf16 path (train_bf16_unchecked), fp32 elsewhere. */
typedef enum {
    TRAIN_PRECISION_FP32 = 0,
    TRAIN_PRECISION_BF16 = 1,
    TRAIN_PRECISION_AUTO = 2,
} train_precision;

/* "fp32", "bf16", "auto" (NULL for anything else), and back (-1 if unknown). */
const char *train_precision_name(int p);
int train_precision_parse(const char *s);

/* 1 if this process can run bf16 natively: the CPU reports AVX512_BF16 or
 * AMX-BF16 (cpuid) AND oneDNN's effective ISA (dnnl_get_effective_cpu_isa,
 * lowered by DNNL_MAX_CPU_ISA) includes avx512_core_bf16; else 0. why gets one
 * line naming both ("cpuid avx512_bf16 amx_bf16; oneDNN ISA avx512_core_amx"). */
int train_cpu_bf16(char *why, size_t whylen);

/* What `requested` runs as: *bf16 = 1 or 0. An explicit bf16 where
 * train_cpu_bf16 says no is refused (TRAIN_EUNSUPPORTED, err says why and what
 * to use instead) rather than run oneDNN's emulation, which is slower than
 * fp32; auto falls back to fp32 there. TRAIN_EARG for an unknown value. */
int train_precision_resolve(int requested, int *bf16, char *err, size_t errlen);

/* The first node of g whose op has no checked bf16 path (tests/c/test_train_bf16.c
 * and PyTorch's autocast case cover the others), or -1 if every op has one. Such a
 * network trains in fp32 under auto and refuses an explicit bf16. */
int train_bf16_unchecked(const graph *g);
/* The same node k (or -1), with err set to the refusal an explicit bf16 gets for it
 * ("node k: op X is not yet supported in bf16 precision; ...") when k >= 0. */
int train_bf16_refusal(const graph *g, char *err, size_t errlen);

/* ---- level 2: the job ---- */

/* A progress report. Reports come every progress_every seconds and, with
 * opts.checkpoints = N, at N evenly spaced steps of the whole run (step =
 * ceil(steps * k / N), k = 1..N; the same steps for every network trained with
 * the same recipe, so curves compare step by step): those set checkpoint = k,
 * window_loss (mean training loss since the previous checkpoint), window_acc and, with
 * opts.probe, the accuracy and loss on the first `probe` validation images in
 * inference mode. */
typedef struct train_progress {
    int epoch, epochs;       /* 1-based */
    int step, steps;         /* within the whole run, 1-based */
    double loss;             /* running mean training loss of this epoch */
    double images_per_s;
    double seconds;          /* training time so far, probes included */
    int checkpoint;          /* 0, or k of opts.checkpoints */
    double window_loss;      /* checkpoints: mean loss since the previous one */
    double window_acc;       /* checkpoints: the share of those steps' images the network
                                classified right before its update (training mode: in the
                                first epoch every one unseen, so a free held-out accuracy) */
    double probe_acc, probe_loss;  /* checkpoints with opts.probe > 0, else NaN */
    double build_seconds, probe_seconds;  /* so far: a stopped worker's parent reports them */
} train_progress;

typedef struct train_opts {
    const char *dataset;     /* registry name (dataset.h ds_find), default ds_default_name() */
    const char *data_dir;    /* NULL: $LLMNAS_DATA or "data" (see ds_data_dir) */
    int epochs;              /* default 1 */
    int batch;               /* default 128 */
    int subset;              /* training images kept, 0 = all */
    int stratified;          /* subset per class */
    double val_fraction;     /* default 0.1; < 0 means 0 */
    int val_subset;          /* validation images used, 0 = all */
    double lr, momentum, weight_decay;  /* defaults 0.01, 0.9, 5e-4 */
    int cosine;              /* default 1 (per-step cosine to 0) */
    int drop_last;           /* 1, the default and the only mode built: an epoch is
                                ntrain / batch full batches and a last partial batch
                                is dropped (PyTorch's DataLoader(drop_last=True)), as
                                the primitives are compiled for one batch size and every
                                BatchNorm step sees a full batch; 0 is refused (TRAIN_EARG) */
    int augment;             /* -1 = dataset default (CIFAR: crop + flip), 0 off, 1 on */
    uint64_t seed;           /* default 43 */
    int threads;             /* OpenMP threads; 0 = leave as is */
    double time_limit;       /* seconds of training, 0 = none */
    int test;                /* 1: also evaluate on the test split */
    int winograd;            /* see train_net_opts.winograd (default 0) */
    int precision;           /* train_precision (default fp32); see train_net_opts.bf16 */
    int64_t max_params, max_flops, max_act_bytes;  /* 0 = defaults below */
    /* Called with each report; returning nonzero stops training (early abort):
     * the job returns TRAIN_ESTOPPED with what was measured so far. */
    int (*progress)(const train_progress *p, void *ud);
    void *progress_ud;
    double progress_every;   /* seconds between progress calls, default 1 */
    int checkpoints;         /* reports at this many evenly spaced steps, 0 = none */
    int probe;               /* validation images evaluated at each checkpoint, 0 = none */
    const char *save_dir;    /* non-NULL: save the trained model there (train_model.h) */
} train_opts;

#define TRAIN_DEFAULT_MAX_PARAMS    50000000LL          /* 50 M */
#define TRAIN_DEFAULT_MAX_FLOPS     20000000000LL       /* 20 GFLOP per image */
#define TRAIN_DEFAULT_MAX_ACT_BYTES (6LL << 30)         /* 6 GiB for a batch, fwd + grads */

/* Fill the paper's defaults (zeroes what it does not set): the one place the
 * recipe's defaults are written; Lua reads them as train.defaults(), `llmnas
 * train --help` prints them, the search's recipe starts from them. */
void train_opts_default(train_opts *o);

/* What a training job measured, one line per field: X(TYPE, name, what).
 * The struct below, the JSON of the worker pipe and of `llmnas train --json`,
 * and train.evaluate's Lua table are all made from this list
 * (train_result_fields), so adding a field is one line here plus the code in
 * train.c that measures it. TYPE: NUM (double; NaN = not measured, then left
 * out of JSON and Lua), INT (int), I64 (int64_t). */
#define TRAIN_RESULT_FIELDS(X)                                                        \
    X(NUM, val_acc, "validation accuracy, fraction of images right")                  \
    X(NUM, val_loss, "validation cross-entropy, mean per image")                      \
    X(NUM, train_loss, "training loss, running mean over the last epoch")             \
    X(NUM, test_acc, "test accuracy; NaN unless opts.test")                            \
    X(NUM, test_loss, "test loss; NaN unless opts.test")                               \
    X(NUM, seconds, "wall time of training (not loading or evaluation)")              \
    X(NUM, eval_seconds, "wall time of evaluation")                                   \
    X(NUM, build_seconds, "compiling the graph into oneDNN primitives")               \
    X(NUM, probe_seconds, "checkpoint probes (part of seconds)")                      \
    X(NUM, job_seconds, "the whole job: split, build, train, evaluate")               \
    X(NUM, cpu_seconds, "isolated: the worker's CPU time (user + system)")           \
    X(NUM, images_per_s, "training images per second")                                \
    X(INT, steps, "optimizer steps taken")                                            \
    X(INT, epochs_done, "epochs completed")                                           \
    X(INT, diverged_step, "step at which the loss became non-finite, else 0")         \
    X(INT, ntrain, "training images used")                                            \
    X(INT, nval, "validation images used")                                            \
    X(I64, params, "trainable parameters")                                            \
    X(I64, flops, "FLOPs per image (forward)")                                        \
    X(NUM, peak_rss_mib, "peak resident memory of the training process, MiB")          \
    X(INT, bf16, "1: trained in bf16 mixed precision (precision bf16, or auto on a CPU with native bf16)")

#define TRAIN_T_NUM double
#define TRAIN_T_INT int
#define TRAIN_T_I64 int64_t

/* The learning rate of step `step` (0-based) of `total`: o->lr, or with o->cosine the
 * per-step cosine to 0, PyTorch's CosineAnnealingLR(T_max = total, eta_min = 0) after
 * `step` scheduler steps. The one place the trainer's schedule is written (the tests
 * compare it with PyTorch's own). */
double train_lr_at(const train_opts *o, int step, int total);

typedef struct train_result {
    int status;              /* 0 or a TRAIN_E* code; kind = train_kind(status) */
#define TRAIN_X_MEMBER(type, name, what) TRAIN_T_##type name;
    TRAIN_RESULT_FIELDS(TRAIN_X_MEMBER)
#undef TRAIN_X_MEMBER
} train_result;

/* One field of train_result, as the serialisers see it. */
typedef enum { TRAIN_F_NUM, TRAIN_F_INT, TRAIN_F_I64 } train_field_type;
typedef struct train_field {
    const char *name;        /* the JSON and Lua key: the member's name */
    train_field_type type;
    size_t offset;           /* offsetof(train_result, name) */
    const char *what;        /* one line of documentation */
} train_field;

/* The fields of TRAIN_RESULT_FIELDS in order, ended by a {NULL} entry. */
extern const train_field train_result_fields[];

/* Field f of r as a double (an int64 above 2^53 rounds), and set from one
 * (integers truncate toward zero; a NaN integer becomes 0). */
double train_result_get(const train_result *r, const train_field *f);
void train_result_set(train_result *r, const train_field *f, double v);

/* A result that measured nothing yet: status 0, integers 0, doubles NaN. */
void train_result_init(train_result *r);

/* Add r's fields to the JSON object obj (a cJSON object; the pointer type is
 * left opaque so that this header needs no cJSON). Doubles that are not
 * finite are left out, or written as null with nulls = 1. Returns 0 or
 * TRAIN_ENOMEM. */
int train_result_to_json(const train_result *r, void *obj, int nulls);

/* Read the fields of r back from a JSON object written by
 * train_result_to_json: a missing or null double is NaN, a missing integer 0.
 * r->status is left alone (the caller carries it). */
void train_result_from_json(train_result *r, const void *obj);

/* Train g with o (NULL = defaults) and measure it. On failure the result still
 * holds the status and what was measured before it (e.g. diverged_step);
 * err names the reason. The dataset is loaded and cached per process (the
 * same name and directory are reused). */
int train_evaluate(const graph *g, const train_opts *o, train_result *r, char *err,
                   size_t errlen);

/* train_evaluate in a forked worker (runtime/worker.h): a crash, a hang or
 * an out-of-memory costs this call only. The dataset is loaded in the calling
 * process first (and cached there), so workers share it copy-on-write.
 * Progress callbacks run in the calling process. kind receives the status
 * kind: train_kind()'s strings, or the worker's own ("crashed",
 * "limit_memory", "limit_cpu", "timeout", "interrupted"). The child trains
 * on a fresh thread, so a parent that has run OpenMP work itself is fine
 * (libgomp's pool is per thread and would not survive the fork). */
typedef struct train_isolation {
    double deadline;     /* wall-clock seconds; 0 = time_limit * 1.25 + 120 s, or none */
    size_t mem_bytes;    /* address-space headroom for the child, 0 = unlimited */
} train_isolation;
int train_evaluate_isolated(const graph *g, const train_opts *o, const train_isolation *iso,
                            train_result *r, char *kind, size_t kindlen, char *err,
                            size_t errlen);

/*
 * Asynchronous jobs: train_evaluate_isolated split into start / wait / take,
 * so that several candidates train at once, each in its own worker, while the
 * caller does other work (asks the LLM for the next proposals). The caller
 * owns each job (train_job_free, which kills a child still running). Progress
 * callbacks of o run in the calling process, inside train_job_wait_any, with
 * the job's own o->progress_ud: one callback per job in flight. Set
 * o->threads so that jobs x threads stays within the cores (oversubscribed
 * OpenMP teams wait on each other). A job is used by one thread.
 */
typedef struct train_job train_job;

/* Where a job's time went, in seconds: wall = from start until the child sent
 * its result (or died); waited = from then until train_job_wait_any handed it
 * to the caller (the result waited while the caller was busy). */
typedef struct train_job_times {
    double wall, waited;
} train_job_times;

/* Start training g with o in a forked worker. The dataset is loaded here
 * first (a missing file returns TRAIN_EDATA without forking). g and o are
 * needed only during the call (the child has its own copy). Returns 0, or a
 * TRAIN_E* code with kind and err filled. */
int train_job_start(const graph *g, const train_opts *o, const train_isolation *iso,
                    train_job **out, char *kind, size_t kindlen, char *err, size_t errlen);

/* Wait until one of jobs[0..n) (n <= 64; NULL entries and jobs whose result
 * was taken are skipped) has finished, or timeout seconds (< 0: no limit).
 * Returns 0 with *which its index (take its result with train_job_result), 1
 * on timeout, TRAIN_EINTERRUPTED on rt_interrupted() (every job of the list is
 * killed), TRAIN_EARG if none is left to wait for. */
int train_job_wait_any(train_job **jobs, int n, double timeout, int *which);

/* The finished job's result, as train_evaluate_isolated returns it (once;
 * later calls return TRAIN_EARG). t may be NULL. */
int train_job_result(train_job *j, train_result *r, train_job_times *t, char *kind,
                     size_t kindlen, char *err, size_t errlen);

/* 1 while the job has no result yet (running, or finished but not yet seen). */
int train_job_running(const train_job *j);
/* The worker's process id (its process group has the same id). */
pid_t train_job_pid(const train_job *j);
/* Kill the worker now: its result becomes kind "killed" unless one arrived. */
void train_job_kill(train_job *j);
void train_job_free(train_job *j);

/* The dataset train_evaluate would use, loaded once per process and cached
 * (load it before forking workers so they share it copy-on-write). Owned by
 * the cache. Returns 0 or TRAIN_EDATA with the loader's message. */
struct ds_dataset;
int train_dataset_get(const char *name, const char *dir, const struct ds_dataset **out,
                      char *err, size_t errlen);

/* Free the dataset cache (tests, leak checkers). */
void train_cache_clear(void);

#endif
