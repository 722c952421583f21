/*
 * llm.c — the `llm` Lua module over runtime/llm.h (see stdlib/doc/llm.md).
 *
 *   reply, info = llm.chat{messages = {...}, model = ..., temperature = ..., role = ...}
 *   nil, message, kind, info                 (expected failures: llm_auth, llm_truncated...)
 *   results = llm.chat_many{req1, req2, ...} -- {reply, info} or {nil, message, kind, info}
 *   llm.usage()      per-role totals          llm.reset_usage()
 *   llm.configure{base_url = ..., model = ..., api_key_env = "NAME", cache = db, ...}
 *   llm.config()     the settings in force (has_key, never the key)
 *   llm.request_key(req)                     the record/replay key of a request
 *   llm.count_requests(keys)                 count requests as made (a resumed run's)
 *   llm.models()     the model ids the server lists (GET /models), info
 *   llm.ping()       one minimal chat request, no retry or cache: true, info
 *   llm.kinds        kind -> "fatal" | "transient" | "call" | "ok": what a search does
 *                    with a proposal that failed with that kind (runtime/llm/llm.c)
 *
 * One client per Lua state, created when the module loads from LLMNAS_BASE_URL /
 * LLMNAS_MODEL / LLMNAS_API_KEY, else OPENAI_BASE_URL / OPENAI_API_KEY; llm.configure
 * changes it. The options of `llmnas run` (--base-url, --model, --llm-cache) arrive
 * the same way: the stdlib calls llm.configure with them before the script runs
 * (stdlib/llmnas/init.lua), so a script's own llm.configure still beats them. This
 * module reads no Lua table of options. The key is read from the environment by the
 * C client and never crosses into Lua.
 *
 * Wrong arguments raise; failed calls return nil, message, kind; Ctrl-C during a
 * call raises "interrupted".
 */
#include "host/host.h"
#include "bind/json.h"
#include "llm/llm.h"
#include "bind/memory.h"
#include "base/rt.h"

#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_MT "llmnas.LLMState"    /* metatable of the per-state client */
#define STATE_KEY "llmnas.llm.state"   /* registry key of that client */

typedef struct lstate {
    llm_client *c;
    int log_level;             /* print log lines up to this level to stderr */
    llm_cache_mode want_mode;  /* --llm-cache or cache_mode, applied once a cache is set */
    int have_cache;
    int applied;               /* the cache and mode in the client are the ones above */
    llm_cache cache;           /* the callbacks of the cache set by llm.configure */
    char *cache_dir;           /* a directory cache (cache = "path") */
    int cache_ref;             /* registry ref keeping the memory store alive */
    lua_State *L;              /* the state of the call in progress (store callbacks) */
} lstate;

/* ---- the per-state client ------------------------------------------------------- */

static void log_sink(void *user, int level, const char *message)
{
    lstate *s = user;
    if (level <= s->log_level)
        fprintf(stderr, "llmnas: %s\n", message);
}

static int parse_level(const char *v)
{
    static const char *names[] = {"quiet", "warn", "info", "debug"};
    for (int i = 0; v && i < 4; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

static int state_gc(lua_State *L)
{
    lstate *s = luaL_checkudata(L, 1, STATE_MT);
    llm_client_free(s->c);
    s->c = NULL;
    free(s->cache_dir);
    s->cache_dir = NULL;
    return 0;
}

/* The key, once taken out of the environment. Process-wide, so that another Lua state
 * of this process (whose client reads an environment without the key) still finds it. */
static char *taken_name, *taken_key;

/* Move the key the client read out of the environment: unset the variable after
 * zeroing its bytes in place (they are also what /proc/self/environ shows), so neither
 * the script (os.getenv) nor forked workers can read it. */
static void take_key(lstate *s)
{
    const char *src = llm_client_key_source(s->c);
    char *v = *src ? getenv(src) : NULL;
    if (!v)
        return;
    char *name = strdup(src), *key = strdup(v);
    if (!name || !key) {
        free(name), free(key);
        return; /* out of memory: leave the environment as it is */
    }
    if (taken_key)
        memset(taken_key, 0, strlen(taken_key));
    free(taken_name), free(taken_key);
    taken_name = name, taken_key = key;
    memset(v, 0, strlen(v));
    unsetenv(name);
}

/* A client without a key that looks for the variable already taken gets its key. */
static void give_taken_key(lstate *s)
{
    llm_config cfg;
    llm_client_get_config(s->c, &cfg);
    if (llm_client_has_key(s->c) || !taken_name)
        return;
    int wanted = cfg.api_key_env ? strcmp(cfg.api_key_env, taken_name) == 0
                                 : strcmp(taken_name, "LLMNAS_API_KEY") == 0 ||
                                       strcmp(taken_name, "OPENAI_API_KEY") == 0;
    if (wanted)
        llm_client_set_key(s->c, taken_key);
}

static void settle_key(lstate *s)
{
    take_key(s);
    give_taken_key(s);
}

/* Create this state's client from the environment (at module load, before the script
 * runs, so the key leaves the environment at once). */
static lstate *new_state(lua_State *L)
{
    llm_config cfg;
    llm_config_defaults(&cfg);
    llm_config_from_env(&cfg);
    llm_client *c;
    int rc = llm_client_new(&cfg, &c);
    if (rc)
        luaL_error(L, "llm: cannot create the client: %s", llm_strerror(rc));
    lstate *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->c = c;
    s->cache_ref = LUA_NOREF;
    luaL_setmetatable(L, STATE_MT);
    lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    const char *lv = getenv("LLMNAS_LLM_LOG");
    s->log_level = parse_level(lv) >= 0 ? parse_level(lv) : LLM_LOG_WARN;
    llm_client_set_log(s->c, log_sink, s);
    settle_key(s);
    return s;
}

/* The state's client (created at module load; again if the registry lost it). */
static lstate *get_state(lua_State *L)
{
    lstate *s;
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY) == LUA_TUSERDATA) {
        s = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return s;
    }
    lua_pop(L, 1);
    return new_state(L);
}

/* ---- caches --------------------------------------------------------------------- */

static void cache_path(const lstate *s, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.json", s->cache_dir, key);
}

static int dir_get(void *user, const char *key, char **json_out)
{
    char path[4096];
    cache_path(user, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 1 : -1;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        fclose(f);
        *json_out = buf;
        return 0;
    }
    free(buf);
    fclose(f);
    return -1;
}

static int dir_put(void *user, const char *key, const char *json)
{
    char path[4096], tmp[4200];
    cache_path(user, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    size_t n = strlen(json);
    int bad = fwrite(json, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

/* The memory store's C handle, looked up at each use: NULL once the db was closed. */
static mem_store *store_of(lstate *s)
{
    if (!s->L || s->cache_ref == LUA_NOREF)
        return NULL;
    lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->cache_ref);
    mem_store *st = memory_teststore(s->L, -1);
    lua_pop(s->L, 1);
    return st;
}

static int store_get(void *user, const char *key, char **json_out)
{
    mem_store *st = store_of(user);
    char *j = NULL;
    if (!st)
        return -1;
    int rc = mem_llm_get(st, key, &j);
    if (rc == MEM_NOTFOUND)
        return 1;
    if (rc)
        return rc;
    *json_out = strdup(j);
    mem_free(j);
    return *json_out ? 0 : -1;
}

static int store_put(void *user, const char *key, const char *json)
{
    mem_store *st = store_of(user);
    return st ? mem_llm_put(st, key, json) : -1;
}

/* cache = false | "directory" | a memory store. Leaves the mode to the caller. */
static void set_cache(lua_State *L, lstate *s, int idx)
{
    luaL_unref(L, LUA_REGISTRYINDEX, s->cache_ref);
    s->cache_ref = LUA_NOREF;
    free(s->cache_dir);
    s->cache_dir = NULL;
    s->have_cache = 0;
    s->applied = 0;
    llm_client_set_cache(s->c, NULL, LLM_CACHE_OFF);
    if (lua_isnil(L, idx) || (lua_isboolean(L, idx) && !lua_toboolean(L, idx)))
        return;
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *dir = lua_tostring(L, idx);
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            luaL_error(L, "llm.configure: cannot create the cache directory '%s': %s", dir,
                       strerror(errno));
        if (!(s->cache_dir = strdup(dir)))
            luaL_error(L, "llm.configure: out of memory");
        s->cache = (llm_cache){dir_get, dir_put, s};
        s->have_cache = 1;
        return;
    }
    if (luaL_testudata(L, idx, MEMORY_MT)) {
        if (!memory_teststore(L, idx))
            luaL_error(L, "llm.configure: cache: the memory store is closed");
        lua_pushvalue(L, idx);
        s->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        s->cache = (llm_cache){store_get, store_put, s};
        s->have_cache = 1;
        return;
    }
    luaL_error(L, "llm.configure: cache must be a memory store, a directory name or false, "
               "got %s", luaL_typename(L, idx));
}

/* ---- llm.configure / llm.config ------------------------------------------------- */

static const char *apply_mode(lstate *s);

/* Numeric settings go through the one option reader of every binding
 * (host_opt_num / host_opt_int on the settings table, argument #1). */
static double num_opt(lua_State *L, const char *k, double lo)
{
    return host_opt_num(L, 1, 1, "llm.configure", k, 0, lo, HUGE_VAL);
}

static int int_opt(lua_State *L, const char *k, lua_Integer lo)
{
    return (int)host_opt_int(L, 1, 1, "llm.configure", k, 0, lo, 1 << 30);
}

static const char *str_opt(lua_State *L, const char *k)
{
    if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
        return NULL;
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "llm.configure: %s must be a string (or false to unset)", k);
    return lua_tostring(L, -1);
}

/* Apply one key (at -2) / value (at -1) pair to cfg; returns 0 if the key is unknown. */
static int apply_option(lua_State *L, lstate *s, llm_config *cfg, const char *k)
{
    if (strcmp(k, "base_url") == 0) cfg->base_url = str_opt(L, k);
    else if (strcmp(k, "model") == 0) cfg->model = str_opt(L, k);
    else if (strcmp(k, "api_key_env") == 0) cfg->api_key_env = str_opt(L, k);
    else if (strcmp(k, "timeout") == 0) cfg->timeout = num_opt(L, k, 0.001);
    else if (strcmp(k, "connect_timeout") == 0) cfg->connect_timeout = num_opt(L, k, 0.001);
    else if (strcmp(k, "stall_timeout") == 0) cfg->stall_timeout = num_opt(L, k, 0);
    else if (strcmp(k, "retries") == 0) cfg->max_retries = int_opt(L, k, 0);
    else if (strcmp(k, "backoff_base") == 0) cfg->backoff_base = num_opt(L, k, 0);
    else if (strcmp(k, "backoff_cap") == 0) cfg->backoff_cap = num_opt(L, k, 0);
    else if (strcmp(k, "retry_after_cap") == 0) cfg->retry_after_cap = num_opt(L, k, 0);
    else if (strcmp(k, "jitter") == 0) cfg->jitter = lua_toboolean(L, -1);
    else if (strcmp(k, "max_response_bytes") == 0)
        cfg->max_response_bytes = (size_t)int_opt(L, k, 1024);
    else if (strcmp(k, "context_limit") == 0) cfg->context_limit = int_opt(L, k, 0);
    else if (strcmp(k, "parallel") == 0) cfg->parallel = int_opt(L, k, 1);
    else if (strcmp(k, "log") == 0) {
        int lv = parse_level(lua_tostring(L, -1));
        if (lv < 0)
            luaL_error(L, "llm.configure: log must be quiet, warn, info or debug");
        s->log_level = lv;
    } else if (strcmp(k, "cache_mode") == 0) {
        if (llm_cache_mode_parse(lua_tostring(L, -1), &s->want_mode) != 0)
            luaL_error(L, "llm.configure: cache_mode must be record, replay or off");
        s->applied = 0;
    } else if (strcmp(k, "cache") == 0) {
        set_cache(L, s, lua_gettop(L));
    } else if (strcmp(k, "api_key") == 0) {
        luaL_error(L, "llm.configure: the API key is read from the environment only: "
                   "set api_key_env = \"NAME\" (default LLMNAS_API_KEY, then OPENAI_API_KEY)");
    } else {
        return 0;
    }
    return 1;
}

static int l_configure(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lstate *s = get_state(L);
    llm_config cfg;
    llm_client_get_config(s->c, &cfg);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "llm.configure: keys must be names");
        const char *k = lua_tostring(L, -2);
        if (!apply_option(L, s, &cfg, k))
            luaL_error(L, "llm.configure: unknown setting '%s'", k);
        lua_pop(L, 1);
    }
    int rc = llm_client_configure(s->c, &cfg);
    if (rc)
        luaL_error(L, "llm.configure: %s", llm_strerror(rc));
    settle_key(s);
    apply_mode(s); /* a missing store is reported by the next call */
    return 0;
}

static int l_config(lua_State *L)
{
    lstate *s = get_state(L);
    llm_config cfg;
    llm_client_get_config(s->c, &cfg);
    lua_createtable(L, 0, 16);
#define SETS(name, v) (lua_pushstring(L, v), lua_setfield(L, -2, name))
#define SETN(name, v) (lua_pushnumber(L, v), lua_setfield(L, -2, name))
#define SETI(name, v) (lua_pushinteger(L, v), lua_setfield(L, -2, name))
    if (cfg.base_url) SETS("base_url", cfg.base_url);
    if (cfg.model) SETS("model", cfg.model);
    if (cfg.api_key_env) SETS("api_key_env", cfg.api_key_env);
    lua_pushboolean(L, llm_client_has_key(s->c));
    lua_setfield(L, -2, "has_key");
    /* The variable's name, never its value: what an auth error tells the user to check. */
    const char *src = llm_client_key_source(s->c);
    if (*src)
        SETS("key_env", src);
    else if (llm_client_has_key(s->c) && taken_name)
        SETS("key_env", taken_name);
    SETN("timeout", cfg.timeout);
    SETN("connect_timeout", cfg.connect_timeout);
    SETN("stall_timeout", cfg.stall_timeout);
    SETI("retries", cfg.max_retries);
    SETN("backoff_base", cfg.backoff_base);
    SETN("backoff_cap", cfg.backoff_cap);
    SETN("retry_after_cap", cfg.retry_after_cap);
    lua_pushboolean(L, cfg.jitter);
    lua_setfield(L, -2, "jitter");
    SETI("max_response_bytes", (lua_Integer)cfg.max_response_bytes);
    SETI("context_limit", cfg.context_limit);
    SETI("parallel", cfg.parallel);
    SETS("cache_mode", llm_cache_mode_name(s->have_cache ? s->want_mode : LLM_CACHE_OFF));
    static const char *levels[] = {"quiet", "warn", "info", "debug"};
    SETS("log", levels[s->log_level]);
    return 1;
}

/* ---- requests ------------------------------------------------------------------- */

static const char *const request_fields[] = {
    "messages", "model", "temperature", "top_p", "max_tokens", "seed", "stop",
    "response_format", "role", "stream", "timeout", "volatile", NULL};

/* Keep a value alive for the duration of the call: keep[#keep + 1] = value at -1. */
static void keep_top(lua_State *L, int keep)
{
    lua_rawseti(L, keep, (lua_Integer)lua_rawlen(L, keep) + 1);
}

static void *keep_alloc(lua_State *L, int keep, size_t size)
{
    void *p = lua_newuserdatauv(L, size ? size : 1, 0);
    keep_top(L, keep);
    return p;
}

static int req_error(lua_State *L, const char *who, const char *fmt, const char *field)
{
    return luaL_error(L, "%s: %s", who, lua_pushfstring(L, fmt, field));
}

static void read_messages(lua_State *L, int keep, llm_request *r, const char *who)
{
    int t = lua_gettop(L);
    if (lua_type(L, t) == LUA_TSTRING) {
        llm_message *m = keep_alloc(L, keep, sizeof *m);
        m->role = "user";
        m->content = lua_tostring(L, t);
        r->messages = m;
        r->n_messages = 1;
        return;
    }
    if (!lua_istable(L, t) || lua_rawlen(L, t) == 0)
        req_error(L, who, "%s must be a non-empty array of {role = ..., content = ...}",
                  "messages");
    int n = (int)lua_rawlen(L, t);
    llm_message *m = keep_alloc(L, keep, (size_t)n * sizeof *m);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, t, i + 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            m[i].role = "user";
            m[i].content = lua_tostring(L, -1);
        } else if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "role");
            lua_getfield(L, -2, "content");
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "%s: messages[%d] needs string role and content", who, i + 1);
            m[i].role = lua_tostring(L, -2);
            m[i].content = lua_tostring(L, -1);
            lua_pop(L, 2);
        } else {
            luaL_error(L, "%s: messages[%d] must be a table {role = ..., content = ...}",
                       who, i + 1);
        }
        lua_pop(L, 1); /* the strings stay referenced by the request table */
    }
    r->messages = m;
    r->n_messages = n;
}

/* A string or an array of strings at the top (stop, volatile): *out, *n. */
static void read_strings(lua_State *L, int keep, const char *const **out, int *n_out,
                         const char *who, const char *field)
{
    int t = lua_gettop(L);
    if (lua_type(L, t) == LUA_TSTRING) {
        const char **v = keep_alloc(L, keep, sizeof *v);
        v[0] = lua_tostring(L, t);
        *out = v, *n_out = 1;
        return;
    }
    if (!lua_istable(L, t))
        req_error(L, who, "%s must be a string or an array of strings", field);
    int n = (int)lua_rawlen(L, t);
    const char **v = keep_alloc(L, keep, (size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) {
        if (lua_rawgeti(L, t, i + 1) != LUA_TSTRING)
            req_error(L, who, "%s must be a string or an array of strings", field);
        v[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    *out = v, *n_out = n;
}

static void read_response_format(lua_State *L, int keep, llm_request *r, const char *who)
{
    int t = lua_gettop(L);
    if (lua_type(L, t) == LUA_TSTRING) {
        const char *v = lua_tostring(L, t);
        if (strcmp(v, "json_object") == 0 || strcmp(v, "text") == 0) {
            lua_pushfstring(L, "{\"type\":\"%s\"}", v);
            r->response_format = lua_tostring(L, -1);
            keep_top(L, keep);
        } else {
            r->response_format = v; /* JSON text, checked by the client */
        }
        return;
    }
    if (!lua_istable(L, t))
        req_error(L, who, "%s must be a table, \"json_object\" or JSON text",
                  "response_format");
    char err[200];
    char *json = json_encode_value(L, t, 0, 0, err, sizeof err);
    if (!json)
        luaL_error(L, "%s: response_format: %s", who, err);
    lua_pushstring(L, json);
    free(json);
    r->response_format = lua_tostring(L, -1);
    keep_top(L, keep);
}

/* A numeric request field through the one option reader (host_opt_num). */
static double req_number(lua_State *L, int idx, const char *who, const char *field, double lo,
                         double hi)
{
    return host_opt_num(L, idx, 1, who, field, 0, lo, hi);
}

/* Read the request table at idx into r; values are kept alive by the table itself
 * and by keep. Raises on a malformed request. */
static void read_request(lua_State *L, int idx, int keep, llm_request *r, const char *who)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: a request must be a table, got %s", who, luaL_typename(L, idx));
    llm_request_init(r);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (int i = 0; k && request_fields[i]; i++)
            known |= strcmp(k, request_fields[i]) == 0;
        if (!known)
            luaL_error(L, "%s: unknown request field '%s' (expected messages, model, "
                       "temperature, top_p, max_tokens, seed, stop, response_format, role, "
                       "stream, timeout, volatile)", who, k ? k : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    int top = lua_gettop(L);
    lua_getfield(L, idx, "messages");
    if (lua_isnil(L, -1))
        luaL_error(L, "%s: the request needs messages", who);
    read_messages(L, keep, r, who);
    lua_settop(L, top);
    if (lua_getfield(L, idx, "model") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            req_error(L, who, "%s must be a string", "model");
        r->model = lua_tostring(L, -1);
    }
    if (lua_getfield(L, idx, "role") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            req_error(L, who, "%s must be a string", "role");
        r->role = lua_tostring(L, -1);
    }
    if (lua_getfield(L, idx, "temperature") != LUA_TNIL)
        r->temperature = req_number(L, idx, who, "temperature", 0, 2);
    if (lua_getfield(L, idx, "top_p") != LUA_TNIL)
        r->top_p = req_number(L, idx, who, "top_p", 0, 1);
    if (lua_getfield(L, idx, "max_tokens") != LUA_TNIL)
        r->max_tokens = (int)req_number(L, idx, who, "max_tokens", 1, 1 << 24);
    if (lua_getfield(L, idx, "seed") != LUA_TNIL) {
        int isint;
        lua_Integer seed = lua_tointegerx(L, -1, &isint);
        if (!isint || seed > ((lua_Integer)1 << 53) || seed < -((lua_Integer)1 << 53))
            req_error(L, who, "%s must be an integer within +-2^53 (JSON numbers)", "seed");
        r->has_seed = 1, r->seed = (long long)seed;
    }
    if (lua_getfield(L, idx, "stream") != LUA_TNIL)
        r->stream = lua_toboolean(L, -1);
    if (lua_getfield(L, idx, "timeout") != LUA_TNIL)
        r->timeout = req_number(L, idx, who, "timeout", 0.001, 1e7);
    lua_settop(L, top);
    if (lua_getfield(L, idx, "stop") != LUA_TNIL)
        read_strings(L, keep, &r->stop, &r->n_stop, who, "stop");
    lua_settop(L, top);
    if (lua_getfield(L, idx, "volatile") != LUA_TNIL)
        read_strings(L, keep, &r->volatile_prefixes, &r->n_volatile, who, "volatile");
    lua_settop(L, top);
    if (lua_getfield(L, idx, "response_format") != LUA_TNIL)
        read_response_format(L, keep, r, who);
    lua_settop(L, top);
}

/* ---- results -------------------------------------------------------------------- */

static void push_info(lua_State *L, const llm_result *r, const llm_request *req)
{
    lua_createtable(L, 0, 12);
    SETI("prompt_tokens", r->prompt_tokens);
    SETI("completion_tokens", r->completion_tokens);
    SETN("seconds", r->seconds);
    SETI("retries", r->retries);
    SETS("finish_reason", r->finish_reason);
    SETS("model", r->model);
    lua_pushboolean(L, r->cached);
    lua_setfield(L, -2, "cached");
    SETI("http_status", r->http_status);
    SETS("key", r->key);
    SETS("role", req->role ? req->role : "default");
    if (r->warning[0])
        SETS("warning", r->warning);
}

/* Push reply, info or nil, message, kind, info; returns the count. */
static int push_result(lua_State *L, const llm_result *r, const llm_request *req)
{
    if (r->status == 0) {
        lua_pushstring(L, r->content ? r->content : "");
        push_info(L, r, req);
        return 2;
    }
    host_fail(L, r->message, llm_kind(r->status));
    push_info(L, r, req);
    return 4;
}

/* A cache mode asked for (--llm-cache, cache_mode) takes effect once a cache is set;
 * asking for record/replay without one is a configuration error at the call. */
static const char *apply_mode(lstate *s)
{
    if (!s->have_cache) {
        if (s->want_mode != LLM_CACHE_OFF)
            return "--llm-cache record/replay needs a store: llm.configure{cache = db} "
                   "(a memory store or a directory)";
        return NULL;
    }
    if (!s->applied)
        llm_client_set_cache(s->c, &s->cache, s->want_mode);
    s->applied = 1;
    return NULL;
}

static int l_chat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lstate *s = get_state(L);
    lua_settop(L, 1);
    lua_newtable(L); /* keep: 2 */
    llm_request req;
    read_request(L, 1, 2, &req, "llm.chat");
    const char *cfg_err = apply_mode(s);
    if (cfg_err)
        return host_fail(L, cfg_err, "llm_config");
    llm_result res;
    s->L = L;
    llm_chat(s->c, &req, &res);
    s->L = NULL;
    if (res.status == LLM_EINTR) {
        llm_result_free(&res);
        return host_raise_interrupt(L);
    }
    int n = push_result(L, &res, &req);
    llm_result_free(&res);
    return n;
}

static int l_chat_many(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lstate *s = get_state(L);
    lua_settop(L, 1);
    lua_newtable(L); /* keep: 2 */
    int n = (int)lua_rawlen(L, 1);
    llm_request *reqs = keep_alloc(L, 2, (size_t)n * sizeof *reqs);
    llm_result *res = keep_alloc(L, 2, (size_t)n * sizeof *res);
    for (int i = 0; i < n; i++) {
        char who[48];
        snprintf(who, sizeof who, "llm.chat_many: request #%d", i + 1);
        lua_rawgeti(L, 1, i + 1);
        read_request(L, lua_gettop(L), 2, &reqs[i], who);
        lua_pop(L, 1);
    }
    const char *cfg_err = apply_mode(s);
    if (cfg_err)
        return host_fail(L, cfg_err, "llm_config");
    s->L = L;
    int rc = llm_chat_many(s->c, reqs, n, res);
    s->L = NULL;
    if (rc != 0 && rc != LLM_EINTR)
        return host_fail(L, llm_strerror(rc), llm_kind(rc));
    if (rc == LLM_EINTR) {
        for (int i = 0; i < n; i++)
            llm_result_free(&res[i]);
        return host_raise_interrupt(L);
    }
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 4, 0);
        int k = push_result(L, &res[i], &reqs[i]);
        for (int j = k; j >= 1; j--)
            lua_rawseti(L, -1 - j, j);
        lua_rawseti(L, -2, i + 1);
        llm_result_free(&res[i]);
    }
    return 1;
}

static int l_usage(lua_State *L)
{
    lstate *s = get_state(L);
    int n = llm_usage_count(s->c);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        llm_usage u;
        llm_usage_get(s->c, i, &u);
        lua_createtable(L, 0, 7);
        SETI("calls", u.calls);
        SETI("failures", u.failures);
        SETI("cached", u.cached);
        SETI("retries", u.retries);
        SETI("prompt_tokens", u.prompt_tokens);
        SETI("completion_tokens", u.completion_tokens);
        SETN("seconds", u.seconds);
        lua_setfield(L, -2, u.role);
    }
    return 1;
}

static int l_reset_usage(lua_State *L)
{
    llm_usage_reset(get_state(L)->c);
    return 0;
}

/* llm.models(): the ids the server lists at GET {base_url}/models, info; or nil,
 * message, kind, info. One attempt (the preflight of a run). */
static int l_models(lua_State *L)
{
    lstate *s = get_state(L);
    char **ids;
    int n;
    llm_result res;
    int rc = llm_models(s->c, &ids, &n, &res);
    lua_settop(L, 0);
    if (rc == 0) {
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
            lua_pushstring(L, ids[i]);
            lua_rawseti(L, -2, i + 1);
        }
        llm_models_free(ids, n);
    } else {
        host_fail(L, res.message, llm_kind(rc));
    }
    lua_createtable(L, 0, 2);
    SETI("http_status", res.http_status);
    SETN("seconds", res.seconds);
    return lua_gettop(L);
}

/* llm.ping(): one minimal chat request, no retry, no cache (the preflight where the
 * server does not list its models): true, info; or nil, message, kind, info. */
static int l_ping(lua_State *L)
{
    lstate *s = get_state(L);
    llm_result res;
    int rc = llm_ping(s->c, &res);
    lua_settop(L, 0);
    if (rc == 0)
        lua_pushboolean(L, 1);
    else
        host_fail(L, res.message, llm_kind(rc));
    lua_createtable(L, 0, 3);
    SETI("http_status", res.http_status);
    SETN("seconds", res.seconds);
    lua_pushstring(L, res.model);
    lua_setfield(L, -2, "model");
    llm_result_free(&res);
    return lua_gettop(L);
}

static int l_request_key(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lstate *s = get_state(L);
    lua_settop(L, 1);
    lua_newtable(L);
    llm_request req;
    read_request(L, 1, 2, &req, "llm.request_key");
    char key[65];
    int rc = llm_request_key(s->c, &req, key);
    if (rc)
        return host_fail(L, rc == LLM_ECONFIG ? "no model configured" : llm_strerror(rc),
                         llm_kind(rc));
    lua_pushstring(L, key);
    return 1;
}

/* llm.count_requests(keys) -> n: each key (a first-occurrence request key, as
 * llm.request_key gives it) counts as a request already made, once per appearance
 * (llm_client_count_requests: a resumed run restores its occurrence numbers). */
static int l_count_requests(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lstate *s = get_state(L);
    const char *why = apply_mode(s); /* the cache, once applied, restarts the counts */
    if (why) return host_fail(L, why, llm_kind(LLM_ECONFIG));
    lua_Integer n = (lua_Integer)luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        const char *key = lua_tostring(L, -1);
        if (!key || llm_client_count_requests(s->c, key, 1) != 0)
            return luaL_error(L, "llm.count_requests: entry %d is not a request key (64 hex digits)", (int)i);
        lua_pop(L, 1);
    }
    lua_pushinteger(L, n);
    return 1;
}

int luaopen_llmnas_llm(lua_State *L);
int luaopen_llmnas_llm(lua_State *L)
{
    static const luaL_Reg state_meta[] = {{"__gc", state_gc}, {"__close", state_gc},
                                          {NULL, NULL}};
    if (luaL_newmetatable(L, STATE_MT))
        luaL_setfuncs(L, state_meta, 0);
    lua_pop(L, 1);
    static const luaL_Reg funcs[] = {
        {"chat", l_chat},           {"chat_many", l_chat_many},
        {"usage", l_usage},         {"reset_usage", l_reset_usage},
        {"configure", l_configure}, {"config", l_config},
        {"request_key", l_request_key}, {"models", l_models},
        {"ping", l_ping},           {"count_requests", l_count_requests},
        {NULL, NULL}};
    luaL_newlib(L, funcs);
    /* llm.kinds: kind -> "fatal" | "transient" | "call" | "ok" (llm.c's code table) */
    lua_createtable(L, 0, llm_kind_count());
    for (int i = 0; i < llm_kind_count(); i++) {
        const llm_kind_info *k = llm_kind_at(i);
        lua_pushstring(L, k->klass);
        lua_setfield(L, -2, k->kind);
    }
    lua_setfield(L, -2, "kinds");
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY) != LUA_TUSERDATA)
        new_state(L); /* now: the key leaves the environment before any script runs */
    lua_pop(L, 1);
    return 1;
}
