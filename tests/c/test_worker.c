/* test_worker.c — forked workers: results, typed errors, limits, deadlines,
 * progress, several at once, interruption. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rt.h"
#include "worker/worker.h"

static int fn_ok(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                 char *msg, size_t msglen)
{
    (void)ctx, (void)kind, (void)msg, (void)msglen;
    char buf[64];
    snprintf(buf, sizeof buf, "{\"pid\":%d,\"arg\":%d}", (int)getpid(), *(int *)arg);
    *result = strdup(buf);
    return 0;
}

static int fn_diverged(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                       char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)result;
    strcpy(kind, "diverged");
    snprintf(msg, msglen, "loss became NaN at step 17");
    return 1;
}

static int fn_abort(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                    char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)result, (void)kind, (void)msg, (void)msglen;
    abort();
}

static int fn_exit(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                   char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)result, (void)kind, (void)msg, (void)msglen;
    _exit(3);
}

static int fn_sleep(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                    char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)result, (void)kind, (void)msg, (void)msglen;
    for (;;)
        pause();
    return 0;
}

static volatile double sink;
static int fn_spin(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                   char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)result, (void)kind, (void)msg, (void)msglen;
    for (double x = 0; x >= 0; x += 1)
        sink = x;
    return 0;
}

/* Allocates (and touches) 16 MiB blocks until malloc fails or *(size_t *)arg bytes are
 * held; the result is the MiB it got. It reports no error kind of its own: what the
 * test sees is the limit, not the function's opinion of it. */
static int fn_alloc(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                    char *msg, size_t msglen)
{
    (void)ctx, (void)kind, (void)msg, (void)msglen;
    size_t total = 0, cap = *(const size_t *)arg;
    while (total < cap) {
        char *p = malloc((size_t)16 << 20);
        if (!p)
            break;
        memset(p, 1, (size_t)16 << 20);
        total += (size_t)16 << 20;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", total >> 20);
    *result = strdup(buf);
    return 0;
}

static int fn_progress(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                       char *msg, size_t msglen)
{
    (void)arg, (void)kind, (void)msg, (void)msglen;
    char buf[64];
    for (int i = 1; i <= 5; i++) {
        snprintf(buf, sizeof buf, "{\"step\":%d}", i);
        worker_send(ctx, buf);
    }
    *result = strdup("{\"done\":true}");
    return 0;
}

static int fn_big(void *arg, worker_ctx *ctx, char **result, char kind[WORKER_KIND_LEN],
                  char *msg, size_t msglen)
{
    (void)ctx, (void)kind, (void)msg, (void)msglen;
    size_t n = *(size_t *)arg;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = '\0';
    *result = s;
    return 0;
}

static int fn_writes_stdout(void *arg, worker_ctx *ctx, char **result,
                            char kind[WORKER_KIND_LEN], char *msg, size_t msglen)
{
    (void)arg, (void)ctx, (void)kind, (void)msg, (void)msglen;
    printf("this must not reach the test's stdout\n");
    fflush(stdout);
    *result = strdup("1");
    return 0;
}

static void test_ok(void **state)
{
    (void)state;
    int arg = 42;
    worker_result r;
    assert_int_equal(worker_run(fn_ok, &arg, NULL, &r), 0);
    assert_true(r.ok);
    assert_non_null(strstr(r.json, "\"arg\":42"));
    assert_int_not_equal(r.pid, getpid());
    assert_int_equal(r.exit_status, 0);
    worker_result_free(&r);
}

static void test_callback_error(void **state)
{
    (void)state;
    worker_result r;
    assert_int_equal(worker_run(fn_diverged, NULL, NULL, &r), 0);
    assert_false(r.ok);
    assert_string_equal(r.kind, "diverged");
    assert_string_equal(r.message, "loss became NaN at step 17");
    worker_result_free(&r);
}

static void test_crash(void **state)
{
    (void)state;
    worker_result r;
    assert_int_equal(worker_run(fn_abort, NULL, NULL, &r), 0);
    assert_string_equal(r.kind, "crashed");
    assert_int_equal(r.term_signal, SIGABRT);
    worker_result_free(&r);
    assert_int_equal(worker_run(fn_exit, NULL, NULL, &r), 0);
    assert_string_equal(r.kind, "crashed");
    assert_int_equal(r.exit_status, 3);
    worker_result_free(&r);
}

static void test_timeout(void **state)
{
    (void)state;
    worker_opts o = {.deadline = 0.3};
    worker_result r;
    double t0 = rt_now();
    assert_int_equal(worker_run(fn_sleep, NULL, &o, &r), 0);
    double dt = rt_now() - t0;
    assert_string_equal(r.kind, "timeout");
    assert_true(dt >= 0.3 && dt < 15);  /* the function sleeps forever: generous bound */
    assert_int_equal(kill(r.pid, 0), -1);  /* gone */
    worker_result_free(&r);
}

static void test_cpu_limit(void **state)
{
    (void)state;
    /* The deadline only backs the CPU limit up: on a loaded machine one CPU
     * second can take a minute of wall time, and no wall-clock bound is asserted. */
    worker_opts o = {.deadline = 600, .cpu_seconds = 1};
    worker_result r;
    assert_int_equal(worker_run(fn_spin, NULL, &o, &r), 0);
    assert_string_equal(r.kind, "limit_cpu");
    worker_result_free(&r);
}

static void test_memory_limit(void **state)
{
    (void)state;
    /* the positive control first: without a limit the function gets its 256 MiB */
    size_t want = (size_t)256 << 20;
    worker_opts o = {.deadline = 60};
    worker_result r;
    assert_int_equal(worker_run(fn_alloc, &want, &o, &r), 0);
    assert_true(r.ok);
    assert_int_equal(atoi(r.json), 256);
    worker_result_free(&r);
    /* with a 128 MiB limit, malloc fails before 128 MiB are held (under ASan too: its
     * allocator returns NULL there rather than aborting, worker.c) */
    o.mem_bytes = (size_t)128 << 20;
    assert_int_equal(worker_run(fn_alloc, &want, &o, &r), 0);
    if (r.ok)
        assert_true(atoi(r.json) < 128);
    else  /* or the worker was stopped for its memory (a typed error, never a crash) */
        assert_string_equal(r.kind, "limit_memory");
    worker_result_free(&r);
}

typedef struct seen {
    int n;
    char last[64];
} seen;

static void on_progress(void *ud, const char *msg, size_t len)
{
    seen *s = ud;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, msg);
}

static void test_progress(void **state)
{
    (void)state;
    seen s = {0, ""};
    worker_opts o = {.deadline = 5, .on_progress = on_progress, .progress_ud = &s};
    worker_result r;
    assert_int_equal(worker_run(fn_progress, NULL, &o, &r), 0);
    assert_true(r.ok);
    assert_string_equal(r.json, "{\"done\":true}");
    assert_int_equal(s.n, 5);
    assert_string_equal(s.last, "{\"step\":5}");
    worker_result_free(&r);
}

static void test_big_result(void **state)
{
    (void)state;
    size_t n = (size_t)3 << 20;
    worker_result r;
    assert_int_equal(worker_run(fn_big, &n, NULL, &r), 0);
    assert_true(r.ok);
    assert_int_equal(strlen(r.json), n);
    worker_result_free(&r);
    worker_opts o = {.max_result = 1 << 20, .deadline = 5};
    assert_int_equal(worker_run(fn_big, &n, &o, &r), 0);
    assert_string_equal(r.kind, "too_large");
    worker_result_free(&r);
}

static void test_stdout_closed(void **state)
{
    (void)state;
    /* this process's stdout goes to a file meanwhile: the worker's printf must not be in it */
    char path[] = "/tmp/test_worker_stdout.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    worker_result r;
    int rc = worker_run(fn_writes_stdout, NULL, NULL, &r);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    char buf[256] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_true(r.ok);
    assert_true(n >= 0);
    buf[n > 0 ? n : 0] = '\0';
    assert_null(strstr(buf, "must not reach"));
    worker_result_free(&r);
}

static void test_wait_any(void **state)
{
    (void)state;
    worker *ws[4];
    int args[4] = {0, 1, 2, 3};
    worker_opts slow = {.deadline = 0.5}, fast = {.deadline = 5};
    assert_int_equal(worker_spawn(&ws[0], fn_sleep, NULL, &slow), 0);
    assert_int_equal(worker_spawn(&ws[1], fn_ok, &args[1], &fast), 0);
    assert_int_equal(worker_spawn(&ws[2], fn_diverged, NULL, &fast), 0);
    assert_int_equal(worker_spawn(&ws[3], fn_ok, &args[3], &fast), 0);
    int done[4] = {0}, which, ok = 0;
    for (int k = 0; k < 4; k++) {
        worker_result r;
        assert_int_equal(worker_wait_any(ws, 4, 10, &which, &r), 0);
        assert_true(which >= 0 && which < 4);
        assert_false(done[which]);
        done[which] = 1;
        if (which == 0)
            assert_string_equal(r.kind, "timeout");
        if (which == 2)
            assert_string_equal(r.kind, "diverged");
        ok += r.ok;
        worker_result_free(&r);
    }
    assert_int_equal(ok, 2);
    worker_result r;
    assert_int_equal(worker_wait_any(ws, 4, 0.1, &which, &r), WORKER_EARG);
    for (int k = 0; k < 4; k++)
        worker_free(ws[k]);
}

static void test_poll_and_interrupt(void **state)
{
    (void)state;
    worker *w;
    worker_result r;
    assert_int_equal(worker_spawn(&w, fn_sleep, NULL, NULL), 0);
    assert_int_equal(worker_poll(w, 0.05, &r), 1);
    assert_true(worker_running(w));
    pid_t pid = worker_pid(w);
    rt_interrupt_flag = 1;
    assert_int_equal(worker_poll(w, -1, &r), WORKER_EINTR);
    rt_interrupt_flag = 0;
    assert_string_equal(r.kind, "interrupted");
    assert_int_equal(kill(pid, 0), -1);
    worker_result_free(&r);
    worker_free(w);
    /* free while running kills and reaps */
    assert_int_equal(worker_spawn(&w, fn_sleep, NULL, NULL), 0);
    pid = worker_pid(w);
    worker_free(w);
    assert_int_equal(kill(pid, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_callback_error),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cpu_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_big_result),
        cmocka_unit_test(test_stdout_closed),
        cmocka_unit_test(test_wait_any),
        cmocka_unit_test(test_poll_and_interrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
