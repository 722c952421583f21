/*
 * report_data.c — one run's records as columns for the figures and tables,
 * read with mem_scan inside the caller's snapshot (the one `llmnas show` reads).
 */
#include "cli/report.h"
#include "cli/cli.h"
#include "cli/snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The status column of a record: its kind index, adding the word when new
 * (beyond RP_MAX_KINDS - 1 words the rest count as "other"). */
static int kind_index(rp_run *r, const char *word)
{
    for (int i = 0; i < r->n_kinds; i++)
        if (strcmp(r->kinds[i], word) == 0) return i;
    if (r->n_kinds == RP_MAX_KINDS - 1) word = "other";
    for (int i = 0; i < r->n_kinds; i++)
        if (strcmp(r->kinds[i], word) == 0) return i;
    snprintf(r->kinds[r->n_kinds], sizeof r->kinds[0], "%s", word);
    return r->n_kinds++;
}

static void add_role(rp_run *r, const cJSON *role)
{
    int i;
    for (i = 0; i < r->n_roles; i++)
        if (strcmp(r->roles[i].name, role->string) == 0) break;
    if (i == r->n_roles) {
        if (r->n_roles == RP_MAX_ROLES) return;
        snprintf(r->roles[i].name, sizeof r->roles[i].name, "%s", role->string);
        r->n_roles++;
    }
    rp_role *x = &r->roles[i];
    double v;
    if (snap_jnum(role, "calls", &v)) x->calls += v;
    else x->calls += 1; /* one call per record unless the record counts them */
    if (snap_jnum(role, "prompt_tokens", &v)) x->prompt_tokens += v;
    if (snap_jnum(role, "completion_tokens", &v)) x->completion_tokens += v;
    if (snap_jnum(role, "seconds", &v)) x->seconds += v;
}

typedef struct { rp_run *r; size_t cap; mem_store *s; } collect_ctx;

static double num_or_nan(const cJSON *rec, const char *path)
{
    double v;
    return snap_jnum(rec, path, &v) && isfinite(v) ? v : NAN;
}

static int visit(void *ud, uint32_t iter, int rc, const char *text, size_t len)
{
    collect_ctx *c = ud;
    rp_run *r = c->r;
    if (r->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        rp_point *p = realloc(r->pts, cap * sizeof *p);
        if (!p) return MEM_ENOMEM;
        r->pts = p, c->cap = cap;
    }
    rp_point *p = &r->pts[r->n];
    *p = (rp_point){.iter = iter, .acc = NAN, .params = NAN, .flops = NAN, .train_s = NAN,
                    .llm_s = NAN, .iter_s = NAN, .tokens = NAN, .committed_at = NAN};
    cJSON *rec = rc ? NULL : cJSON_ParseWithLength(text, len);
    if (!rec) {
        p->flags = RP_DAMAGED;
        p->kind = kind_index(r, "damaged");
        p->train_cum = r->train_s;
        r->n_damaged++;
        r->kind_count[p->kind]++;
        r->n++;
        return 0;
    }
    const char *st = snap_jstr(rec, "status");
    int ok = !st || strcmp(st, "ok") == 0; /* no status counts as ok, as the store ranks it */
    if (ok) p->flags |= RP_OK;
    if (cJSON_IsTrue(snap_jget(rec, "accepted"))) p->flags |= RP_ACCEPTED;
    if (cJSON_IsTrue(snap_jget(rec, "cache_hit"))) p->flags |= RP_CACHED;
    if (cJSON_IsTrue(snap_jget(rec, "pruned")) || (st && strcmp(st, "pruned") == 0)) p->flags |= RP_PRUNED;
    if (cJSON_IsObject(snap_jget(rec, "triple"))) p->flags |= RP_TRIPLE;
    if (snap_jget(rec, "worker")) r->has_worker = 1;
    if (snap_jget(rec, "fidelity")) r->has_fidelity = 1;
    p->kind = kind_index(r, p->flags & RP_PRUNED ? "pruned" : ok ? "ok" : snap_status_of(rec));
    r->kind_count[p->kind]++;
    p->acc = num_or_nan(rec, "metrics.val_acc");
    p->params = num_or_nan(rec, "metrics.params");
    p->flops = num_or_nan(rec, "metrics.flops");
    p->train_s = num_or_nan(rec, "metrics.seconds");
    p->iter_s = num_or_nan(rec, "seconds");
    p->committed_at = num_or_nan(rec, "committed_at");
    if (cJSON_IsObject(snap_jget(rec, "llm"))) {
        p->llm_s = snap_llm_sum(rec, "seconds");
        p->tokens = snap_llm_sum(rec, "prompt_tokens") + snap_llm_sum(rec, "completion_tokens");
        const cJSON *role;
        cJSON_ArrayForEach(role, snap_jget(rec, "llm")) {
            add_role(r, role);
        }
    }
    if (!(p->flags & RP_CACHED) && isfinite(p->train_s)) r->train_s += p->train_s;
    p->train_cum = r->train_s;
    if (isfinite(p->llm_s)) r->llm_s += p->llm_s;
    if (isfinite(p->iter_s)) r->iter_s += p->iter_s;
    if (ok) r->n_ok++;
    if (p->flags & RP_CACHED) r->n_cached++;
    if (p->flags & RP_PRUNED) r->n_pruned++;
    if (ok && !(p->flags & RP_PRUNED) && isfinite(p->acc) && (r->best_iter == 0 || p->acc > r->best_acc))
        r->best_iter = iter, r->best_acc = p->acc;
    cJSON_Delete(rec);
    r->n++;
    return 0;
}

static double input_dim(const cJSON *run, int i, double dflt)
{
    const cJSON *d = cJSON_GetArrayItem(snap_jget(run, "meta.task.input"), i);
    return cJSON_IsNumber(d) && d->valuedouble >= 1 ? d->valuedouble : dflt;
}

int rp_collect(mem_store *s, uint32_t run, rp_run **out)
{
    *out = NULL;
    char *text = NULL;
    int rc = mem_run_get(s, run, &text);
    int damaged = rc == MEM_EDAMAGED || rc == MEM_EVERSION;
    if (rc && !damaged) return rc;
    rp_run *r = calloc(1, sizeof *r);
    if (!r) {
        mem_free(text);
        return MEM_ENOMEM;
    }
    r->id = run;
    if (damaged) {
        /* issue #18: a damaged run record costs its own line, not the page: its
         * candidate records are read as usual, the run counts as damaged (exit 65) */
        cli_error("%s", mem_errmsg(s));
        r->n_damaged = 1;
        r->record = cJSON_CreateObject();
        cJSON *meta = cJSON_AddObjectToObject(r->record, "meta");
        if (meta) cJSON_AddStringToObject(meta, "name", "DAMAGED run record");
        cJSON_AddStringToObject(r->record, "damaged", mem_strerror(rc));
    } else {
        r->record = cJSON_Parse(text);
    }
    mem_free(text);
    if (!r->record) {
        free(r);
        return MEM_ENOMEM;
    }
    snprintf(r->name, sizeof r->name, "%s", snap_run_name(r->record));
    r->in_c = input_dim(r->record, 0, 1), r->in_h = input_dim(r->record, 1, 28);
    r->in_w = input_dim(r->record, 2, 28);
    double cl = 10;
    snap_jnum(r->record, "meta.task.classes", &cl);
    r->classes = cl;
    collect_ctx c = {r, 0, s};
    rc = mem_scan(s, run, 1, visit, &c);
    if (rc) {
        rp_run_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void rp_run_free(rp_run *r)
{
    if (!r) return;
    cJSON_Delete(r->record);
    free(r->pts);
    free(r);
}

void rp_free_all(rp_run **runs, int n)
{
    for (int i = 0; runs && i < n; i++) rp_run_free(runs[i]);
    free(runs);
}

int rp_load(const char *cmd, mem_store *s, char *const *targets, int n_targets, int max_default,
            rp_run ***out, int *n_out)
{
    *out = NULL, *n_out = 0;
    uint32_t *ids = NULL;
    int n = 0, rc = 0;
    if (n_targets > 0) {
        ids = calloc((size_t)n_targets, sizeof *ids);
        for (int i = 0; ids && i < n_targets; i++) {
            rc = snap_run_id(s, targets[i], strlen(targets[i]), &ids[n]);
            if (rc == MEM_EINVAL) {
                cli_error("%s: '%s' is not a run (a run id, or 'latest')", cmd, targets[i]);
                free(ids);
                return EX_USAGE;
            }
            if (rc) {
                free(ids);
                return snap_store_error(cmd, s, rc);
            }
            n++;
        }
    } else {
        uint32_t last = 0;
        rc = mem_latest_run(s, &last);
        if (rc && rc != MEM_NOTFOUND) return snap_store_error(cmd, s, rc);
        uint32_t first = last > (uint32_t)max_default ? last - (uint32_t)max_default + 1 : 1;
        ids = calloc(last ? last - first + 1 : 1, sizeof *ids);
        for (uint32_t id = first; ids && last && id <= last; id++) ids[n++] = id;
    }
    if (!ids) return EX_OSERR;
    rp_run **runs = calloc((size_t)n + 1, sizeof *runs);
    if (!runs) {
        free(ids);
        return EX_OSERR;
    }
    for (int i = 0; i < n; i++) {
        rc = rp_collect(s, ids[i], &runs[i]);
        if (rc == MEM_NOTFOUND) {
            cli_error("%s: no run %u in %s (llmnas show --db %s lists the runs)", cmd, ids[i], mem_path(s), mem_path(s));
            rp_free_all(runs, i);
            free(ids);
            return EX_NOINPUT;
        }
        if (rc) {
            int ex = snap_store_error(cmd, s, rc);
            rp_free_all(runs, i);
            free(ids);
            return ex;
        }
    }
    free(ids);
    *out = runs, *n_out = n;
    return 0;
}
