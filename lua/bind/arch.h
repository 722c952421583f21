/*
 * arch.h — the `arch` Lua module (lua/arch.c): compile candidate programs in a
 * forked worker and wrap the resulting graph as an "llmnas.Graph" userdata.
 * Other bindings (e.g. train.evaluate) take and return graphs through these.
 */
#ifndef LLMNAS_ARCH_H
#define LLMNAS_ARCH_H

#include <lua.h>
#include "graph/graph.h"

/* The graph in the llmnas.Graph userdata at idx; raises a Lua argument error
 * ("llmnas.Graph expected, got ...") otherwise. The graph stays owned by the
 * userdata: do not free it, do not keep it beyond the userdata's life. */
graph *arch_check_graph(lua_State *L, int idx);

/* Push a new llmnas.Graph userdata wrapping g; takes ownership of g (freed by
 * the userdata's __gc / __close). g should be finalized. */
void arch_push_graph(lua_State *L, graph *g);

int luaopen_llmnas_arch(lua_State *L);

#endif
