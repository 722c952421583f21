/*
 * bench_compile_worker.c — the fixed cost of isolation: a worker_run round trip
 * (fork, a trivial callback, the result back over the pipe, reaping the child)
 * from a small process and from one holding 256 MiB (as a parent with a
 * dataset loaded would), side by side with calling the callback directly.
 */
#include "base/rt.h"
#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int trivial(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                   char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)kind, (void)msg, (void)msglen;
    *result = strdup("{\"ok\":true}");
    return 0;
}

static double per_call(int isolated, int n)
{
    double t0 = rt_now();
    for (int i = 0; i < n; i++) {
        if (isolated) {
            worker_result r;
            worker_run(trivial, NULL, NULL, &r);
            worker_result_free(&r);
        } else {
            char *res = NULL, kind[WORKER_KIND_LEN], msg[64];
            trivial(NULL, NULL, &res, kind, msg, sizeof msg);
            free(res);
        }
    }
    return (rt_now() - t0) / n * 1000;
}

int main(void)
{
    printf("%-36s %12s %12s\n", "parent", "worker_run", "direct call");
    for (int big = 0; big <= 1; big++) {
        size_t bytes = big ? (size_t)256 << 20 : 0;
        char *p = bytes ? malloc(bytes) : NULL;
        if (p)
            memset(p, 1, bytes);
        per_call(1, 10);  /* warm up */
        printf("%-36s %9.3f ms %9.5f ms\n", big ? "holding 256 MiB (touched)" : "small",
               per_call(1, 200), per_call(0, 200));
        free(p);
    }
    return 0;
}
