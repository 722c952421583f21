/*
 * cmd_show.c — `llmnas show`: what the feedback memory holds, read-only.
 *
 *   llmnas show                      the runs
 *   llmnas show RUN                  a run: leaderboard, history, totals
 *   llmnas show RUN:ITER             one candidate: status, metrics, triple, prompts, code
 *
 * RUN is a run id or "latest". The store is opened read-only and read in one
 * snapshot, so a run being written meanwhile shows a consistent state. Plain
 * C over memory/store.h and cJSON: no Lua state is needed to look.
 * Tolerant of records that lack fields (the search loop decides them); a
 * damaged record shows as "damaged" and makes the exit code 65.
 */
#include "cli/cli.h"
#include "cli/snapshot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FMT_TABLE, FMT_JSON, FMT_CSV };

typedef struct {
    const char *db, *target, *metric;
    unsigned top;
    long last;      /* history rows; -1 = all, -2 = the format's default */
    int order, format;
    int damaged;    /* set when a damaged record was met */
} show_opts;

static const char show_usage[] =
    "llmnas show [--db DIR] [RUN | RUN:ITER] [--top N] [--metric M] [--order max|min]\n"
    "                   [--last N | --all] [--format table|json|csv]";

static const char show_help[] =
    "usage: llmnas show [OPTIONS] [RUN | RUN:ITER]\n"
    "\n"
    "Shows what the feedback memory holds: without RUN, the runs; with RUN (an id\n"
    "or \"latest\"), its leaderboard, history and totals (candidates, valid %, cache\n"
    "hits, training time, LLM calls, time and tokens per role); with RUN:ITER, one\n"
    "candidate (status, metrics, diagnostic triple, prompts, code). Safe to use\n"
    "while a run is writing: everything shown comes from one committed snapshot.\n"
    "\n"
    "options:\n"
    "  --db DIR           feedback memory directory (default ./llmnas.db)\n"
    "  --top N            leaderboard size (default 10)\n"
    "  --metric M         leaderboard metric, a field of the records' metrics\n"
    "                     (default val_acc)\n"
    "  --order max|min    whether higher or lower is better (default max)\n"
    "  --last N           history rows (default 20; csv default: all)\n"
    "  --all              every iteration in the history\n"
    "  --format F         table (default), json or csv\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 ok, 64 bad usage, 65 a damaged record was found, 66 no such\n"
    "store, run or iteration, 70 other errors\n";

/* ---- tolerant field access ------------------------------------------------- */

/* ---- formatting ------------------------------------------------------------ */

static const char *fmt_acc(char *b, size_t n, const cJSON *rec, const char *path)
{
    double v;
    if (!snap_jnum(rec, path, &v)) return "-";
    if (v >= 0 && v <= 1) snprintf(b, n, "%.2f%%", v * 100); /* stored as a fraction */
    else snprintf(b, n, "%.4g", v);
    return b;
}

static const char *fmt_count(char *b, size_t n, double v)
{
    double a = fabs(v);
    if (a >= 1e9) snprintf(b, n, "%.2fG", v / 1e9);
    else if (a >= 1e6) snprintf(b, n, "%.2fM", v / 1e6);
    else if (a >= 1e4) snprintf(b, n, "%.1fK", v / 1e3);
    else snprintf(b, n, "%.0f", v);
    return b;
}

static const char *fmt_field_count(char *b, size_t n, const cJSON *rec, const char *path)
{
    double v;
    return snap_jnum(rec, path, &v) ? fmt_count(b, n, v) : "-";
}

static const char *fmt_secs(char *b, size_t n, double s)
{
    if (s < 60) snprintf(b, n, "%.1fs", s);
    else if (s < 3600) snprintf(b, n, "%dm %02ds", (int)s / 60, (int)s % 60);
    else snprintf(b, n, "%dh %02dm %02ds", (int)(s / 3600), (int)s % 3600 / 60, (int)s % 60);
    return b;
}

static const char *fmt_time(char *b, size_t n, double unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (unix_s <= 0 || !gmtime_r(&t, &tm)) return "-";
    strftime(b, n, "%Y-%m-%d %H:%M", &tm);
    return b;
}

static void csv_field(const char *s, int last)
{
    if (s && strpbrk(s, ",\"\n\r")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"') putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else if (s) {
        fputs(s, stdout);
    }
    putchar(last ? '\n' : ',');
}

static void csv_num(const cJSON *rec, const char *path, int last)
{
    double v;
    char b[64] = "";
    if (snap_jnum(rec, path, &v)) snprintf(b, sizeof b, "%.17g", v);
    csv_field(b, last);
}

static void print_json(const cJSON *j)
{
    char *t = cJSON_Print(j);
    if (t) puts(t);
    free(t);
}

/* ---- errors ------------------------------------------------------------------ */

static int store_error(mem_store *s, int rc)
{
    return snap_store_error("show", s, rc);
}

/* ---- the runs --------------------------------------------------------------- */

/* Collects the n best records of a run; a damaged one becomes {"iter": N,
 * "damaged": why} in its place (issue #18: the leaderboard lists the rest). */
typedef struct { cJSON *list; mem_store *s; show_opts *o; uint32_t run; } best_ctx;

static int best_visit(void *ud, uint32_t iter, int rc, const char *text, size_t len)
{
    best_ctx *c = ud;
    cJSON *rec = rc ? NULL : cJSON_ParseWithLength(text, len);
    if (!rec) {
        c->o->damaged = 1;
        cli_error("show: %s", rc ? mem_errmsg(c->s) : "a record is not JSON");
        if (!(rec = cJSON_CreateObject())) return MEM_ENOMEM;
        cJSON_AddNumberToObject(rec, "iter", iter);
        cJSON_AddStringToObject(rec, "damaged", rc ? mem_strerror(rc) : "not JSON");
    }
    cJSON_AddItemToArray(c->list, rec);
    return 0;
}

/* The ranked records of run by metric, the first want of them (more on a tie). */
static cJSON *scan_best(mem_store *s, show_opts *o, uint32_t run, unsigned want, const char *metric)
{
    best_ctx c = {cJSON_CreateArray(), s, o, run};
    if (!c.list) return NULL;
    int rc = mem_scan_best(s, run, want, metric, metric == o->metric ? o->order : MEM_MAX, best_visit, &c);
    if (rc) {
        if (rc == MEM_EDAMAGED || rc == MEM_EVERSION) o->damaged = 1;
        cli_error("show: leaderboard of run %u: %s", run, mem_errmsg(s));
    }
    return c.list;
}

/* The n best records of run by metric (the leaderboard); damaged ones marked.
 * A record of a lower fidelity (successive halving's first rungs) does not
 * compare with the run's recipe: it is left out, counted in *lower when lower
 * is not NULL, and the ranking reads on until it has n of the rest. */
static cJSON *fetch_best(mem_store *s, show_opts *o, uint32_t run, unsigned n, const char *metric,
                         int *lower)
{
    unsigned want = n;
    for (;;) {
        cJSON *list = scan_best(s, o, run, want, metric);
        if (!list) return NULL;
        int size = cJSON_GetArraySize(list), left = 0;
        for (int i = size - 1; i >= 0; i--)
            if (snap_jstr(cJSON_GetArrayItem(list, i), "fidelity")) left++;
        /* enough of the run's recipe, or the ranking has no more records */
        if (size - left >= (int)n || size < (int)want) {
            for (int i = size - 1; i >= 0; i--)
                if (snap_jstr(cJSON_GetArrayItem(list, i), "fidelity")) cJSON_DeleteItemFromArray(list, i);
            if (lower) *lower = left;
            return list;
        }
        cJSON_Delete(list);
        want = n + (unsigned)left; /* > want: left > size - n >= want - n */
    }
}

/* The first of a leaderboard unless it is damaged (NULL then); caller deletes. */
static cJSON *first_intact(cJSON *list)
{
    cJSON *b = cJSON_DetachItemFromArray(list, 0);
    cJSON_Delete(list);
    if (b && snap_jget(b, "damaged")) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* The run's best record by the metric (NULL if none or damaged); caller deletes. */
static cJSON *best_of(mem_store *s, show_opts *o, uint32_t run)
{
    return first_intact(fetch_best(s, o, run, 1, o->metric, NULL));
}

static double run_tokens(const cJSON *run)
{
    const cJSON *role, *llm = snap_jget(run, "totals.llm");
    double sum = 0, v;
    cJSON_ArrayForEach(role, llm) {
        if (snap_jnum(role, "prompt_tokens", &v)) sum += v;
        if (snap_jnum(role, "completion_tokens", &v)) sum += v;
    }
    return sum;
}

static void runs_row(show_opts *o, const cJSON *run, const cJSON *best)
{
    double id = 0, started = 0, iters = 0, ok = 0, bi = 0;
    snap_jnum(run, "id", &id);
    snap_jnum(run, "started", &started);
    snap_jnum(run, "last_iteration", &iters);
    snap_jnum(run, "totals.ok", &ok);
    char mpath[256], b1[32], b2[32], b3[32], b4[32];
    snprintf(mpath, sizeof mpath, "metrics.%s", o->metric);
    if (best) snap_jnum(best, "iter", &bi);
    if (o->format == FMT_CSV) {
        snprintf(b1, sizeof b1, "%.0f", id);
        csv_field(b1, 0);
        csv_field(fmt_time(b2, sizeof b2, started), 0);
        csv_field(snap_run_name(run), 0);
        csv_num(run, "last_iteration", 0);
        csv_num(run, "totals.ok", 0);
        csv_num(best, mpath, 0);
        snprintf(b3, sizeof b3, "%.0f", bi);
        csv_field(best ? b3 : "", 0);
        snprintf(b4, sizeof b4, "%.0f", run_tokens(run));
        csv_field(b4, 1);
        return;
    }
    char valid[16] = "-";
    if (iters > 0) snprintf(valid, sizeof valid, "%.1f%%", 100 * ok / iters);
    char at[16] = "-";
    if (best) snprintf(at, sizeof at, "%.0f", bi);
    printf("%4.0f  %-16s  %-20.20s %7.0f %7s %10s %6s %8s\n", id, fmt_time(b1, sizeof b1, started),
           snap_run_name(run), iters, valid, best ? fmt_acc(b2, sizeof b2, best, mpath) : "-", at,
           fmt_count(b3, sizeof b3, run_tokens(run)));
}

/* Collects the run records; a damaged one becomes {"id": N, "damaged": why}
 * (issue #18: one damaged run must not hide the others). */
typedef struct { cJSON *runs; mem_store *s; show_opts *o; } runs_ctx;

static int runs_visit(void *ud, uint32_t id, int rc, const char *text, size_t len)
{
    runs_ctx *c = ud;
    cJSON *run = rc ? NULL : cJSON_ParseWithLength(text, len);
    if (!run) {
        const char *why = rc ? mem_errmsg(c->s) : "run record is not JSON";
        c->o->damaged = 1;
        cli_error("show: %s", why);
        run = cJSON_CreateObject();
        if (!run) return MEM_ENOMEM;
        cJSON_AddNumberToObject(run, "id", id);
        cJSON_AddStringToObject(run, "damaged", rc ? mem_strerror(rc) : why);
    }
    cJSON_AddItemToArray(c->runs, run);
    return 0;
}

static void damaged_row(const show_opts *o, const cJSON *run)
{
    double id = 0;
    snap_jnum(run, "id", &id);
    if (o->format == FMT_CSV) printf("%.0f,,damaged,,,,,\n", id);
    else printf("%4.0f  %-16s  %s\n", id, "DAMAGED", snap_jstr(run, "damaged"));
}

static int show_runs(mem_store *s, show_opts *o)
{
    runs_ctx rc_ = {cJSON_CreateArray(), s, o};
    if (!rc_.runs) return store_error(s, MEM_ENOMEM);
    int rc = mem_scan_runs(s, runs_visit, &rc_);
    if (rc) {
        cJSON_Delete(rc_.runs);
        return store_error(s, rc);
    }
    cJSON *runs = rc_.runs, *run;
    if (o->format == FMT_TABLE) {
        if (cJSON_GetArraySize(runs) == 0) printf("no runs yet in %s\n", mem_path(s));
        else printf("%4s  %-16s  %-20s %7s %7s %10.10s %6s %8s\n", "RUN", "STARTED (UTC)", "NAME",
                    "ITERS", "VALID", o->metric, "@ITER", "TOKENS");
    } else if (o->format == FMT_CSV) {
        printf("run,started,name,iterations,ok,best_%s,best_iter,tokens\n", o->metric);
    }
    cJSON_ArrayForEach(run, runs) {
        double id = 0;
        snap_jnum(run, "id", &id);
        if (snap_jget(run, "damaged")) {
            if (o->format != FMT_JSON) damaged_row(o, run);
            continue;
        }
        cJSON *best = best_of(s, o, (uint32_t)id);
        if (o->format == FMT_JSON) {
            if (best) {
                cJSON *b = cJSON_AddObjectToObject(run, "best");
                cJSON_AddStringToObject(b, "metric", o->metric);
                cJSON_AddItemToObject(b, "iter", cJSON_Duplicate(snap_jget(best, "iter"), 1));
                char mpath[256];
                snprintf(mpath, sizeof mpath, "metrics.%s", o->metric);
                cJSON_AddItemToObject(b, "value", cJSON_Duplicate(snap_jget(best, mpath), 1));
            }
        } else {
            runs_row(o, run, best);
        }
        cJSON_Delete(best);
    }
    if (o->format == FMT_JSON) print_json(runs);
    cJSON_Delete(runs);
    return o->damaged ? EX_DATAERR : EX_OK;
}

/* ---- one run ------------------------------------------------------------------ */

static void history_header(const show_opts *o)
{
    if (o->format == FMT_CSV)
        puts("iter,status,error_kind,val_acc,params,flops,seconds,prompt_tokens,"
             "completion_tokens,llm_seconds,accepted,cache_hit,hash");
    else
        printf("  %6s  %-12s %8s %8s %8s %8s  %s\n", "ITER", "STATUS", "VAL_ACC", "PARAMS",
               "SECONDS", "TOKENS", "NOTE");
}

static void history_row(const show_opts *o, const cJSON *rec)
{
    char b1[32], b2[32], b3[32], b4[32];
    if (o->format == FMT_CSV) {
        csv_num(rec, "iter", 0);
        csv_field(snap_jstr(rec, "status"), 0);
        csv_field(snap_jstr(rec, "error_kind"), 0);
        csv_num(rec, "metrics.val_acc", 0);
        csv_num(rec, "metrics.params", 0);
        csv_num(rec, "metrics.flops", 0);
        csv_num(rec, "metrics.seconds", 0);
        snprintf(b1, sizeof b1, "%.0f", snap_llm_sum(rec, "prompt_tokens"));
        csv_field(b1, 0);
        snprintf(b2, sizeof b2, "%.0f", snap_llm_sum(rec, "completion_tokens"));
        csv_field(b2, 0);
        snprintf(b3, sizeof b3, "%.3f", snap_llm_sum(rec, "seconds"));
        csv_field(b3, 0);
        csv_field(cJSON_IsTrue(snap_jget(rec, "accepted")) ? "true" : "false", 0);
        csv_field(cJSON_IsTrue(snap_jget(rec, "cache_hit")) ? "true" : "false", 0);
        csv_field(snap_jstr(rec, "hash"), 1);
        return;
    }
    double it = 0, secs;
    snap_jnum(rec, "iter", &it);
    char note[96] = "";
    if (cJSON_IsTrue(snap_jget(rec, "accepted"))) strcat(note, "best ");
    if (cJSON_IsTrue(snap_jget(rec, "cache_hit"))) strcat(note, "cached ");
    const char *err = snap_jstr(rec, "error");
    if (err && strcmp(snap_status_of(rec), "ok") != 0)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%.60s", err);
    for (char *p = note; *p; p++) if (*p == '\n' || *p == '\t') *p = ' ';
    printf("  %6.0f  %-12.12s %8s %8s %8s %8s  %s\n", it, snap_status_of(rec),
           fmt_acc(b1, sizeof b1, rec, "metrics.val_acc"),
           fmt_field_count(b2, sizeof b2, rec, "metrics.params"),
           snap_jnum(rec, "metrics.seconds", &secs) ? fmt_secs(b3, sizeof b3, secs) : "-",
           fmt_count(b4, sizeof b4, snap_llm_sum(rec, "prompt_tokens") + snap_llm_sum(rec, "completion_tokens")),
           note);
}

typedef struct { show_opts *o; cJSON *json; mem_store *s; } hist_ctx;

static int history_visit(void *ud, uint32_t iter, int rc, const char *text, size_t len)
{
    hist_ctx *h = ud;
    if (rc) {
        h->o->damaged = 1;
        cli_error("show: %s", mem_errmsg(h->s));
        if (h->json) {
            cJSON *d = cJSON_CreateObject();
            if (!d) return MEM_ENOMEM;
            cJSON_AddNumberToObject(d, "iter", iter);
            cJSON_AddStringToObject(d, "damaged", mem_strerror(rc));
            cJSON_AddItemToArray(h->json, d);
        } else if (h->o->format == FMT_TABLE) {
            printf("  %6u  %-12s  (%s)\n", iter, "DAMAGED", mem_strerror(rc));
        } else {
            printf("%u,damaged,,,,,,,,,,,\n", iter);
        }
        return 0;
    }
    cJSON *rec = cJSON_ParseWithLength(text, len);
    if (!rec) return 0;
    if (h->json) cJSON_AddItemToArray(h->json, rec);
    else {
        history_row(h->o, rec);
        cJSON_Delete(rec);
    }
    return 0;
}

/* best: fetch_best's list; lower: the lower-fidelity records it left out. */
static void leaderboard_table(const show_opts *o, const cJSON *best, int lower)
{
    char mpath[256], b1[32], b2[32], b3[32], b4[32];
    snprintf(mpath, sizeof mpath, "metrics.%s", o->metric);
    printf("\nleaderboard (top %u by %s, %s)\n", o->top, o->metric,
           o->order == MEM_MAX ? "higher is better" : "lower is better");
    if (cJSON_GetArraySize(best) == 0) {
        printf("  (no successful candidate has %s)\n", o->metric);
        return;
    }
    int other = strcmp(o->metric, "val_acc") != 0; /* a column of its own */
    printf("  %4s  %6s  ", "RANK", "ITER");
    if (other) printf("%10.10s ", o->metric);
    printf("%8s %8s %8s  %s\n", "VAL_ACC", "PARAMS", "FLOPS", "HASH");
    int rank = 0;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, best) {
        double it = 0, v = 0;
        snap_jnum(rec, "iter", &it);
        if (snap_jget(rec, "damaged")) {
            printf("  %4d  %6.0f  DAMAGED (%s)\n", ++rank, it, snap_jstr(rec, "damaged"));
            continue;
        }
        const char *h = snap_jstr(rec, "hash");
        printf("  %4d  %6.0f  ", ++rank, it);
        if (other && snap_jnum(rec, mpath, &v)) printf("%10.6g ", v);
        printf("%8s %8s %8s  %.32s\n", fmt_acc(b2, sizeof b2, rec, "metrics.val_acc"),
               fmt_field_count(b3, sizeof b3, rec, "metrics.params"),
               fmt_field_count(b4, sizeof b4, rec, "metrics.flops"), h ? h : "-");
    }
    if (lower)
        printf("  (%d record%s trained at a lower fidelity left out: they compare only among themselves)\n",
               lower, lower == 1 ? "" : "s");
    (void)b1;
}

/* "ok 1520, failed 400" from an object of counts. */
static void print_counts(const char *label, const cJSON *obj)
{
    const cJSON *c;
    if (cJSON_GetArraySize(obj) == 0) return;
    printf("  %-15s", label);
    int first = 1;
    cJSON_ArrayForEach(c, obj) {
        printf("%s%s %.0f", first ? "" : ", ", c->string, c->valuedouble);
        first = 0;
    }
    putchar('\n');
}

static void totals_table(const cJSON *run, const cJSON *best_rec)
{
    double n = 0, ok = 0, acc = 0, hits = 0, train = 0, first = 0;
    char b1[32], b2[32], b3[32];
    const cJSON *t = snap_jget(run, "totals"), *role;
    snap_jnum(t, "candidates", &n), snap_jnum(t, "ok", &ok), snap_jnum(t, "accepted", &acc);
    snap_jnum(t, "cache_hits", &hits), snap_jnum(t, "train_seconds", &train);
    printf("\ntotals\n");
    printf("  %-15s%.0f (valid %.0f = %.1f%%, accepted %.0f, cache hits %.0f)\n", "candidates", n, ok,
           n > 0 ? 100 * ok / n : 0.0, acc, hits);
    if (snap_jnum(t, "first_ok_iteration", &first) && best_rec) {
        double bi = 0;
        snap_jnum(best_rec, "iter", &bi);
        printf("  %-15siteration %.0f; best %s at iteration %.0f\n", "first valid", first,
               fmt_acc(b1, sizeof b1, best_rec, "metrics.val_acc"), bi);
    }
    print_counts("status", snap_jget(t, "status"));
    print_counts("error kinds", snap_jget(t, "error_kinds"));
    printf("  %-15s%s\n", "training time", fmt_secs(b1, sizeof b1, train));
    cJSON_ArrayForEach(role, snap_jget(t, "llm")) {
        double calls = 0, pt = 0, ct = 0, secs = 0;
        snap_jnum(role, "calls", &calls), snap_jnum(role, "prompt_tokens", &pt);
        snap_jnum(role, "completion_tokens", &ct), snap_jnum(role, "seconds", &secs);
        char label[64];
        snprintf(label, sizeof label, "LLM %s", role->string);
        printf("  %-15s%.0f calls, %s prompt + %s completion tokens, %s\n", label, calls,
               fmt_count(b1, sizeof b1, pt), fmt_count(b2, sizeof b2, ct), fmt_secs(b3, sizeof b3, secs));
    }
}

/* ---- utilisation of a run with --workers (records carry times and workers) ---- */

typedef struct util {
    double workers, train, propose, queue, first, last;
    int trained;
} util;

static int util_visit(void *ud, uint32_t iter, int rc, const char *text, size_t len)
{
    util *u = ud;
    (void)iter;
    if (rc) return 0;  /* the history pass reports damage */
    cJSON *rec = cJSON_ParseWithLength(text, len);
    if (!rec) return 0;
    double v;
    if (snap_jnum(rec, "workers", &v) && v > u->workers) u->workers = v;
    if (snap_jnum(rec, "times.train", &v)) u->train += v, u->trained++;
    if (snap_jnum(rec, "times.propose", &v)) u->propose += v;
    if (snap_jnum(rec, "times.queue", &v)) u->queue += v;
    if (snap_jnum(rec, "committed_at", &v)) {
        if (u->first == 0 || v < u->first) u->first = v;
        if (v > u->last) u->last = v;
    }
    cJSON_Delete(rec);
    return 0;
}

/* Busy fraction of the workers over the run's wall time (start to last commit), and
 * the time spent waiting for the LLM in propose. 0 if the run has no worker times. */
static int util_get(mem_store *s, uint32_t run, const cJSON *r, util *u)
{
    memset(u, 0, sizeof *u);
    if (mem_scan(s, run, 1, util_visit, u) != 0 || u->workers < 1 || u->last <= 0) return 0;
    double started = 0;
    if (snap_jnum(r, "started", &started) && started > 0 && started < u->first) u->first = started;
    return u->last > u->first;
}

static void util_table(const util *u)
{
    char b1[32], b2[32], b3[32], b4[32];
    double wall = u->last - u->first;
    printf("  %-15s%.0f: busy %.0f%% (training %s of %.0f x %s wall), LLM wait %s in propose, "
           "results queued %s\n", "workers", u->workers, 100 * u->train / (u->workers * wall),
           fmt_secs(b1, sizeof b1, u->train), u->workers, fmt_secs(b2, sizeof b2, wall),
           fmt_secs(b3, sizeof b3, u->propose), fmt_secs(b4, sizeof b4, u->queue));
}

static void util_json(cJSON *out, const util *u)
{
    double wall = u->last - u->first;
    cJSON *j = cJSON_AddObjectToObject(out, "utilisation");
    cJSON_AddNumberToObject(j, "workers", u->workers);
    cJSON_AddNumberToObject(j, "wall_seconds", wall);
    cJSON_AddNumberToObject(j, "train_seconds", u->train);
    cJSON_AddNumberToObject(j, "busy", u->train / (u->workers * wall));
    cJSON_AddNumberToObject(j, "llm_wait_seconds", u->propose);
    cJSON_AddNumberToObject(j, "queue_seconds", u->queue);
}

static int show_run(mem_store *s, show_opts *o, uint32_t run)
{
    char *text;
    int rc = mem_run_get(s, run, &text);
    cJSON *r;
    double lastd = 0;
    if (rc == MEM_EDAMAGED || rc == MEM_EVERSION) {
        /* The run record is damaged; its candidate records may not be: list them. */
        o->damaged = 1;
        cli_error("show: %s", mem_errmsg(s));
        uint32_t li = 0;
        if (mem_last_iteration(s, run, &li) == 0) lastd = li;
        r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "id", run);
        cJSON_AddStringToObject(r, "damaged", mem_strerror(rc));
        cJSON_AddNumberToObject(r, "last_iteration", lastd);
    } else if (rc) {
        return store_error(s, rc);
    } else {
        r = cJSON_Parse(text);
        mem_free(text);
        snap_jnum(r, "last_iteration", &lastd);
    }
    uint32_t last = (uint32_t)lastd;
    long rows = o->last == -2 ? (o->format == FMT_CSV ? -1 : 20) : o->last;
    uint32_t from = rows < 0 || (uint32_t)rows >= last ? 1 : last - (uint32_t)rows + 1;
    hist_ctx h = {o, NULL, s};
    if (o->format == FMT_CSV) {
        history_header(o);
        rc = mem_scan(s, run, from, history_visit, &h);
    } else if (o->format == FMT_JSON) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "run", r);
        cJSON_AddItemToObject(out, "leaderboard", fetch_best(s, o, run, o->top, o->metric, NULL));
        h.json = cJSON_AddArrayToObject(out, "history");
        rc = mem_scan(s, run, from, history_visit, &h);
        util u;
        if (rc == 0 && util_get(s, run, r, &u)) util_json(out, &u);
        if (rc == 0) print_json(out);
        r = NULL;
        cJSON_Delete(out);
    } else {
        char b[32];
        double started = 0;
        snap_jnum(r, "started", &started);
        if (snap_jget(r, "damaged"))
            printf("run %u: run record DAMAGED (%s), %u iterations\n", run, snap_jstr(r, "damaged"), last);
        else
            printf("run %u: %s, started %s UTC, %u iterations\n", run, snap_run_name(r),
                   fmt_time(b, sizeof b, started), last);
        char *meta = cJSON_PrintUnformatted(snap_jget(r, "meta"));
        if (meta) printf("meta: %.300s%s\n", meta, strlen(meta) > 300 ? " ..." : "");
        free(meta);
        int lower = 0;
        cJSON *lb = fetch_best(s, o, run, o->top, o->metric, &lower);
        leaderboard_table(o, lb, lower);
        cJSON_Delete(lb);
        if (rows < 0 || (uint32_t)rows >= last) printf("\nhistory (all %u iterations)\n", last);
        else printf("\nhistory (last %ld of %u; --all for every iteration)\n", rows, last);
        history_header(o);
        rc = mem_scan(s, run, from, history_visit, &h);
        cJSON *best = first_intact(fetch_best(s, o, run, 1, "val_acc", NULL));
        if (snap_jget(r, "damaged")) printf("\ntotals\n  (not shown: the run record that holds them is damaged)\n");
        else totals_table(r, best);
        cJSON_Delete(best);
        util u;
        if (rc == 0 && util_get(s, run, r, &u)) util_table(&u);
    }
    cJSON_Delete(r);
    if (rc) return store_error(s, rc);
    return o->damaged ? EX_DATAERR : EX_OK;
}

/* ---- one candidate -------------------------------------------------------------- */

static void print_block(const char *label, const char *text)
{
    printf("%s\n", label);
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("    %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
}

/* A string as a block, anything else as indented JSON. */
static void print_value(const char *label, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        print_block(label, v->valuestring);
        return;
    }
    char *t = cJSON_Print(v);
    if (t) print_block(label, t);
    free(t);
}

/* One LLM exchange as the search loop books it: {role, messages = [{role,
 * content}], reply, error}. */
static void print_exchange(int n, const cJSON *x)
{
    const char *role = snap_jstr(x, "role");
    const cJSON *msgs = snap_jget(x, "messages"), *m, *reply = snap_jget(x, "reply"), *err = snap_jget(x, "error");
    printf("prompt %d: %s\n", n, role ? role : "?");
    cJSON_ArrayForEach(m, msgs) {
        const char *mr = snap_jstr(m, "role");
        char label[64];
        snprintf(label, sizeof label, "  [%s]", mr ? mr : "?");
        print_value(label, snap_jget(m, "content"));
    }
    if (reply && !cJSON_IsNull(reply)) {
        const cJSON *content = cJSON_IsObject(reply) ? snap_jget(reply, "content") : NULL;
        print_value("  [reply]", content ? content : reply);
    }
    if (err && !cJSON_IsNull(err)) print_value("  [error]", err);
}

/* prompts: an array of exchanges, or an object of role -> prompt text. */
static void print_prompts(const cJSON *pr)
{
    const cJSON *p;
    int n = 0;
    cJSON_ArrayForEach(p, pr) {
        n++;
        if (cJSON_IsArray(pr) && cJSON_IsObject(p)) {
            print_exchange(n, p);
        } else {
            char label[96];
            snprintf(label, sizeof label, "prompt: %s", p->string ? p->string : "?");
            print_value(label, p);
        }
    }
}

/* Where the candidate's time went (the record's "time": compile, build, train,
 * probe, evaluate, ipc, total), and the share outside the training loop. */
static void print_time(const cJSON *t)
{
    static const char *const parts[] = {"compile", "build", "train", "probe", "evaluate", "ipc"};
    double total, train, v;
    if (!cJSON_IsObject(t) || !snap_jnum(t, "total", &total))
        return;
    printf("time       %.2f s:", total);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (snap_jnum(t, parts[i], &v))
            printf(" %s %.2f", parts[i], v);
    if (snap_jnum(t, "train", &train) && train > 0)
        printf(" (%.2fx the training loop)", total / train);
    putchar('\n');
}

/* The learning curve reported at checkpoints, and where a pruned run stopped. */
static void print_curve(const cJSON *rec)
{
    const cJSON *c = snap_jget(rec, "curve"), *p;
    if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) == 0)
        return;
    printf("curve      step: loss / held-out acc (w: the window's own images, first epoch)\n          ");
    cJSON_ArrayForEach(p, c) {
        double step = 0, loss = -1, acc = -1;
        snap_jnum(p, "step", &step), snap_jnum(p, "loss", &loss);
        if (snap_jnum(p, "acc", &acc))
            printf(" %.0f: %.3f / %.1f%%", step, loss, acc * 100);
        else if (snap_jnum(p, "wacc", &acc))
            printf(" %.0f: %.3f / %.1f%%w", step, loss, acc * 100);
        else
            printf(" %.0f: %.3f", step, loss);
    }
    putchar('\n');
    double step, steps;
    if (snap_jnum(rec, "pruned.step", &step) && snap_jnum(rec, "pruned.steps", &steps))
        printf("pruned     at step %.0f of %.0f (%.0f%%)\n", step, steps, 100 * step / steps);
}

static void candidate_table(const cJSON *rec, uint32_t run, uint32_t iter)
{
    char b1[32], b2[32], b3[32], b4[32];
    const char *st = snap_jstr(rec, "status");
    printf("run %u, iteration %u: %s%s%s\n", run, iter, st ? st : "?",
           cJSON_IsTrue(snap_jget(rec, "accepted")) ? " (accepted as the new best)" : "",
           cJSON_IsTrue(snap_jget(rec, "cache_hit")) ? " (evaluation cache hit)" : "");
    const char *k = snap_jstr(rec, "error_kind"), *e = snap_jstr(rec, "error");
    if (k && !e) printf("error      %s\n", k);
    if (e) {
        char label[64];
        snprintf(label, sizeof label, "error (%s)", k ? k : "unknown kind");
        print_block(label, e);
    }
    double secs;
    printf("metrics    val_acc %s, params %s, flops %s, seconds %s\n",
           fmt_acc(b1, sizeof b1, rec, "metrics.val_acc"),
           fmt_field_count(b2, sizeof b2, rec, "metrics.params"),
           fmt_field_count(b3, sizeof b3, rec, "metrics.flops"),
           snap_jnum(rec, "metrics.seconds", &secs) ? fmt_secs(b4, sizeof b4, secs) : "-");
    const cJSON *m, *role;
    cJSON_ArrayForEach(m, snap_jget(rec, "metrics")) {
        if (!cJSON_IsNumber(m) || !strcmp(m->string, "val_acc") || !strcmp(m->string, "params") ||
            !strcmp(m->string, "flops") || !strcmp(m->string, "seconds"))
            continue;
        printf("           %s %.6g\n", m->string, m->valuedouble);
    }
    print_time(snap_jget(rec, "time"));
    print_curve(rec);
    cJSON_ArrayForEach(role, snap_jget(rec, "llm")) {
        double pt = 0, ct = 0, s = 0;
        snap_jnum(role, "prompt_tokens", &pt), snap_jnum(role, "completion_tokens", &ct), snap_jnum(role, "seconds", &s);
        printf("llm        %s: %.0f prompt + %.0f completion tokens, %s\n", role->string, pt, ct,
               fmt_secs(b1, sizeof b1, s));
    }
    const char *h = snap_jstr(rec, "hash");
    if (h) printf("hash       %s\n", h);
    const cJSON *tr = snap_jget(rec, "triple");
    if (cJSON_IsObject(tr)) {
        printf("triple\n");
        static const char *const parts[] = {"problem", "suggestion", "outcome"};
        for (int i = 0; i < 3; i++) {
            const char *v = snap_jstr(tr, parts[i]);
            printf("  %-11s%s\n", parts[i], v ? v : "-");
        }
    }
    print_prompts(snap_jget(rec, "prompts"));
    const char *code = snap_jstr(rec, "code");
    print_block("code", code ? code : "(none)");
}

static int show_candidate(mem_store *s, show_opts *o, uint32_t run, uint32_t iter)
{
    char *text;
    int rc = mem_get(s, run, iter, &text);
    if (rc) return store_error(s, rc);
    cJSON *rec = cJSON_Parse(text);
    mem_free(text);
    if (o->format == FMT_JSON) print_json(rec);
    else if (o->format == FMT_CSV) {
        history_header(o);
        history_row(o, rec);
    } else {
        candidate_table(rec, run, iter);
    }
    cJSON_Delete(rec);
    return EX_OK;
}

/* ---- arguments ---------------------------------------------------------------- */

static int parse_uint(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < 0 || n > 100000000) return -1;
    *out = n;
    return 0;
}

static int parse_args(int argc, char **argv, show_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        static const char *const with_value[] = {"--db", "--top", "--metric", "--order", "--last", "--format", NULL};
        for (int k = 0; with_value[k]; k++) {
            size_t fl = strlen(with_value[k]);
            if (strcmp(a, with_value[k]) == 0) {
                if (i + 1 >= argc) return -cli_usage_error("show", show_usage, "option %s needs a value", a);
                val = argv[++i];
            } else if (strncmp(a, with_value[k], fl) == 0 && a[fl] == '=') {
                val = a + fl + 1;
            } else {
                continue;
            }
            a = with_value[k];
            break;
        }
        long n;
        if (cli_is_help(a)) {
            fputs(show_help, stdout);
            return 1;
        } else if (strcmp(a, "--all") == 0) {
            o->last = -1;
        } else if (!val && a[0] == '-' && a[1]) {
            return -cli_usage_error("show", show_usage, "unknown option '%s'", a);
        } else if (!val) {
            if (o->target) return -cli_usage_error("show", show_usage, "more than one RUN given ('%s')", a);
            o->target = a;
        } else if (strcmp(a, "--db") == 0) {
            o->db = val;
        } else if (strcmp(a, "--metric") == 0) {
            if (!*val || strlen(val) > MEM_METRIC_MAX)
                return -cli_usage_error("show", show_usage, "--metric needs a metric name");
            o->metric = val;
        } else if (strcmp(a, "--order") == 0) {
            if (strcmp(val, "max") && strcmp(val, "min"))
                return -cli_usage_error("show", show_usage, "--order must be max or min, got '%s'", val);
            o->order = strcmp(val, "max") == 0 ? MEM_MAX : MEM_MIN;
        } else if (strcmp(a, "--format") == 0) {
            if (!strcmp(val, "table")) o->format = FMT_TABLE;
            else if (!strcmp(val, "json")) o->format = FMT_JSON;
            else if (!strcmp(val, "csv")) o->format = FMT_CSV;
            else return -cli_usage_error("show", show_usage, "--format must be table, json or csv, got '%s'", val);
        } else if (parse_uint(val, &n) != 0) {
            return -cli_usage_error("show", show_usage, "%s needs a non-negative integer, got '%s'", a, val);
        } else if (strcmp(a, "--top") == 0) {
            o->top = (unsigned)n;
        } else {
            o->last = n;
        }
    }
    return 0;
}

int cmd_show(int argc, char **argv);
int cmd_show(int argc, char **argv)
{
    show_opts o = {.db = MEM_DEFAULT_DIR, .metric = "val_acc", .top = 10, .last = -2, .order = MEM_MAX};
    int prc = parse_args(argc, argv, &o);
    if (prc == 1) return EX_OK; /* --help */
    if (prc < 0) return -prc;
    mem_store *s = NULL;
    int rc = snap_open("show", o.db, &s);
    if (rc) return rc;
    rc = mem_snapshot_begin(s);
    int ex;
    if (rc) {
        ex = store_error(s, rc);
    } else if (!o.target) {
        ex = show_runs(s, &o);
    } else {
        const char *colon = strchr(o.target, ':');
        uint32_t run = 0, iter = 0;
        size_t rl = colon ? (size_t)(colon - o.target) : strlen(o.target);
        rc = snap_run_id(s, o.target, rl, &run);
        if (rc == 0 && colon && snap_parse_id(colon + 1, strlen(colon + 1), &iter) != 0)
            rc = MEM_EINVAL;
        if (rc == MEM_EINVAL)
            ex = cli_usage_error("show", show_usage, "'%s' is not RUN or RUN:ITER (ids are numbers; RUN may be 'latest')", o.target);
        else if (rc)
            ex = store_error(s, rc);
        else
            ex = colon ? show_candidate(s, &o, run, iter) : show_run(s, &o, run);
    }
    mem_close(s);
    return ex;
}
