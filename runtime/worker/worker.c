/*
 * worker.c — forked workers with limits and deadlines (see worker.h).
 *
 * Wire format on the pipe, child → parent: frames of one type byte, a
 * uint32 length in host order and the payload. 'P' progress (text), 'R'
 * result (text), 'E' error (kind, NUL, message). The first R or E ends the
 * conversation. The parent never blocks on the pipe: it polls in slices of at
 * most 50 ms so the deadline and rt_interrupted() are honoured promptly.
 */
#include "worker/worker.h"
#include "base/rt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_ASAN 1
#endif
#endif

#ifdef WORKER_ASAN
/* A worker's memory limit is RLIMIT_AS, as in every build: under AddressSanitizer its
 * shadow and allocator space are reserved at start-up (mapped before the fork, so inside
 * what the limit adds its headroom to), and a large block over the limit gets a failed
 * mmap. ASan then aborts the process by default ("allocator is out of memory"), which
 * the parent could only call a crash; with allocator_may_return_null, malloc returns
 * NULL as it does without ASan, and the callback reports limit_memory itself. Blocks of
 * ASan's size classes (up to 128 KiB) come from space it has already reserved, which
 * the limit does not count: under ASan the limit bounds the large blocks (tensors,
 * datasets, big Lua strings). ASAN_OPTIONS in the environment still overrides this. */
const char *__asan_default_options(void);
__attribute__((visibility("default"), used)) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* ASan turns a fatal signal into its report and exit(1): a worker killed with SIGSEGV
 * by another process (kill, tests' stand-in for a crashing kernel) would then end as
 * "exited with status 1", not as the crash it is. A signal sent (si_code <= 0: kill,
 * tgkill, sigqueue) kills the worker as it does without ASan; a fault of its own still
 * gets ASan's report (the handler ASan installed, called on). */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE};
static struct sigaction asan_handler[sizeof fatal_signals / sizeof fatal_signals[0]];

static void child_fatal_signal(int sig, siginfo_t *si, void *uc)
{
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        if (fatal_signals[i] == sig && si->si_code > 0 &&
            (asan_handler[i].sa_flags & SA_SIGINFO) && asan_handler[i].sa_sigaction) {
            asan_handler[i].sa_sigaction(sig, si, uc);
            return;
        }
    signal(sig, SIG_DFL);  /* delivered again on return, now by default: death by it */
    raise(sig);
}

static void child_signals(void)
{
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        struct sigaction sa;
        if (sigaction(fatal_signals[i], NULL, &asan_handler[i]) != 0)
            continue;
        sa = asan_handler[i];
        sa.sa_flags |= SA_SIGINFO;
        sa.sa_sigaction = child_fatal_signal;
        sigaction(fatal_signals[i], &sa, NULL);
    }
}
#endif

#define SLICE 0.05
#define DEFAULT_MAX_RESULT ((size_t)256 << 20)
#define PROGRESS_MAX ((size_t)1 << 20)

struct worker_ctx {
    int fd;
};

struct worker {
    pid_t pid;
    int fd;                /* read end, -1 once closed */
    worker_opts o;
    double t0, deadline_at;
    char *buf;
    size_t len, cap;
    int eof, reaped, status;
    double child_cpu;
    int have_final;        /* a result or error frame arrived */
    int finished;          /* res below is complete */
    int handed;            /* res given to the caller */
    const char *reason;    /* why we killed it: timeout, too_large, interrupted, killed */
    worker_result res;
};

const char *worker_strerror(int code)
{
    switch (code) {
    case WORKER_OK: return "WORKER_OK: success";
    case WORKER_EFORK: return "WORKER_EFORK: could not create the worker process";
    case WORKER_ENOMEM: return "WORKER_ENOMEM: out of memory";
    case WORKER_EINTR: return "WORKER_EINTR: interrupted";
    case WORKER_EARG: return "WORKER_EARG: bad argument";
    default: return "WORKER_E?: unknown error code";
    }
}

/* ---- child side -------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_frame(int fd, char type, const char *a, size_t alen, const char *b, size_t blen)
{
    char hdr[5];
    uint32_t len = (uint32_t)(alen + blen);
    hdr[0] = type;
    memcpy(hdr + 1, &len, 4);
    if (write_all(fd, hdr, 5) || write_all(fd, a, alen))
        return -1;
    return blen ? write_all(fd, b, blen) : 0;
}

int worker_send(worker_ctx *ctx, const char *msg)
{
    size_t n = strlen(msg);
    if (n > PROGRESS_MAX)
        n = PROGRESS_MAX;
    return send_frame(ctx->fd, 'P', msg, n, NULL, 0);
}

static size_t current_vsize(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void child_limits(const worker_opts *o)
{
    struct rlimit r = {0, 0};
    setrlimit(RLIMIT_CORE, &r);
    if (o->cpu_seconds > 0) {
        rlim_t s = (rlim_t)o->cpu_seconds;
        if ((double)s < o->cpu_seconds)
            s++;
        r.rlim_cur = s;
        r.rlim_max = s + 1;
        setrlimit(RLIMIT_CPU, &r);
    }
    if (o->mem_bytes > 0) {
        /* headroom above what the child already maps (shared libraries, the
         * parent's heap inherited copy-on-write) */
        r.rlim_cur = r.rlim_max = current_vsize() + o->mem_bytes;
        setrlimit(RLIMIT_AS, &r);
    }
}

static int child_fds(int fd, const worker_opts *o)
{
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (null > 2)
            close(null);
    }
    if (o->keep_fds)
        return fd;
    if (fd != 3) {
        if (dup2(fd, 3) < 0)
            return fd;
        close(fd);
        fd = 3;
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 4u, ~0u, 0u) == 0)
        return fd;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (long i = 4; i < (max > 0 && max < 65536 ? max : 65536); i++)
        close((int)i);
    return fd;
}

static void child_main(int fd, worker_fn fn, void *arg, const worker_opts *o)
{
    static char msg[16384];
    char kind[WORKER_KIND_LEN] = "";
    char *result = NULL;
    setpgid(0, 0);
    /* a parent killed with SIGKILL cannot kill its workers: they die with it
     * rather than train on for nobody (the parent's resume re-runs them) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != o->parent)
        _exit(1);  /* the parent died before the line above */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
#ifdef WORKER_ASAN
    child_signals();
#endif
    fd = child_fds(fd, o);
    child_limits(o);
    worker_ctx ctx = {fd};
    msg[0] = '\0';
    int rc = fn(arg, &ctx, &result, kind, msg, sizeof msg);
    if (rc == 0 && result) {
        send_frame(fd, 'R', result, strlen(result), NULL, 0);
    } else {
        msg[sizeof msg - 1] = '\0';
        kind[WORKER_KIND_LEN - 1] = '\0';
        if (!kind[0])
            strcpy(kind, rc == 0 ? "crashed" : "runtime");
        if (rc == 0 && !msg[0])
            strcpy(msg, "worker returned no result");
        send_frame(fd, 'E', kind, strlen(kind) + 1, msg, strlen(msg));
    }
    _exit(0);
}

/* ---- parent side ------------------------------------------------------------- */

int worker_spawn(worker **out, worker_fn fn, void *arg, const worker_opts *opts)
{
    int p[2];
    *out = NULL;
    if (!fn)
        return WORKER_EARG;
    worker *w = calloc(1, sizeof *w);
    if (!w)
        return WORKER_ENOMEM;
    if (opts)
        w->o = *opts;
    if (w->o.max_result == 0)
        w->o.max_result = DEFAULT_MAX_RESULT;
    w->o.parent = getpid();
    if (pipe2(p, O_CLOEXEC) < 0) {
        free(w);
        return WORKER_EFORK;
    }
    fflush(NULL);  /* or the child's copy of unflushed stdio could leak out later */
    w->t0 = rt_now();
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        free(w);
        return WORKER_EFORK;
    }
    if (pid == 0) {
        close(p[0]);
        child_main(p[1], fn, arg, &w->o);
    }
    setpgid(pid, pid);  /* also done by the child: whichever runs first */
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    w->pid = pid;
    w->fd = p[0];
    w->deadline_at = w->o.deadline > 0 ? w->t0 + w->o.deadline : 0;
    w->res.pid = pid;
    w->res.exit_status = -1;
    *out = w;
    return WORKER_OK;
}

static void set_error(worker *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(worker *w, const char *kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->res.ok = 0;
    rt_fmt(w->res.kind, sizeof w->res.kind, "%s", kind);
    free(w->res.message);
    w->res.message = strdup(msg);
}

static void kill_group(worker *w)
{
    if (w->reaped)
        return;
    kill(-w->pid, SIGKILL);
    kill(w->pid, SIGKILL);
}

static void reap(worker *w, int block)
{
    if (w->reaped)
        return;
    int st;
    struct rusage ru;
    pid_t r;
    do
        r = wait4(w->pid, &st, block ? 0 : WNOHANG, &ru);
    while (r < 0 && errno == EINTR);
    if (r == w->pid || (r < 0 && errno == ECHILD)) {
        w->reaped = 1;
        w->status = r == w->pid ? st : 0;
        w->child_cpu = r == w->pid ? (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
                                         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6
                                   : 0;
    }
}

/* Consume complete frames at the start of the buffer. */
static void parse_frames(worker *w)
{
    size_t off = 0;
    while (!w->have_final && w->len - off >= 5) {
        uint32_t n;
        char type = w->buf[off];
        memcpy(&n, w->buf + off + 1, 4);
        if (w->len - off - 5 < n)
            break;
        char *p = w->buf + off + 5;
        if (type == 'P') {
            if (w->o.on_progress) {
                char save = p[n];
                p[n] = '\0';
                w->o.on_progress(w->o.progress_ud, p, n);
                p[n] = save;
            }
        } else if (type == 'R') {
            w->res.ok = 1;
            w->res.json = malloc((size_t)n + 1);
            if (w->res.json) {
                memcpy(w->res.json, p, n);
                w->res.json[n] = '\0';
            } else {
                set_error(w, "crashed", "out of memory receiving the worker's result");
            }
            w->have_final = 1;
        } else if (type == 'E') {
            size_t k = strnlen(p, n);
            w->res.ok = 0;
            rt_fmt(w->res.kind, sizeof w->res.kind, "%.*s", (int)k, p);
            size_t mlen = k < n ? n - k - 1 : 0;
            w->res.message = malloc(mlen + 1);
            if (w->res.message) {
                memcpy(w->res.message, p + k + (k < n), mlen);
                w->res.message[mlen] = '\0';
            }
            w->have_final = 1;
        } else {
            set_error(w, "crashed", "garbled message from the worker");
            w->have_final = 1;
        }
        off += 5 + (size_t)n;
    }
    if (off) {
        memmove(w->buf, w->buf + off, w->len - off);
        w->len -= off;
    }
}

/* Read whatever is available without blocking. */
static void drain(worker *w)
{
    while (w->fd >= 0 && !w->have_final) {
        if (w->cap - w->len < 65536) {
            size_t cap = w->cap ? w->cap * 2 : 65536 * 2;
            char *b = realloc(w->buf, cap + 1);
            if (!b) {
                w->reason = "too_large";
                kill_group(w);
                return;
            }
            w->buf = b;
            w->cap = cap;
        }
        ssize_t k = read(w->fd, w->buf + w->len, w->cap - w->len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return;  /* EAGAIN: nothing more for now */
        if (k == 0) {
            w->eof = 1;
            close(w->fd);
            w->fd = -1;
            return;
        }
        w->len += (size_t)k;
        parse_frames(w);
        if (!w->have_final && w->len > w->o.max_result + 5) {
            w->reason = "too_large";
            kill_group(w);
            return;
        }
    }
}

static const char *signame(int sig)
{
    const char *s = sigdescr_np(sig);
    return s ? s : "unknown signal";
}

static void classify(worker *w)
{
    int st = w->status;
    w->res.exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    w->res.term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    if (w->have_final)
        return;
    if (w->reason && strcmp(w->reason, "timeout") == 0)
        set_error(w, "timeout", "the worker did not finish within its deadline of %g s",
                  w->o.deadline);
    else if (w->reason && strcmp(w->reason, "too_large") == 0)
        set_error(w, "too_large", "the worker's result exceeds %zu bytes", w->o.max_result);
    else if (w->reason)
        set_error(w, w->reason, "the worker was %s", strcmp(w->reason, "interrupted") == 0
                                                         ? "interrupted" : "killed");
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
        set_error(w, "limit_cpu", "CPU time limit of %g s exceeded", w->o.cpu_seconds);
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && w->o.cpu_seconds > 0 &&
             w->child_cpu >= w->o.cpu_seconds)
        set_error(w, "limit_cpu", "CPU time limit of %g s exceeded", w->o.cpu_seconds);
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
        set_error(w, "limit_memory", "the worker was killed by SIGKILL (out of memory?)");
    else if (WIFSIGNALED(st))
        set_error(w, "crashed", "the worker crashed: %s (signal %d)", signame(WTERMSIG(st)),
                  WTERMSIG(st));
    else
        set_error(w, "crashed", "the worker exited with status %d without a result",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void finish(worker *w)
{
    if (w->finished)
        return;
    if (!w->have_final)
        drain(w);
    if (!w->reaped) {
        if (!w->have_final || !w->eof)
            kill_group(w);
        reap(w, 1);
    }
    kill(-w->pid, SIGKILL);  /* stragglers the callback may have forked */
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    classify(w);
    w->res.seconds = rt_now() - w->t0;
    w->res.cpu_seconds = w->child_cpu;
    w->finished = 1;
}

static int hand_out(worker *w, worker_result *res)
{
    if (res) {
        if (w->handed) {
            memset(res, 0, sizeof *res);
        } else {
            *res = w->res;
            memset(&w->res, 0, sizeof w->res);
        }
    }
    w->handed = 1;
    return 0;
}

/* One step without waiting: returns 1 running, 0 finished, WORKER_EINTR. */
static int step(worker *w, worker_result *res)
{
    if (w->finished)
        return hand_out(w, res);
    if (rt_interrupted()) {
        w->reason = "interrupted";
        kill_group(w);
        finish(w);
        if (!w->have_final) {
            hand_out(w, res);
            return WORKER_EINTR;
        }
        return hand_out(w, res);
    }
    drain(w);
    if (!w->have_final && !w->reason && w->deadline_at > 0 && rt_now() >= w->deadline_at) {
        w->reason = "timeout";
        kill_group(w);
    }
    if (w->reason || w->have_final || w->eof) {
        /* with the result in hand the child is exiting (it calls _exit right
         * after sending): wait for it, rather than poll a pipe that already
         * reports hang-up, which would spin and starve the exiting child */
        reap(w, w->have_final && !w->reason);
        /* after a result or EOF alone the child is exiting; wait for it briefly */
        if (!w->reaped && (w->have_final || w->eof) && !w->reason)
            return 1;
        finish(w);
        return hand_out(w, res);
    }
    reap(w, 0);
    if (w->reaped) {  /* exited, but a grandchild may hold the pipe open */
        drain(w);
        finish(w);
        return hand_out(w, res);
    }
    return 1;
}

static double wait_slice(const worker *w, double end)
{
    double now = rt_now(), t = SLICE;
    if (end >= 0 && end - now < t)
        t = end - now;
    if (w->deadline_at > 0 && w->deadline_at - now < t)
        t = w->deadline_at - now;
    if (w->eof || w->have_final)
        t = t < 0.002 ? t : 0.002;  /* waiting for the exit, not for data */
    return t < 0 ? 0 : t;
}

int worker_poll(worker *w, double timeout, worker_result *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    double end = timeout < 0 ? -1 : rt_now() + timeout;
    for (;;) {
        int rc = step(w, res);
        if (rc != 1)
            return rc;
        if (end >= 0 && rt_now() >= end)
            return 1;
        struct pollfd p = {w->fd, POLLIN, 0};
        int ms = (int)(wait_slice(w, end) * 1000 + 0.5);
        if (w->fd >= 0)
            poll(&p, 1, ms);
        else if (ms > 0)
            usleep((useconds_t)ms * 1000);
    }
}

int worker_wait_any(worker **ws, int n, double timeout, int *which, worker_result *res)
{
    struct pollfd fds[64];
    double end = timeout < 0 ? -1 : rt_now() + timeout;
    *which = -1;
    if (res)
        memset(res, 0, sizeof *res);
    for (;;) {
        int running = 0, nf = 0;
        double slice = SLICE;
        for (int i = 0; i < n; i++) {
            worker *w = ws[i];
            if (!w || w->handed)
                continue;
            int rc = step(w, res);
            if (rc == 0) {
                *which = i;
                return 0;
            }
            if (rc == WORKER_EINTR) {
                for (int j = 0; j < n; j++)
                    if (ws[j] && !ws[j]->finished)
                        worker_kill(ws[j]);
                worker_result_free(res);
                return WORKER_EINTR;
            }
            running++;
            double s = wait_slice(w, end);
            if (s < slice)
                slice = s;
            if (w->fd >= 0 && nf < 64)
                fds[nf++] = (struct pollfd){w->fd, POLLIN, 0};
        }
        if (!running)
            return WORKER_EARG;
        if (end >= 0 && rt_now() >= end)
            return 1;
        int ms = (int)(slice * 1000 + 0.5);
        if (nf)
            poll(fds, (nfds_t)nf, ms);
        else if (ms > 0)
            usleep((useconds_t)ms * 1000);
    }
}

int worker_run(worker_fn fn, void *arg, const worker_opts *opts, worker_result *res)
{
    worker *w;
    memset(res, 0, sizeof *res);
    int rc = worker_spawn(&w, fn, arg, opts);
    if (rc) {
        rt_fmt(res->kind, sizeof res->kind, "crashed");
        res->message = strdup(worker_strerror(rc));
        return rc;
    }
    rc = worker_poll(w, -1, res);
    worker_free(w);
    return rc;
}

int worker_running(const worker *w) { return w && !w->finished; }
pid_t worker_pid(const worker *w) { return w ? w->pid : -1; }

void worker_kill(worker *w)
{
    if (!w || w->finished)
        return;
    if (!w->reason)
        w->reason = "killed";
    kill_group(w);
}

void worker_free(worker *w)
{
    if (!w)
        return;
    if (!w->finished) {
        worker_kill(w);
        finish(w);
    }
    if (w->fd >= 0)
        close(w->fd);
    worker_result_free(&w->res);
    free(w->buf);
    free(w);
}

void worker_result_free(worker_result *res)
{
    if (!res)
        return;
    free(res->json);
    free(res->message);
    res->json = res->message = NULL;
}
