/*
 * sandbox.c — a fresh, locked-down Lua state per candidate (see sandbox.h):
 * the capped allocator, the instruction budget, the allow-list environment,
 * running the program and calling Net, and the error kinds. The nn builder is
 * in sandbox_nn.c; the forked-worker wrapper is sandbox_compile_isolated.
 *
 * The environment the candidate sees is an empty table E whose metatable
 * serves the allow-listed names from a hidden table B (reads of names in
 * neither raise "attempt to read undefined global"), lets the program define
 * new globals (Net, helpers) and refuses to overwrite a built-in name.
 * Library tables are empty proxies over private copies.
 */
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_env.h"
#include "sandbox/sandbox_nn.h"

#include "base/rt.h"
#include "worker/worker.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_EVERY 1000
#define REP_MAX ((size_t)1 << 20)  /* string.rep result cap */
#define MOVE_MAX 1000000           /* table.move element cap */

void sandbox_opts_default(sandbox_opts *o)
{
    memset(o, 0, sizeof *o);
    o->c = 1;
    o->h = o->w = 28;
    o->classes = 10;
    o->name = "candidate";
    o->mem_limit = (size_t)256 << 20;
    o->instructions = 50000000;
    o->max_source = (size_t)256 << 10;
    o->max_nodes = GRAPH_DEFAULT_MAX_NODES;
    o->max_message = 2000;
    o->time_limit = 10;
}

/* Per-candidate state; the allocator's userdata, so every thread of the
 * candidate's Lua state reaches it with lua_getallocf. */
typedef struct sb {
    sb_env env;                  /* the graph and the last error's kind (the nn builder's) */
    size_t used, cap;            /* allocator accounting */
    int mem_hit;                 /* an allocation was refused */
    long long budget, spent;     /* instruction budget */
    int budget_hit;
    double cpu_start, cpu_limit; /* thread CPU seconds; limit 0 = none */
    int cpu_hit;
    char where[128];             /* "candidate:12:" where the budget ran out */
    const sandbox_opts *o;
} sb;

static sb *sb_get(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- limits ---------------------------------------------------------------- */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sb *s = ud;
    if (ptr == NULL)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        s->used -= osize;
        return NULL;
    }
    if (nsize > osize && s->used + (nsize - osize) > s->cap) {
        s->mem_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        s->mem_hit = 1;
        return NULL;
    }
    s->used = s->used - osize + nsize;
    return p;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    sb *s = sb_get(L);
    s->spent += HOOK_EVERY;
    if (s->mem_hit) {
        /* like the budget, running out of memory is final: a candidate that
         * catches the error and allocates again would spin on the cap */
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "not enough memory");
    }
    /* few instructions can still cost much CPU in C (coroutine switches,
     * allocations): the time is checked too, every HOOK_EVERY instructions */
    if (s->cpu_limit > 0 && !s->budget_hit && thread_cpu() - s->cpu_start > s->cpu_limit)
        s->cpu_hit = 1;
    if (s->spent > s->budget || s->budget_hit || s->cpu_hit || rt_interrupted()) {
        if (!s->budget_hit) {
            s->budget_hit = 1;
            luaL_where(L, 0);
            rt_fmt(s->where, sizeof s->where, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        /* stay on, firing at every instruction: a pcall in the candidate
         * catches this error only to hit the next one at once */
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget of %lld exceeded", s->budget);
    }
}

/* ---- safe replacements --------------------------------------------------- */

static int sb_rep(lua_State *L)
{
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {  /* Lua's own rep loops n times on "" */
        lua_pushliteral(L, "");
        return 1;
    }
    double total = (double)l * (double)n + (double)lsep * (double)(n - 1);
    if (total > (double)REP_MAX)
        return sb_raise(L, "limit_memory", 1,
                        "string.rep: a result of %.0f bytes is over the %d bytes allowed", total,
                        (int)REP_MAX);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f && (e - f >= MOVE_MAX || e - f < 0))
        return luaL_error(L, "table.move: at most %d elements may be moved", MOVE_MAX);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* xpcall whose message handler runs after the error has been caught, as an
 * ordinary call. Lua runs a handler inside the raise, and an error raised by
 * the count hook would run it with hooks disabled: an endless handler would
 * then escape the instruction budget. */
static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checkstack(L, n + 2, "too many arguments");
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++)
        lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, n + 1);
        return lua_gettop(L) - n;
    }
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static int sb_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: metatables with __gc are not allowed");
        lua_pop(L, 1);
    }
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* ---- read-only proxies ------------------------------------------------------ */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify read-only table '%s'",
                      lua_tostring(L, lua_upvalueindex(1)));
}

/* pairs(proxy) iterates the private table without handing it out (pairs
 * returning `next, T` would let the candidate write to T). */
static int ro_next(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1)))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int ro_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, ro_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Replace the table at the top with a read-only proxy named `name`. */
static void make_readonly(lua_State *L, const char *name, lua_CFunction index)
{
    int t = lua_gettop(L);
    lua_newtable(L);                 /* proxy */
    lua_createtable(L, 0, 4);        /* its metatable */
    if (index) {
        lua_pushvalue(L, t);
        lua_pushstring(L, name);
        lua_pushcclosure(L, index, 2);
    } else {
        lua_pushvalue(L, t);
    }
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_pushcclosure(L, ro_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, t);
    lua_pushcclosure(L, ro_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_replace(L, t);
}

/* Copy the fields listed in `keep` from the table at src into a new table. */
static void copy_fields(lua_State *L, int src, const char *const *keep)
{
    lua_newtable(L);
    for (; *keep; keep++) {
        lua_getfield(L, src, *keep);
        lua_setfield(L, -2, *keep);
    }
}

static const char *const base_keep[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
    "tostring", "type", "rawequal", "rawlen", "_VERSION", NULL};
static const char *const string_keep[] = {
    "byte", "char", "format", "len", "lower", "upper", "reverse", "sub", NULL};
static const char *const table_keep[] = {
    "concat", "insert", "remove", "sort", "unpack", "pack", NULL};
static const char *const math_keep[] = {
    "abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log", "max",
    "maxinteger", "min", "mininteger", "modf", "pi", "rad", "random", "randomseed",
    "sin", "sqrt", "tan", "tointeger", "type", "ult", "atan", "asin", "acos", NULL};
static const char *const utf8_keep[] = {
    "char", "charpattern", "codepoint", "codes", "len", "offset", NULL};
static const char *const coroutine_keep[] = {
    "close", "create", "isyieldable", "resume", "running", "status", "wrap", "yield", NULL};

/* Names of standard Lua left out of a candidate on purpose, with the reason:
 * the LLM that wrote the candidate reads it (Redis's deny-list). Library
 * fields are named "lib.field". */
static const struct denied {
    const char *name, *why;
} denied[] = {
    {"io", "a candidate only builds a network"},
    {"os", "a candidate only builds a network"},
    {"print", "a candidate only builds a network: Net returns it (stop with error() to say why)"},
    {"package", "a candidate is one program and loads no modules"},
    {"require", "a candidate is one program and loads no modules"},
    {"load", "a candidate is one program and compiles no code at run time"},
    {"loadstring", "a candidate is one program and compiles no code at run time"},
    {"loadfile", "a candidate reads no files"},
    {"dofile", "a candidate reads no files"},
    {"debug", "a candidate cannot inspect or change the sandbox"},
    {"getmetatable", "a candidate cannot inspect or change the sandbox"},
    {"rawget", "use t[k]: raw access would bypass read-only tables"},
    {"rawset", "use t[k] = v: raw access would bypass read-only tables"},
    {"collectgarbage", "the sandbox manages memory"},
    {"setfenv", "it is Lua 5.1; candidates are Lua 5.4"},
    {"getfenv", "it is Lua 5.1; candidates are Lua 5.4"},
    {"module", "it is Lua 5.1; candidates are Lua 5.4"},
    {"unpack", "it is Lua 5.1: use table.unpack"},
    {"string.dump", "a candidate compiles no code"},
    {"string.pack", "a candidate only builds a network"},
    {"string.unpack", "a candidate only builds a network"},
    {"string.packsize", "a candidate only builds a network"},
    {"string.find", "patterns run in C, where the instruction budget cannot stop them"},
    {"string.match", "patterns run in C, where the instruction budget cannot stop them"},
    {"string.gmatch", "patterns run in C, where the instruction budget cannot stop them"},
    {"string.gsub", "patterns run in C, where the instruction budget cannot stop them"},
};

/* Raise the deny-list's reason for lib.key (lib NULL: a global), or return 0
 * if the name is not on it. */
static int deny(lua_State *L, const char *lib, const char *key)
{
    char name[96];
    if (lib)
        rt_fmt(name, sizeof name, "%s.%s", lib, key);
    else
        rt_fmt(name, sizeof name, "%s", key);
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        if (strcmp(denied[i].name, name) == 0)
            return luaL_error(L, "`%s` is not available in a candidate: %s", name,
                              denied[i].why);
    return 0;
}

static int env_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    if (lua_type(L, 2) == LUA_TSTRING) {
        deny(L, NULL, lua_tostring(L, 2));
        return luaL_error(L, "attempt to read undefined global '%s'", lua_tostring(L, 2));
    }
    return luaL_error(L, "attempt to read an undefined global");
}

/* __index of a library proxy (upvalue 1 the private table, 2 its name):
 * absent fields are nil, except those left out on purpose. */
static int lib_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL || lua_type(L, 2) != LUA_TSTRING)
        return 1;
    deny(L, lua_tostring(L, lua_upvalueindex(2)), lua_tostring(L, 2));
    return 1;
}

static int env_newindex(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return luaL_error(L, "cannot assign to built-in global '%s'",
                          lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 0;
}

/* Protected: open the libraries, build B and E, make E the globals. */
static int setup(lua_State *L)
{
    luaL_requiref(L, "_G", luaopen_base, 0);
    luaL_requiref(L, "string", luaopen_string, 0);
    luaL_requiref(L, "table", luaopen_table, 0);
    luaL_requiref(L, "math", luaopen_math, 0);
    luaL_requiref(L, "utf8", luaopen_utf8, 0);
    luaL_requiref(L, "coroutine", luaopen_coroutine, 0);
    /* stack: 1 _G 2 string 3 table 4 math 5 utf8 6 coroutine */
    lua_getfield(L, 4, "randomseed");
    lua_pushinteger(L, 43);
    lua_call(L, 1, 0);

    copy_fields(L, 1, base_keep);           /* 7: B */
    int B = lua_gettop(L);
    lua_pushcfunction(L, sb_setmetatable);
    lua_setfield(L, B, "setmetatable");
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, B, "xpcall");

    copy_fields(L, 2, string_keep);
    lua_getfield(L, 2, "rep");
    lua_pushcclosure(L, sb_rep, 1);
    lua_setfield(L, -2, "rep");
    make_readonly(L, "string", lib_index);
    lua_pushliteral(L, "");                  /* the string metatable */
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_setfield(L, B, "string");

    copy_fields(L, 3, table_keep);
    lua_getfield(L, 3, "move");
    lua_pushcclosure(L, sb_move, 1);
    lua_setfield(L, -2, "move");
    make_readonly(L, "table", NULL);
    lua_setfield(L, B, "table");
    copy_fields(L, 4, math_keep);
    make_readonly(L, "math", NULL);
    lua_setfield(L, B, "math");
    copy_fields(L, 5, utf8_keep);
    make_readonly(L, "utf8", NULL);
    lua_setfield(L, B, "utf8");
    copy_fields(L, 6, coroutine_keep);
    make_readonly(L, "coroutine", NULL);
    lua_setfield(L, B, "coroutine");
    sb_open_nn(L);
    make_readonly(L, "nn", sb_nn_index);
    lua_setfield(L, B, "nn");

    lua_newtable(L);                         /* E */
    int E = lua_gettop(L);
    lua_pushvalue(L, E);
    lua_setfield(L, B, "_G");
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, B);
    lua_pushcclosure(L, env_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, B);
    lua_pushcclosure(L, env_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, E);
    lua_pushvalue(L, E);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    /* forget the unrestricted library tables */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    return 0;
}

/* ---- running -------------------------------------------------------------- */

typedef struct outcome {
    char *kind;
    char *msg;
    size_t msglen;
    const char *stage;  /* SANDBOX_STAGE_*: prefixes the message */
} outcome;

static void set_msg(const sb *s, outcome *r, const char *kind, const char *text, size_t len)
{
    size_t cap = s->o->max_message ? s->o->max_message : 2000;
    const char *stage = strcmp(kind, "interrupted") ? r->stage : "";
    const char *sep = stage[0] ? ": " : "";
    rt_fmt(r->kind, SANDBOX_KIND_LEN, "%s", kind);
    if (len > cap) {
        rt_fmt(r->msg, r->msglen, "%s%s%.*s... (message cut at %zu of %zu bytes)", stage, sep,
               (int)cap, text, cap, len);
    } else {
        rt_fmt(r->msg, r->msglen, "%s%s%.*s", stage, sep, (int)len, text);
    }
}

/* The error value at the top of the stack after a failed pcall. */
static void fail_from_stack(lua_State *L, sb *s, int status, outcome *r)
{
    const char *name = s->o->name ? s->o->name : "candidate";
    char buf[256];
    size_t cap = s->cap;
    s->cap = (size_t)-1;  /* reading the error may allocate; the verdict is taken */
    if (status == LUA_ERRMEM || s->mem_hit) {
        rt_fmt(buf, sizeof buf, "%s: memory limit of %zu MiB exceeded", name, cap >> 20);
        set_msg(s, r, "limit_memory", buf, strlen(buf));
        return;
    }
    if (s->budget_hit && s->cpu_hit) {
        rt_fmt(buf, sizeof buf, "%s%sCPU time limit of %g s exceeded (an endless loop?)",
               s->where[0] ? s->where : name, s->where[0] ? "" : ": ", s->o->time_limit);
        set_msg(s, r, "limit_cpu", buf, strlen(buf));
        return;
    }
    if (s->budget_hit) {
        rt_fmt(buf, sizeof buf, "%s%sinstruction budget of %lld exceeded (an endless loop?)",
               s->where[0] ? s->where : name, s->where[0] ? "" : ": ", s->budget);
        set_msg(s, r, "limit_cpu", buf, strlen(buf));
        return;
    }
    if (rt_interrupted()) {
        set_msg(s, r, "interrupted", "interrupted", 11);
        return;
    }
    int t = lua_type(L, -1);
    size_t len = 0;
    const char *text = NULL;
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        text = lua_tolstring(L, -1, &len);  /* no metamethods for these types */
    } else {
        rt_fmt(buf, sizeof buf, "%s: error object is a %s value", name, lua_typename(L, t));
        text = buf;
        len = strlen(buf);
    }
    const char *kind = "runtime";
    lua_getfield(L, LUA_REGISTRYINDEX, SB_LASTERR);
    if (!lua_isnil(L, -1) && lua_rawequal(L, -1, -2) && s->env.kind[0])
        kind = s->env.kind;
    lua_pop(L, 1);
    if (status == LUA_ERRSYNTAX)
        kind = "syntax";
    set_msg(s, r, kind, text, len);
}

/* Protected: find Net (the chunk's return value or the global) and call it
 * with the input node and classes; leaves Net's result. */
static int call_net(lua_State *L)
{
    sb *s = sb_get(L);
    if (lua_type(L, 1) != LUA_TFUNCTION) {
        lua_settop(L, 0);
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        lua_pushliteral(L, "Net");  /* raw: E's __index raises for undefined names */
        lua_rawget(L, -2);
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    if (lua_type(L, 1) != LUA_TFUNCTION)
        return sb_raise(L, "runtime", 0,
                        "%s: the program must define a global function Net(x, classes) "
                        "or return such a function, found none (a 'local function Net' "
                        "is not visible: drop 'local' or end with 'return Net')",
                        s->o->name ? s->o->name : "candidate");
    sb_push_node(L, 0);
    if (s->o->classes > 0)
        lua_pushinteger(L, s->o->classes);
    else
        lua_pushnil(L);
    lua_call(L, 2, 1);
    return 1;
}

static int run_candidate(lua_State *L, sb *s, const char *src, size_t len, outcome *r)
{
    const sandbox_opts *o = s->o;
    char chunk[128];
    rt_fmt(chunk, sizeof chunk, "=%s", o->name ? o->name : "candidate");
    int st = luaL_loadbufferx(L, src, len, chunk, "t");
    if (st != LUA_OK) {
        /* the parser reports nesting beyond its C stack as a plain error */
        if (st != LUA_ERRMEM && st != LUA_ERRSYNTAX && lua_type(L, -1) == LUA_TSTRING) {
            s->cap = (size_t)-1;
            lua_pushfstring(L, "%s: %s (the program is nested too deeply)",
                            o->name ? o->name : "candidate", lua_tostring(L, -1));
        }
        fail_from_stack(L, s, st == LUA_ERRMEM ? st : LUA_ERRSYNTAX, r);
        return -1;
    }
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    if ((st = lua_pcall(L, 0, 1, 0)) != LUA_OK) {
        fail_from_stack(L, s, st, r);
        return -1;
    }
    r->stage = SANDBOX_STAGE_BUILD;
    lua_pushcfunction(L, call_net);
    lua_insert(L, -2);
    if ((st = lua_pcall(L, 1, 1, 0)) != LUA_OK) {
        fail_from_stack(L, s, st, r);
        return -1;
    }
    return sb_node_id(L, -1);
}

static int finish_graph(sb *s, int id, lua_State *L, outcome *r)
{
    const char *name = s->o->name ? s->o->name : "candidate";
    char buf[600], err[400];
    if (id < 0) {
        rt_fmt(buf, sizeof buf, "%s: Net must return a node (the network's output), got %s",
               name, lua_typename(L, lua_type(L, -1)));
        set_msg(s, r, "runtime", buf, strlen(buf));
        return -1;
    }
    int rc = graph_set_output(s->env.g, id, s->o->classes, err, sizeof err);
    if (rc == 0)
        rc = graph_finalize(s->env.g);
    if (rc) {
        int line = s->env.g->nodes[id].line;
        if (line > 0)
            rt_fmt(buf, sizeof buf, "%s:%d: %s", name, line, err[0] ? err : graph_strerror(rc));
        else
            rt_fmt(buf, sizeof buf, "%s: %s", name, err[0] ? err : graph_strerror(rc));
        set_msg(s, r, rc == GRAPH_ENOMEM ? "limit_memory" : "shape", buf, strlen(buf));
        return -1;
    }
    return 0;
}

int sandbox_compile(const char *src, size_t len, const sandbox_opts *opts, graph **out,
                    char kind[SANDBOX_KIND_LEN], char *msg, size_t msglen)
{
    sandbox_opts o;
    if (opts)
        o = *opts;
    else
        sandbox_opts_default(&o);
    /* Lua code stops at 80% of time_limit, cleanly, before the worker's
     * RLIMIT_CPU (time_limit rounded up), which is for C code */
    sb s = {.cap = o.mem_limit ? o.mem_limit : (size_t)256 << 20,
            .budget = o.instructions > 0 ? o.instructions : 50000000, .o = &o,
            .cpu_start = thread_cpu(), .cpu_limit = o.time_limit > 0 ? 0.8 * o.time_limit : 0};
    outcome r = {kind, msg, msglen, SANDBOX_STAGE_COMPILE};
    *out = NULL;
    kind[0] = msg[0] = '\0';
    const char *name = o.name ? o.name : "candidate";
    if (o.max_source && len > o.max_source) {
        char buf[160];
        rt_fmt(buf, sizeof buf, "%s: the program is %zu bytes, more than the %zu allowed", name,
               len, o.max_source);
        set_msg(&s, &r, "too_large", buf, strlen(buf));
        return -1;
    }
    if (graph_new(&s.env.g, o.c, o.h, o.w)) {
        set_msg(&s, &r, "runtime", "bad input shape", 15);
        return -1;
    }
    s.env.g->max_nodes = o.max_nodes > 0 ? o.max_nodes + 1 : 0;
    lua_State *L = lua_newstate(sb_alloc, &s);
    int rc = -1;
    if (!L) {
        set_msg(&s, &r, "limit_memory", "out of memory creating the Lua state", 36);
    } else {
        sb_env_set(L, &s.env);
        lua_pushcfunction(L, setup);
        int st = lua_pcall(L, 0, 0, 0);
        if (st != LUA_OK) {
            fail_from_stack(L, &s, st, &r);
        } else {
            int id = run_candidate(L, &s, src, len, &r);
            if (!kind[0])
                rc = finish_graph(&s, id, L, &r);
        }
        lua_sethook(L, NULL, 0, 0);
        lua_close(L);
    }
    if (rc == 0)
        *out = s.env.g;
    else
        graph_free(s.env.g);
    return rc;
}

/* ---- in a worker ------------------------------------------------------------ */

typedef struct job {
    const char *src;
    size_t len;
    const sandbox_opts *o;
} job;

static int compile_in_child(void *arg, worker_ctx *ctx, char **result,
                            char kind[WORKER_KIND_LEN], char *msg, size_t msglen)
{
    (void)ctx;
    job *j = arg;
    graph *g;
    if (sandbox_compile(j->src, j->len, j->o, &g, kind, msg, msglen))
        return 1;
    *result = graph_to_json(g);
    graph_free(g);
    if (!*result) {
        rt_fmt(kind, WORKER_KIND_LEN, "limit_memory");
        rt_fmt(msg, msglen, "out of memory writing the graph");
        return 1;
    }
    return 0;
}

int sandbox_compile_isolated(const char *src, size_t len, const sandbox_opts *opts,
                             graph **out, char kind[SANDBOX_KIND_LEN], char *msg,
                             size_t msglen, double *seconds)
{
    sandbox_opts o;
    if (opts)
        o = *opts;
    else
        sandbox_opts_default(&o);
    job j = {src, len, &o};
    double tl = o.time_limit > 0 ? o.time_limit : 10;
    size_t mem = o.mem_limit ? o.mem_limit : (size_t)256 << 20;
    /* CPU time is the limit; the wall-clock deadline, twice that (and at
     * least a second more), catches what uses no CPU, while a busy machine
     * that gives the worker half a core still sees limit_cpu */
    worker_opts wo = {.deadline = tl * 2 > tl + 1 ? tl * 2 : tl + 1, .cpu_seconds = tl, .mem_bytes = mem + ((size_t)64 << 20),
                      .max_result = (size_t)64 << 20};
    worker_result res;
    *out = NULL;
    kind[0] = msg[0] = '\0';
    int rc = worker_run(compile_in_child, &j, &wo, &res);
    if (seconds)
        *seconds = res.seconds;
    if (res.ok) {
        char err[512];
        rc = graph_from_json(res.json, out, err, sizeof err);
        if (rc) {
            rt_fmt(kind, SANDBOX_KIND_LEN, "crashed");
            rt_fmt(msg, msglen, "%s: the worker's graph did not read back: %s",
                   SANDBOX_STAGE_COMPILE, err);
        }
    } else {
        rt_fmt(kind, SANDBOX_KIND_LEN, "%s", res.kind[0] ? res.kind : "crashed");
        const char *m = res.message ? res.message : worker_strerror(rc);
        /* the child's verdicts carry their stage; the worker's own (timeout,
         * crash) happened while compiling */
        int staged = strncmp(m, SANDBOX_STAGE_COMPILE ":", strlen(SANDBOX_STAGE_COMPILE) + 1) == 0 ||
                     strncmp(m, SANDBOX_STAGE_BUILD ":", strlen(SANDBOX_STAGE_BUILD) + 1) == 0;
        if (staged || strcmp(kind, "interrupted") == 0)
            rt_fmt(msg, msglen, "%s", m);
        else
            rt_fmt(msg, msglen, "%s: %s", SANDBOX_STAGE_COMPILE, m);
        rc = -1;
    }
    worker_result_free(&res);
    return rc ? -1 : 0;
}
