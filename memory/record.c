/* record.c — see record.h. Tolerant of missing or mistyped fields: a record
 * counts for what it has, since its fields are the search loop's to decide. */
#include "record.h"
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* whole milliseconds on purpose: the stored times are written with 3 decimals */
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) * 1e-3; // NOLINT(bugprone-integer-division)
}

static cJSON *totals_new(void)
{
    cJSON *t = cJSON_CreateObject();
    static const char *const zero[] = {"candidates", "ok", "accepted", "cache_hits", "train_seconds"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        cJSON_AddNumberToObject(t, zero[i], 0);
    cJSON_AddObjectToObject(t, "status");
    cJSON_AddObjectToObject(t, "error_kinds");
    cJSON_AddObjectToObject(t, "llm");
    return t;
}

char *rec_new_run(uint32_t run, const cJSON *meta)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "id", run);
    cJSON_AddNumberToObject(r, "started", unix_now());
    cJSON_AddItemToObject(r, "meta", cJSON_Duplicate(meta, 1));
    cJSON_AddNumberToObject(r, "last_iteration", 0);
    cJSON_AddItemToObject(r, "totals", totals_new());
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

static int set_number(cJSON *o, const char *name, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (!n) return -1;
    if (cJSON_GetObjectItemCaseSensitive(o, name))
        return cJSON_ReplaceItemInObjectCaseSensitive(o, name, n) ? 0 : -1;
    return cJSON_AddItemToObject(o, name, n) ? 0 : -1;
}

int rec_stamp(const cJSON *rec, uint32_t run, uint32_t iter, char *out, size_t outlen,
              char *why, size_t whylen)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(rec, "run");
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(rec, "iter");
    if (r && !(cJSON_IsNumber(r) && r->valuedouble == (double)run)) {
        snprintf(why, whylen, "the record names another run (\"run\": %g)",
                 cJSON_IsNumber(r) ? r->valuedouble : -1.0);
        return -1;
    }
    if (i && !(cJSON_IsNumber(i) && i->valuedouble == (double)iter)) {
        snprintf(why, whylen, "the record says iteration %g but the next iteration is %u "
                 "(iterations before it are already committed)",
                 cJSON_IsNumber(i) ? i->valuedouble : -1.0, iter);
        return -1;
    }
    size_t n = 0;
    out[0] = '\0';
    if (!r) n += (size_t)snprintf(out + n, outlen - n, "\"run\":%u,", run);
    if (!i && n < outlen) n += (size_t)snprintf(out + n, outlen - n, "\"iter\":%u,", iter);
    if (!cJSON_GetObjectItemCaseSensitive(rec, "committed_at") && n < outlen)
        n += (size_t)snprintf(out + n, outlen - n, "\"committed_at\":%.3f,", unix_now());
    if (n >= outlen) {
        snprintf(why, whylen, "stamp too long");
        return -1;
    }
    if (n > 0 && !rec->child) out[n - 1] = '\0'; /* {} gets no trailing comma */
    return 0;
}

/* o[name] += by, creating it (or replacing a non-number) as needed. */
static void add_to(cJSON *o, const char *name, double by)
{
    cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsNumber(n))
        cJSON_SetNumberValue(n, n->valuedouble + by);
    else
        set_number(o, name, by);
}

static cJSON *object_at(cJSON *o, const char *name)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsObject(c)) return c;
    if (c) cJSON_DeleteItemFromObjectCaseSensitive(o, name);
    return cJSON_AddObjectToObject(o, name);
}

static int is_true(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* Per role: every numeric field summed; "calls" counts records unless given. */
static void add_llm(cJSON *totals, const cJSON *rec)
{
    const cJSON *llm = cJSON_GetObjectItemCaseSensitive(rec, "llm"), *role;
    if (!cJSON_IsObject(llm)) return;
    cJSON *tl = object_at(totals, "llm");
    cJSON_ArrayForEach(role, llm) {
        if (!cJSON_IsObject(role) || !role->string) continue;
        cJSON *tr = object_at(tl, role->string);
        const cJSON *f;
        int has_calls = 0;
        cJSON_ArrayForEach(f, role) {
            if (!cJSON_IsNumber(f) || !f->string || !isfinite(f->valuedouble)) continue;
            add_to(tr, f->string, f->valuedouble);
            has_calls |= strcmp(f->string, "calls") == 0;
        }
        if (!has_calls) add_to(tr, "calls", 1);
    }
}

char *rec_add_to_run(cJSON *run, uint32_t iter, const cJSON *rec)
{
    set_number(run, "last_iteration", iter);
    cJSON *t = object_at(run, "totals");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
    const char *status = cJSON_IsString(st) ? st->valuestring : "unknown";
    int ok = strcmp(status, "ok") == 0;
    add_to(t, "candidates", 1);
    if (ok) {
        const cJSON *prev = cJSON_GetObjectItemCaseSensitive(t, "ok");
        if (!cJSON_IsNumber(prev) || prev->valuedouble == 0)
            set_number(t, "first_ok_iteration", iter);
        add_to(t, "ok", 1);
    } else {
        add_to(t, "ok", 0);
    }
    add_to(object_at(t, "status"), status, 1);
    const cJSON *ek = cJSON_GetObjectItemCaseSensitive(rec, "error_kind");
    if (cJSON_IsString(ek) && ek->valuestring[0])
        add_to(object_at(t, "error_kinds"), ek->valuestring, 1);
    int hit = is_true(rec, "cache_hit");
    add_to(t, "cache_hits", hit);
    add_to(t, "accepted", is_true(rec, "accepted"));
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "metrics"), "seconds");
    /* A cache hit repeats an earlier candidate's seconds without training again. */
    add_to(t, "train_seconds", !hit && cJSON_IsNumber(secs) && isfinite(secs->valuedouble) ? secs->valuedouble : 0);
    add_llm(t, rec);
    return cJSON_PrintUnformatted(run);
}

int rec_is_ranked(const cJSON *rec)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
    return !st || (cJSON_IsString(st) && strcmp(st->valuestring, "ok") == 0);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

size_t rec_metric_key(unsigned char *k, uint32_t run, const char *name, const cJSON *value,
                      uint32_t iter)
{
    size_t nl = name ? strlen(name) : 0;
    if (!cJSON_IsNumber(value) || !isfinite(value->valuedouble) || nl == 0 || nl > MEM_METRIC_MAX)
        return 0;
    double d = value->valuedouble == 0 ? 0.0 : value->valuedouble; /* -0 sorts as 0 */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    /* Flip so unsigned byte order matches numeric order: negatives reversed. */
    bits = (bits >> 63) ? ~bits : bits | (UINT64_C(1) << 63);
    put_be32(k, run);
    memcpy(k + 4, name, nl);
    k[4 + nl] = 0;
    put_be32(k + 5 + nl, (uint32_t)(bits >> 32));
    put_be32(k + 9 + nl, (uint32_t)bits);
    put_be32(k + 13 + nl, iter);
    return 17 + nl;
}
