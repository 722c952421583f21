/*
 * memory.h — the memory module's userdata for other bindings (the other lua/ files):
 * a binding that takes a db (e.g. an LLM client's replay cache, wired to
 * mem_llm_get / mem_llm_put) gets the C store behind it here.
 */
#ifndef LLMNAS_LUA_MEMORY_H
#define LLMNAS_LUA_MEMORY_H

#include <lua.h>

#include "store.h"

#define MEMORY_MT "llmnas.Memory"

/* The store of the "llmnas.Memory" userdata at arg; raises "bad argument"
 * if it is something else and "attempt to use a closed memory" if closed.
 * The store belongs to the userdata: keep a reference to the userdata (e.g.
 * in a uservalue or the registry) for as long as the pointer is used. */
mem_store *memory_checkstore(lua_State *L, int arg);

/* As memory_checkstore, but NULL instead of raising (also when closed). */
mem_store *memory_teststore(lua_State *L, int arg);

#endif
