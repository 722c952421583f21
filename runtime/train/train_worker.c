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
    char buf[384];
    rt_fmt(buf, sizeof buf,
           "{\"epoch\":%d,\"epochs\":%d,\"step\":%d,\"steps\":%d,\"loss\":%.9g,"
           "\"images_per_s\":%.6g,\"seconds\":%.6g,\"checkpoint\":%d,\"window_loss\":%.9g,"
           "\"probe_acc\":%.9g,\"probe_loss\":%.9g}",
           p->epoch, p->epochs, p->step, p->steps, finite_or(p->loss), p->images_per_s,
           p->seconds, p->checkpoint, finite_or(p->window_loss), finite_or(p->probe_acc),
           finite_or(p->probe_loss));
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
    if (pthread_create(&t, NULL, run_thread, &ra) != 0) {
        rt_fmt(kind, WORKER_KIND_LEN, "error");
        rt_fmt(msg, msglen, "cannot start the training thread");
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
    GET(probe_acc, "probe_acc");
    GET(probe_loss, "probe_loss");
#undef GET
    cJSON_Delete(j);
    p.window_loss = nan_if_negative(p.window_loss);
    p.probe_acc = nan_if_negative(p.probe_acc);
    p.probe_loss = nan_if_negative(p.probe_loss);
    u->last = p;
    if (o->progress(&p, o->progress_ud)) {
        u->stopped = 1;
        worker_kill(u->w);
    }
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
    /* Load the dataset here so the child inherits it and a missing file is
     * reported without forking. */
    const ds_dataset *d;
    int rc = train_dataset_get(o.dataset ? o.dataset : ds_default_name(), o.data_dir, &d, err, errlen);
    if (rc) {
        rt_fmt(kind, kindlen, "%s", train_kind(rc));
        return r->status = rc;
    }
    child_arg ca = {g, &o, NULL};
    parent_ud pu = {.o = &o};
    worker_opts wo = {0};
    wo.deadline = iso && iso->deadline > 0 ? iso->deadline
                  : o.time_limit > 0      ? o.time_limit * 1.25 + 120
                                          : 0;
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
    r->cpu_seconds = wr.cpu_seconds;
    if (wrc && wrc != WORKER_EINTR) {
        rt_fmt(err, errlen, "could not start the training worker: %s", worker_strerror(wrc));
        rt_fmt(kind, kindlen, "error");
        return r->status = TRAIN_EWORKER;
    }
    if (!wr.ok && pu.stopped && wrc != WORKER_EINTR && !rt_interrupted()) {
        /* early abort: what was measured is what the last report said */
        worker_result_free(&wr);
        rt_fmt(kind, kindlen, "%s", train_kind(TRAIN_ESTOPPED));
        rt_fmt(err, errlen, "stopped at step %d of %d", pu.last.step, pu.last.steps);
        r->steps = pu.last.step;
        r->seconds = pu.last.seconds;
        r->train_loss = pu.last.loss;
        r->epochs_done = pu.last.epoch - 1;
        return r->status = TRAIN_ESTOPPED;
    }
    if (!wr.ok) {
        rt_fmt(kind, kindlen, "%s", wr.kind);
        rt_fmt(err, errlen, "training worker: %s", wr.message ? wr.message : wr.kind);
        rc = strcmp(wr.kind, "interrupted") == 0 ? TRAIN_EINTERRUPTED
             : strcmp(wr.kind, "timeout") == 0   ? TRAIN_ETIMEOUT
                                                 : TRAIN_EWORKER;
        r->seconds = wr.seconds;
        worker_result_free(&wr);
        return r->status = rc;
    }
    cJSON *j = cJSON_Parse(wr.json);
    double cpu = wr.cpu_seconds;
    worker_result_free(&wr);
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
    cJSON_Delete(j);
    return r->status = rc;
}
