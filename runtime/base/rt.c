/* rt.c — see rt.h. */
#include "base/rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t rt_interrupt_flag = 0;

static void (*volatile first_hook)(void);
static struct sigaction old_sigint;
static volatile sig_atomic_t caught;

static void on_sigint(int sig)
{
    (void)sig;
    if (rt_interrupt_flag) {
        /* Second Ctrl-C: the user wants out now. */
        sigaction(SIGINT, &old_sigint, NULL);
        raise(SIGINT);
        return;
    }
    rt_interrupt_flag = 1;
    void (*hook)(void) = first_hook;
    if (hook)
        hook();
}

void rt_catch_interrupt(void (*on_first)(void))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    first_hook = on_first;
    sigaction(SIGINT, &sa, &old_sigint);
    caught = 1;
}

void rt_release_interrupt(void)
{
    if (!caught)
        return;
    sigaction(SIGINT, &old_sigint, NULL);
    first_hook = NULL;
    caught = 0;
}

double rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *rt_fmt(char *dst, size_t len, const char *fmt, ...)
{
    if (len == 0)
        return dst;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, len, fmt, ap);
    va_end(ap);
    if (n < 0)
        dst[0] = '\0';
    return dst;
}
