/*
 * core.c — the `core` module (see core.h):
 *   core.version              "0.1.0"
 *   core.now()                monotonic seconds (float)
 *   core.interrupted()        true once Ctrl-C was pressed
 *   core.isatty(fd)           whether fd (0, 1, 2) is a terminal
 *   core.set_resume_hint(s)   printed by the host if the run is interrupted
 *   core.sha256(s)            lowercase hex SHA-256 of s
 */
#include "host/core.h"
#include "base/hash.h"
#include "host/host.h"
#include "base/rt.h"

#include <string.h>
#include <unistd.h>

static char resume_hint[1024];

const char *core_resume_hint(void)
{
    return resume_hint[0] ? resume_hint : NULL;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, rt_now());
    return 1;
}

static int l_interrupted(lua_State *L)
{
    lua_pushboolean(L, rt_interrupted());
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= 2, 1, "fd must be 0, 1 or 2");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

static int l_set_resume_hint(lua_State *L)
{
    size_t len;
    const char *s = luaL_optlstring(L, 1, "", &len);
    luaL_argcheck(L, len < sizeof resume_hint, 1, "hint too long");
    memcpy(resume_hint, s, len + 1);
    return 0;
}

static int l_sha256(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char hex[HASH_SHA256_HEX];
    if (hash_sha256_hex(s, len, hex) != 0)
        return luaL_error(L, "sha256: libcrypto failed");
    lua_pushstring(L, hex);
    return 1;
}

int luaopen_llmnas_core(lua_State *L);
int luaopen_llmnas_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"now", l_now},
        {"interrupted", l_interrupted},
        {"isatty", l_isatty},
        {"set_resume_hint", l_set_resume_hint},
        {"sha256", l_sha256},
        {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_pushliteral(L, LLMNAS_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
