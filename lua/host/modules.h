/*
 * modules.h — the built-in Lua modules, one X-macro line each:
 *   LLMNAS_MODULE(global_name, opener)
 * Each module is preloaded (require "name") and set as a global of the same name in
 * the strategy's state (lua/host/state.c). The opener lives in lua/bind/<name>.c (core:
 * lua/host/core.c). Add a line, never reorder.
 */
LLMNAS_MODULE("json", luaopen_llmnas_json)
LLMNAS_MODULE("core", luaopen_llmnas_core)
LLMNAS_MODULE("memory", luaopen_llmnas_memory)
LLMNAS_MODULE("arch", luaopen_llmnas_arch)
LLMNAS_MODULE("train", luaopen_llmnas_train)
LLMNAS_MODULE("llm", luaopen_llmnas_llm)
LLMNAS_MODULE("mpi", luaopen_llmnas_mpi)
