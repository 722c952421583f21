/*
 * host.h — the Lua host: the strategy's Lua state, protected calls, error values.
 * lua/ is the only folder that includes lua.h; every binding (lua/<module>.c)
 * uses these helpers so errors look the same everywhere.
 *
 * Two error channels (as in Lua's own io library):
 *   - wrong arguments raise: luaL_argerror / luaL_error ("bad argument #2 to 'Conv2d' (...)");
 *   - expected failures return `nil, message, kind` via host_fail().
 */
#ifndef LLMNAS_HOST_H
#define LLMNAS_HOST_H

#include <lua.h>
#include <lauxlib.h>

/* A new state for trusted user code (state.c): standard libraries open, the built-in
 * modules (modules.h) preloaded and set as globals, the embedded stdlib
 * searchable by require, and package.path starting with the script's own
 * directory. script_path may be NULL. Returns NULL on out-of-memory. */
lua_State *host_new_state(const char *script_path);

/* lua_pcall with a message handler that appends a traceback (and names the
 * script file and line). On error the message is left on the stack. */
int host_pcall(lua_State *L, int nargs, int nresults);

/* A user error: a table {exit = CODE, message = "one line"} raised by the stdlib for a
 * mistake in the user's setup (no model configured, an unreachable server), which the
 * host prints as one line and exits with CODE, never with a traceback. CODE is one of
 * EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_CONFIG (anything else is an
 * ordinary error). Returns CODE and *message (may be NULL), or 0 when the value at idx
 * is not such a table. */
int host_user_error(lua_State *L, int idx, const char **message);

/* Push nil, message, kind; return 3 (use as `return host_fail(L, msg, kind)`). */
int host_fail(lua_State *L, const char *message, const char *kind);

/* The one option reader of every binding (the modules of lua/bind/).
 * Field k of the options table at index t, argument #arg of function fname:
 * def when absent, else an integer (a number) within [lo, hi]; anything else
 * raises "bad argument #2 to 'evaluate' (lr must be a number in [0, 1])".
 * host_opt_num with lo > 0 and hi = HUGE_VAL says "a positive number". */
lua_Integer host_opt_int(lua_State *L, int t, int arg, const char *fname, const char *k,
                         lua_Integer def, lua_Integer lo, lua_Integer hi);
double host_opt_num(lua_State *L, int t, int arg, const char *fname, const char *k, double def,
                    double lo, double hi);

/* The same reader for the other option types: a boolean field (def when
 * absent; any value counts by Lua truth), and a string field (def when
 * absent; a non-string raises "bad argument #2 to 'evaluate' (dataset must be
 * a string)"). The string stays valid while the options table holds it. */
int host_opt_bool(lua_State *L, int t, const char *k, int def);
const char *host_opt_str(lua_State *L, int t, int arg, const char *fname, const char *k,
                         const char *def);

/* Install / remove the SIGINT handler (rt_catch_interrupt, the one path of
 * every command) so that Ctrl-C also makes the Lua state raise "interrupted"
 * at its next instruction (a hook that stays on, so pcall cannot swallow it). */
void host_catch_interrupt(lua_State *L);
void host_release_interrupt(void);

/* Raise the standard "interrupted" error from C code that saw rt_interrupted(). */
int host_raise_interrupt(lua_State *L);

/* Register the embedded stdlib searcher (lua/stdlib.c). */
void host_open_stdlib(lua_State *L);

#endif
