/* rt.c — see rt.h. */
#include "base/rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

volatile sig_atomic_t rt_interrupt_flag = 0;

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
