/*
 * rt.h — small runtime services shared by every layer (Lua-free):
 * the interrupt flag set by Ctrl-C, a monotonic clock, bounded string formatting.
 */
#ifndef LLMNAS_RT_H
#define LLMNAS_RT_H

#include <signal.h>
#include <stddef.h>

/* Set to 1 by the SIGINT handler. Long-running C code (training, waiting on an
 * LLM, waiting on a worker) polls rt_interrupted() and returns its own
 * "interrupted" error; the Lua host turns that into a clean stop (exit 130). */
extern volatile sig_atomic_t rt_interrupt_flag;
static inline int rt_interrupted(void) { return rt_interrupt_flag != 0; }

/* The one SIGINT path of every command. While installed, the first Ctrl-C sets
 * rt_interrupt_flag and calls on_first (NULL: nothing more; it runs in the
 * signal handler, so it must be async-signal-safe — the Lua host passes a
 * lua_sethook call); a second Ctrl-C restores the previous action and
 * re-raises, so a user can always get out of a stuck call.
 * rt_release_interrupt restores the action saved by the matching catch.
 * Calls do not nest: catch, release, catch again is fine. */
void rt_catch_interrupt(void (*on_first)(void));
void rt_release_interrupt(void);

/* Seconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
double rt_now(void);

/* snprintf that always NUL-terminates and never overflows; returns dst. */
char *rt_fmt(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
