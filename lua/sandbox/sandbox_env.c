/*
 * sandbox_env.c — the candidate's graph and error kinds, shared by the
 * sandbox and the nn builder (see sandbox_env.h).
 */
#include "sandbox/sandbox_env.h"

#include "base/rt.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sb_env_set(lua_State *L, sb_env *e)
{
    memcpy(lua_getextraspace(L), &e, sizeof e);
}

sb_env *sb_env_get(lua_State *L)
{
    sb_env *e;
    memcpy(&e, lua_getextraspace(L), sizeof e);  /* threads inherit the main state's */
    return e;
}

int sb_raise(lua_State *L, const char *kind, int where, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (where)
        luaL_where(L, 1);
    else
        lua_pushliteral(L, "");
    lua_pushstring(L, buf);
    lua_concat(L, 2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SB_LASTERR);
    sb_env *e = sb_env_get(L);
    rt_fmt(e->kind, sizeof e->kind, "%s", kind);
    return lua_error(L);
}
