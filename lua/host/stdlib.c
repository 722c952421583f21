/*
 * stdlib.c — `require` for the stdlib compiled into the binary (the .lua files of stdlib/,
 * turned into C by lua/tools/embed.c). With LLMNAS_STDLIB_DIR set, modules are
 * read from that folder instead, so stdlib work needs no rebuild.
 */
#include "host/host.h"

#include <stdlib.h>
#include <string.h>

struct stdlib_file { const char *name, *path, *source; size_t len; };
extern const struct stdlib_file stdlib_files[];

/* Searcher for LLMNAS_STDLIB_DIR: NAME -> DIR/NAME.lua or DIR/NAME/init.lua. */
static int search_dir(lua_State *L, const char *dir, const char *name)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, dir);
    luaL_addstring(&b, "/?.lua;");
    luaL_addstring(&b, dir);
    luaL_addstring(&b, "/?/init.lua");
    luaL_pushresult(&b);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_pushvalue(L, -4);
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2)) {
        lua_pushfstring(L, "no stdlib module '%s' in LLMNAS_STDLIB_DIR (%s)", name, dir);
        return 1;
    }
    const char *file = lua_tostring(L, -2);
    if (luaL_loadfilex(L, file, "t") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, file);
    return 2;
}

static int search_embedded(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *dir = getenv("LLMNAS_STDLIB_DIR");
    if (dir && *dir)
        return search_dir(L, dir, name);
    for (const struct stdlib_file *f = stdlib_files; f->name; f++) {
        if (strcmp(f->name, name) != 0)
            continue;
        lua_pushfstring(L, "@%s", f->path);
        if (luaL_loadbufferx(L, f->source, f->len, lua_tostring(L, -1), "t") != LUA_OK)
            return lua_error(L);
        lua_pushfstring(L, "%s", f->path);
        return 2;
    }
    lua_pushfstring(L, "no embedded stdlib module '%s'", name);
    return 1;
}

void host_open_stdlib(lua_State *L)
{
    /* Insert after the preload searcher, before package.path. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = n; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, search_embedded);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}
