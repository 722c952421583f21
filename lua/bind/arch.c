/*
 * arch.c — the `arch` module: compile candidate programs (in a forked,
 * sandboxed worker) and the llmnas.Graph userdata.
 *
 *   local g, err, kind = arch.compile(source, {input = {1, 28, 28}, classes = 10,
 *                                              name = "candidate", time_limit = 10,
 *                                              memory_limit = 256 * 2^20})
 *   (isolated = false compiles in this process: the Lua sandbox without the
 *   worker's CPU, address-space and wall-clock limits — for trusted sources)
 *   g:hash() g:params() g:flops() g:act_bytes() g:summary() g:to_json()
 *   g:to_lua() g:to_pytorch() g:layers() g:input_shape() g:output_shape()
 *   arch.from_json(text) → graph | nil, message, "json"
 *   arch.ops() → the op table: names, inputs, attributes (see arch_ops)
 *
 * Two error channels: wrong arguments raise; a candidate that does not compile
 * returns nil, message, kind (sandbox.h lists the kinds).
 */
#include "bind/arch.h"

#include "host/host.h"
#include "base/rt.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_nn.h"

#include <float.h>
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_MT "llmnas.Graph"

typedef struct graph_ud {
    graph *g;
} graph_ud;

graph *arch_check_graph(lua_State *L, int idx)
{
    graph_ud *u = luaL_checkudata(L, idx, GRAPH_MT);
    if (!u->g)
        luaL_argerror(L, idx, "graph has been closed");
    return u->g;
}

void arch_push_graph(lua_State *L, graph *g)
{
    graph_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->g = g;
    luaL_setmetatable(L, GRAPH_MT);
}

static int graph_close(lua_State *L)
{
    graph_ud *u = luaL_checkudata(L, 1, GRAPH_MT);
    graph_free(u->g);
    u->g = NULL;
    return 0;
}

static void push_owned_string(lua_State *L, char *s)
{
    if (!s) {
        luaL_error(L, "out of memory");
        return;
    }
    lua_pushstring(L, s);
    free(s);
}

static int g_hash(lua_State *L)
{
    char h[GRAPH_HASH_HEX];
    if (graph_hash(arch_check_graph(L, 1), h))
        return luaL_error(L, "graph hash failed");
    lua_pushstring(L, h);
    return 1;
}

static int g_stat(lua_State *L, int which)
{
    graph_stats s;
    graph_stats_get(arch_check_graph(L, 1), &s);
    lua_pushinteger(L, which == 0 ? s.params : which == 1 ? s.flops : which == 2 ? s.act_bytes
                                                                             : s.layers);
    return 1;
}

static int g_params(lua_State *L) { return g_stat(L, 0); }
static int g_flops(lua_State *L) { return g_stat(L, 1); }
static int g_act_bytes(lua_State *L) { return g_stat(L, 2); }
static int g_len(lua_State *L) { return g_stat(L, 3); }

static int g_to_json(lua_State *L)
{
    push_owned_string(L, graph_to_json(arch_check_graph(L, 1)));
    return 1;
}

static int g_to_lua(lua_State *L)
{
    push_owned_string(L, graph_to_lua(arch_check_graph(L, 1)));
    return 1;
}

static int g_to_pytorch(lua_State *L)
{
    push_owned_string(L, graph_to_pytorch(arch_check_graph(L, 1)));
    return 1;
}

static int g_summary(lua_State *L)
{
    push_owned_string(L, graph_summary(arch_check_graph(L, 1)));
    return 1;
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* The attributes an op reads (the op table), named and typed as in the
 * canonical JSON. */
static void push_attrs(lua_State *L, const graph_node *n)
{
    unsigned set = graph_op_info_get(n->op)->attrs;
    lua_newtable(L);
    for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
        if (!(set & GRAPH_ATTR_BIT(id)))
            continue;
        const graph_attr_info *ai = graph_attr_info_get(id);
        int64_t v = graph_attr_int(&n->a, id, 0);
        switch (ai->type) {
        case GRAPH_T_PAIR:
            lua_createtable(L, 2, 0);
            lua_pushinteger(L, v);
            lua_rawseti(L, -2, 1);
            lua_pushinteger(L, graph_attr_int(&n->a, id, 1));
            lua_rawseti(L, -2, 2);
            break;
        case GRAPH_T_BOOL: lua_pushboolean(L, (int)v); break;
        case GRAPH_T_NUM: lua_pushnumber(L, graph_attr_num(&n->a, id)); break;
        case GRAPH_T_ENUM: lua_pushstring(L, ai->choices[v]); break;
        default: lua_pushinteger(L, v); break;
        }
        lua_setfield(L, -2, ai->key);
    }
}

/* g:layers() → {{id = 0, name = "input", op = "Input", inputs = {}, shape = {"B", 1, 28, 28},
 * params = 0, flops = 0, act_bytes = 3136, attrs = {...}}, ...}: graph_layers' rows (the
 * live nodes in canonical order, as in the JSON and `llmnas check`). */
static int g_layers(lua_State *L)
{
    graph *g = arch_check_graph(L, 1);
    graph_layer *rows;
    int m = graph_layers(g, &rows);
    if (m < 0)
        return luaL_error(L, "g:layers(): out of memory");
    lua_createtable(L, m, 0);
    for (int i = 0; i < m; i++) {
        const graph_node *n = rows[i].node;
        lua_createtable(L, 0, 9);
        set_int(L, "id", rows[i].id);
        lua_pushstring(L, rows[i].name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, graph_op_name(n->op));
        lua_setfield(L, -2, "op");
        lua_createtable(L, rows[i].n_inputs, 0);
        for (int k = 0; k < rows[i].n_inputs; k++) {
            lua_pushinteger(L, rows[i].inputs[k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "inputs");
        sb_push_shape(L, &n->shape);
        lua_setfield(L, -2, "shape");
        set_int(L, "params", n->params);
        set_int(L, "flops", n->flops);
        set_int(L, "act_bytes", n->act_bytes);
        push_attrs(L, n);
        lua_setfield(L, -2, "attrs");
        lua_rawseti(L, -2, i + 1);
    }
    free(rows);
    return 1;
}

static int g_input_shape(lua_State *L)
{
    sb_push_shape(L, &arch_check_graph(L, 1)->nodes[0].shape);
    return 1;
}

static int g_output_shape(lua_State *L)
{
    graph *g = arch_check_graph(L, 1);
    sb_push_shape(L, &g->nodes[g->output].shape);
    return 1;
}

static int g_tostring(lua_State *L)
{
    graph_ud *u = luaL_checkudata(L, 1, GRAPH_MT);
    if (!u->g) {
        lua_pushliteral(L, "llmnas.Graph (closed)");
        return 1;
    }
    char h[GRAPH_HASH_HEX];
    graph_stats s;
    graph_stats_get(u->g, &s);
    graph_hash(u->g, h);
    lua_pushfstring(L, "llmnas.Graph %s (%d layers, %I params)", h, s.layers,
                    (lua_Integer)s.params);
    return 1;
}

static int g_eq(lua_State *L)
{
    char a[GRAPH_HASH_HEX], b[GRAPH_HASH_HEX];
    graph_hash(arch_check_graph(L, 1), a);
    graph_hash(arch_check_graph(L, 2), b);
    lua_pushboolean(L, strcmp(a, b) == 0);
    return 1;
}

/* ---- module functions ------------------------------------------------------ */

static const char *const type_names[] = {
    [GRAPH_T_COUNT] = "count", [GRAPH_T_INT] = "int", [GRAPH_T_PAIR] = "pair",
    [GRAPH_T_BOOL] = "bool", [GRAPH_T_NUM] = "number", [GRAPH_T_ENUM] = "enum"};

/* The default of attribute id for op, as the Lua view shows it. */
static void push_default(lua_State *L, graph_op op, int id)
{
    graph_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    graph_attrs_default(op, &n.a);
    lua_newtable(L);
    push_attrs(L, &n);
    lua_getfield(L, -1, graph_attr_info_get(id)->key);
    lua_replace(L, -3);
    lua_pop(L, 1);
}

/* arch.ops() → {{name = "Conv2d", min_inputs = 1, max_inputs = 1 (0 = any),
 * commutative = false, attrs = {{key = "out", option = "out", type = "count",
 * default = 0, lo = 1, hi = 16777216, fixed = true, choices = nil}, ...}}, ...}:
 * the op table (graph.h), for tests, docs and prompts. */
static int arch_ops(lua_State *L)
{
    lua_createtable(L, GRAPH_OP_COUNT - 1, 0);
    for (int op = GRAPH_OP_INPUT + 1; op < GRAPH_OP_COUNT; op++) {
        const graph_op_info *oi = graph_op_info_get((graph_op)op);
        lua_createtable(L, 0, 5);
        lua_pushstring(L, oi->name);
        lua_setfield(L, -2, "name");
        set_int(L, "min_inputs", oi->min_inputs);
        set_int(L, "max_inputs", oi->max_inputs);
        lua_pushboolean(L, (oi->flags & GRAPH_OPF_COMMUTATIVE) != 0);
        lua_setfield(L, -2, "commutative");
        lua_newtable(L);
        int k = 0;
        for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT; id++) {
            if (!(oi->attrs & GRAPH_ATTR_BIT(id)))
                continue;
            const graph_attr_info *ai = graph_attr_info_get(id);
            lua_createtable(L, 0, 8);
            lua_pushstring(L, ai->key);
            lua_setfield(L, -2, "key");
            lua_pushstring(L, ai->option);
            lua_setfield(L, -2, "option");
            lua_pushstring(L, type_names[ai->type]);
            lua_setfield(L, -2, "type");
            push_default(L, (graph_op)op, id);
            lua_setfield(L, -2, "default");
            lua_pushnumber(L, ai->lo);
            lua_setfield(L, -2, "lo");
            lua_pushnumber(L, ai->hi);
            lua_setfield(L, -2, "hi");
            lua_pushboolean(L, (oi->fixed & GRAPH_ATTR_BIT(id)) != 0);
            lua_setfield(L, -2, "fixed");
            if (ai->choices) {
                lua_newtable(L);
                for (int c = 0; ai->choices[c]; c++) {
                    lua_pushstring(L, ai->choices[c]);
                    lua_rawseti(L, -2, c + 1);
                }
                lua_setfield(L, -2, "choices");
            }
            lua_rawseti(L, -2, ++k);
        }
        lua_setfield(L, -2, "attrs");
        lua_rawseti(L, -2, op);
    }
    return 1;
}

/* Read arch.compile's options table at idx into o (name points into the
 * Lua string, valid while it stays on the stack). */
static void read_compile_opts(lua_State *L, int idx, sandbox_opts *o)
{
    sandbox_opts_default(o);
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_getfield(L, idx, "input");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1) || lua_rawlen(L, -1) != 3)
            luaL_argerror(L, idx, "input must be {C, H, W}");
        int64_t *d[3] = {&o->c, &o->h, &o->w};
        for (int i = 0; i < 3; i++) {
            lua_rawgeti(L, -1, i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v < 1 || v > 65536)
                luaL_argerror(L, idx, "input must be {C, H, W} with positive integers");
            *d[i] = v;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    o->classes = (int)host_opt_int(L, idx, 2, "compile", "classes", o->classes, 0, 1 << 24);
    lua_getfield(L, idx, "name");
    if (lua_isstring(L, -1))
        o->name = lua_tostring(L, -1);
    lua_replace(L, idx + 1);  /* keep the name string alive in a spare slot */
#define POSITIVE(k, def) host_opt_num(L, idx, 2, "compile", k, (double)(def), DBL_MIN, HUGE_VAL)
    o->time_limit = POSITIVE("time_limit", o->time_limit);
    o->mem_limit = (size_t)POSITIVE("memory_limit", o->mem_limit);
    o->instructions = (long long)POSITIVE("instructions", o->instructions);
    o->max_nodes = (int)host_opt_int(L, idx, 2, "compile", "max_nodes", o->max_nodes, 1,
                                     GRAPH_DEFAULT_MAX_NODES);
    o->max_source = (size_t)POSITIVE("max_source", o->max_source);
#undef POSITIVE
}

static int arch_compile(lua_State *L)
{
    size_t len;
    const char *src = luaL_checklstring(L, 1, &len);
    lua_settop(L, 3);
    sandbox_opts o;
    read_compile_opts(L, 2, &o);
    int isolated = 1;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "isolated");
        isolated = lua_isnil(L, -1) || lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    graph *g;
    char kind[SANDBOX_KIND_LEN], msg[4096];
    double secs = 0;
    int rc = isolated ? sandbox_compile_isolated(src, len, &o, &g, kind, msg, sizeof msg, &secs)
                      : sandbox_compile(src, len, &o, &g, kind, msg, sizeof msg);
    if (rc) {
        if (strcmp(kind, "interrupted") == 0)
            return host_raise_interrupt(L);
        return host_fail(L, msg, kind);
    }
    arch_push_graph(L, g);
    return 1;
}

static int arch_from_json(lua_State *L)
{
    const char *s = luaL_checkstring(L, 1);
    graph *g;
    char err[512];
    if (graph_from_json(s, &g, err, sizeof err))
        return host_fail(L, err, "json");
    arch_push_graph(L, g);
    return 1;
}

int luaopen_llmnas_arch(lua_State *L)
{
    static const luaL_Reg meth[] = {
        {"hash", g_hash}, {"params", g_params}, {"flops", g_flops},
        {"act_bytes", g_act_bytes}, {"summary", g_summary}, {"to_json", g_to_json},
        {"to_lua", g_to_lua}, {"to_pytorch", g_to_pytorch}, {"layers", g_layers},
        {"input_shape", g_input_shape}, {"output_shape", g_output_shape},
        {"close", graph_close}, {NULL, NULL}};
    static const luaL_Reg metameth[] = {
        {"__gc", graph_close}, {"__close", graph_close}, {"__tostring", g_tostring},
        {"__eq", g_eq}, {"__len", g_len}, {"__index", NULL}, {NULL, NULL}};
    static const luaL_Reg funcs[] = {
        {"compile", arch_compile}, {"from_json", arch_from_json}, {"ops", arch_ops},
        {NULL, NULL}};
    luaL_newmetatable(L, GRAPH_MT);
    luaL_setfuncs(L, metameth, 0);
    luaL_newlibtable(L, meth);
    luaL_setfuncs(L, meth, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
