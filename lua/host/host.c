/*
 * host.c — what the strategy's Lua state and every binding share (see
 * host.h): protected calls with tracebacks, user errors, the one option
 * reader, and Ctrl-C turned into a Lua error at a safe point. The state
 * itself, with the modules opened, is made in state.c, above the bindings.
 */
#include "host/host.h"

#include "base/rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static lua_State *interrupt_L;  /* the state the SIGINT handler stops */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    /* The hook stays installed: a pcall in the script cannot swallow the stop,
     * because the next instruction after it raises again. */
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        luaL_error(L, "%s:%d: interrupted", ar->short_src, ar->currentline);
    luaL_error(L, "interrupted");
}

/* Runs in the SIGINT handler (rt_catch_interrupt): lua_sethook is safe there. */
static void stop_state(void)
{
    if (interrupt_L)
        lua_sethook(interrupt_L, stop_hook, LUA_MASKCOUNT, 1);
}

void host_catch_interrupt(lua_State *L)
{
    interrupt_L = L;
    rt_catch_interrupt(stop_state);
}

void host_release_interrupt(void)
{
    if (interrupt_L) {
        lua_sethook(interrupt_L, NULL, 0, 0);
        rt_release_interrupt();
        interrupt_L = NULL;
    }
}

int host_raise_interrupt(lua_State *L)
{
    return luaL_error(L, "interrupted");
}

int host_user_error(lua_State *L, int idx, const char **message)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    int code = 0;
    if (lua_getfield(L, idx, "exit") == LUA_TNUMBER && lua_isinteger(L, -1)) {
        lua_Integer c = lua_tointeger(L, -1);
        /* Only the sysexits a user's setup can cause: a script cannot fake success. */
        if (c == EX_USAGE || c == EX_UNAVAILABLE || c == EX_CONFIG || c == EX_NOINPUT ||
            c == EX_DATAERR)
            code = (int)c;
    }
    lua_pop(L, 1);
    if (!code)
        return 0;
    if (lua_getfield(L, idx, "message") != LUA_TSTRING)
        code = 0;
    else if (message)
        *message = lua_tostring(L, -1); /* kept alive by the error table */
    lua_pop(L, 1);
    return code;
}

/* Message handler: the error as text (never calling a metamethod of a table
 * error object other than __tostring), plus a traceback. */
static int message_handler(lua_State *L)
{
    if (host_user_error(L, 1, NULL))
        return 1; /* a user's mistake, said in one line: no traceback */
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int host_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

int host_fail(lua_State *L, const char *message, const char *kind)
{
    luaL_pushfail(L);
    lua_pushstring(L, message);
    lua_pushstring(L, kind);
    return 3;
}

lua_Integer host_opt_int(lua_State *L, int t, int arg, const char *fname, const char *k,
                         lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    lua_getfield(L, t, k);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < lo || v > hi)
            luaL_error(L, "bad argument #%d to '%s' (%s must be an integer in [%I, %I])", arg, fname,
                       k, lo, hi);
    }
    lua_pop(L, 1);
    return v;
}

double host_opt_num(lua_State *L, int t, int arg, const char *fname, const char *k, double def,
                    double lo, double hi)
{
    lua_getfield(L, t, k);
    double v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok || !(v >= lo && v <= hi)) {
            if (lo > 0 && hi == HUGE_VAL)
                luaL_error(L, "bad argument #%d to '%s' (%s must be a positive number)", arg, fname, k);
            luaL_error(L, "bad argument #%d to '%s' (%s must be a number in [%f, %f])", arg, fname, k,
                       lo, hi);
        }
    }
    lua_pop(L, 1);
    return v;
}

int host_opt_bool(lua_State *L, int t, const char *k, int def)
{
    lua_getfield(L, t, k);
    int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *host_opt_str(lua_State *L, int t, int arg, const char *fname, const char *k,
                         const char *def)
{
    lua_getfield(L, t, k);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad argument #%d to '%s' (%s must be a string)", arg, fname, k);
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
    return v;
}
