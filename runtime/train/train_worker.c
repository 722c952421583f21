/*
 * train_worker.c — train_evaluate inside a forked worker (runtime/worker.h),
 * so that a crash, a hang or an out-of-memory in oneDNN costs one candidate.
 *
 * The dataset is loaded in the parent first and inherited copy-on-write. The
 * child sends progress as JSON lines and its result as one JSON object that
 * always carries the status (so a diverged run still reports its step); the
 * worker's own failures (crashed, timeout, limit_memory, ...) become the
 * status kind.
 */
#include "train/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/dataset.h"
#include "base/rt.h"
#include "worker/worker.h"

typedef struct child_arg {
    const graph *g;
    const train_opts *o;
    worker_ctx *ctx;
} child_arg;

/* NaN and Inf are not JSON: -1 stands for "not measured". */
static double finite_or(double v) { return isfinite(v) ? v : -1.0; }

/* The child only reports; the parent decides whether to stop (and kills it). */
static int child_progress(const train_progress *p, void *ud)
{
    char buf[512];
    rt_fmt(buf, sizeof buf,
           "{\"epoch\":%d,\"epochs\":%d,\"step\":%d,\"steps\":%d,\"loss\":%.9g,"
           "\"images_per_s\":%.6g,\"seconds\":%.6g,\"checkpoint\":%d,\"window_loss\":%.9g,"
           "\"window_acc\":%.9g,\"probe_acc\":%.9g,\"probe_loss\":%.9g,\"build_seconds\":%.6g,"
           "\"probe_seconds\":%.6g}",
           p->epoch, p->epochs, p->step, p->steps, finite_or(p->loss), p->images_per_s,
           p->seconds, p->checkpoint, finite_or(p->window_loss), finite_or(p->window_acc),
           finite_or(p->probe_acc), finite_or(p->probe_loss), finite_or(p->build_seconds),
           finite_or(p->probe_seconds));
    worker_send(((child_arg *)ud)->ctx, buf);
    return 0;
}

typedef struct run_arg {
    child_arg *a;
    train_opts o;
    train_result r;
    char err[1024];
    int rc;
} run_arg;

static void *run_thread(void *p)
{
    run_arg *ra = p;
    ra->rc = train_evaluate(ra->a->g, &ra->o, &ra->r, ra->err, sizeof ra->err);
    return NULL;
}

static int child(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN], char *msg,
                 size_t msglen)
{
    child_arg *a = arg;
    a->ctx = ctx;
    static run_arg ra;
    ra.a = a;
    ra.o = *a->o;
    if (ra.o.progress) {
        ra.o.progress = child_progress;
        ra.o.progress_ud = a;
    }
    /* libgomp keeps its thread pool per thread and is not fork-safe: if the
     * parent ever ran a parallel region, the forked child's main thread would
     * wait forever on pool threads that do not exist. A fresh thread gets a
     * fresh pool. */
    pthread_t t;
    int prc = pthread_create(&t, NULL, run_thread, &ra);
    if (prc != 0) {
        /* under an address-space limit the thread's stack is the first thing
         * that does not fit: that is the candidate's memory limit, not a bug */
        rt_fmt(kind, WORKER_KIND_LEN, "%s", prc == EAGAIN || prc == ENOMEM ? "limit_memory" : "error");
        rt_fmt(msg, msglen, "cannot start the training thread: %s", strerror(prc));
        return 1;
    }
    pthread_join(t, NULL);
    int rc = ra.rc;
    train_result r = ra.r;
    const char *err = ra.err;
    cJSON *j = cJSON_CreateObject();
    if (!j) {
        rt_fmt(kind, WORKER_KIND_LEN, "error");
        rt_fmt(msg, msglen, "out of memory");
        return 1;
    }
    /* The status code alone crosses the pipe: the parent names its kind
     * (train_kind), so a kind never goes string -> code -> string. */
    cJSON_AddNumberToObject(j, "status", rc);
    cJSON_AddStringToObject(j, "message", rc ? err : "");
    if (train_result_to_json(&r, j, 0)) {
        cJSON_Delete(j);
        rt_fmt(kind, WORKER_KIND_LEN, "error");
        rt_fmt(msg, msglen, "out of memory");
        return 1;
    }
    /* CLOCK_MONOTONIC is system-wide: the parent subtracts this from the time it
     * took the result, to know how long a finished result waited for it */
    cJSON_AddNumberToObject(j, "ended_at", rt_now());
    *result = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return *result ? 0 : 1;
}

typedef struct parent_ud {
    const train_opts *o;
    worker *w;
    int stopped;           /* the progress callback asked to stop: the child was killed */
    train_progress last;   /* the last report passed on */
} parent_ud;

static double nan_if_negative(double v) { return v < 0 ? NAN : v; }

static void parent_progress(void *ud, const char *msg, size_t len)
{
    parent_ud *u = ud;
    const train_opts *o = u->o;
    if (u->stopped)
        return;
    cJSON *j = cJSON_ParseWithLength(msg, len);
    if (!j)
        return;
    train_progress p = {0};
    cJSON *v;
#define GET(field, key) if ((v = cJSON_GetObjectItem(j, key)) && cJSON_IsNumber(v)) p.field = v->valuedouble
    GET(epoch, "epoch");
    GET(epochs, "epochs");
    GET(step, "step");
    GET(steps, "steps");
    GET(loss, "loss");
    GET(images_per_s, "images_per_s");
    GET(seconds, "seconds");
    GET(checkpoint, "checkpoint");
    GET(window_loss, "window_loss");
    GET(window_acc, "window_acc");
    GET(probe_acc, "probe_acc");
    GET(probe_loss, "probe_loss");
    GET(build_seconds, "build_seconds");
    GET(probe_seconds, "probe_seconds");
#undef GET
    cJSON_Delete(j);
    p.window_loss = nan_if_negative(p.window_loss);
    p.window_acc = nan_if_negative(p.window_acc);
    p.build_seconds = nan_if_negative(p.build_seconds);
    p.probe_seconds = nan_if_negative(p.probe_seconds);
    p.probe_acc = nan_if_negative(p.probe_acc);
    p.probe_loss = nan_if_negative(p.probe_loss);
    u->last = p;
    if (o->progress(&p, o->progress_ud)) {
        u->stopped = 1;
        worker_kill(u->w);
    }
}

/* The worker's deadline: the caller's, or time_limit * 1.25 + 120 s, or none. */
static double deadline_of(const train_opts *o, const train_isolation *iso)
{
    return iso && iso->deadline > 0 ? iso->deadline
           : o->time_limit > 0      ? o->time_limit * 1.25 + 120
                                    : 0;
}

/* A finished worker's result as a train_result (wr is consumed). pu, when the
 * progress callback may have stopped the worker, tells a stop from a death. */
static int from_worker(worker_result *wr, const parent_ud *pu, train_result *r, double *ended_at,
                       char *kind, size_t kindlen, char *err, size_t errlen)
{
    int rc;
    if (ended_at)
        *ended_at = NAN;
    double cpu = wr->cpu_seconds;
    r->cpu_seconds = cpu;
    if (!wr->ok && pu && pu->stopped && !rt_interrupted()) {
        /* early abort: what was measured is what the last report said */
        worker_result_free(wr);
        rt_fmt(kind, kindlen, "%s", train_kind(TRAIN_ESTOPPED));
        rt_fmt(err, errlen, "stopped at step %d of %d", pu->last.step, pu->last.steps);
        r->steps = pu->last.step;
        r->seconds = pu->last.seconds;
        r->build_seconds = pu->last.build_seconds;
        r->probe_seconds = pu->last.probe_seconds;
        r->train_loss = pu->last.loss;
        r->epochs_done = pu->last.epoch - 1;
        return r->status = TRAIN_ESTOPPED;
    }
    if (!wr->ok) {
        rt_fmt(kind, kindlen, "%s", wr->kind);
        rt_fmt(err, errlen, "training worker: %s", wr->message ? wr->message : wr->kind);
        rc = strcmp(wr->kind, "interrupted") == 0 ? TRAIN_EINTERRUPTED
             : strcmp(wr->kind, "timeout") == 0   ? TRAIN_ETIMEOUT
                                                  : TRAIN_EWORKER;
        r->seconds = wr->seconds;
        worker_result_free(wr);
        return r->status = rc;
    }
    cJSON *j = cJSON_Parse(wr->json);
    worker_result_free(wr);
    if (!j) {
        rt_fmt(kind, kindlen, "error");
        rt_fmt(err, errlen, "training worker: unreadable result");
        return r->status = TRAIN_EWORKER;
    }
    cJSON *st = cJSON_GetObjectItem(j, "status"), *m = cJSON_GetObjectItem(j, "message");
    rc = cJSON_IsNumber(st) ? st->valueint : TRAIN_EWORKER;
    rt_fmt(kind, kindlen, "%s", train_kind(rc));
    rt_fmt(err, errlen, "%s", cJSON_IsString(m) ? m->valuestring : "");
    train_result_from_json(r, j);
    r->cpu_seconds = cpu;
    if (ended_at) {
        cJSON *e = cJSON_GetObjectItem(j, "ended_at");
        *ended_at = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    }
    cJSON_Delete(j);
    return r->status = rc;
}

/* Load the dataset in the calling process so that children inherit it and a
 * missing file is reported without forking. */
static int preload(const train_opts *o, char *kind, size_t kindlen, char *err, size_t errlen)
{
    const ds_dataset *d;
    int rc = train_dataset_get(o->dataset ? o->dataset : ds_default_name(), o->data_dir, &d, err, errlen);
    if (rc)
        rt_fmt(kind, kindlen, "%s", train_kind(rc));
    return rc;
}

int train_evaluate_isolated(const graph *g, const train_opts *opts, const train_isolation *iso,
                            train_result *r, char *kind, size_t kindlen, char *err, size_t errlen)
{
    train_opts o;
    if (opts)
        o = *opts;
    else
        train_opts_default(&o);
    train_result_init(r);
    err[0] = '\0';
    int rc = preload(&o, kind, kindlen, err, errlen);
    if (rc)
        return r->status = rc;
    child_arg ca = {g, &o, NULL};
    parent_ud pu = {.o = &o};
    worker_opts wo = {0};
    wo.deadline = deadline_of(&o, iso);
    wo.mem_bytes = iso ? iso->mem_bytes : 0;
    wo.on_progress = o.progress ? parent_progress : NULL;
    wo.progress_ud = &pu;
    worker_result wr;
    memset(&wr, 0, sizeof wr);
    /* spawn + poll rather than worker_run: the progress callback needs the
     * handle to kill a candidate it stops */
    int wrc = worker_spawn(&pu.w, child, &ca, &wo);
    if (!wrc) {
        wrc = worker_poll(pu.w, -1, &wr);
        worker_free(pu.w);
    }
    if (wrc && wrc != WORKER_EINTR) {
        r->cpu_seconds = wr.cpu_seconds;
        rt_fmt(err, errlen, "could not start the training worker: %s", worker_strerror(wrc));
        rt_fmt(kind, kindlen, "error");
        return r->status = TRAIN_EWORKER;
    }
    return from_worker(&wr, wrc == WORKER_EINTR ? NULL : &pu, r, NULL, kind, kindlen, err, errlen);
}

/* ---- asynchronous jobs ---- */

struct train_job {
    worker *w;
    train_opts o;          /* the parent's copy: progress callback and its ud */
    parent_ud pu;
    double started;
    int done;              /* the result was handed out */
    worker_result wr;      /* filled when the worker finished */
    int have;              /* wr holds the finished result */
    double seen_at;        /* when the parent took the result */
};

int train_job_start(const graph *g, const train_opts *opts, const train_isolation *iso,
                    train_job **out, char *kind, size_t kindlen, char *err, size_t errlen)
{
    *out = NULL;
    err[0] = '\0';
    train_job *j = calloc(1, sizeof *j);
    if (!j) {
        rt_fmt(kind, kindlen, "error");
        rt_fmt(err, errlen, "out of memory");
        return TRAIN_ENOMEM;
    }
    if (opts)
        j->o = *opts;
    else
        train_opts_default(&j->o);
    int rc = preload(&j->o, kind, kindlen, err, errlen);
    if (rc) {
        free(j);
        return rc;
    }
    /* The child gets a copy of this address space at fork, so the argument may
     * live on this stack: only the parent's copy goes away. */
    child_arg ca = {g, &j->o, NULL};
    j->pu.o = &j->o;
    worker_opts wo = {0};
    wo.deadline = deadline_of(&j->o, iso);
    wo.mem_bytes = iso ? iso->mem_bytes : 0;
    wo.on_progress = j->o.progress ? parent_progress : NULL;
    wo.progress_ud = &j->pu;
    j->started = rt_now();
    int wrc = worker_spawn(&j->w, child, &ca, &wo);
    j->pu.w = j->w;  /* the progress callback kills the worker it stops */
    if (wrc) {
        free(j);
        rt_fmt(kind, kindlen, "error");
        rt_fmt(err, errlen, "could not start the training worker: %s", worker_strerror(wrc));
        return TRAIN_EWORKER;
    }
    *out = j;
    return 0;
}

int train_job_wait_any(train_job **jobs, int n, double timeout, int *which)
{
    worker *ws[64];
    *which = -1;
    if (n > 64)
        return TRAIN_EARG;
    int live = 0;
    for (int i = 0; i < n; i++) {
        ws[i] = jobs[i] && !jobs[i]->have ? jobs[i]->w : NULL;
        live += ws[i] != NULL;
        if (jobs[i] && jobs[i]->have && !jobs[i]->done) {
            *which = i;  /* finished earlier, not yet taken */
            return 0;
        }
    }
    if (!live)
        return TRAIN_EARG;
    worker_result wr;
    int k;
    int rc = worker_wait_any(ws, n, timeout, &k, &wr);
    if (rc == WORKER_EINTR) {
        for (int i = 0; i < n; i++)
            if (ws[i])
                train_job_kill(jobs[i]);
        return TRAIN_EINTERRUPTED;
    }
    if (rc == 1)
        return 1;
    if (rc)
        return TRAIN_EARG;
    jobs[k]->wr = wr;
    jobs[k]->have = 1;
    jobs[k]->seen_at = rt_now();
    *which = k;
    return 0;
}

int train_job_result(train_job *j, train_result *r, train_job_times *t, char *kind,
                     size_t kindlen, char *err, size_t errlen)
{
    train_result_init(r);
    err[0] = '\0';
    if (!j || !j->have || j->done) {
        rt_fmt(kind, kindlen, "error");
        rt_fmt(err, errlen, "the job has no result to take");
        return TRAIN_EARG;
    }
    j->done = 1;
    double ended = NAN;
    int rc = from_worker(&j->wr, &j->pu, r, &ended, kind, kindlen, err, errlen);
    if (t) {
        /* a child that died sent no end time: it ended when the parent noticed */
        if (!isfinite(ended) || ended > j->seen_at)
            ended = j->seen_at;
        t->wall = ended - j->started;
        t->waited = j->seen_at - ended;
    }
    return rc;
}

int train_job_running(const train_job *j) { return j && !j->have; }
pid_t train_job_pid(const train_job *j) { return j ? worker_pid(j->w) : -1; }

void train_job_kill(train_job *j)
{
    if (j && !j->have)
        worker_kill(j->w);
}

void train_job_free(train_job *j)
{
    if (!j)
        return;
    worker_free(j->w);
    worker_result_free(&j->wr);
    free(j);
}
