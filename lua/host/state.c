/*
 * state.c — the strategy's Lua state (host_new_state, see host.h): trusted
 * user code with the standard libraries, the built-in modules (modules.h),
 * the embedded stdlib. It opens the bindings (lua/bind/), which use host.c's
 * helpers, so it stands above both.
 */
#include "host/host.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLMNAS_MODULE(name, fn) int fn(lua_State *L);
#include "host/modules.h"
#undef LLMNAS_MODULE

static const luaL_Reg builtin_modules[] = {
#define LLMNAS_MODULE(name, fn) {name, fn},
#include "host/modules.h"
#undef LLMNAS_MODULE
    {NULL, NULL}};

/* package.path = "DIR/?.lua;DIR/?/init.lua;" .. package.path */
static void prepend_script_dir(lua_State *L, const char *script_path)
{
    const char *slash = strrchr(script_path, '/');
    lua_getglobal(L, "package");
    if (slash)
        lua_pushlstring(L, script_path, (size_t)(slash - script_path));
    else
        lua_pushliteral(L, ".");
    const char *dir = lua_tostring(L, -1);
    lua_getfield(L, -2, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -4, "path");
    lua_pop(L, 3);
}

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static int open_all(lua_State *L)
{
    const char *script_path = lua_touserdata(L, 1);
    luaL_openlibs(L);
    host_open_stdlib(L);
    if (script_path)
        prepend_script_dir(L, script_path);
    for (const luaL_Reg *m = builtin_modules; m->name; m++) {
        luaL_requiref(L, m->name, m->func, 1);
        lua_pop(L, 1);
    }
    return 0;
}

lua_State *host_new_state(const char *script_path)
{
    lua_State *L = lua_newstate(host_alloc, NULL);
    if (L == NULL)
        return NULL;
    lua_pushcfunction(L, open_all);
    lua_pushlightuserdata(L, (void *)script_path);
    if (host_pcall(L, 1, 0) != LUA_OK) {
        fprintf(stderr, "llmnas: cannot set up Lua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}
