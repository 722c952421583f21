/*
 * memory.c — the `memory` module: the feedback memory (memory/store.h) for Lua.
 *
 *   memory.open([path [, {readonly=, map_size=, map_max=}]]) -> db | nil, msg, kind
 *   db:begin_run([meta])              -> run id
 *   db:append(run, record [, state])  -> iteration (record + state, one transaction)
 *   db:get(run, iter)                 -> record
 *   db:recent(run, k)                 -> { records }, oldest first
 *   db:best(run, n [, metric [, "max"|"min"]]) -> { records }, best first
 *   db:iter(run [, filter [, from]])  -> iterator over records (filter: table of
 *                                        field = value, or function(record) -> bool)
 *   db:run(id), db:runs(), db:latest_run(), db:last_iteration(run), db:state(run)
 *   (runs, recent, best and iter list a damaged record as {run=, iter=, damaged=why}
 *   — a run record as {id=, damaged=why} — and list the rest; runs, recent and best
 *   return the number of damaged entries as a second value)
 *   db:by_hash(hash), db:put_hash(hash, result)
 *   db:kv_get(key), db:kv_put(key, value)       (value nil deletes)
 *   db:llm_get(key), db:llm_put(key, value)
 *   db:snapshot(fn)                   -> fn(db)'s results, all reads in one snapshot
 *   db:info(), db:path(), db:close()  (also __close and __gc; safe twice)
 *
 * Values are Lua tables (or any JSON value) converted by lua/json.c's rules.
 * Wrong arguments raise; failures return nil, message, kind where kind is one
 * of not_found, damaged, version, locked, busy, disk_full, map_full, invalid,
 * conflict, readonly, no_store, io, memory, lmdb, interrupted.
 */
#include "bind/memory.h"

#include "host/host.h"
#include "bind/json.h"
#include "store.h"
#include "base/rt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ITER_BATCH 256

typedef struct { mem_store *s; } ldb;

static const char *kind_of(int rc)
{
    switch (rc) {
    case MEM_NOTFOUND: return "not_found";
    case MEM_EDAMAGED: return "damaged";
    case MEM_EVERSION: return "version";
    case MEM_ELOCKED: return "locked";
    case MEM_EBUSY: return "busy";
    case MEM_ENOSPC: return "disk_full";
    case MEM_EMAPFULL: return "map_full";
    case MEM_EINVAL: return "invalid";
    case MEM_ECONFLICT: return "conflict";
    case MEM_EREADONLY: return "readonly";
    case MEM_ENOENT: return "no_store";
    case MEM_EIO: return "io";
    case MEM_ENOMEM: return "memory";
    case MEM_EINTERRUPTED: return "interrupted";
    default: return "lmdb";
    }
}

static int fail_rc(lua_State *L, ldb *d, int rc)
{
    const char *m = mem_errmsg(d->s);
    return host_fail(L, m && *m ? m : mem_strerror(rc), kind_of(rc));
}

static ldb *check_db(lua_State *L)
{
    ldb *d = luaL_checkudata(L, 1, MEMORY_MT);
    if (!d->s) luaL_error(L, "attempt to use a closed memory");
    return d;
}

mem_store *memory_checkstore(lua_State *L, int arg)
{
    ldb *d = luaL_checkudata(L, arg, MEMORY_MT);
    if (!d->s) luaL_error(L, "attempt to use a closed memory");
    return d->s;
}

mem_store *memory_teststore(lua_State *L, int arg)
{
    ldb *d = luaL_testudata(L, arg, MEMORY_MT);
    return d ? d->s : NULL;
}

static uint32_t check_u32(lua_State *L, int arg, const char *what)
{
    lua_Integer v = luaL_checkinteger(L, arg);
    if (v < 1 || v > (lua_Integer)UINT32_MAX) luaL_argerror(L, arg, what);
    return (uint32_t)v;
}

/* Encode argument arg as JSON text (caller frees); raises on values JSON cannot hold. */
static char *check_json(lua_State *L, int arg)
{
    char err[256];
    char *text = json_encode_value(L, arg, 0, 0, err, sizeof err);
    if (!text) luaL_argerror(L, arg, err);
    return text;
}

/* Push the decoded JSON text and free it; returns 1 (or raises for text the
 * store itself returned, which means a bug rather than damage). */
static int push_json(lua_State *L, char *text)
{
    char err[256];
    int ok = json_decode_push(L, text, strlen(text), err, sizeof err);
    free(text);
    if (!ok) return luaL_error(L, "memory: stored JSON unreadable: %s", err);
    return 1;
}

/* ---- open / close ---------------------------------------------------------- */

static size_t opt_size(lua_State *L, int t, const char *name)
{
    return (size_t)host_opt_int(L, t, 2, "open", name, 0, 0, LUA_MAXINTEGER);
}

static int l_open(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, MEM_DEFAULT_DIR);
    mem_options o = {0};
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "readonly");
        o.readonly = lua_toboolean(L, -1);
        lua_pop(L, 1);
        o.map_size = opt_size(L, 2, "map_size");
        o.map_max = opt_size(L, 2, "map_max");
    }
    ldb *d = lua_newuserdatauv(L, sizeof *d, 0);
    d->s = NULL;
    luaL_setmetatable(L, MEMORY_MT);
    char err[768];
    int rc = mem_open(path, &o, &d->s, err, sizeof err);
    if (rc) return host_fail(L, err, kind_of(rc));
    return 1;
}

static int l_close(lua_State *L)
{
    ldb *d = luaL_checkudata(L, 1, MEMORY_MT);
    mem_close(d->s);
    d->s = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    ldb *d = luaL_checkudata(L, 1, MEMORY_MT);
    if (d->s) lua_pushfstring(L, MEMORY_MT " (%s)", mem_path(d->s));
    else lua_pushliteral(L, MEMORY_MT " (closed)");
    return 1;
}

static int l_path(lua_State *L)
{
    lua_pushstring(L, mem_path(check_db(L)->s));
    return 1;
}

static int l_info(lua_State *L)
{
    ldb *d = check_db(L);
    size_t size;
    unsigned grown;
    int rc = mem_map_info(d->s, &size, &grown);
    if (rc) return fail_rc(L, d, rc);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, mem_path(d->s));
    lua_setfield(L, -2, "path");
    lua_pushinteger(L, (lua_Integer)size);
    lua_setfield(L, -2, "map_size");
    lua_pushinteger(L, grown);
    lua_setfield(L, -2, "grown");
    return 1;
}

/* ---- listings: records and damaged entries --------------------------------- */

/* The listings collect what a scan visits, then build Lua values from it: a
 * damaged record becomes {run = R, iter = N, damaged = why} (issue #18: one damaged
 * record must not hide the others). */
typedef struct { uint32_t iter; int rc; char *text; } item; /* text: the record, or why it is damaged */
typedef struct { item *v; size_t n, cap, limit; int more; mem_store *s; } batch;

/* Collects up to ITER_BATCH records (a batch of 0 = no limit); a damaged one is
 * kept with its message, in its place. */
static int collect(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    batch *b = ud;
    /* memory/ knows no signals: Ctrl-C stops a long scan here, in its visitor. */
    if (rt_interrupted()) return MEM_EINTERRUPTED;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        item *v = realloc(b->v, cap * sizeof *v);
        if (!v) return MEM_ENOMEM;
        b->v = v, b->cap = cap;
    }
    char *t;
    if (rc == 0) {
        if (!(t = malloc(len + 1))) return MEM_ENOMEM;
        memcpy(t, json, len);
        t[len] = '\0';
    } else {
        const char *m = mem_errmsg(b->s);
        if (!(t = strdup(m && *m ? m : mem_strerror(rc)))) return MEM_ENOMEM;
    }
    item *it = &b->v[b->n++];
    it->iter = iter;
    it->rc = rc;
    it->text = t;
    b->more = b->limit && b->n >= b->limit;
    return b->more;
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->v[i].text);
    free(b->v);
}

/* Push the damaged entry of item it: {run = run, iter = N, damaged = why}, or for a
 * run record (run == 0) {id = N, damaged = why}. */
static void push_damaged(lua_State *L, uint32_t run, const item *it)
{
    lua_createtable(L, 0, 3);
    if (run) {
        lua_pushinteger(L, run);
        lua_setfield(L, -2, "run");
    }
    lua_pushinteger(L, it->iter);
    lua_setfield(L, -2, run ? "iter" : "id");
    lua_pushstring(L, it->text);
    lua_setfield(L, -2, "damaged");
}

/* Push the collected items as an array (run: 0 for run records); returns the
 * number of damaged ones, or -1 after pushing an error message instead. */
static int push_items(lua_State *L, const batch *b, uint32_t run)
{
    int damaged = 0;
    lua_createtable(L, (int)b->n, 0);
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].rc) {
            push_damaged(L, run, &b->v[i]);
            damaged++;
        } else {
            char err[200];
            if (!json_decode_push(L, b->v[i].text, strlen(b->v[i].text), err, sizeof err)) {
                lua_pop(L, 1);
                lua_pushfstring(L, "memory: stored JSON unreadable: %s", err);
                return -1;
            }
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return damaged;
}

/* Finish a listing: rc of its scan, the items; returns list, damaged count (or
 * nil, message, kind; or raises on an interrupt). */
static int finish_listing(lua_State *L, ldb *d, int rc, batch *b, uint32_t run)
{
    if (rc == MEM_EINTERRUPTED) {
        batch_free(b);
        return host_raise_interrupt(L);
    }
    if (rc) {
        batch_free(b);
        return fail_rc(L, d, rc);
    }
    int damaged = push_items(L, b, run);
    batch_free(b);
    if (damaged < 0) return lua_error(L);
    lua_pushinteger(L, damaged);
    return 2;
}

/* ---- runs ------------------------------------------------------------------ */

static int l_begin_run(lua_State *L)
{
    ldb *d = check_db(L);
    char *meta = NULL;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        meta = check_json(L, 2);
    }
    uint32_t run;
    int rc = mem_begin_run(d->s, meta, &run);
    free(meta);
    if (rc) return fail_rc(L, d, rc);
    lua_pushinteger(L, run);
    return 1;
}

/* For calls of the form f(store, ..., char **out). */
#define RETURN_JSON(L, d, rc, out) \
    do { if (rc) return fail_rc(L, d, rc); return push_json(L, out); } while (0)

static int l_run(lua_State *L)
{
    ldb *d = check_db(L);
    char *out;
    int rc = mem_run_get(d->s, check_u32(L, 2, "run id expected"), &out);
    RETURN_JSON(L, d, rc, out);
}

static int l_runs(lua_State *L)
{
    ldb *d = check_db(L);
    batch b = {.s = d->s};
    int rc = mem_scan_runs(d->s, collect, &b);
    return finish_listing(L, d, rc, &b, 0);
}

static int l_latest_run(lua_State *L)
{
    ldb *d = check_db(L);
    uint32_t run;
    int rc = mem_latest_run(d->s, &run);
    if (rc) return fail_rc(L, d, rc);
    lua_pushinteger(L, run);
    return 1;
}

static int l_last_iteration(lua_State *L)
{
    ldb *d = check_db(L);
    uint32_t it;
    int rc = mem_last_iteration(d->s, check_u32(L, 2, "run id expected"), &it);
    if (rc) return fail_rc(L, d, rc);
    lua_pushinteger(L, it);
    return 1;
}

static int l_state(lua_State *L)
{
    ldb *d = check_db(L);
    char *out;
    int rc = mem_state_get(d->s, check_u32(L, 2, "run id expected"), &out);
    RETURN_JSON(L, d, rc, out);
}

/* ---- candidates -------------------------------------------------------------- */

static int l_append(lua_State *L)
{
    ldb *d = check_db(L);
    uint32_t run = check_u32(L, 2, "run id expected");
    luaL_checktype(L, 3, LUA_TTABLE);
    char *rec = check_json(L, 3);
    char *state = NULL;
    if (!lua_isnoneornil(L, 4)) {
        char err[256];
        state = json_encode_value(L, 4, 0, 0, err, sizeof err);
        if (!state) {
            free(rec);
            return luaL_argerror(L, 4, err);
        }
    }
    uint32_t iter;
    int rc = mem_append(d->s, run, rec, state, &iter);
    free(rec);
    free(state);
    if (rc) return fail_rc(L, d, rc);
    lua_pushinteger(L, iter);
    return 1;
}

static int l_get(lua_State *L)
{
    ldb *d = check_db(L);
    char *out;
    int rc = mem_get(d->s, check_u32(L, 2, "run id expected"),
                     check_u32(L, 3, "iteration expected"), &out);
    RETURN_JSON(L, d, rc, out);
}

static int l_recent(lua_State *L)
{
    ldb *d = check_db(L);
    uint32_t run = check_u32(L, 2, "run id expected");
    lua_Integer k = luaL_checkinteger(L, 3);
    luaL_argcheck(L, k >= 0 && k <= 1000000, 3, "count must be 0..1000000");
    batch b = {.s = d->s};
    int rc = mem_scan_recent(d->s, run, (unsigned)k, collect, &b);
    return finish_listing(L, d, rc, &b, run);
}

static int l_best(lua_State *L)
{
    ldb *d = check_db(L);
    uint32_t run = check_u32(L, 2, "run id expected");
    lua_Integer n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 0 && n <= 1000000, 3, "count must be 0..1000000");
    const char *metric = luaL_optstring(L, 4, "val_acc");
    static const char *const orders[] = {"max", "min", NULL};
    int order = luaL_checkoption(L, 5, "max", orders) == 0 ? MEM_MAX : MEM_MIN;
    batch b = {.s = d->s};
    int rc = mem_scan_best(d->s, run, (unsigned)n, metric, order, collect, &b);
    return finish_listing(L, d, rc, &b, run);
}

/* Does record (at -1) pass the filter at index f? */
static int passes(lua_State *L, int f)
{
    if (lua_isnil(L, f)) return 1;
    if (lua_isfunction(L, f)) {
        lua_pushvalue(L, f);
        lua_pushvalue(L, -2);
        lua_call(L, 1, 1);
        int ok = lua_toboolean(L, -1);
        lua_pop(L, 1);
        return ok;
    }
    lua_pushnil(L);
    while (lua_next(L, f)) {
        lua_pushvalue(L, -2);
        lua_gettable(L, -4); /* record[key] */
        int eq = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (!eq) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

/* db:iter: records come in batches read inside one snapshot each; the closure
 * keeps the next iteration to read, so a loop may append while it iterates.
 * upvalues: 1 db, 2 run, 3 next iteration, 4 filter, 5 buffer table, 6 position,
 * 7 the buffer's damaged positions (reported whatever the filter: they are not data). */
static int iter_next(lua_State *L)
{
    for (;;) {
        lua_Integer pos = lua_tointeger(L, lua_upvalueindex(6));
        lua_rawgeti(L, lua_upvalueindex(5), pos);
        if (!lua_isnil(L, -1)) {
            lua_pushinteger(L, pos + 1);
            lua_replace(L, lua_upvalueindex(6));
            int damaged = lua_rawgeti(L, lua_upvalueindex(7), pos) != LUA_TNIL;
            lua_pop(L, 1);
            if (damaged || passes(L, lua_upvalueindex(4))) return 1;
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        lua_Integer from = lua_tointeger(L, lua_upvalueindex(3));
        if (from < 1) return 0; /* exhausted */
        ldb *d = luaL_checkudata(L, lua_upvalueindex(1), MEMORY_MT);
        if (!d->s) return luaL_error(L, "attempt to use a closed memory");
        uint32_t run = (uint32_t)lua_tointeger(L, lua_upvalueindex(2));
        batch b = {.limit = ITER_BATCH, .s = d->s};
        int rc = mem_scan(d->s, run, (uint32_t)from, collect, &b);
        if (rc == MEM_EINTERRUPTED) {
            batch_free(&b);
            return host_raise_interrupt(L);
        }
        if (rc) {
            batch_free(&b);
            const char *m = mem_errmsg(d->s);
            return luaL_error(L, "memory: %s", m && *m ? m : mem_strerror(rc));
        }
        if (push_items(L, &b, run) < 0) {
            batch_free(&b);
            return lua_error(L);
        }
        lua_replace(L, lua_upvalueindex(5));
        lua_newtable(L);
        for (size_t i = 0; i < b.n; i++) {
            if (!b.v[i].rc) continue;
            lua_pushboolean(L, 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_replace(L, lua_upvalueindex(7));
        lua_pushinteger(L, 1);
        lua_replace(L, lua_upvalueindex(6));
        lua_Integer next = b.more ? (lua_Integer)b.v[b.n - 1].iter + 1 : 0;
        lua_pushinteger(L, next);
        lua_replace(L, lua_upvalueindex(3));
        size_t n = b.n;
        batch_free(&b);
        if (n == 0) return 0;
    }
}

static int l_iter(lua_State *L)
{
    check_db(L);
    uint32_t run = check_u32(L, 2, "run id expected");
    int ft = lua_type(L, 3);
    luaL_argcheck(L, ft == LUA_TNONE || ft == LUA_TNIL || ft == LUA_TTABLE || ft == LUA_TFUNCTION, 3,
                  "filter must be a table or a function");
    lua_Integer from = luaL_optinteger(L, 4, 1);
    luaL_argcheck(L, from >= 1 && from <= (lua_Integer)UINT32_MAX, 4, "iteration expected");
    lua_pushvalue(L, 1);
    lua_pushinteger(L, run);
    lua_pushinteger(L, from);
    if (ft == LUA_TNONE) lua_pushnil(L);
    else lua_pushvalue(L, 3);
    lua_newtable(L);
    lua_pushinteger(L, 1);
    lua_newtable(L);
    lua_pushcclosure(L, iter_next, 7);
    return 1;
}

/* ---- caches and kv ------------------------------------------------------------ */

typedef int (*get_fn)(mem_store *, const char *, char **);
typedef int (*put_fn)(mem_store *, const char *, const char *);

static int keyed_get(lua_State *L, get_fn fn)
{
    ldb *d = check_db(L);
    const char *key = luaL_checkstring(L, 2);
    char *out;
    int rc = fn(d->s, key, &out);
    RETURN_JSON(L, d, rc, out);
}

static int keyed_put(lua_State *L, put_fn fn, int allow_delete)
{
    ldb *d = check_db(L);
    const char *key = luaL_checkstring(L, 2);
    char *text = NULL;
    if (lua_isnoneornil(L, 3)) {
        if (!allow_delete) return luaL_argerror(L, 3, "value expected");
    } else {
        text = check_json(L, 3);
    }
    int rc = fn(d->s, key, text);
    free(text);
    if (rc) return fail_rc(L, d, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_by_hash(lua_State *L) { return keyed_get(L, mem_by_hash); }
static int l_put_hash(lua_State *L) { return keyed_put(L, mem_put_hash, 0); }
static int l_llm_get(lua_State *L) { return keyed_get(L, mem_llm_get); }
static int l_llm_put(lua_State *L) { return keyed_put(L, mem_llm_put, 0); }
static int l_kv_get(lua_State *L) { return keyed_get(L, mem_kv_get); }
static int l_kv_put(lua_State *L) { return keyed_put(L, mem_kv_put, 1); }

/* ---- snapshot ------------------------------------------------------------------ */

static int l_snapshot(lua_State *L)
{
    ldb *d = check_db(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int rc = mem_snapshot_begin(d->s);
    if (rc) return fail_rc(L, d, rc);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    int status = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (d->s) mem_snapshot_end(d->s); /* fn may have closed the store */
    if (status != LUA_OK) return lua_error(L);
    return lua_gettop(L) - 2;
}

int luaopen_llmnas_memory(lua_State *L);
int luaopen_llmnas_memory(lua_State *L)
{
    static const luaL_Reg meth[] = {
        {"begin_run", l_begin_run}, {"append", l_append}, {"get", l_get},
        {"recent", l_recent}, {"best", l_best}, {"iter", l_iter},
        {"run", l_run}, {"runs", l_runs}, {"latest_run", l_latest_run},
        {"last_iteration", l_last_iteration}, {"state", l_state},
        {"by_hash", l_by_hash}, {"put_hash", l_put_hash},
        {"llm_get", l_llm_get}, {"llm_put", l_llm_put},
        {"kv_get", l_kv_get}, {"kv_put", l_kv_put},
        {"snapshot", l_snapshot}, {"info", l_info}, {"path", l_path},
        {"close", l_close}, {NULL, NULL}};
    static const luaL_Reg metameth[] = {
        {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring},
        {"__index", NULL}, {NULL, NULL}};
    luaL_newmetatable(L, MEMORY_MT);
    luaL_setfuncs(L, metameth, 0);
    luaL_newlibtable(L, meth);
    luaL_setfuncs(L, meth, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"open", l_open}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_pushliteral(L, MEM_DEFAULT_DIR);
    lua_setfield(L, -2, "DEFAULT_DIR");
    return 1;
}
