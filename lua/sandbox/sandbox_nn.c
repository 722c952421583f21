/*
 * sandbox_nn.c — the `nn` builder of the candidate language: PyTorch-named
 * functions that add nodes to the candidate's graph, with argument checks in
 * PyTorch's words and shape errors naming the candidate's line.
 *
 *   nn.Conv2d(x, out_channels, kernel_size [, stride, padding, dilation, groups, bias] [, opts])
 *   nn.MaxPool2d(x, kernel_size [, stride, padding, dilation] [, opts])
 *   nn.AvgPool2d(x, kernel_size [, stride, padding, ceil_mode, count_include_pad] [, opts])
 *   nn.Linear(x, [in_features,] out_features [, opts])
 *   nn.BatchNorm2d(x [, num_features] [, opts]), nn.BatchNorm1d(f [, num_features] [, opts]),
 *   nn.LayerNorm(x [, normalized_shape] [, opts]), nn.LeakyReLU(x [, slope | opts]),
 *   nn.GELU(x [, "tanh" | opts]), nn.Dropout(x [, p | opts]),
 *   nn.AdaptiveAvgPool2d(x [, 1]), nn.Flatten(x), nn.ReLU(x) ... nn.Identity(x),
 *   nn.add(a, b), nn.mul(a, b), nn.cat({a, b, ...} [, 1]); a + b, a * b; x.shape
 *   x * 0.5, 0.5 * x, x + 1, x - 1, 1 - x, -x, x / 2, a - b (scalar arithmetic)
 *   nn.AdaptiveMaxPool2d(x [, 1]); x:mean{2, 3}, x:max{2, 3}, x:amax{2, 3} [, keepdim]
 *
 * Nodes are userdata holding a graph node id; the graph is the sandbox's
 * (sandbox_env.h).
 */
#include "sandbox/sandbox_nn.h"
#include "sandbox/sandbox_env.h"

#include "base/rt.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NODE_MT "llmnas.Node"
/* The op table's range of an attribute, for the fixed arguments. */
#define LO(id) ((int64_t)graph_attr_info_get(GRAPH_A_##id)->lo)
#define HI(id) ((int64_t)graph_attr_info_get(GRAPH_A_##id)->hi)

typedef struct nodeud {
    int id;
} nodeud;

static int argerr(lua_State *L, int arg, const char *op, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int argerr(lua_State *L, int arg, const char *op, const char *kind, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* Lua's own form, "bad argument #3 to 'Conv2d' (...)", named as the
     * candidate called the function; kinds other than runtime are recorded */
    if (strcmp(kind, "runtime") == 0)
        return luaL_argerror(L, arg, buf);
    return sb_raise(L, kind, 1, "bad argument #%d to '%s' (%s)", arg, op, buf);
}

void sb_push_node(lua_State *L, int id)
{
    nodeud *n = lua_newuserdatauv(L, sizeof *n, 0);
    n->id = id;
    luaL_setmetatable(L, NODE_MT);
}

int sb_node_id(lua_State *L, int idx)
{
    nodeud *n = luaL_testudata(L, idx, NODE_MT);
    return n ? n->id : -1;
}

static int check_node(lua_State *L, int arg, const char *op)
{
    int id = sb_node_id(L, arg);
    if (id < 0)
        argerr(L, arg, op, "runtime", "node expected, got %s", luaL_typename(L, arg));
    return id;
}

static int caller_line(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar) && ar.currentline > 0)
        return ar.currentline;
    return 0;
}

/* ---- argument values ---------------------------------------------------------- */

typedef struct argctx {
    lua_State *L;
    const char *op;
    int arg;        /* argument number for messages */
} argctx;

static int64_t get_int(argctx *c, int idx, const char *what, int64_t lo, int64_t hi)
{
    lua_State *L = c->L;
    int t = lua_type(L, idx);
    int64_t v;
    if (t == LUA_TBOOLEAN || t != LUA_TNUMBER)
        argerr(L, c->arg, c->op, "runtime", "%s must be a number, got %s", what,
               lua_typename(L, t));
    if (lua_isinteger(L, idx)) {
        v = lua_tointeger(L, idx);
    } else {
        double d = lua_tonumber(L, idx);
        if (isnan(d))
            argerr(L, c->arg, c->op, "runtime", "%s must be an integer, got nan", what);
        if (!isfinite(d) || d != floor(d))
            argerr(L, c->arg, c->op, "runtime", "%s must be an integer, got %g", what, d);
        if (d > 9e18 || d < -9e18)
            argerr(L, c->arg, c->op, d > 0 ? "too_large" : "runtime",
                   "%s must be at most %lld, got %g", what, (long long)hi, d);
        v = (int64_t)d;
    }
    if (v < lo)
        argerr(L, c->arg, c->op, "runtime", "%s must be %s, got %lld", what,
               lo == 1 ? "positive" : "non-negative", (long long)v);
    if (v > hi)
        argerr(L, c->arg, c->op, "too_large", "%s must be at most %lld, got %lld", what,
               (long long)hi, (long long)v);
    return v;
}

static int is_pair_table(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE && lua_rawlen(L, idx) > 0;
}

/* A number or {h, w}. */
static void get_pair(argctx *c, int idx, const char *what, int64_t lo, int64_t hi, int out[2])
{
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE) {
        if (lua_rawlen(L, idx) != 2)
            argerr(L, c->arg, c->op, "runtime", "%s must be a number or {h, w}", what);
        for (int i = 0; i < 2; i++) {
            lua_rawgeti(L, idx, i + 1);
            out[i] = (int)get_int(c, -1, what, lo, hi);
            lua_pop(L, 1);
        }
        return;
    }
    out[0] = out[1] = (int)get_int(c, idx, what, lo, hi);
}

static int get_bool(argctx *c, int idx, const char *what)
{
    if (lua_type(c->L, idx) != LUA_TBOOLEAN)
        argerr(c->L, c->arg, c->op, "runtime", "%s must be true or false, got %s", what,
               luaL_typename(c->L, idx));
    return lua_toboolean(c->L, idx);
}

static double get_double(argctx *c, int idx, const char *what)
{
    if (lua_type(c->L, idx) != LUA_TNUMBER)
        argerr(c->L, c->arg, c->op, "runtime", "%s must be a number, got %s", what,
               luaL_typename(c->L, idx));
    double d = lua_tonumber(c->L, idx);
    if (!isfinite(d))
        argerr(c->L, c->arg, c->op, "runtime", "%s must be finite, got %g", what, d);
    return d;
}

/* padding: a number, {h, w}, "valid" or "same" (resolved later: -1). */
static void get_padding(argctx *c, int idx, int same_ok, int out[2])
{
    if (lua_type(c->L, idx) == LUA_TSTRING) {
        const char *s = lua_tostring(c->L, idx);
        if (strcmp(s, "valid") == 0) {
            out[0] = out[1] = 0;
            return;
        }
        if (same_ok && strcmp(s, "same") == 0) {
            out[0] = out[1] = -1;
            return;
        }
        argerr(c->L, c->arg, c->op, "runtime", "padding must be a number, {h, w}%s",
               same_ok ? ", 'valid' or 'same'" : "");
    }
    get_pair(c, idx, "padding", LO(PADDING), HI(PADDING), out);
}

/* ---- options tables ------------------------------------------------------------ */

#define OPT_INPLACE (-1)  /* PyTorch's inplace: accepted, meaningless here */

/* The options op takes (the op table): its attributes that are not fixed
 * arguments. */
static unsigned op_options(graph_op op)
{
    const graph_op_info *oi = graph_op_info_get(op);
    return oi->attrs & ~oi->fixed;
}

static void unknown_option(argctx *c, const char *key, graph_op op)
{
    char list[512] = "";
    size_t n = 0;
    unsigned allowed = op_options(op);
    for (int id = GRAPH_A_NONE + 1; id <= GRAPH_A_COUNT; id++) {
        const char *name = id < GRAPH_A_COUNT ? graph_attr_info_get(id)->option : "inplace";
        if (id < GRAPH_A_COUNT ? !(allowed & GRAPH_ATTR_BIT(id))
                               : !(graph_op_info_get(op)->flags & GRAPH_OPF_INPLACE))
            continue;
        int k = snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", name);
        if (k > 0 && (size_t)k < sizeof list - n)
            n += (size_t)k;
    }
    argerr(c->L, c->arg, c->op, "runtime", "unknown option '%.40s' (options: %s)", key,
           n ? list : "none");
}

/* The value at the top of the stack as attribute id (OPT_INPLACE: checked,
 * dropped), with the op table's type and range. */
static void read_option(argctx *c, int id, graph_attrs *a)
{
    lua_State *L = c->L;
    if (id == OPT_INPLACE) {
        get_bool(c, -1, "inplace");
        return;
    }
    const graph_attr_info *ai = graph_attr_info_get(id);
    int pr[2];
    switch (ai->type) {
    case GRAPH_T_COUNT:
    case GRAPH_T_INT:
        graph_attr_set_int(a, id, 0, get_int(c, -1, ai->option, (int64_t)ai->lo, (int64_t)ai->hi));
        break;
    case GRAPH_T_PAIR:
        if (id == GRAPH_A_PADDING)
            get_padding(c, -1, 1, pr);
        else
            get_pair(c, -1, ai->option, (int64_t)ai->lo, (int64_t)ai->hi, pr);
        graph_attr_set_int(a, id, 0, pr[0]);
        graph_attr_set_int(a, id, 1, pr[1]);
        break;
    case GRAPH_T_BOOL: graph_attr_set_int(a, id, 0, get_bool(c, -1, ai->option)); break;
    case GRAPH_T_NUM: graph_attr_set_num(a, id, get_double(c, -1, ai->option)); break;
    case GRAPH_T_ENUM: {
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        for (int k = 0; ai->choices[k]; k++)
            if (strcmp(s, ai->choices[k]) == 0) {
                graph_attr_set_int(a, id, 0, k);
                return;
            }
        char list[128];
        argerr(L, c->arg, c->op, "runtime", "%s must be %s", ai->option,
               graph_attr_choices_str(ai, '\'', list, sizeof list));
        break;
    }
    }
}

static void read_options(argctx *c, int idx, graph_op op, graph_attrs *a)
{
    lua_State *L = c->L;
    unsigned allowed = op_options(op);
    int inplace = (graph_op_info_get(op)->flags & GRAPH_OPF_INPLACE) != 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            argerr(L, c->arg, c->op, "runtime", "option names must be strings, got a %s key",
                   luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        int which = GRAPH_A_NONE;
        for (int id = GRAPH_A_NONE + 1; id < GRAPH_A_COUNT && !which; id++)
            if ((allowed & GRAPH_ATTR_BIT(id)) && strcmp(graph_attr_info_get(id)->option, key) == 0)
                which = id;
        if (!which && inplace && strcmp(key, "inplace") == 0)
            which = OPT_INPLACE;
        if (!which)
            unknown_option(c, key, op);
        read_option(c, which, a);
        lua_pop(L, 1);
    }
}

/* Positional values after the fixed arguments (the op table's positional
 * list, e.g. stride, padding), then an optional options table as the last
 * argument. */
static void read_rest(lua_State *L, argctx *c, int first, graph_op op, graph_attrs *a)
{
    const unsigned char *positional = graph_op_info_get(op)->positional;
    int top = lua_gettop(L), k = 0;
    for (int i = first; i <= top; i++) {
        c->arg = i;
        if (lua_isnil(L, i))
            continue;
        if (lua_type(L, i) == LUA_TTABLE && !is_pair_table(L, i)) {
            if (i != top)
                argerr(L, i, c->op, "runtime", "the options table must be the last argument");
            read_options(c, i, op, a);
            continue;
        }
        if (k >= GRAPH_OP_MAX_POSITIONAL || positional[k] == GRAPH_A_NONE)
            argerr(L, i, c->op, "runtime", "unexpected %s argument", luaL_typename(L, i));
        lua_pushvalue(L, i);
        read_option(c, positional[k++], a);
        lua_pop(L, 1);
    }
}

/* ---- adding nodes ---------------------------------------------------------------- */

static int push_added(lua_State *L, graph_op op, const graph_attrs *a, const int *in, int n)
{
    sb_env *s = sb_env_get(L);
    char err[512];
    int id;
    int rc = graph_add(s->g, op, a, in, n, caller_line(L), &id, err, sizeof err);
    if (rc == GRAPH_ENOMEM)
        return luaL_error(L, "not enough memory");
    if (rc)
        return sb_raise(L, rc == GRAPH_ESHAPE ? "shape" : rc == GRAPH_ETOOBIG ? "too_large"
                                                                           : "runtime",
                        1, "%s", err);
    sb_push_node(L, id);
    return 1;
}

static const graph_shape *shape_of(lua_State *L, int id)
{
    return &sb_env_get(L)->g->nodes[id].shape;
}

static int nn_conv2d(lua_State *L)
{
    argctx c = {L, graph_op_name(GRAPH_OP_CONV2D), 1};
    int x = check_node(L, 1, c.op);
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_CONV2D, &a);
    c.arg = 2;
    if (lua_isnoneornil(L, 2))
        argerr(L, 2, c.op, "runtime", "out_channels expected (input channels are inferred: "
               "nn.Conv2d(x, out_channels, kernel_size))");
    a.out = get_int(&c, 2, "out_channels", LO(OUT), HI(OUT));
    c.arg = 3;
    if (lua_isnoneornil(L, 3))
        argerr(L, 3, c.op, "runtime", "kernel_size expected");
    get_pair(&c, 3, "kernel_size", LO(KERNEL), HI(KERNEL), a.kernel);
    read_rest(L, &c, 4, GRAPH_OP_CONV2D, &a);
    for (int i = 0; i < 2; i++) {
        if (a.padding[i] != -1)
            continue;
        int eff = a.dilation[i] * (a.kernel[i] - 1);
        if (a.stride[0] != 1 || a.stride[1] != 1 || eff % 2)
            argerr(L, 1, c.op, "runtime",
                   "padding='same' needs stride 1 and an odd kernel_size, got kernel_size %d, "
                   "stride %d", a.kernel[i], a.stride[i]);
        a.padding[i] = eff / 2;
    }
    return push_added(L, GRAPH_OP_CONV2D, &a, &x, 1);
}

static int pool(lua_State *L, graph_op op)
{
    const char *name = graph_op_name(op);
    argctx c = {L, name, 1};
    int x = check_node(L, 1, name);
    graph_attrs a;
    graph_attrs_default(op, &a);
    c.arg = 2;
    if (lua_isnoneornil(L, 2))
        argerr(L, 2, name, "runtime", "kernel_size expected");
    get_pair(&c, 2, "kernel_size", LO(KERNEL), HI(KERNEL), a.kernel);
    read_rest(L, &c, 3, op, &a);
    if (a.padding[0] < 0 || a.padding[1] < 0)
        argerr(L, 1, name, "runtime", "padding='same' is not supported by %s", name);
    return push_added(L, op, &a, &x, 1);
}

static int nn_maxpool2d(lua_State *L) { return pool(L, GRAPH_OP_MAXPOOL2D); }
static int nn_avgpool2d(lua_State *L) { return pool(L, GRAPH_OP_AVGPOOL2D); }

/* nn.AdaptiveAvgPool2d(x [, 1]), nn.AdaptiveMaxPool2d(x [, 1]) (the op is the upvalue). */
static int nn_adaptive(lua_State *L)
{
    graph_op op = (graph_op)lua_tointeger(L, lua_upvalueindex(1));
    argctx c = {L, graph_op_name(op), 2};
    int x = check_node(L, 1, c.op);
    graph_attrs a;
    graph_attrs_default(op, &a);
    if (!lua_isnoneornil(L, 2)) {
        int o[2];
        get_pair(&c, 2, "output_size", LO(KERNEL), HI(KERNEL), o);
        if (o[0] != 1 || o[1] != 1)
            argerr(L, 2, c.op, "runtime", "only output_size 1 is supported, got %d", o[0] != 1 ? o[0] : o[1]);
    }
    return push_added(L, op, &a, &x, 1);
}

static int nn_flatten(lua_State *L)
{
    argctx c = {L, graph_op_name(GRAPH_OP_FLATTEN), 2};
    int x = check_node(L, 1, c.op);
    if (!lua_isnoneornil(L, 2) && get_int(&c, 2, "start_dim", 0, 3) != 1)
        argerr(L, 2, c.op, "runtime", "only start_dim 1 is supported (the batch stays)");
    return push_added(L, GRAPH_OP_FLATTEN, NULL, &x, 1);
}

static int64_t features_of(const graph_shape *s)
{
    return s->rank == 2 ? s->dim[1] : s->dim[1] * s->dim[2] * s->dim[3];
}

static int nn_linear(lua_State *L)
{
    argctx c = {L, graph_op_name(GRAPH_OP_LINEAR), 2};
    int x = check_node(L, 1, c.op);
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_LINEAR, &a);
    int64_t in = 0;
    if (lua_isnoneornil(L, 2))
        argerr(L, 2, c.op, "runtime", "out_features expected: nn.Linear(x, out_features)");
    if (lua_type(L, 3) == LUA_TNUMBER) {
        in = get_int(&c, 2, "in_features", 1, HI(OUT) * 4096);
        c.arg = 3;
        a.out = get_int(&c, 3, "out_features", LO(OUT), HI(OUT));
        read_rest(L, &c, 4, GRAPH_OP_LINEAR, &a);
    } else {
        a.out = get_int(&c, 2, "out_features", LO(OUT), HI(OUT));
        read_rest(L, &c, 3, GRAPH_OP_LINEAR, &a);
    }
    const graph_shape *s = shape_of(L, x);
    if (in > 0 && features_of(s) != in) {
        const graph_node *n = &sb_env_get(L)->g->nodes[x];
        const graph_shape *shown = n->op == GRAPH_OP_FLATTEN ? shape_of(L, n->inputs[0]) : s;
        char b[96];
        return sb_raise(L, "shape", 1, "Linear: expected %lld input features, got %lld "
                        "(input shape %s)", (long long)in, (long long)features_of(s),
                        graph_shape_str(shown, b, sizeof b));
    }
    return push_added(L, GRAPH_OP_LINEAR, &a, &x, 1);
}

/* nn.BatchNorm2d(x [, num_features] [, opts]), nn.BatchNorm1d(f [, num_features] [, opts]):
 * num_features, when given, must be the input's C or F (the op is the upvalue). */
static int nn_batchnorm(lua_State *L)
{
    graph_op op = (graph_op)lua_tointeger(L, lua_upvalueindex(1));
    argctx c = {L, graph_op_name(op), 2};
    int x = check_node(L, 1, c.op);
    graph_attrs a;
    graph_attrs_default(op, &a);
    int first = 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        int64_t nf = get_int(&c, 2, "num_features", LO(OUT), HI(OUT));
        const graph_shape *s = shape_of(L, x);
        char b[96];
        int want = op == GRAPH_OP_BATCHNORM1D ? 2 : 4;
        if (s->rank == want && s->dim[1] != nf)
            return sb_raise(L, "shape", 1, "%s: expected %lld %s, got %lld (input shape %s)",
                            c.op, (long long)nf, want == 4 ? "channels" : "features",
                            (long long)s->dim[1], graph_shape_str(s, b, sizeof b));
        first = 3;
    }
    read_rest(L, &c, first, op, &a);
    return push_added(L, op, &a, &x, 1);
}

/* nn.LayerNorm(x [, normalized_shape] [, opts]): normalized_shape, when given (a
 * number or {n}), must be the input's C or F: the op normalises dim 1. */
static int nn_layernorm(lua_State *L)
{
    argctx c = {L, graph_op_name(GRAPH_OP_LAYERNORM), 2};
    int x = check_node(L, 1, c.op);
    graph_attrs a;
    graph_attrs_default(GRAPH_OP_LAYERNORM, &a);
    const graph_shape *s = shape_of(L, x);
    char b[96];
    int first = 2;
    if (lua_type(L, 2) == LUA_TNUMBER || is_pair_table(L, 2)) {
        int64_t ns = 0;
        if (lua_type(L, 2) == LUA_TNUMBER) {
            ns = get_int(&c, 2, "normalized_shape", LO(OUT), HI(OUT));
        } else if (lua_rawlen(L, 2) == 1) {
            lua_rawgeti(L, 2, 1);
            ns = get_int(&c, -1, "normalized_shape", LO(OUT), HI(OUT));
            lua_pop(L, 1);
        }
        if (ns != s->dim[1])
            return sb_raise(L, "shape", 1, "LayerNorm: normalized_shape must be %lld, the %s of "
                            "the input %s (the op normalises %s); leave it out to infer it",
                            (long long)s->dim[1], s->rank == 4 ? "channels" : "features",
                            graph_shape_str(s, b, sizeof b),
                            s->rank == 4 ? "C at each position, as ConvNeXt's LayerNorm2d"
                                         : "F");
        first = 3;
    }
    read_rest(L, &c, first, GRAPH_OP_LAYERNORM, &a);
    return push_added(L, GRAPH_OP_LAYERNORM, &a, &x, 1);
}

/* Every op of one input without a builder of its own: nn.Op(x [, positional
 * values] [, opts]); the op is the closure's upvalue. */
static int nn_unary(lua_State *L)
{
    graph_op op = (graph_op)lua_tointeger(L, lua_upvalueindex(1));
    argctx c = {L, graph_op_name(op), 1};
    int x = check_node(L, 1, c.op);
    graph_attrs a;
    graph_attrs_default(op, &a);
    const graph_op_info *oi = graph_op_info_get(op);
    if (lua_type(L, 2) == LUA_TBOOLEAN && oi->positional[0] == GRAPH_A_NONE &&
        (oi->flags & GRAPH_OPF_INPLACE))
        lua_remove(L, 2);  /* nn.ReLU(x, true): inplace */
    read_rest(L, &c, 2, op, &a);
    return push_added(L, op, &a, &x, 1);
}

/* A node times or plus a number: one node of mul_scalar / add_scalar. */
static int push_scalar(lua_State *L, graph_op op, int x, double v)
{
    graph_attrs a;
    graph_attrs_default(op, &a);
    a.other = v;
    return push_added(L, op, &a, &x, 1);
}

/* The number at idx for scalar arithmetic (finite; the message names the operator). */
static double scalar_arg(lua_State *L, int idx, const char *what)
{
    double d = lua_tonumber(L, idx);
    if (!isfinite(d))
        sb_raise(L, "runtime", 1, "%s: the number must be finite, got %g", what, d);
    return d;
}

/* a + b, a * b (and nn.add, nn.mul): two nodes broadcast (graph.c infer_broadcast);
 * a node and a number is scalar arithmetic. */
static int binary(lua_State *L, graph_op op, int meta)
{
    const char *name = graph_op_name(op), *sym = op == GRAPH_OP_ADD ? "+" : "*";
    graph_op scalar = op == GRAPH_OP_ADD ? GRAPH_OP_ADD_SCALAR : GRAPH_OP_MUL_SCALAR;
    int in[2];
    for (int i = 0; i < 2; i++)
        in[i] = sb_node_id(L, i + 1);
    for (int i = 0; i < 2; i++)
        if (in[i] >= 0 && in[1 - i] < 0 && lua_type(L, 2 - i) == LUA_TNUMBER)
            return push_scalar(L, scalar, in[i], scalar_arg(L, 2 - i, sym));
    for (int i = 0; i < 2; i++)
        if (in[i] < 0) {
            if (meta)
                return sb_raise(L, "runtime", 1, "%s: the operands of '%s' must be nodes or a "
                                "node and a number, got %s and %s", name, sym,
                                luaL_typename(L, 1), luaL_typename(L, 2));
            argerr(L, i + 1, name, "runtime", "node or number expected, got %s",
                   luaL_typename(L, i + 1));
        }
    return push_added(L, op, NULL, in, 2);
}

static int nn_add(lua_State *L) { return binary(L, GRAPH_OP_ADD, 0); }
static int nn_mul(lua_State *L) { return binary(L, GRAPH_OP_MUL, 0); }
static int node_add(lua_State *L) { return binary(L, GRAPH_OP_ADD, 1); }
static int node_mul(lua_State *L) { return binary(L, GRAPH_OP_MUL, 1); }

/* -x: x * -1. */
static int node_unm(lua_State *L)
{
    return push_scalar(L, GRAPH_OP_MUL_SCALAR, sb_node_id(L, 1), -1.0);
}

/* a - b: a + (-1 * b) for two nodes, x + (-v) and v + (-1 * x) with a number. */
static int node_sub(lua_State *L)
{
    int a = sb_node_id(L, 1), b = sb_node_id(L, 2);
    if (a >= 0 && b < 0 && lua_type(L, 2) == LUA_TNUMBER)
        return push_scalar(L, GRAPH_OP_ADD_SCALAR, a, -scalar_arg(L, 2, "-"));
    if (a < 0 && b >= 0 && lua_type(L, 1) == LUA_TNUMBER) {
        double v = scalar_arg(L, 1, "-");
        push_scalar(L, GRAPH_OP_MUL_SCALAR, b, -1.0);
        return push_scalar(L, GRAPH_OP_ADD_SCALAR, sb_node_id(L, -1), v);
    }
    if (a < 0 || b < 0)
        return sb_raise(L, "runtime", 1, "sub: the operands of '-' must be nodes or a node "
                        "and a number, got %s and %s", luaL_typename(L, 1), luaL_typename(L, 2));
    push_scalar(L, GRAPH_OP_MUL_SCALAR, b, -1.0);
    int in[2] = {a, sb_node_id(L, -1)};
    return push_added(L, GRAPH_OP_ADD, NULL, in, 2);
}

/* x / v: x * (1 / v). Dividing by a node has no op. */
static int node_div(lua_State *L)
{
    int a = sb_node_id(L, 1);
    if (a < 0 || lua_type(L, 2) != LUA_TNUMBER)
        return sb_raise(L, "runtime", 1, "div: '/' takes a node divided by a number, got %s "
                        "and %s (dividing by a node is not supported)", luaL_typename(L, 1),
                        luaL_typename(L, 2));
    double v = scalar_arg(L, 2, "/");
    if (v == 0)
        return sb_raise(L, "runtime", 1, "div: division of a node by zero");
    return push_scalar(L, GRAPH_OP_MUL_SCALAR, a, 1.0 / v);
}

/* nn.cat({a, b, ...} [, 1]) or nn.cat(a, b, ...): any number of nodes up to
 * the node cap (each input is an edge the graph stores). */
static int nn_cat(lua_State *L)
{
    const char *name = graph_op_name(GRAPH_OP_CAT);
    argctx c = {L, name, 2};
    int table = lua_type(L, 1) == LUA_TTABLE;
    if (table && !lua_isnoneornil(L, 2) && get_int(&c, 2, "dim", 0, 3) != 1)
        argerr(L, 2, name, "runtime", "only dim 1 (channels) is supported");
    lua_Unsigned n = table ? lua_rawlen(L, 1) : (lua_Unsigned)lua_gettop(L);
    sb_env *s = sb_env_get(L);
    /* the graph's cap counts the input node too */
    lua_Unsigned cap = (lua_Unsigned)(s->g->max_nodes > 1 ? s->g->max_nodes - 1
                                                          : GRAPH_DEFAULT_MAX_NODES);
    if (n > cap)
        argerr(L, 1, name, "too_large", "at most %llu nodes can be concatenated, got %llu",
               (unsigned long long)cap, (unsigned long long)n);
    if (n < 2)
        argerr(L, 1, name, "runtime", "at least two nodes expected, got %d", (int)n);
    int *ids = lua_newuserdatauv(L, (size_t)n * sizeof *ids, 0);  /* freed by the GC */
    for (lua_Unsigned i = 1; i <= n; i++) {
        if (!table) {
            ids[i - 1] = check_node(L, (int)i, name);
            continue;
        }
        lua_rawgeti(L, 1, (lua_Integer)i);
        ids[i - 1] = sb_node_id(L, -1);
        if (ids[i - 1] < 0)
            argerr(L, 1, name, "runtime", "element %d is not a node (%s)", (int)i,
                   luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return push_added(L, GRAPH_OP_CAT, NULL, ids, (int)n);
}

/* ---- the nn table ------------------------------------------------------------------ */

void sb_push_shape(lua_State *L, const graph_shape *s)
{
    lua_createtable(L, s->rank, 0);
    lua_pushliteral(L, "B");
    lua_rawseti(L, -2, 1);
    for (int i = 1; i < s->rank; i++) {
        lua_pushinteger(L, s->dim[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

int sb_nn_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    if (lua_type(L, 2) == LUA_TSTRING) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int op = GRAPH_OP_INPUT + 1; op < GRAPH_OP_COUNT; op++) {
            if (op > GRAPH_OP_INPUT + 1)
                luaL_addstring(&b, ", ");
            luaL_addstring(&b, graph_op_name((graph_op)op));
        }
        luaL_pushresult(&b);
        return luaL_error(L, "nn has no op '%s' (ops: %s)", lua_tostring(L, 2),
                          lua_tostring(L, -1));
    }
    return luaL_error(L, "nn has no such field");
}

/* ---- node metatable ----------------------------------------------------------------- */

/* x:mean{2, 3} / x:max{2, 3} (also x:amax): PyTorch's x.mean((2, 3)) over the spatial
 * dims (0-based, as PyTorch counts: 2 = H, 3 = W; -2 and -1 too), [B, C] — or
 * [B, C, 1, 1] with keepdim (x:mean({2, 3}, true) or x:mean{2, 3, keepdim = true}):
 * the global pooling op, flattened unless keepdim. */
static int node_reduce(lua_State *L, graph_op op, const char *what)
{
    int x = sb_node_id(L, 1);
    if (x < 0)
        return sb_raise(L, "runtime", 1, "%s: call it as a method, x:%s{2, 3}", what, what);
    const graph_shape *s = shape_of(L, x);
    char b[96];
    int keep = 0, dims = 0, ok = lua_type(L, 2) == LUA_TTABLE;
    if (ok) {
        lua_Unsigned len = lua_rawlen(L, 2);
        for (lua_Unsigned i = 1; i <= len && ok; i++) {
            lua_rawgeti(L, 2, (lua_Integer)i);
            lua_Integer d = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 99;
            lua_pop(L, 1);
            d = d < 0 ? d + 4 : d;
            ok = (d == 2 || d == 3) && !(dims & (1 << d));
            dims |= (int)(1 << (d & 7));
        }
        lua_getfield(L, 2, "keepdim");
        keep = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    ok = ok && dims == ((1 << 2) | (1 << 3));
    if (!ok)
        return sb_raise(L, "runtime", 1, "%s: only the spatial dims of [B, C, H, W] can be "
                        "reduced: x:%s{2, 3} (PyTorch's dims: 2 = H, 3 = W) gives [B, C], "
                        "x:%s({2, 3}, true) [B, C, 1, 1]", what, what, what);
    if (!lua_isnoneornil(L, 3)) {
        if (lua_type(L, 3) != LUA_TBOOLEAN)
            return sb_raise(L, "runtime", 1, "%s: keepdim must be true or false, got %s", what,
                            luaL_typename(L, 3));
        keep = lua_toboolean(L, 3);
    }
    if (s->rank != 4)
        return sb_raise(L, "shape", 1, "%s: expected a [B, C, H, W] node, got %s", what,
                        graph_shape_str(s, b, sizeof b));
    push_added(L, op, NULL, &x, 1);
    if (keep)
        return 1;
    int p = sb_node_id(L, -1);
    return push_added(L, GRAPH_OP_FLATTEN, NULL, &p, 1);
}

static int node_mean(lua_State *L) { return node_reduce(L, GRAPH_OP_ADAPTIVEAVGPOOL2D, "mean"); }
static int node_max(lua_State *L) { return node_reduce(L, GRAPH_OP_ADAPTIVEMAXPOOL2D, "max"); }
static int node_amax(lua_State *L) { return node_reduce(L, GRAPH_OP_ADAPTIVEMAXPOOL2D, "amax"); }

static int node_index(lua_State *L)
{
    int id = sb_node_id(L, 1);
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "shape") == 0) {
        sb_push_shape(L, shape_of(L, id));
        return 1;
    }
    static const luaL_Reg methods[] = {
        {"mean", node_mean}, {"max", node_max}, {"amax", node_amax}, {NULL, NULL}};
    for (int i = 0; k && methods[i].name; i++)
        if (strcmp(k, methods[i].name) == 0) {
            lua_pushcfunction(L, methods[i].func);
            return 1;
        }
    return sb_raise(L, "runtime", 1, "a node has no field '%.40s' (nodes have: shape, "
                    "mean, max, amax)", k ? k : luaL_typename(L, 2));
}

static int node_newindex(lua_State *L)
{
    return sb_raise(L, "runtime", 1, "nodes are read-only");
}

static int node_tostring(lua_State *L)
{
    int id = sb_node_id(L, 1);
    const graph_node *n = &sb_env_get(L)->g->nodes[id];
    char b[96];
    lua_pushfstring(L, "node %s %s", graph_op_name(n->op), graph_shape_str(&n->shape, b, sizeof b));
    return 1;
}

/* The ops whose arguments need more than nn_unary reads. */
static const lua_CFunction builders[GRAPH_OP_COUNT] = {
    [GRAPH_OP_CONV2D] = nn_conv2d, [GRAPH_OP_BATCHNORM2D] = nn_batchnorm,
    [GRAPH_OP_BATCHNORM1D] = nn_batchnorm, [GRAPH_OP_LAYERNORM] = nn_layernorm,
    [GRAPH_OP_MAXPOOL2D] = nn_maxpool2d, [GRAPH_OP_AVGPOOL2D] = nn_avgpool2d,
    [GRAPH_OP_ADAPTIVEAVGPOOL2D] = nn_adaptive, [GRAPH_OP_ADAPTIVEMAXPOOL2D] = nn_adaptive,
    [GRAPH_OP_FLATTEN] = nn_flatten,
    [GRAPH_OP_LINEAR] = nn_linear, [GRAPH_OP_ADD] = nn_add, [GRAPH_OP_MUL] = nn_mul,
    [GRAPH_OP_CAT] = nn_cat,
};

void sb_open_nn(lua_State *L)
{
    static const luaL_Reg node_meta[] = {
        {"__index", node_index}, {"__newindex", node_newindex}, {"__add", node_add},
        {"__mul", node_mul}, {"__sub", node_sub}, {"__unm", node_unm}, {"__div", node_div},
        {"__tostring", node_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, NODE_MT);
    luaL_setfuncs(L, node_meta, 0);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_createtable(L, 0, GRAPH_OP_COUNT);
    for (int op = GRAPH_OP_INPUT + 1; op < GRAPH_OP_COUNT; op++) {
        if (builders[op]) {  /* the op as upvalue, for builders shared by several ops */
            lua_pushinteger(L, op);
            lua_pushcclosure(L, builders[op], 1);
        } else {
            lua_pushinteger(L, op);
            lua_pushcclosure(L, nn_unary, 1);
        }
        lua_setfield(L, -2, graph_op_name((graph_op)op));
    }
}
