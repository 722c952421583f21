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

/* Seconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
double rt_now(void);

/* snprintf that always NUL-terminates and never overflows; returns dst. */
char *rt_fmt(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
