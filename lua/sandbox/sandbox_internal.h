/*
 * sandbox_internal.h — shared by sandbox.c (the state and its limits) and
 * sandbox_nn.c (the nn builder). Not a public interface.
 */
#ifndef LLMNAS_SANDBOX_INTERNAL_H
#define LLMNAS_SANDBOX_INTERNAL_H

#include <lua.h>

#include "graph/graph.h"
#include "sandbox/sandbox.h"

/* Per-candidate state; the allocator's userdata, so every thread of the
 * candidate's Lua state reaches it with lua_getallocf. */
typedef struct sb {
    size_t used, cap;            /* allocator accounting */
    int mem_hit;                 /* an allocation was refused */
    long long budget, spent;     /* instruction budget */
    int budget_hit;
    double cpu_start, cpu_limit; /* thread CPU seconds; limit 0 = none */
    int cpu_hit;
    char where[128];             /* "candidate:12:" where the budget ran out */
    graph *g;                    /* the network being built */
    const sandbox_opts *o;
    char kind[SANDBOX_KIND_LEN]; /* kind of the last error raised by nn */
} sb;

sb *sb_get(lua_State *L);

/* Push the nn library (a plain table of functions; sandbox.c makes it
 * read-only) and create the node metatable. */
void sb_open_nn(lua_State *L);

/* Push a node for graph node id. */
void sb_push_node(lua_State *L, int id);

/* The graph node id of the node at idx, or -1 if it is not a node. */
int sb_node_id(lua_State *L, int idx);

/* Raise a Lua error of the given kind (recorded so the final verdict can
 * recover it). where = 1 prefixes the caller's "candidate:LINE: ". */
int sb_raise(lua_State *L, const char *kind, int where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Registry key of the last error value raised by nn (compared with the final
 * error to recover its kind). */
#define SB_LASTERR "llmnas.sandbox.lasterr"

#endif
