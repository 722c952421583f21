/*
 * mpi.c — the `mpi` Lua module: messages between the ranks of `mpirun -n N llmnas run`
 * (runtime/mpi/mpi_api.h; the protocol is stdlib/llmnas/mpi.lua's).
 *
 *   mpi.launched()              → true when mpirun / srun started this process
 *   mpi.start()                 → rank, size (loads the plugin, MPI_Init; once)
 *   mpi.send(dest, tag, bytes)  → true | raises
 *   mpi.poll(timeout)           → src, tag, bytes | nil after timeout seconds (< 0: wait)
 *   mpi.finalize(), mpi.abort(code)
 *
 * Nothing here touches MPI unless mpi.start() is called, and that loads the plugin.
 * poll honours Ctrl-C (raises the interrupt) and sleeps in slices of at most 2 ms.
 */
#include "host/host.h"
#include "base/rt.h"
#include "mpi/mpi_api.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <time.h>

static const mpi_api *api;
static int started, finalized, my_rank, my_size;

static const mpi_api *need(lua_State *L)
{
    if (!started || finalized)
        luaL_error(L, "mpi: not started (mpi.start() under mpirun first)");
    return api;
}

static int l_launched(lua_State *L)
{
    lua_pushboolean(L, mpi_launched());
    return 1;
}

static int l_start(lua_State *L)
{
    if (!started) {
        char err[512];
        if (mpi_load(&api, err, sizeof err) != 0)
            return luaL_error(L, "%s", err);
        if (api->init(&my_rank, &my_size, err, sizeof err) != 0)
            return luaL_error(L, "%s", err);
        started = 1;
    }
    lua_pushinteger(L, my_rank);
    lua_pushinteger(L, my_size);
    return 2;
}

static int l_send(lua_State *L)
{
    const mpi_api *a = need(L);
    int dest = (int)luaL_checkinteger(L, 1), tag = (int)luaL_checkinteger(L, 2);
    size_t len;
    const char *buf = luaL_checklstring(L, 3, &len);
    luaL_argcheck(L, dest >= 0 && dest < my_size, 1, "no such rank");
    char err[512];
    if (a->send(dest, tag, buf, len, err, sizeof err) != 0)
        return luaL_error(L, "%s (to rank %d)", err, dest);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_poll(lua_State *L)
{
    const mpi_api *a = need(L);
    double timeout = luaL_optnumber(L, 1, -1);
    double end = timeout < 0 ? -1 : rt_now() + timeout;
    for (;;) {
        int src, tag;
        size_t len;
        if (a->probe(&src, &tag, &len)) {
            char *buf = malloc(len ? len : 1);
            if (!buf)
                return luaL_error(L, "mpi: out of memory for a message of %zu bytes", len);
            char err[512];
            if (a->recv(src, tag, buf, len, err, sizeof err) != 0) {
                free(buf);
                return luaL_error(L, "%s (from rank %d)", err, src);
            }
            lua_pushinteger(L, src);
            lua_pushinteger(L, tag);
            lua_pushlstring(L, buf, len);
            free(buf);
            return 3;
        }
        if (rt_interrupted())
            return host_raise_interrupt(L);
        if (end >= 0 && rt_now() >= end)
            return 0;
        /* a busy loop would take a core from the trainers sharing the node */
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static int l_finalize(lua_State *L)
{
    if (started && !finalized) {
        finalized = 1;
        api->finalize();
    }
    return 0;
}

static int l_abort(lua_State *L)
{
    int code = (int)luaL_optinteger(L, 1, 1);
    if (started && !finalized)
        api->abort(code);
    return 0;
}

int luaopen_llmnas_mpi(lua_State *L);
int luaopen_llmnas_mpi(lua_State *L)
{
    static const luaL_Reg fns[] = {{"launched", l_launched}, {"start", l_start},
                                   {"send", l_send},         {"poll", l_poll},
                                   {"finalize", l_finalize}, {"abort", l_abort},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
