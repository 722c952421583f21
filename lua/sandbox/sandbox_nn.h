/*
 * sandbox_nn.h — the nn builder of the candidate language (sandbox_nn.c),
 * as the sandbox (sandbox.c) uses it. It depends on sandbox_env.h only.
 * Not a public interface.
 */
#ifndef LLMNAS_SANDBOX_NN_H
#define LLMNAS_SANDBOX_NN_H

#include <lua.h>

#include "graph/graph.h"

/* Push the nn library (a plain table with one function per op of the op
 * table; the sandbox makes it read-only) and create the node metatable. */
void sb_open_nn(lua_State *L);

/* __index of the read-only nn proxy (upvalue 1: the table sb_open_nn
 * pushed): a name that is no op raises an error listing the ops. */
int sb_nn_index(lua_State *L);

/* Push a node for graph node id. */
void sb_push_node(lua_State *L, int id);

/* The graph node id of the node at idx, or -1 if it is not a node. */
int sb_node_id(lua_State *L, int idx);

/* Push a shape as candidates see it: {"B", d1, d2, ...} (the batch is symbolic).
 * arch's node views use it too, so both show one form. */
void sb_push_shape(lua_State *L, const graph_shape *s);

#endif
