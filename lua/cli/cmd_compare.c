/*
 * cmd_compare.c — `llmnas compare DB[:RUN]...`: search strategies compared at
 * equal training compute (best accuracy so far, median and min-max over seeds).
 * The logic is the embedded stdlib module llmnas.compare (plain Lua over the
 * memory module); this file only starts it with the command's arguments.
 */
#include "cli/cli.h"
#include "host/host.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

int cmd_compare(int argc, char **argv);
int cmd_compare(int argc, char **argv)
{
    lua_State *L = host_new_state(NULL);
    if (L == NULL) {
        cli_error("cannot create the Lua state (out of memory)");
        return EX_OSERR;
    }
    lua_getglobal(L, "require");
    lua_pushstring(L, "llmnas.compare");
    int rc = EX_SOFTWARE;
    if (host_pcall(L, 1, 1) == LUA_OK) {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        if (host_pcall(L, 1, 1) == LUA_OK)
            rc = (int)luaL_optinteger(L, -1, EX_OK);
        else
            cli_error("%s", lua_tostring(L, -1));
    } else {
        cli_error("%s", lua_tostring(L, -1));
    }
    lua_close(L);
    return rc;
}
