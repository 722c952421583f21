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

static void child_progress(const train_progress *p, void *ud)
{
    char buf[256];
    rt_fmt(buf, sizeof buf,
           "{\"epoch\":%d,\"epochs\":%d,\"step\":%d,\"steps\":%d,\"loss\":%.9g,"
           "\"images_per_s\":%.6g,\"seconds\":%.6g}",
           p->epoch, p->epochs, p->step, p->steps, isfinite(p->loss) ? p->loss : -1.0,
           p->images_per_s, p->seconds);
    worker_send(((child_arg *)ud)->ctx, buf);
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
} parent_ud;

static void parent_progress(void *ud, const char *msg, size_t len)
{
    const train_opts *o = ((parent_ud *)ud)->o;
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
#undef GET
    cJSON_Delete(j);
    o->progress(&p, o->progress_ud);
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
    parent_ud pu = {&o};
    worker_opts wo = {0};
    wo.deadline = iso && iso->deadline > 0 ? iso->deadline
                  : o.time_limit > 0      ? o.time_limit * 1.25 + 120
                                          : 0;
    wo.mem_bytes = iso ? iso->mem_bytes : 0;
    wo.on_progress = o.progress ? parent_progress : NULL;
    wo.progress_ud = &pu;
    worker_result wr;
    int wrc = worker_run(child, &ca, &wo, &wr);
    if (wrc && wrc != WORKER_EINTR) {
        rt_fmt(err, errlen, "could not start the training worker: %s", worker_strerror(wrc));
        rt_fmt(kind, kindlen, "error");
        return r->status = TRAIN_EWORKER;
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
    cJSON_Delete(j);
    return r->status = rc;
}
