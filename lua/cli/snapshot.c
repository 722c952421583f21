/*
 * snapshot.c — the read-only store access behind show, report, plot and serve.
 */
#include "cli/snapshot.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int snap_exit_for(int rc)
{
    switch (rc) {
    case MEM_NOTFOUND:
    case MEM_ENOENT: return EX_NOINPUT;
    case MEM_EDAMAGED:
    case MEM_EVERSION: return EX_DATAERR;
    case MEM_ENOMEM: return EX_OSERR;
    default: return EX_SOFTWARE;
    }
}

int snap_store_error(const char *cmd, mem_store *s, int rc)
{
    const char *m = s ? mem_errmsg(s) : NULL;
    cli_error("%s: %s", cmd, m && *m ? m : mem_strerror(rc));
    return snap_exit_for(rc);
}

int snap_open(const char *cmd, const char *dir, mem_store **out)
{
    mem_options mo = {.readonly = 1};
    char err[768];
    int rc = mem_open(dir, &mo, out, err, sizeof err);
    if (rc) {
        cli_error("%s: %s%s", cmd, err, rc == MEM_ENOENT ? " (give the store with --db DIR)" : "");
        return snap_exit_for(rc);
    }
    return 0;
}

int snap_parse_id(const char *t, size_t len, uint32_t *id)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(t, &end, 10);
    if (errno || end != t + len || len == 0 || v == 0 || v > UINT32_MAX || t[0] == '-' || t[0] == '+')
        return MEM_EINVAL;
    *id = (uint32_t)v;
    return 0;
}

int snap_run_id(mem_store *s, const char *t, size_t len, uint32_t *run)
{
    if (len == 6 && strncmp(t, "latest", 6) == 0) return mem_latest_run(s, run);
    return snap_parse_id(t, len, run);
}

const cJSON *snap_jget(const cJSON *o, const char *path)
{
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        char key[128];
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path += n + (dot ? 1 : 0);
    }
    return o;
}

int snap_jnum(const cJSON *o, const char *path, double *v)
{
    const cJSON *n = snap_jget(o, path);
    if (!cJSON_IsNumber(n)) return 0;
    *v = n->valuedouble;
    return 1;
}

const char *snap_jstr(const cJSON *o, const char *path)
{
    const cJSON *s = snap_jget(o, path);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

double snap_llm_sum(const cJSON *rec, const char *field)
{
    const cJSON *role, *llm = snap_jget(rec, "llm");
    double sum = 0, v;
    cJSON_ArrayForEach(role, llm) {
        if (snap_jnum(role, field, &v)) sum += v;
    }
    return sum;
}

const char *snap_run_name(const cJSON *run)
{
    const char *n = snap_jstr(run, "meta.name");
    if (!n) n = snap_jstr(run, "meta.strategy");
    if (!n) n = snap_jstr(run, "meta.script");
    return n ? n : "-";
}

const char *snap_status_of(const cJSON *rec)
{
    const char *st = snap_jstr(rec, "status");
    if (st && strcmp(st, "ok") == 0) return "ok";
    const char *k = snap_jstr(rec, "error_kind");
    return k ? k : st ? st : "?";
}
