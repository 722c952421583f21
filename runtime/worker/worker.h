/*
 * worker.h — run a function in a forked child process, with resource limits
 * and a wall-clock deadline, and get its result back over a pipe (Lua-free).
 *
 * Used to compile untrusted candidates and to train them: whatever the child
 * does (loop, allocate, crash, hang in C), the parent survives and gets a typed
 * error. The child inherits a copy of the parent's memory (so a dataset loaded
 * once is shared copy-on-write), runs the callback, sends one result message
 * and exits with _exit (no atexit handlers, no double-flushed stdio).
 *
 * In the child: PR_SET_PDEATHSIG = SIGKILL (a parent killed with kill -9 takes
 * its workers with it); its own process group (the parent kills the whole group, so
 * Ctrl-C on the terminal reaches only the parent, which then kills the child);
 * RLIMIT_AS = the address space mapped at fork + mem_bytes (under AddressSanitizer
 * too: the library sets ASan's allocator_may_return_null, so a block over the limit
 * is a NULL from malloc there as well; ASan's small size classes, from space reserved
 * before the fork, are not counted), RLIMIT_CPU =
 * cpu_seconds (SIGXCPU, then SIGKILL one second later), RLIMIT_CORE = 0; stdin and stdout are /dev/null (stderr is kept for
 * diagnostics); descriptors >= 3 other than the result pipe are closed unless
 * keep_fds is set.
 *
 * Messages: the child may send any number of progress messages (worker_send,
 * e.g. newline-free JSON "{"epoch":1,"step":50,"loss":0.71}") before the
 * callback returns; the parent passes each to opts.on_progress as it arrives.
 * The final message is the callback's result (a malloc'd string, by convention
 * JSON) or its typed error (kind + message).
 *
 * Error kinds (worker_result.kind), stable strings:
 *   whatever the callback reports (syntax, runtime, shape, too_large, diverged, ...)
 *   "limit_cpu"     the child used up its CPU-time limit (SIGXCPU)
 *   "limit_memory"  killed by SIGKILL not sent by us (the kernel's OOM killer)
 *                   — a callback that sees malloc fail reports it itself
 *   "too_large"     the result exceeded opts.max_result bytes
 *   "crashed"       any other death (signal, exit without a result)
 *   "timeout"       the wall-clock deadline passed; the parent killed the group
 *   "interrupted"   rt_interrupted() became true while waiting; child killed
 *
 * Return codes: 0, or a negative WORKER_E* code. Thread rules: a worker handle
 * is used by one thread. Forking from a process whose other threads hold locks
 * (e.g. an active OpenMP pool) is the caller's risk: the child then gets only
 * the calling thread.
 */
#ifndef LLMNAS_WORKER_H
#define LLMNAS_WORKER_H

#include <stddef.h>
#include <sys/types.h>

enum {
    WORKER_OK = 0,
    WORKER_EFORK = -2001,    /* pipe() or fork() failed */
    WORKER_ENOMEM = -2002,
    WORKER_EINTR = -2003,    /* interrupted (rt_interrupted); the child was killed */
    WORKER_EARG = -2004,
};

#define WORKER_KIND_LEN 32

/* Child side: passed to the callback; lets it send progress messages. */
typedef struct worker_ctx worker_ctx;

/*
 * The function run in the child. On success return 0 and set *result to a
 * malloc'd NUL-terminated string (the worker frees it). On failure return
 * nonzero and write a kind (e.g. "shape") and a message into the buffers.
 */
typedef int (*worker_fn)(void *arg, worker_ctx *ctx, char **result,
                         char kind[WORKER_KIND_LEN], char *msg, size_t msglen);

/* Child side: send one progress message (at most 1 MiB; longer is cut).
 * Returns 0, or -1 if the parent has gone away. */
int worker_send(worker_ctx *ctx, const char *msg);

/* Parent side: called for each progress message while waiting. */
typedef void (*worker_progress_fn)(void *ud, const char *msg, size_t len);

typedef struct worker_opts {
    double deadline;       /* wall-clock seconds, 0 = none */
    double cpu_seconds;    /* RLIMIT_CPU, 0 = none (rounded up to whole seconds) */
    size_t mem_bytes;      /* RLIMIT_AS headroom above what the child inherits, 0 = none */
    size_t max_result;     /* largest result/message accepted, 0 = 256 MiB */
    int keep_fds;          /* 1 = do not close inherited descriptors in the child */
    worker_progress_fn on_progress;  /* may be NULL */
    void *progress_ud;
    pid_t parent;          /* set by worker_spawn (the child dies with its parent) */
} worker_opts;

typedef struct worker_result {
    int ok;                    /* 1: the callback returned a result */
    char *json;                /* ok: the result, malloc'd (worker_result_free) */
    char kind[WORKER_KIND_LEN];/* !ok: the error kind */
    char *message;             /* !ok: malloc'd message (may be NULL on ENOMEM) */
    double seconds;            /* wall-clock time from spawn to result */
    double cpu_seconds;        /* the child's user + system CPU time (all its threads) */
    pid_t pid;
    int exit_status;           /* exit code if exited, else -1 */
    int term_signal;           /* signal that ended the child, else 0 */
} worker_result;

typedef struct worker worker;

/* Synchronous: run fn(arg) in a child and wait. res is always filled (free it
 * with worker_result_free) when the return is 0 or WORKER_EINTR. */
int worker_run(worker_fn fn, void *arg, const worker_opts *opts, worker_result *res);

/* Asynchronous: start a child. *out owned by the caller: worker_free (kills
 * and reaps the child if it still runs). opts is copied. */
int worker_spawn(worker **out, worker_fn fn, void *arg, const worker_opts *opts);

/* Read what has arrived, waiting at most timeout seconds (0 = do not wait,
 * < 0 = until done). Returns 1 while running, 0 when done (res filled once;
 * later calls return 0 and leave res untouched as {0}), or WORKER_EINTR (child
 * killed, res filled with kind "interrupted"). */
int worker_poll(worker *w, double timeout, worker_result *res);

/* Wait until any of ws[0..n) (NULL entries and finished ones skipped) is done
 * or timeout seconds passed (< 0 = no limit). Returns 0 and *which = index
 * with res filled; 1 if the timeout passed first (*which = -1); WORKER_EINTR
 * if interrupted (all running children killed, *which = -1); WORKER_EARG if
 * none is running. */
int worker_wait_any(worker **ws, int n, double timeout, int *which, worker_result *res);

/* 1 if the child is still running (no result handed out yet). */
int worker_running(const worker *w);
pid_t worker_pid(const worker *w);

/* Kill the child (its process group) now; the next poll reports "killed"
 * unless a result already arrived. */
void worker_kill(worker *w);
void worker_free(worker *w);
void worker_result_free(worker_result *res);

const char *worker_strerror(int code);

#endif
