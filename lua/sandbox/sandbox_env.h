/*
 * sandbox_env.h — what the nn builder (sandbox_nn.c) needs of the sandbox:
 * the graph being built and a way to raise an error of a given kind. The
 * sandbox (sandbox.c) creates the state and sets this; the builder never
 * sees the limits. Not a public interface.
 */
#ifndef LLMNAS_SANDBOX_ENV_H
#define LLMNAS_SANDBOX_ENV_H

#include <lua.h>

#include "graph/graph.h"
#include "sandbox/sandbox.h"

typedef struct sb_env {
    graph *g;                    /* the network being built */
    char kind[SANDBOX_KIND_LEN]; /* kind of the last error raised by sb_raise */
} sb_env;

/* Attach e to L (kept in L's extra space; e must outlive L). */
void sb_env_set(lua_State *L, sb_env *e);

/* The env attached to L (or to the state L is a thread of). */
sb_env *sb_env_get(lua_State *L);

/* Raise a Lua error of the given kind (recorded, with the error value under
 * SB_LASTERR, so the final verdict can recover it). where = 1 prefixes the
 * caller's "candidate:LINE: ". */
int sb_raise(lua_State *L, const char *kind, int where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Registry key of the last error value raised by sb_raise (compared with the
 * final error to recover its kind). */
#define SB_LASTERR "llmnas.sandbox.lasterr"

#endif
