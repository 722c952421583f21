/*
 * test_memory.c — the feedback memory (memory/store.h): round trips of every
 * record kind, damage detection, map growth, the writer lock, kill -9 during
 * commits, snapshot consistency against a concurrent writer, resume, a full
 * disk (tmpfs, when root), LMDB's own tools reading the store, and the map's
 * pages given back so a long run's RSS stays bounded.
 *
 * Writers that must die or run concurrently are fork()ed children that open
 * their own store (LMDB forbids using a parent's environment after fork).
 * Seeded runs print their seed; set MEMTEST_SEED to repeat one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <zlib.h>

#include "store.h"

static char tmproot[128];

static void rm_rf(const char *p)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", p);
}

static const char *fresh_dir(const char *name)
{
    static char d[256];
    snprintf(d, sizeof d, "%s/%s", tmproot, name);
    rm_rf(d);
    return d;
}

static mem_store *open_ok(const char *dir, const mem_options *o)
{
    mem_store *s = NULL;
    char err[512];
    int rc = mem_open(dir, o, &s, err, sizeof err);
    if (rc) fprintf(stderr, "mem_open %s: %s (%s)\n", dir, mem_strerror(rc), err);
    assert_int_equal(rc, 0);
    return s;
}

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *c = o;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save))
        c = cJSON_GetObjectItemCaseSensitive(c, t);
    if (!cJSON_IsNumber(c)) fail_msg("no number at %s", path);
    return c->valuedouble;
}

static void make_record(char *dst, size_t len, const char *status, double acc, int hit, size_t pad)
{
    char *code = malloc(pad + 1);
    memset(code, 'x', pad);
    code[pad] = '\0';
    snprintf(dst, len,
             "{\"status\":\"%s\",%s\"code\":\"-- %s\",\"hash\":\"h%g\","
             "\"metrics\":{\"val_acc\":%g,\"params\":%d,\"seconds\":1.5},"
             "\"llm\":{\"generator\":{\"prompt_tokens\":100,\"completion_tokens\":50,\"seconds\":2},"
             "\"improver\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"seconds\":0.5}},"
             "\"triple\":{\"problem\":\"p\",\"suggestion\":\"s\",\"outcome\":\"o\"},"
             "\"accepted\":%s,\"cache_hit\":%s}",
             status, strcmp(status, "ok") ? "\"error_kind\":\"shape\",\"error\":\"bad shape\"," : "",
             code, acc, acc, (int)(acc * 1000), hit ? "true" : "false", hit ? "true" : "false");
    free(code);
}

/* ---- round trips ---------------------------------------------------------- */

static void test_round_trips(void **state)
{
    const char *dir = fresh_dir("rt");
    mem_store *s = open_ok(dir, NULL);
    uint32_t run = 0, iter = 0, last = 99;
    assert_int_equal(mem_latest_run(s, &run), MEM_NOTFOUND);
    assert_int_equal(mem_begin_run(s, "{\"strategy\":\"paper.lua\",\"dataset\":\"fashion\"}", &run), 0);
    assert_int_equal(run, 1);
    assert_int_equal(mem_last_iteration(s, run, &last), 0);
    assert_int_equal(last, 0);

    char rec[4096], *out = NULL;
    make_record(rec, sizeof rec, "ok", 0.5, 0, 10);
    assert_int_equal(mem_append(s, run, rec, "{\"best\":0.5,\"window\":[1]}", &iter), 0);
    assert_int_equal(iter, 1);
    make_record(rec, sizeof rec, "failed", 0, 0, 10);
    assert_int_equal(mem_append(s, run, rec, NULL, &iter), 0);
    assert_int_equal(iter, 2);
    make_record(rec, sizeof rec, "ok", 0.7, 1, 10);
    assert_int_equal(mem_append(s, run, rec, "{\"best\":0.7}", &iter), 0);

    /* candidate */
    assert_int_equal(mem_get(s, run, 1, &out), 0);
    cJSON *j = parse(out);
    assert_int_equal((int)num(j, "iter"), 1);
    assert_int_equal((int)num(j, "run"), 1);
    assert_true(num(j, "committed_at") > 1e9);
    assert_true(num(j, "metrics.val_acc") == 0.5);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "triple"), "problem")->valuestring, "p");
    cJSON_Delete(j);
    mem_free(out);
    assert_int_equal(mem_get(s, run, 4, &out), MEM_NOTFOUND);
    assert_null(out);
    assert_non_null(strstr(mem_errmsg(s), "no iteration 4"));

    /* state: the last one given */
    assert_int_equal(mem_state_get(s, run, &out), 0);
    assert_string_equal(out, "{\"best\":0.7}");
    mem_free(out);

    /* run record and totals */
    assert_int_equal(mem_run_get(s, run, &out), 0);
    j = parse(out);
    mem_free(out);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "strategy")->valuestring, "paper.lua");
    assert_int_equal((int)num(j, "last_iteration"), 3);
    assert_int_equal((int)num(j, "totals.candidates"), 3);
    assert_int_equal((int)num(j, "totals.ok"), 2);
    assert_int_equal((int)num(j, "totals.first_ok_iteration"), 1);
    assert_int_equal((int)num(j, "totals.cache_hits"), 1);
    assert_int_equal((int)num(j, "totals.accepted"), 1);
    assert_true(num(j, "totals.train_seconds") == 3.0); /* the cache hit did not train */
    assert_int_equal((int)num(j, "totals.status.failed"), 1);
    assert_int_equal((int)num(j, "totals.error_kinds.shape"), 1);
    assert_int_equal((int)num(j, "totals.llm.generator.calls"), 3);
    assert_int_equal((int)num(j, "totals.llm.generator.prompt_tokens"), 300);
    assert_true(num(j, "totals.llm.improver.seconds") == 1.5);
    cJSON_Delete(j);

    /* runs list, second run */
    uint32_t run2;
    assert_int_equal(mem_begin_run(s, NULL, &run2), 0);
    assert_int_equal(run2, 2);
    assert_int_equal(mem_latest_run(s, &run), 0);
    assert_int_equal(run, 2);
    assert_int_equal(mem_runs(s, &out), 0);
    j = parse(out);
    mem_free(out);
    assert_int_equal(cJSON_GetArraySize(j), 2);
    assert_int_equal((int)num(cJSON_GetArrayItem(j, 1), "id"), 2);
    cJSON_Delete(j);
    assert_int_equal(mem_append(s, 7, rec, NULL, &iter), MEM_NOTFOUND);
    assert_non_null(strstr(mem_errmsg(s), "no run 7"));
    assert_int_equal(mem_state_get(s, run2, &out), MEM_NOTFOUND);

    /* evaluation cache, LLM cache, kv */
    assert_int_equal(mem_by_hash(s, "abc", &out), MEM_NOTFOUND);
    assert_int_equal(mem_put_hash(s, "abc", "{\"val_acc\":0.5}"), 0);
    assert_int_equal(mem_by_hash(s, "abc", &out), 0);
    assert_string_equal(out, "{\"val_acc\":0.5}");
    mem_free(out);
    assert_int_equal(mem_llm_put(s, "req1", "{\"content\":\"```lua\\n```\"}"), 0);
    assert_int_equal(mem_llm_get(s, "req1", &out), 0);
    assert_string_equal(out, "{\"content\":\"```lua\\n```\"}");
    mem_free(out);
    assert_int_equal(mem_llm_get(s, "req2", &out), MEM_NOTFOUND);
    assert_int_equal(mem_kv_put(s, "k", "[1,2,\"three\"]"), 0);
    assert_int_equal(mem_kv_get(s, "k", &out), 0);
    assert_string_equal(out, "[1,2,\"three\"]");
    mem_free(out);
    assert_int_equal(mem_kv_put(s, "k", "42"), 0);
    assert_int_equal(mem_kv_get(s, "k", &out), 0);
    assert_string_equal(out, "42");
    mem_free(out);
    assert_int_equal(mem_kv_put(s, "k", NULL), 0);
    assert_int_equal(mem_kv_get(s, "k", &out), MEM_NOTFOUND);
    assert_int_equal(mem_kv_put(s, "k", NULL), 0);

    /* bad input */
    assert_int_equal(mem_kv_put(s, "k", "{nope"), MEM_EINVAL);
    assert_int_equal(mem_kv_put(s, "", "1"), MEM_EINVAL);
    assert_int_equal(mem_append(s, 1, "[1]", NULL, &iter), MEM_EINVAL);
    assert_int_equal(mem_append(s, 1, "{}", "{bad", &iter), MEM_EINVAL);
    assert_int_equal(mem_begin_run(s, "3", &run), MEM_EINVAL);
    mem_close(s);

    /* everything survives a reopen, read-only */
    mem_options ro = {.readonly = 1};
    s = open_ok(dir, &ro);
    assert_int_equal(mem_get(s, 1, 3, &out), 0);
    mem_free(out);
    assert_int_equal(mem_by_hash(s, "abc", &out), 0);
    mem_free(out);
    assert_int_equal(mem_kv_put(s, "x", "1"), MEM_EREADONLY);
    assert_int_equal(mem_append(s, 1, "{}", NULL, &iter), MEM_EREADONLY);
    mem_close(s);
    (void)state;
}

static void test_strerror_names(void **state)
{
    int codes[] = {MEM_OK, MEM_NOTFOUND, MEM_EDAMAGED, MEM_EVERSION, MEM_ELOCKED, MEM_EBUSY,
                   MEM_ENOSPC, MEM_EMAPFULL, MEM_EINVAL, MEM_ECONFLICT, MEM_EREADONLY,
                   MEM_ENOENT, MEM_EIO, MEM_ENOMEM, MEM_ELMDB, MEM_EINTERRUPTED};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_int_equal(strncmp(mem_strerror(codes[i]), "MEM_", 4), 0);
    assert_non_null(strstr(mem_strerror(MEM_EDAMAGED), "MEM_EDAMAGED"));
    assert_int_equal(strncmp(mem_strerror(-30798), "MDB_NOTFOUND", 12), 0);
    (void)state;
}

static void test_readonly_missing(void **state)
{
    mem_options ro = {.readonly = 1};
    mem_store *s = NULL;
    char err[256];
    assert_int_equal(mem_open(fresh_dir("missing"), &ro, &s, err, sizeof err), MEM_ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, "no llmnas store"));
    (void)state;
}

/* ---- ordering ------------------------------------------------------------- */

static int iters_of(const char *json, int *dst, int max)
{
    cJSON *a = parse(json), *e;
    int n = 0;
    cJSON_ArrayForEach(e, a) if (n < max) dst[n++] = (int)num(e, "iter");
    cJSON_Delete(a);
    return n;
}

static void test_best_and_recent(void **state)
{
    mem_store *s = open_ok(fresh_dir("best"), NULL);
    uint32_t run, other, iter;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    assert_int_equal(mem_begin_run(s, NULL, &other), 0);
    /* iteration: 1     2     3      4     5    6       7     8(failed, high) */
    double acc[] = {0.3, 0.9, -0.5, 0.9, 0.0, 0.95, 0.3};
    char rec[2048];
    for (int i = 0; i < 7; i++) {
        make_record(rec, sizeof rec, "ok", acc[i], 0, 4);
        assert_int_equal(mem_append(s, run, rec, NULL, &iter), 0);
        make_record(rec, sizeof rec, "ok", 5.0, 0, 4); /* another run: never mixed in */
        assert_int_equal(mem_append(s, other, rec, NULL, &iter), 0);
    }
    make_record(rec, sizeof rec, "failed", 0.99, 0, 4);
    assert_int_equal(mem_append(s, run, rec, NULL, &iter), 0);
    assert_int_equal(mem_append(s, run, "{\"status\":\"ok\",\"metrics\":{\"val_acc\":\"n/a\"}}", NULL, &iter), 0);

    char *out;
    int it[16], n;
    assert_int_equal(mem_best(s, run, 3, "val_acc", MEM_MAX, &out), 0);
    n = iters_of(out, it, 16);
    mem_free(out);
    assert_int_equal(n, 3);
    assert_int_equal(it[0], 6);
    assert_int_equal(it[1], 2); /* tie 0.9: the earlier first */
    assert_int_equal(it[2], 4);
    assert_int_equal(mem_best(s, run, 2, "val_acc", MEM_MIN, &out), 0);
    n = iters_of(out, it, 16);
    mem_free(out);
    assert_int_equal(n, 2);
    assert_int_equal(it[0], 3);
    assert_int_equal(it[1], 5);
    assert_int_equal(mem_best(s, run, 5, "val_acc", MEM_MIN, &out), 0);
    n = iters_of(out, it, 16);
    mem_free(out);
    assert_int_equal(it[2], 1); /* tie 0.3: 1 before 7 */
    assert_int_equal(it[3], 7);
    assert_int_equal(mem_best(s, run, 100, "val_acc", MEM_MAX, &out), 0);
    assert_int_equal(iters_of(out, it, 16), 7); /* not the failed one, not the string */
    mem_free(out);
    assert_int_equal(mem_best(s, run, 100, "params", MEM_MIN, &out), 0);
    n = iters_of(out, it, 16);
    mem_free(out);
    assert_int_equal(it[0], 3);
    assert_int_equal(mem_best(s, run, 3, "nonesuch", MEM_MAX, &out), 0);
    assert_string_equal(out, "[]");
    mem_free(out);
    assert_int_equal(mem_best(s, 9, 3, "val_acc", MEM_MAX, &out), MEM_NOTFOUND);

    assert_int_equal(mem_recent(s, run, 3, &out), 0);
    n = iters_of(out, it, 16);
    mem_free(out);
    assert_int_equal(n, 3);
    assert_int_equal(it[0], 7);
    assert_int_equal(it[2], 9);
    assert_int_equal(mem_recent(s, run, 50, &out), 0);
    assert_int_equal(iters_of(out, it, 16), 9);
    mem_free(out);
    mem_close(s);
    (void)state;
}

static int count_visit(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    int *c = ud;
    if (rc) return rc;
    assert_non_null(json);
    assert_true(len > 0 && json[0] == '{');
    c[0]++;
    c[1] = (int)iter;
    return c[0] == c[2] ? 1 : 0;
}

static void test_scan(void **state)
{
    mem_store *s = open_ok(fresh_dir("scan"), NULL);
    uint32_t run, r2, iter;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    assert_int_equal(mem_begin_run(s, NULL, &r2), 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mem_append(s, run, "{\"status\":\"ok\"}", NULL, &iter), 0);
        assert_int_equal(mem_append(s, r2, "{}", NULL, &iter), 0);
    }
    int c[3] = {0, 0, 0};
    assert_int_equal(mem_scan(s, run, 5, count_visit, c), 0);
    assert_int_equal(c[0], 16);
    assert_int_equal(c[1], 20);
    int d[3] = {0, 0, 4};
    assert_int_equal(mem_scan(s, r2, 1, count_visit, d), 0);
    assert_int_equal(d[0], 4);
    mem_close(s);
    (void)state;
}

static void test_conflict(void **state)
{
    mem_store *s = open_ok(fresh_dir("conflict"), NULL);
    uint32_t run, iter;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    assert_int_equal(mem_append(s, run, "{\"iter\":1}", NULL, &iter), 0);
    assert_int_equal(mem_append(s, run, "{\"iter\":1}", NULL, &iter), MEM_ECONFLICT);
    assert_non_null(strstr(mem_errmsg(s), "next iteration is 2"));
    assert_int_equal(mem_append(s, run, "{\"run\":5}", NULL, &iter), MEM_ECONFLICT);
    assert_int_equal(mem_append(s, run, "{\"iter\":2,\"run\":1}", NULL, &iter), 0);
    assert_int_equal(iter, 2);
    mem_close(s);
    (void)state;
}

/* ---- damage --------------------------------------------------------------- */

/* Flip one byte of every occurrence of marker in dir/data.mdb. */
static void flip_in_file(const char *dir, const char *marker, int offset)
{
    char p[600];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    char *b = malloc((size_t)n);
    rewind(f);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    /* LMDB copies pages on write: older copies may sit in free pages, flip them all */
    char *hit = memmem(b, (size_t)n, marker, strlen(marker));
    assert_non_null(hit);
    for (; hit; hit = memmem(hit + 1, (size_t)(n - (hit + 1 - b)), marker, strlen(marker))) {
        long at = (long)(hit - b) + offset;
        fseek(f, at, SEEK_SET);
        fputc(b[at] ^ 0x01, f);
    }
    fclose(f);
    free(b);
}

struct okbad { int ok, bad; };

static int visit_damage(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    struct okbad *c = ud;
    (void)iter, (void)len;
    if (rc == MEM_EDAMAGED && json == NULL) c->bad++;
    else if (rc == 0) c->ok++;
    return 0;
}

/* "1 2!" for records 1 (intact) then 2 (damaged), in the order visited. */
struct order { char seen[64]; };

static int visit_order(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    struct order *o = ud;
    size_t n = strlen(o->seen);
    snprintf(o->seen + n, sizeof o->seen - n, "%s%u%s", n ? " " : "", iter,
             rc == MEM_EDAMAGED && !json && !len ? "!" : rc ? "?" : "");
    return 0;
}

static int visit_strict(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    (void)ud, (void)iter, (void)json, (void)len;
    return rc;
}

static void test_flipped_byte(void **state)
{
    const char *dir = fresh_dir("damage");
    mem_store *s = open_ok(dir, NULL);
    uint32_t run, iter;
    char *out;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    assert_int_equal(mem_append(s, run, "{\"status\":\"ok\",\"code\":\"fine one\",\"metrics\":{\"val_acc\":0.1}}", NULL, &iter), 0);
    assert_int_equal(mem_append(s, run, "{\"status\":\"ok\",\"code\":\"UNIQUEMARKER-candidate\",\"metrics\":{\"val_acc\":0.9}}", NULL, &iter), 0);
    assert_int_equal(mem_kv_put(s, "cfg", "{\"v\":\"UNIQUEMARKER-kv\"}"), 0);
    assert_int_equal(mem_put_hash(s, "h1", "{\"v\":\"UNIQUEMARKER-hash\"}"), 0);
    mem_close(s);

    flip_in_file(dir, "UNIQUEMARKER-candidate", 3);
    flip_in_file(dir, "UNIQUEMARKER-kv", 14); /* the last byte: 'v' */
    flip_in_file(dir, "\"kind\":\"result\"", 9); /* the envelope itself */

    s = open_ok(dir, NULL);
    assert_int_equal(mem_get(s, run, 1, &out), 0);
    mem_free(out);
    assert_int_equal(mem_get(s, run, 2, &out), MEM_EDAMAGED);
    assert_null(out);
    assert_non_null(strstr(mem_errmsg(s), "run 1 iteration 2"));
    assert_non_null(strstr(mem_errmsg(s), "checksum mismatch"));
    assert_int_equal(mem_best(s, run, 1, "val_acc", MEM_MAX, &out), MEM_EDAMAGED);
    assert_null(out);
    assert_int_equal(mem_recent(s, run, 5, &out), MEM_EDAMAGED);
    assert_int_equal(mem_recent(s, run, 0, &out), 0);
    mem_free(out);
    assert_int_equal(mem_kv_get(s, "cfg", &out), MEM_EDAMAGED);
    assert_non_null(strstr(mem_errmsg(s), "cfg"));
    assert_int_equal(mem_by_hash(s, "h1", &out), MEM_EDAMAGED);
    /* scan reports the damaged record and goes on */
    assert_int_equal(mem_scan(s, run, 1, NULL, NULL), MEM_EINVAL);
    struct okbad c = {0, 0};
    assert_int_equal(mem_scan(s, run, 1, visit_damage, &c), 0);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.bad, 1);
    /* the visiting readers list the intact record around the damaged one (issue #18):
     * best first (the damaged one ranks first), recent oldest first */
    struct order o = {0};
    assert_int_equal(mem_scan_best(s, run, 5, "val_acc", MEM_MAX, visit_order, &o), 0);
    assert_string_equal(o.seen, "2! 1");
    memset(&o, 0, sizeof o);
    assert_int_equal(mem_scan_recent(s, run, 5, visit_order, &o), 0);
    assert_string_equal(o.seen, "1 2!");
    memset(&o, 0, sizeof o);
    assert_int_equal(mem_scan_recent(s, run, 1, visit_order, &o), 0);
    assert_string_equal(o.seen, "2!");
    /* a visitor that stops at the damage stops the call with its code */
    assert_int_equal(mem_scan_recent(s, run, 5, visit_strict, NULL), MEM_EDAMAGED);
    assert_non_null(strstr(mem_errmsg(s), "run 1 iteration 2"));
    /* the store keeps working: a new record is fine */
    assert_int_equal(mem_append(s, run, "{}", NULL, &iter), 0);
    assert_int_equal(iter, 3);
    mem_close(s);
    (void)state;
}

/* ---- growth --------------------------------------------------------------- */

static void test_map_growth(void **state)
{
    const char *dir = fresh_dir("grow");
    mem_options o = {.map_size = 32 * 4096, .map_max = 16 << 20};
    mem_store *s = open_ok(dir, &o);
    uint32_t run, iter;
    size_t size0, size1;
    unsigned grown = 0;
    assert_int_equal(mem_map_info(s, &size0, &grown), 0);
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    char *rec = malloc(8192);
    for (int i = 0; i < 300; i++) {
        make_record(rec, 8192, "ok", i / 300.0, 0, 3000);
        int rc = mem_append(s, run, rec, "{\"n\":1}", &iter);
        if (rc) fail_msg("append %d: %s", i, mem_errmsg(s));
    }
    assert_int_equal(mem_map_info(s, &size1, &grown), 0);
    assert_true(grown > 0);
    assert_true(size1 > size0);
    char *out;
    assert_int_equal(mem_get(s, run, 300, &out), 0);
    mem_free(out);
    /* the limit: 16 MiB of 8 KB records cannot hold 4000 more */
    int rc = 0, i;
    for (i = 0; i < 4000 && rc == 0; i++) {
        make_record(rec, 8192, "ok", 0.5, 0, 4000);
        rc = mem_append(s, run, rec, NULL, &iter);
    }
    assert_int_equal(rc, MEM_EMAPFULL);
    assert_non_null(strstr(mem_errmsg(s), "size limit"));
    uint32_t last;
    assert_int_equal(mem_last_iteration(s, run, &last), 0);
    assert_int_equal(last, 300 + i - 1);
    free(rec);
    mem_close(s);
    /* a reopen with the default limit continues */
    s = open_ok(dir, NULL);
    assert_int_equal(mem_append(s, run, "{}", NULL, &iter), 0);
    assert_int_equal(iter, last + 1);
    mem_close(s);
    (void)state;
}

/* ---- writer lock ---------------------------------------------------------- */

static void test_second_writer(void **state)
{
    const char *dir = fresh_dir("lock");
    mem_store *s = open_ok(dir, NULL);
    mem_store *s2 = NULL;
    char err[512];
    assert_int_equal(mem_open(dir, NULL, &s2, err, sizeof err), MEM_EBUSY);
    mem_close(s);

    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        mem_store *c = NULL;
        if (mem_open(dir, NULL, &c, NULL, 0) != 0) _exit(1);
        char b = 1;
        if (write(ready[1], &b, 1) != 1 || read(go[0], &b, 1) != 1) _exit(2);
        mem_close(c);
        _exit(0);
    }
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    assert_int_equal(mem_open(dir, NULL, &s2, err, sizeof err), MEM_ELOCKED);
    assert_null(s2);
    char want[64];
    snprintf(want, sizeof want, "pid %d", (int)pid);
    if (!strstr(err, want)) fail_msg("message does not name pid %d: %s", (int)pid, err);
    /* a reader is welcome while the writer works */
    mem_options ro = {.readonly = 1};
    s2 = open_ok(dir, &ro);
    mem_close(s2);
    assert_int_equal(write(go[1], &b, 1), 1);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    s2 = open_ok(dir, NULL); /* free again */
    mem_close(s2);
    close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
    (void)state;
}

/* A forked child (an evaluation worker) must not keep the writer lock once
 * its parent closed the store (or died). */
static void test_forked_child_does_not_hold_lock(void **state)
{
    const char *dir = fresh_dir("forklock");
    mem_store *s = open_ok(dir, NULL);
    int go[2], ready[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char b = 1;
        close(go[1]);
        /* fork's handlers have run once the child runs this */
        if (write(ready[1], &b, 1) != 1) _exit(1);
        if (read(go[0], &b, 1) < 0) _exit(1); /* wait, holding whatever was inherited */
        _exit(0);
    }
    close(go[0]);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    close(ready[0]), close(ready[1]);
    mem_close(s);
    mem_store *s2 = NULL;
    char err[512];
    int rc = mem_open(dir, NULL, &s2, err, sizeof err);
    if (rc) fail_msg("reopen while a forked child lives: %s", err);
    mem_close(s2);
    close(go[1]);
    waitpid(pid, NULL, 0);
    (void)state;
}

/* ---- kill -9 during commits ------------------------------------------------ */

static unsigned seed;

/* The writer: appends records with state {"n":iter} and reports each
 * acknowledged iteration on fd after mem_append returned. */
static size_t writer_map; /* initial map of writer_child (0 = default) */

static void writer_child(const char *dir, int fd, size_t pad)
{
    mem_store *s = NULL;
    mem_options o = {.map_size = writer_map};
    if (mem_open(dir, &o, &s, NULL, 0) != 0) _exit(3);
    uint32_t run;
    if (mem_latest_run(s, &run) != 0 && mem_begin_run(s, NULL, &run) != 0) _exit(4);
    char *rec = malloc(pad + 1024), state[64];
    for (;;) {
        uint32_t last, iter;
        if (mem_last_iteration(s, run, &last) != 0) _exit(5);
        make_record(rec, pad + 1024, "ok", (last % 97) / 100.0, 0, pad);
        snprintf(state, sizeof state, "{\"n\":%u}", last + 1);
        if (mem_append(s, run, rec, state, &iter) != 0) _exit(6);
        if (write(fd, &iter, sizeof iter) != sizeof iter) _exit(7);
    }
}

static void check_after_kill(const char *dir, uint32_t acked)
{
    mem_store *s = open_ok(dir, NULL); /* the killed writer's lock is gone */
    uint32_t run, last;
    char *out;
    assert_int_equal(mem_latest_run(s, &run), 0);
    assert_int_equal(mem_last_iteration(s, run, &last), 0);
    if (last < acked || last > acked + 1)
        fail_msg("acknowledged %u, store has %u (seed %u)", acked, last, seed);
    for (uint32_t i = 1; i <= last; i++) {
        int rc = mem_get(s, run, i, &out);
        if (rc) fail_msg("iteration %u: %s (seed %u)", i, mem_errmsg(s), seed);
        mem_free(out);
    }
    assert_int_equal(mem_state_get(s, run, &out), 0);
    cJSON *j = parse(out);
    mem_free(out);
    assert_int_equal((uint32_t)num(j, "n"), last);
    cJSON_Delete(j);
    assert_int_equal(mem_run_get(s, run, &out), 0);
    j = parse(out);
    mem_free(out);
    assert_int_equal((uint32_t)num(j, "totals.candidates"), last);
    cJSON_Delete(j);
    mem_close(s);
}

static void test_kill9(void **state)
{
    const char *dir0 = fresh_dir("kill9");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", dir0);
    int rounds = 30, landed = 0;
    uint32_t acked = 0;
    for (int r = 0; r < rounds; r++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            writer_child(dir, p[1], 2000 + (size_t)(rand() % 30000));
        }
        close(p[1]);
        /* let it commit a few, then kill it at a random instant */
        uint32_t it;
        assert_int_equal(read(p[0], &it, sizeof it), (ssize_t)sizeof it);
        acked = it;
        struct timespec ts = {0, (long)(rand() % 20000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        while (read(p[0], &it, sizeof it) == (ssize_t)sizeof it) acked = it;
        close(p[0]);
        uint32_t before = acked;
        check_after_kill(dir, acked);
        mem_store *s = open_ok(dir, NULL);
        uint32_t run, last;
        assert_int_equal(mem_latest_run(s, &run), 0);
        assert_int_equal(mem_last_iteration(s, run, &last), 0);
        mem_close(s);
        landed += last == before + 1; /* killed after commit, before the report */
    }
    fprintf(stderr, "kill -9: %d rounds, %u iterations committed, %d killed between "
            "commit and report (seed %u)\n", rounds, acked, landed, seed);
    (void)state;
}

/* ---- concurrent reader ---------------------------------------------------- */

/* The writer starts from a 128 KiB map and grows it while the reader reads:
 * the reader picks up each new size (MDB_MAP_RESIZED) and goes on. */
static void test_snapshot_reader(void **state)
{
    const char *dir = fresh_dir("snap");
    mem_options tiny = {.map_size = 32 * 4096};
    mem_store *s = open_ok(dir, &tiny);
    uint32_t run;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    mem_close(s);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        writer_map = tiny.map_size;
        writer_child(dir, p[1], 2000);
    }
    close(p[1]);
    uint32_t it;
    assert_int_equal(read(p[0], &it, sizeof it), (ssize_t)sizeof it);
    mem_options ro = {.readonly = 1, .map_size = tiny.map_size};
    s = open_ok(dir, &ro);
    size_t map0 = 0, map1 = 0;
    assert_int_equal(mem_map_info(s, &map0, NULL), 0);
    int checks = 0;
    uint32_t seen_max = 0, first = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (el > 10 || (el > 1.0 && seen_max - first > 100)) break;
        assert_int_equal(mem_snapshot_begin(s), 0);
        uint32_t last;
        char *st, *rr, *rec;
        assert_int_equal(mem_last_iteration(s, run, &last), 0);
        assert_int_equal(mem_state_get(s, run, &st), 0);
        assert_int_equal(mem_run_get(s, run, &rr), 0);
        assert_int_equal(mem_recent(s, run, 1, &rec), 0);
        mem_snapshot_end(s);
        cJSON *a = parse(st), *b = parse(rr), *c = parse(rec);
        assert_int_equal((uint32_t)num(a, "n"), last);
        assert_int_equal((uint32_t)num(b, "last_iteration"), last);
        assert_int_equal((uint32_t)num(b, "totals.candidates"), last);
        assert_int_equal((uint32_t)num(cJSON_GetArrayItem(c, 0), "iter"), last);
        cJSON_Delete(a), cJSON_Delete(b), cJSON_Delete(c);
        mem_free(st), mem_free(rr), mem_free(rec);
        if (!first) first = last;
        seen_max = last;
        checks++;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[0]);
    assert_int_equal(mem_map_info(s, &map1, NULL), 0);
    mem_close(s);
    fprintf(stderr, "snapshot reader: %d consistent snapshots, iterations %u..%u, "
            "map seen by the reader %zu KiB -> %zu KiB\n", checks, first, seen_max, map0 >> 10, map1 >> 10);
    assert_true(map1 > map0); /* the writer grew the map under the reader */
    assert_true(seen_max > first); /* the writer moved while we read */
    (void)state;
}

/* ---- resume ---------------------------------------------------------------- */

static void test_resume_state(void **state)
{
    const char *dir = fresh_dir("resume");
    mem_store *s = open_ok(dir, NULL);
    uint32_t run, iter;
    char rec[2048], st[128], *recent0, *best0, *state0;
    assert_int_equal(mem_begin_run(s, "{\"k\":5}", &run), 0);
    for (int i = 1; i <= 12; i++) {
        make_record(rec, sizeof rec, i % 3 ? "ok" : "failed", (i * 37 % 11) / 11.0, 0, 50);
        snprintf(st, sizeof st, "{\"suggestion\":\"s%d\",\"pending\":{\"problem\":\"p%d\"},\"rng\":%d}", i, i, i * 7919);
        assert_int_equal(mem_append(s, run, rec, st, &iter), 0);
    }
    assert_int_equal(mem_recent(s, run, 5, &recent0), 0);
    assert_int_equal(mem_best(s, run, 1, "val_acc", MEM_MAX, &best0), 0);
    assert_int_equal(mem_state_get(s, run, &state0), 0);
    mem_close(s);

    s = open_ok(dir, NULL);
    uint32_t r2, last;
    char *recent1, *best1, *state1;
    assert_int_equal(mem_latest_run(s, &r2), 0);
    assert_int_equal(r2, run);
    assert_int_equal(mem_last_iteration(s, r2, &last), 0);
    assert_int_equal(last, 12);
    assert_int_equal(mem_recent(s, r2, 5, &recent1), 0);
    assert_int_equal(mem_best(s, r2, 1, "val_acc", MEM_MAX, &best1), 0);
    assert_int_equal(mem_state_get(s, r2, &state1), 0);
    assert_string_equal(recent0, recent1);
    assert_string_equal(best0, best1);
    assert_string_equal(state0, state1);
    assert_string_equal(state1, "{\"suggestion\":\"s12\",\"pending\":{\"problem\":\"p12\"},\"rng\":95028}");
    assert_int_equal(mem_append(s, r2, "{\"iter\":13}", NULL, &iter), 0);
    assert_int_equal(iter, 13);
    mem_free(recent0), mem_free(best0), mem_free(state0);
    mem_free(recent1), mem_free(best1), mem_free(state1);
    mem_close(s);
    (void)state;
}

/* ---- full disk -------------------------------------------------------------- */

static void test_disk_full(void **state)
{
    char mnt[512];
    snprintf(mnt, sizeof mnt, "%s/tmpfs", tmproot);
    mkdir(mnt, 0755);
    if (geteuid() != 0 || mount("llmnas-test", mnt, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr, "disk full: skipped (needs root and mount: %s)\n", strerror(errno));
        skip();
    }
    char dir[600];
    snprintf(dir, sizeof dir, "%s/db", mnt);
    mem_store *s = open_ok(dir, NULL);
    uint32_t run, iter, acked = 0;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    char *rec = malloc(16384);
    int rc = 0;
    for (int i = 0; i < 2000 && rc == 0; i++) {
        make_record(rec, 16384, "ok", 0.5, 0, 12000);
        rc = mem_append(s, run, rec, "{\"s\":1}", &iter);
        if (rc == 0) acked = iter;
    }
    if (rc != MEM_ENOSPC) fail_msg("expected MEM_ENOSPC: %s", mem_errmsg(s));
    assert_non_null(strstr(mem_errmsg(s), "no space left"));
    fprintf(stderr, "disk full: ENOSPC after %u records: %s\n", acked, mem_errmsg(s));
    /* reads still work; nothing acknowledged is lost */
    uint32_t last;
    assert_int_equal(mem_last_iteration(s, run, &last), 0);
    assert_int_equal(last, acked);
    /* free space: the same handle continues */
    assert_int_equal(mount("llmnas-test", mnt, "tmpfs", MS_REMOUNT, "size=8m"), 0);
    assert_int_equal(mem_append(s, run, rec, "{\"s\":2}", &iter), 0);
    assert_int_equal(iter, acked + 1);
    mem_close(s);
    s = open_ok(dir, NULL);
    char *out;
    for (uint32_t i = 1; i <= acked + 1; i++) {
        assert_int_equal(mem_get(s, run, i, &out), 0);
        mem_free(out);
    }
    mem_close(s);
    free(rec);
    umount(mnt);
    (void)state;
}

/* ---- versions ----------------------------------------------------------------- */

/* A record written by a newer llmnas (envelope v 2, checksum right) is refused
 * with MEM_EVERSION rather than misread. Written with raw LMDB calls. */
static void test_newer_version_refused(void **state)
{
    const char *dir0 = fresh_dir("version");
    char dir[256];
    snprintf(dir, sizeof dir, "%s", dir0);
    mem_store *s = open_ok(dir, NULL);
    assert_int_equal(mem_kv_put(s, "k", "1"), 0);
    mem_close(s);

    const char *tail = ",\"v\":2,\"kind\":\"kv\",\"data\":{\"new\":true}}";
    char val[256];
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)tail, (uInt)strlen(tail));
    snprintf(val, sizeof val, "{\"crc32\":\"%08lx\"%s", crc, tail);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0664), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "kv", 0, &dbi), 0);
    MDB_val k = {1, "k"}, v = {strlen(val), val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    s = open_ok(dir, NULL);
    char *out;
    assert_int_equal(mem_kv_get(s, "k", &out), MEM_EVERSION);
    assert_null(out);
    assert_non_null(strstr(mem_errmsg(s), "newer llmnas"));
    mem_close(s);
    (void)state;
}

/* ---- stale readers ---------------------------------------------------------- */

/* A reader killed inside a snapshot leaves its slot in lock.mdb; the next open
 * clears it (otherwise it pins old pages and the file only grows). */
static void test_stale_reader_cleared(void **state)
{
    const char *dir0 = fresh_dir("stale");
    char dir[256];
    snprintf(dir, sizeof dir, "%s", dir0);
    mem_store *s = open_ok(dir, NULL);
    uint32_t run;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    mem_close(s);
    /* Two readers: one is killed, the other keeps the environment open so
     * LMDB does not simply reset its reader table at the next open. */
    int ready[2];
    pid_t pid[2];
    assert_int_equal(pipe(ready), 0);
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        if (pid[k] == 0) {
            mem_options ro = {.readonly = 1};
            mem_store *r = NULL;
            char b = 1;
            if (mem_open(dir, &ro, &r, NULL, 0) != 0 || mem_snapshot_begin(r) != 0) _exit(1);
            if (write(ready[1], &b, 1) != 1) _exit(2);
            pause();
            _exit(0);
        }
        char b;
        assert_int_equal(read(ready[0], &b, 1), 1);
    }
    kill(pid[0], SIGKILL);
    waitpid(pid[0], NULL, 0);
    close(ready[0]), close(ready[1]);
    s = open_ok(dir, NULL); /* clears the dead reader's slot */
    mem_close(s);
    if (system("command -v mdb_stat >/dev/null") != 0) {
        fprintf(stderr, "stale reader: skipped (lmdb-utils not installed)\n");
        skip();
    }
    char cmd[400], line[512];
    snprintf(cmd, sizeof cmd, "mdb_stat -rr '%s' 2>&1", dir);
    FILE *f = popen(cmd, "r");
    int cleared = -1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "stale readers cleared")) sscanf(line, " %d", &cleared);
    pclose(f);
    kill(pid[1], SIGKILL);
    waitpid(pid[1], NULL, 0);
    assert_int_equal(cleared, 0); /* mem_open had already cleared it */
    (void)state;
}

/* ---- LMDB's tools ----------------------------------------------------------- */

static void test_lmdb_tools(void **state)
{
    const char *dir = fresh_dir("tools");
    mem_store *s = open_ok(dir, NULL);
    uint32_t run, iter;
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    assert_int_equal(mem_append(s, run, "{\"code\":\"TOOLSMARK\"}", NULL, &iter), 0);
    mem_close(s);
    if (system("command -v mdb_stat >/dev/null && command -v mdb_dump >/dev/null") != 0) {
        fprintf(stderr, "lmdb tools: skipped (lmdb-utils not installed)\n");
        skip();
    }
    char cmd[700], line[4096];
    snprintf(cmd, sizeof cmd, "mdb_stat -a '%s' 2>&1", dir);
    FILE *f = popen(cmd, "r");
    int names = 0;
    while (fgets(line, sizeof line, f))
        names += strstr(line, "Status of candidates") || strstr(line, "Status of runs") ||
                 strstr(line, "Status of metrics");
    assert_int_equal(pclose(f), 0);
    assert_int_equal(names, 3);
    snprintf(cmd, sizeof cmd, "mdb_dump -p -s candidates '%s' 2>&1", dir);
    f = popen(cmd, "r");
    int found = 0;
    while (fgets(line, sizeof line, f)) found |= strstr(line, "TOOLSMARK") != NULL;
    assert_int_equal(pclose(f), 0);
    assert_true(found);
    (void)state;
}

/* ---- the map's pages ---------------------------------------------------------- */

/* This process's resident file-backed pages (RssFile: LMDB's map and the mapped
 * libraries), KiB; -1 when the kernel does not say. */
static long rss_file_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssFile: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* Visitor: counts records, sums their lengths and a CRC of their bytes; every
 * record must be intact and come in iteration order. */
typedef struct { uint32_t n, next; size_t bytes; unsigned long crc; } sum_ctx;

static int sum_visit(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    sum_ctx *c = ud;
    if (rc || iter != c->next) return MEM_EDAMAGED;
    c->next++;
    c->n++;
    c->bytes += len;
    c->crc = crc32(c->crc, (const unsigned char *)json, (uInt)len);
    return 0;
}

static sum_ctx scan_sum(mem_store *s, uint32_t run)
{
    sum_ctx c = {0, 1, 0, crc32(0, NULL, 0)};
    assert_int_equal(mem_scan(s, run, 1, sum_visit, &c), 0);
    return c;
}

static long file_kib(const char *dir)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    assert_int_equal(stat(p, &st), 0);
    return (long)(st.st_size >> 10);
}

/*
 * The parent's RSS in a long search (issue 18): LMDB reads through a shared map,
 * and every page a read touches stays mapped in the process until the pages are
 * released (memory/mapped.h). A writer that reads as a search does (the newest
 * record, one earlier record at random as a cache lookup lands anywhere) while
 * the store grows to ~24 MiB, then a full scan (a resume, `show`), and a
 * read-only handle's scan: each must leave RssFile within 1/6 of the store's
 * size above where it started (without the release it grows by about the
 * store's size). And the release changes nothing a reader sees: a snapshot read
 * before and after the pages were dropped, with another process appending in
 * between, returns the same bytes.
 */
static void test_map_pages_released(void **state)
{
    const char *dir = fresh_dir("rss");
    mem_store *s = open_ok(dir, NULL);
    uint32_t run, iter;
    char *out;
    enum { N = 400, PAD = 60000 };
    char *rec = malloc(PAD + 1024);
    assert_int_equal(mem_begin_run(s, NULL, &run), 0);
    make_record(rec, PAD + 1024, "ok", 0.5, 0, PAD);
    assert_int_equal(mem_append(s, run, rec, "{\"n\":1}", &iter), 0);
    assert_int_equal(mem_get(s, run, 1, &out), 0); /* the code paths' own pages, before the base */
    mem_free(out);
    scan_sum(s, run);
    long base = rss_file_kib();
    if (base < 0) {
        mem_close(s);
        free(rec);
        skip();
    }
    for (int i = 2; i <= N; i++) {
        make_record(rec, PAD + 1024, "ok", (i % 97) / 100.0, 0, PAD);
        int rc = mem_append(s, run, rec, "{\"n\":1}", &iter);
        if (rc) fail_msg("append %d: %s", i, mem_errmsg(s));
        assert_int_equal(mem_recent(s, run, 1, &out), 0);
        mem_free(out);
        assert_int_equal(mem_get(s, run, 1 + (uint32_t)rand() % iter, &out), 0);
        mem_free(out);
    }
    long store = file_kib(dir), writes = rss_file_kib() - base;
    sum_ctx all = scan_sum(s, run);
    long scanned = rss_file_kib() - base;
    assert_int_equal(all.n, N);
    mem_close(s);
    mem_options ro = {.readonly = 1};
    s = open_ok(dir, &ro);
    sum_ctx again = scan_sum(s, run);
    long ro_scanned = rss_file_kib() - base;
    fprintf(stderr, "map pages: store %ld KiB; RssFile above the start: %ld KiB after %d appends "
            "with reads, %ld after a scan, %ld after a read-only handle's scan (bound %ld)\n",
            store, writes, N, scanned, ro_scanned, store / 6);
    assert_true(store > 20 * 1024);
    assert_true(writes < store / 6);
    assert_true(scanned < store / 6);
    assert_true(ro_scanned < store / 6);
    assert_int_equal(again.n, N);
    assert_true(again.crc == all.crc && again.bytes == all.bytes);

    /* a snapshot across a release, with another process appending between (forked
     * while this one has no store open: a child must not inherit an open one) */
    mem_close(s);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        mem_store *w = NULL;
        char err[256];
        int ok = read(go[0], &c, 1) == 1 && mem_open(dir, NULL, &w, err, sizeof err) == 0;
        for (int i = 0; ok && i < 50; i++) {
            make_record(rec, PAD + 1024, "ok", 0.1, 0, PAD / 4);
            ok = mem_append(w, run, rec, "{\"n\":2}", NULL) == 0 &&
                 mem_kv_put(w, "churn", i % 2 ? "[1,2,3]" : "{\"a\":\"b\"}") == 0;
        }
        mem_close(w);
        _exit(ok ? 0 : 1);
    }
    close(go[0]);
    s = open_ok(dir, &ro);
    assert_int_equal(mem_snapshot_begin(s), 0);
    sum_ctx before = scan_sum(s, run); /* 400 records: the pages are released at its end */
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sum_ctx during = scan_sum(s, run);
    mem_snapshot_end(s);
    sum_ctx after = scan_sum(s, run);
    assert_int_equal(before.n, N);
    assert_int_equal(during.n, N);
    assert_true(during.crc == before.crc && during.bytes == before.bytes);
    assert_int_equal(after.n, N + 50);
    mem_close(s);
    free(rec);
    (void)state;
}

static int setup(void **state)
{
    snprintf(tmproot, sizeof tmproot, "/tmp/llmnas-memtest-XXXXXX");
    if (!mkdtemp(tmproot)) return -1;
    const char *e = getenv("MEMTEST_SEED");
    seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    fprintf(stderr, "test_memory: seed %u (MEMTEST_SEED=%u to repeat)\n", seed, seed);
    (void)state;
    return 0;
}

static int teardown(void **state)
{
    char mnt[512];
    snprintf(mnt, sizeof mnt, "%s/tmpfs", tmproot);
    umount(mnt);
    rm_rf(tmproot);
    (void)state;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_strerror_names),
        cmocka_unit_test(test_readonly_missing),
        cmocka_unit_test(test_best_and_recent),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_map_growth),
        cmocka_unit_test(test_second_writer),
        cmocka_unit_test(test_forked_child_does_not_hold_lock),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_snapshot_reader),
        cmocka_unit_test(test_resume_state),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_newer_version_refused),
        cmocka_unit_test(test_stale_reader_cleared),
        cmocka_unit_test(test_lmdb_tools),
        cmocka_unit_test(test_map_pages_released),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
