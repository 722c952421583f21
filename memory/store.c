/*
 * store.c — the LMDB environment behind the feedback memory: opening, the
 * writer lock, transactions with map growth, and the read and write calls of
 * store.h. Record contents (totals, metric index) are computed in
 * record.c; the envelope in envelope.c.
 *
 * Every write call is a function run inside write_txn(), which aborts and
 * retries it after growing the map when LMDB reports MDB_MAP_FULL, so a write
 * function must compute everything from its inputs and the transaction.
 *
 * The map's pages this process touches are given back (mapped.h) after every
 * write transaction, at the end of a snapshot, and whenever the reads since the
 * last release have touched about RELEASE_AFTER pages' worth: without that the
 * pages of every record, cache entry and leaf ever read stay in its RSS.
 */
#include "store.h"
#include "envelope.h"
#include "mapped.h"
#include "record.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

enum { DB_RUNS, DB_CANDIDATES, DB_STATES, DB_BY_HASH, DB_LLM, DB_KV, DB_METRICS, DB_COUNT };
static const char *const DB_NAMES[DB_COUNT] = {
    "runs", "candidates", "states", "by_hash", "llm", "kv", "metrics",
};

#define DEFAULT_MAP ((size_t)64 << 20)
#define DEFAULT_MAP_MAX ((size_t)1 << 40)
#define RESIZE_TRIES 64
/* Release the map's pages once reads have touched about this many (a read call
 * counts 1, each record it visits 1 more per 4 KiB): with the kernel's 16-page
 * fault-around, a few MiB of RSS at most between releases. */
#define RELEASE_AFTER 64

struct mem_store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    MDB_txn *snap;      /* open snapshot, or NULL */
    int readonly;
    int lockfd;         /* writer lock, -1 when read-only */
    size_t map_max;
    size_t map_last;    /* map size to reopen with after MDB_PANIC */
    unsigned grown;
    mapped_range map;   /* where the map lies, for releasing its pages */
    unsigned touched;   /* reads since the pages were last released (RELEASE_AFTER) */
    dev_t dev;
    ino_t ino;
    char *path;
    char err[512];
    struct mem_store *next; /* open stores of this process */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static mem_store *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A forked child (an evaluation worker) inherits the writer lock's descriptor;
 * flock locks live as long as any copy is open, so a worker outliving a killed
 * parent would keep the store locked. The child closes its copies. */
static void atfork_prepare(void) { pthread_mutex_lock(&registry_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&registry_lock); }
static void atfork_child(void)
{
    for (mem_store *p = registry; p; p = p->next)
        if (p->lockfd >= 0) {
            close(p->lockfd);
            p->lockfd = -1;
        }
    pthread_mutex_unlock(&registry_lock);
}
static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

/* ---- messages ------------------------------------------------------------ */

static const struct { int rc; const char *text; } MESSAGES[] = {
    {MEM_OK, "MEM_OK: success"},
    {MEM_NOTFOUND, "MEM_NOTFOUND: no such run, iteration or key"},
    {MEM_EDAMAGED, "MEM_EDAMAGED: a stored record is damaged"},
    {MEM_EVERSION, "MEM_EVERSION: record written by a newer llmnas"},
    {MEM_ELOCKED, "MEM_ELOCKED: another process is writing to this store"},
    {MEM_EBUSY, "MEM_EBUSY: store busy (already open in this process, or a snapshot is open)"},
    {MEM_ENOSPC, "MEM_ENOSPC: no space left on device; nothing of the call was written"},
    {MEM_EMAPFULL, "MEM_EMAPFULL: the store reached its size limit"},
    {MEM_EINVAL, "MEM_EINVAL: invalid argument"},
    {MEM_ECONFLICT, "MEM_ECONFLICT: record's iteration does not follow the run's last one"},
    {MEM_EREADONLY, "MEM_EREADONLY: store opened read-only"},
    {MEM_ENOENT, "MEM_ENOENT: no store in this directory"},
    {MEM_EIO, "MEM_EIO: input/output error"},
    {MEM_ENOMEM, "MEM_ENOMEM: out of memory"},
    {MEM_ELMDB, "MEM_ELMDB: LMDB error"},
    {MEM_EINTERRUPTED, "MEM_EINTERRUPTED: interrupted"},
};

const char *mem_strerror(int rc)
{
    for (size_t i = 0; i < sizeof MESSAGES / sizeof MESSAGES[0]; i++)
        if (MESSAGES[i].rc == rc)
            return MESSAGES[i].text;
    if (rc > 0 || (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE))
        return mdb_strerror(rc); /* "MDB_...: ..." or the errno text */
    return "MEM_UNKNOWN: unknown error code";
}

void mem_free(void *p) { free(p); }

const char *mem_errmsg(const mem_store *s) { return s ? s->err : ""; }
const char *mem_path(const mem_store *s) { return s->path; }

__attribute__((format(printf, 3, 4)))
static int fail(mem_store *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

static int is_mem_code(int rc) { return rc <= MEM_NOTFOUND && rc > MEM_NOTFOUND - 100; }

/* Turn an LMDB or errno code into ours, with a message saying what was done. */
static int lmdb_fail(mem_store *s, int rc, const char *what)
{
    if (rc == 0 || is_mem_code(rc))
        return rc;
    switch (rc) {
    case MDB_NOTFOUND:
        return fail(s, MEM_NOTFOUND, "%s: not found", what);
    case MDB_MAP_FULL:
        return fail(s, MEM_EMAPFULL, "%s: %s is full at its size limit of %zu MiB",
                    what, s->path, s->map_max >> 20);
    case ENOSPC:
    case EDQUOT:
        return fail(s, MEM_ENOSPC,
                    "%s: no space left on the device holding %s; nothing of this call "
                    "was written — free some space and retry (or resume the run)", what, s->path);
    case ENOMEM:
        return fail(s, MEM_ENOMEM, "%s: out of memory", what);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return fail(s, MEM_EDAMAGED, "%s: %s: %s", what, s->path, mdb_strerror(rc));
    case MDB_VERSION_MISMATCH:
        return fail(s, MEM_EVERSION, "%s: %s: %s", what, s->path, mdb_strerror(rc));
    default:
        return fail(s, rc > 0 ? MEM_EIO : MEM_ELMDB, "%s: %s: %s", what, s->path, mdb_strerror(rc));
    }
}

/* ---- opening ------------------------------------------------------------- */

/* Every change of the map's size goes through here: LMDB maps it anew, perhaps
 * elsewhere, so the range known for releasing its pages is forgotten. */
static int set_mapsize(mem_store *s, size_t size)
{
    mapped_forget(&s->map);
    return mdb_env_set_mapsize(s->env, size);
}

/* Give back the map's pages this process has touched (mapped.h: safe with read
 * transactions open; never called with a write transaction open). */
static void release_pages(mem_store *s)
{
    s->touched = 0;
    if (s->env) mapped_release(&s->map, s->env);
}

/* A read visited a record of len bytes. */
static void touch(mem_store *s, size_t len) { s->touched += 1 + (unsigned)(len >> 12); }

static int open_env(mem_store *s, size_t map_size)
{
    mapped_forget(&s->map);
    s->touched = 0;
    int rc = mdb_env_create(&s->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(s->env, 16);
    if (rc == 0) rc = set_mapsize(s, map_size);
    if (rc == 0)
        rc = mdb_env_open(s->env, s->path, MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0), 0664);
    if (rc != 0) {
        if (s->env) mdb_env_close(s->env);
        s->env = NULL;
        return rc;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* slots of killed readers */
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
        set_mapsize(s, 0);
        rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
    }
    for (int i = 0; rc == 0 && i < DB_COUNT; i++)
        rc = mdb_dbi_open(txn, DB_NAMES[i], s->readonly ? 0 : MDB_CREATE, &s->dbi[i]);
    if (rc == 0)
        rc = mdb_txn_commit(txn); /* makes the handles usable by later transactions */
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    return rc;
}

/* Take dir/llmnas.lock or report who holds it. */
static int take_writer_lock(mem_store *s, char *err, size_t errlen)
{
    char lp[4096];
    snprintf(lp, sizeof lp, "%s/llmnas.lock", s->path);
    s->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    if (s->lockfd < 0) {
        snprintf(err, errlen, "%s: %s", lp, strerror(errno));
        return MEM_EIO;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(s->lockfd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(s->lockfd);
        s->lockfd = -1;
        if (e != EWOULDBLOCK) {
            snprintf(err, errlen, "%s: cannot lock: %s", lp, strerror(e));
            return MEM_EIO;
        }
        long holder = strtol(pid, NULL, 10);
        if (holder > 0 && kill((pid_t)holder, 0) != 0 && errno == ESRCH)
            snprintf(err, errlen, "%s is locked for writing; the pid in its lock file (%ld) is no "
                     "longer running, so a process it started still holds the lock: stop it first",
                     s->path, holder);
        else
            snprintf(err, errlen, "%s is being written by another llmnas process (pid %s); "
                     "stop it first, or open the store read-only", s->path, pid[0] ? pid : "unknown");
        return MEM_ELOCKED;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(s->lockfd, 0) != 0 || pwrite(s->lockfd, pid, (size_t)n, 0) != n) {
        snprintf(err, errlen, "%s: cannot write pid: %s", lp, strerror(errno));
        return MEM_EIO;
    }
    return 0;
}

static int registered(dev_t dev, ino_t ino)
{
    for (mem_store *p = registry; p; p = p->next)
        if (p->dev == dev && p->ino == ino)
            return 1;
    return 0;
}

static int open_checks(mem_store *s, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (!s->readonly && mkdir(dir, 0775) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create store directory %s: %s", dir, strerror(errno));
        return errno == ENOSPC ? MEM_ENOSPC : MEM_EIO;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (s->readonly && (errno == ENOENT || stat(dir, &st) == 0)) {
            snprintf(err, errlen, "no llmnas store at %s", dir);
            return MEM_ENOENT;
        }
        snprintf(err, errlen, "%s: %s", dir, errno ? strerror(errno) : "not a directory");
        return MEM_EIO;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    char dm[4096];
    snprintf(dm, sizeof dm, "%s/data.mdb", dir);
    if (s->readonly && access(dm, R_OK) != 0) {
        snprintf(err, errlen, "no llmnas store at %s (no data.mdb)", dir);
        return MEM_ENOENT;
    }
    return 0;
}

int mem_open(const char *dir, const mem_options *opts, mem_store **out, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0) err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (!out) return MEM_EINVAL;
    *out = NULL;
    if (!dir || !*dir) {
        snprintf(err, errlen, "no store directory given");
        return MEM_EINVAL;
    }
    mem_options o = opts ? *opts : (mem_options){0};
    mem_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(dir))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return MEM_ENOMEM;
    }
    s->readonly = o.readonly;
    s->lockfd = -1;
    s->map_max = o.map_max ? o.map_max : DEFAULT_MAP_MAX;
    size_t map = o.map_size ? o.map_size : DEFAULT_MAP;
    if (map > s->map_max) map = s->map_max;

    pthread_once(&atfork_once, install_atfork);
    pthread_mutex_lock(&registry_lock);
    int rc = open_checks(s, dir, err, errlen);
    if (rc == 0 && registered(s->dev, s->ino)) {
        snprintf(err, errlen, "%s is already open in this process; use that handle", dir);
        rc = MEM_EBUSY;
    }
    if (rc == 0 && !s->readonly)
        rc = take_writer_lock(s, err, errlen);
    if (rc == 0) {
        int lrc = open_env(s, map);
        if (lrc != 0) {
            rc = lmdb_fail(s, lrc, "opening the store");
            if (lrc == MDB_NOTFOUND) {
                rc = MEM_ENOENT;
                snprintf(s->err, sizeof s->err, "%s is not an llmnas store (its tables are missing)", dir);
            }
            snprintf(err, errlen, "%s", s->err);
        }
    }
    if (rc == 0) {
        s->next = registry;
        registry = s;
    }
    pthread_mutex_unlock(&registry_lock);
    if (rc != 0) {
        if (s->lockfd >= 0) close(s->lockfd);
        free(s->path);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void mem_close(mem_store *s)
{
    if (!s) return;
    pthread_mutex_lock(&registry_lock);
    for (mem_store **p = &registry; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    mem_snapshot_end(s);
    if (s->env) mdb_env_close(s->env);
    if (s->lockfd >= 0) {
        if (ftruncate(s->lockfd, 0) != 0) { /* a stale pid is harmless */ }
        close(s->lockfd); /* releases the flock */
    }
    free(s->path);
    free(s);
}

static int reopen(mem_store *s);

int mem_map_info(mem_store *s, size_t *map_size, unsigned *grown)
{
    MDB_envinfo info;
    if (!s->env && reopen(s) != 0) return fail(s, MEM_ELMDB, "%s could not be reopened", s->path);
    int rc = mdb_env_info(s->env, &info);
    if (rc) return lmdb_fail(s, rc, "map info");
    if (map_size) *map_size = info.me_mapsize;
    if (grown) *grown = s->grown;
    return 0;
}

/* After MDB_PANIC (a failed write of a meta page) the environment must be
 * reopened; the writer lock stays held. */
static int reopen(mem_store *s)
{
    MDB_envinfo info;
    if (s->env && mdb_env_info(s->env, &info) == 0) s->map_last = info.me_mapsize;
    if (s->env) mdb_env_close(s->env);
    s->env = NULL;
    return open_env(s, s->map_last ? s->map_last : DEFAULT_MAP);
}

/* ---- transactions -------------------------------------------------------- */

static int txn_begin(mem_store *s, unsigned flags, MDB_txn **txn)
{
    if (!s->env) {
        int rc = reopen(s);
        if (rc) return rc;
    }
    int rc = mdb_txn_begin(s->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map */
        set_mapsize(s, 0);
        rc = mdb_txn_begin(s->env, NULL, flags, txn);
    } else if (rc == MDB_PANIC && !s->snap) {
        rc = reopen(s);
        if (rc == 0) rc = mdb_txn_begin(s->env, NULL, flags, txn);
    }
    return rc;
}

static int read_begin(mem_store *s, MDB_txn **txn)
{
    if (s->snap) {
        *txn = s->snap;
        return 0;
    }
    int rc = txn_begin(s, MDB_RDONLY, txn);
    return rc ? lmdb_fail(s, rc, "starting a read") : 0;
}

static void read_end(mem_store *s, MDB_txn *txn)
{
    if (txn != s->snap) mdb_txn_abort(txn);
    if (++s->touched >= RELEASE_AFTER) release_pages(s);
}

int mem_snapshot_begin(mem_store *s)
{
    if (s->snap) return fail(s, MEM_EBUSY, "a snapshot is already open");
    MDB_txn *txn;
    int rc = txn_begin(s, MDB_RDONLY, &txn);
    if (rc) return lmdb_fail(s, rc, "starting a snapshot");
    s->snap = txn;
    return 0;
}

void mem_snapshot_end(mem_store *s)
{
    if (s && s->snap) {
        mdb_txn_abort(s->snap);
        s->snap = NULL;
        release_pages(s);
    }
}

typedef int (*txn_fn)(mem_store *s, MDB_txn *txn, void *ctx);

static int grow(mem_store *s)
{
    MDB_envinfo info;
    int rc = mdb_env_info(s->env, &info);
    if (rc) return rc;
    size_t cur = info.me_mapsize;
    size_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
    if (next <= cur) return MDB_MAP_FULL;
    rc = set_mapsize(s, next);
    if (rc == 0) s->grown++;
    return rc;
}

/* Less than 4 MiB free on the store's filesystem. */
static int disk_nearly_full(mem_store *s)
{
    struct statvfs v;
    return statvfs(s->path, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < ((uint64_t)4 << 20);
}

/* Run fn in a write transaction and commit; on MDB_MAP_FULL abort, grow, retry. */
static int write_txn_retry(mem_store *s, const char *what, txn_fn fn, void *ctx)
{
    if (s->readonly)
        return fail(s, MEM_EREADONLY, "%s: %s is open read-only", what, s->path);
    if (s->snap)
        return fail(s, MEM_EBUSY, "%s: a snapshot is open on this handle", what);
    s->err[0] = '\0';
    for (int tries = 0;; tries++) {
        MDB_txn *txn;
        int rc = txn_begin(s, 0, &txn);
        if (rc) return lmdb_fail(s, rc, what);
        rc = fn(s, txn, ctx);
        if (rc == 0)
            rc = mdb_txn_commit(txn); /* frees txn either way */
        else
            mdb_txn_abort(txn);
        /* LMDB reports a short write (the disk filled mid-write) as EIO; the
         * retry then fails with ENOSPC proper. Nothing was committed either way. */
        if (rc == EIO && tries == 0 && disk_nearly_full(s))
            continue;
        if (rc == EIO && disk_nearly_full(s))
            rc = ENOSPC;
        if (rc != MDB_MAP_FULL || tries >= RESIZE_TRIES) {
            if (rc != 0 && is_mem_code(rc) && !s->err[0]) fail(s, rc, "%s", what);
            return lmdb_fail(s, rc, what);
        }
        int grc = grow(s);
        if (grc) return lmdb_fail(s, grc, what);
    }
}

/* write_txn_retry, then the pages the transaction read (the B-tree paths, the run
 * record, the free list) are given back: once per commit, a search's iteration. */
static int write_txn(mem_store *s, const char *what, txn_fn fn, void *ctx)
{
    int rc = write_txn_retry(s, what, fn, ctx);
    release_pages(s);
    return rc;
}

/* ---- keys and values ----------------------------------------------------- */

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int put_value(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, const char *kind,
                     const char *data, size_t len)
{
    MDB_val v = {.mv_size = env_size(kind, len), .mv_data = NULL};
    int rc = mdb_put(txn, dbi, key, &v, MDB_RESERVE);
    if (rc == 0) env_encode(v.mv_data, kind, data, len);
    return rc;
}

/* Decode a stored value; on failure the message names `what` (e.g. "run 3 iteration 7"). */
static int decode(mem_store *s, const MDB_val *v, const char *kind, const char *what,
                  const char **data, size_t *len)
{
    const char *why = NULL;
    int rc = env_decode(v->mv_data, v->mv_size, kind, MEM_VERSION, data, len, &why);
    if (rc) return fail(s, rc, "%s: %s record damaged in %s: %s", what, kind, s->path, why);
    return 0;
}

static char *dup_n(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* Fetch and decode one value into a new string. */
static int get_value(mem_store *s, MDB_txn *txn, int db, MDB_val *key, const char *kind,
                     const char *what, char **out)
{
    MDB_val v;
    int rc = mdb_get(txn, s->dbi[db], key, &v);
    if (rc == MDB_NOTFOUND) return fail(s, MEM_NOTFOUND, "%s: not found", what);
    if (rc) return lmdb_fail(s, rc, what);
    const char *d;
    size_t n;
    rc = decode(s, &v, kind, what, &d, &n);
    if (rc) return rc;
    *out = dup_n(d, n);
    return *out ? 0 : fail(s, MEM_ENOMEM, "%s: out of memory", what);
}

static int check_json(mem_store *s, const char *json, size_t *len, const char *what)
{
    if (!json) return fail(s, MEM_EINVAL, "%s: no value", what);
    *len = strlen(json);
    /* the length counts the NUL: cJSON's require_null_terminated looks at it */
    cJSON *j = cJSON_ParseWithLengthOpts(json, *len + 1, NULL, 1);
    if (!j) return fail(s, MEM_EINVAL, "%s: value is not valid JSON", what);
    cJSON_Delete(j);
    return 0;
}

static int check_key(mem_store *s, const char *key, const char *what)
{
    if (!key || !*key || strlen(key) > MEM_KEY_MAX)
        return fail(s, MEM_EINVAL, "%s: key must be 1..%d bytes", what, MEM_KEY_MAX);
    return 0;
}

/* ---- runs ---------------------------------------------------------------- */

static int last_iter_in(mem_store *s, MDB_txn *txn, uint32_t run, uint32_t *iter)
{
    unsigned char k[8];
    be32(k, run);
    be32(k + 4, UINT32_MAX);
    MDB_val key = {8, k}, v;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dbi[DB_CANDIDATES], &c);
    if (rc) return rc;
    rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
    if (rc == 0) rc = mdb_cursor_get(c, &key, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(c, &key, &v, MDB_LAST);
    *iter = 0;
    if (rc == 0 && key.mv_size == 8 && get_be32(key.mv_data) == run)
        *iter = get_be32((unsigned char *)key.mv_data + 4);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int run_exists(mem_store *s, MDB_txn *txn, uint32_t run)
{
    unsigned char k[4];
    be32(k, run);
    MDB_val key = {4, k}, v;
    int rc = mdb_get(txn, s->dbi[DB_RUNS], &key, &v);
    if (rc == MDB_NOTFOUND) return fail(s, MEM_NOTFOUND, "no run %u in %s", run, s->path);
    return rc;
}

struct begin_ctx { cJSON *meta; uint32_t run; };

static int begin_fn(mem_store *s, MDB_txn *txn, void *vctx)
{
    struct begin_ctx *ctx = vctx;
    MDB_cursor *c;
    MDB_val key, v;
    int rc = mdb_cursor_open(txn, s->dbi[DB_RUNS], &c);
    if (rc) return rc;
    rc = mdb_cursor_get(c, &key, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND) return rc;
    ctx->run = rc == 0 && key.mv_size == 4 ? get_be32(key.mv_data) + 1 : 1;
    char *text = rec_new_run(ctx->run, ctx->meta);
    if (!text) return fail(s, MEM_ENOMEM, "starting a run: out of memory");
    unsigned char k[4];
    be32(k, ctx->run);
    key = (MDB_val){4, k};
    rc = put_value(txn, s->dbi[DB_RUNS], &key, "run", text, strlen(text));
    free(text);
    return rc;
}

int mem_begin_run(mem_store *s, const char *meta_json, uint32_t *run_out)
{
    if (!run_out) return fail(s, MEM_EINVAL, "begin_run: no output");
    *run_out = 0;
    struct begin_ctx ctx = {0};
    ctx.meta = cJSON_ParseWithOpts(meta_json ? meta_json : "{}", NULL, 1);
    if (!cJSON_IsObject(ctx.meta)) {
        cJSON_Delete(ctx.meta);
        return fail(s, MEM_EINVAL, "begin_run: meta must be a JSON object");
    }
    int rc = write_txn(s, "starting a run", begin_fn, &ctx);
    cJSON_Delete(ctx.meta);
    if (rc == 0) *run_out = ctx.run;
    return rc;
}

/* One value keyed by run id from db (runs or states), in its own snapshot.
 * kind names the envelope kind; what ("run 3", "state of run 3") goes into
 * messages. Returns MEM_NOTFOUND without a message: the caller says why. */
static int get_by_run(mem_store *s, int db, uint32_t run, const char *kind, const char *what,
                      char **json_out)
{
    if (!json_out) return fail(s, MEM_EINVAL, "%s: no output", kind);
    *json_out = NULL;
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    unsigned char k[4];
    be32(k, run);
    MDB_val key = {4, k};
    rc = get_value(s, txn, db, &key, kind, what, json_out);
    read_end(s, txn);
    return rc;
}

int mem_run_get(mem_store *s, uint32_t run, char **json_out)
{
    char what[64];
    snprintf(what, sizeof what, "run %u", run);
    int rc = get_by_run(s, DB_RUNS, run, "run", what, json_out);
    if (rc == MEM_NOTFOUND) fail(s, rc, "no run %u in %s", run, s->path);
    return rc;
}

/* A growing string for JSON arrays of stored values. */
typedef struct { char *p; size_t n, cap; int oom; } buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static int buf_finish(mem_store *s, buf *b, int rc, char **out)
{
    if (rc == 0 && b->oom) rc = fail(s, MEM_ENOMEM, "out of memory");
    if (rc) {
        free(b->p);
        *out = NULL;
        return rc;
    }
    *out = b->p;
    return 0;
}

int mem_latest_run(mem_store *s, uint32_t *run_out)
{
    if (!run_out) return fail(s, MEM_EINVAL, "latest_run: no output");
    *run_out = 0;
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    MDB_cursor *c;
    MDB_val key, v;
    rc = mdb_cursor_open(txn, s->dbi[DB_RUNS], &c);
    if (rc == 0) {
        rc = mdb_cursor_get(c, &key, &v, MDB_LAST);
        if (rc == 0 && key.mv_size == 4) *run_out = get_be32(key.mv_data);
        mdb_cursor_close(c);
    }
    read_end(s, txn);
    if (rc == MDB_NOTFOUND) return fail(s, MEM_NOTFOUND, "%s holds no run yet", s->path);
    return lmdb_fail(s, rc, "finding the latest run");
}

int mem_last_iteration(mem_store *s, uint32_t run, uint32_t *iter_out)
{
    if (!iter_out) return fail(s, MEM_EINVAL, "last_iteration: no output");
    *iter_out = 0;
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    rc = run_exists(s, txn, run);
    if (rc == 0) rc = last_iter_in(s, txn, run, iter_out);
    read_end(s, txn);
    return lmdb_fail(s, rc, "finding the last iteration");
}

/* ---- candidates ---------------------------------------------------------- */

struct append_ctx {
    uint32_t run;
    cJSON *rec;         /* parsed, for checks, totals and the index */
    const char *text;   /* the record as given: stored byte for byte after the stamp */
    size_t text_len;
    const char *state;
    size_t state_len;
    uint32_t iter;
};

static int put_metric_keys(mem_store *s, MDB_txn *txn, uint32_t run, uint32_t iter, const cJSON *rec)
{
    if (!rec_is_ranked(rec)) return 0;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rec, "metrics"), *it;
    cJSON_ArrayForEach(it, m) {
        unsigned char k[4 + MEM_METRIC_MAX + 1 + 8 + 4];
        size_t kl = rec_metric_key(k, run, it->string, it, iter);
        if (kl == 0) continue; /* not a finite number, or the name is too long */
        MDB_val key = {kl, k}, v = {0, ""};
        int rc = mdb_put(txn, s->dbi[DB_METRICS], &key, &v, 0);
        if (rc) return rc;
    }
    return 0;
}

static int update_run(mem_store *s, MDB_txn *txn, uint32_t run, uint32_t iter, const cJSON *rec)
{
    unsigned char k[4];
    be32(k, run);
    MDB_val key = {4, k}, v;
    int rc = mdb_get(txn, s->dbi[DB_RUNS], &key, &v);
    if (rc == MDB_NOTFOUND) return fail(s, MEM_NOTFOUND, "no run %u in %s", run, s->path);
    if (rc) return rc;
    const char *d;
    size_t n;
    char what[64];
    snprintf(what, sizeof what, "run %u", run);
    if ((rc = decode(s, &v, "run", what, &d, &n)) != 0) return rc;
    cJSON *r = cJSON_ParseWithLength(d, n);
    char *text = r ? rec_add_to_run(r, iter, rec) : NULL;
    cJSON_Delete(r);
    if (!text) return fail(s, MEM_ENOMEM, "%s: cannot update its totals", what);
    rc = put_value(txn, s->dbi[DB_RUNS], &key, "run", text, strlen(text));
    free(text);
    return rc;
}

static int append_fn(mem_store *s, MDB_txn *txn, void *vctx)
{
    struct append_ctx *ctx = vctx;
    int rc = run_exists(s, txn, ctx->run);
    uint32_t last = 0;
    if (rc == 0) rc = last_iter_in(s, txn, ctx->run, &last);
    if (rc) return rc;
    if (last == UINT32_MAX) return fail(s, MEM_EINVAL, "run %u is full", ctx->run);
    ctx->iter = last + 1;
    char why[200], stamp[128];
    if (rec_stamp(ctx->rec, ctx->run, ctx->iter, stamp, sizeof stamp, why, sizeof why) != 0)
        return fail(s, MEM_ECONFLICT, "run %u: %s", ctx->run, why);
    /* "{" stamp rest-of-record: the caller's bytes after its opening brace. */
    const char *brace = strchr(ctx->text, '{');
    size_t sl = strlen(stamp), rest = ctx->text_len - (size_t)(brace + 1 - ctx->text);
    char *text = malloc(1 + sl + rest + 1);
    if (!text) return fail(s, MEM_ENOMEM, "run %u: out of memory", ctx->run);
    text[0] = '{';
    memcpy(text + 1, stamp, sl);
    memcpy(text + 1 + sl, brace + 1, rest);
    text[1 + sl + rest] = '\0';
    unsigned char k[8];
    be32(k, ctx->run);
    be32(k + 4, ctx->iter);
    MDB_val key = {8, k};
    rc = put_value(txn, s->dbi[DB_CANDIDATES], &key, "candidate", text, 1 + sl + rest);
    free(text);
    if (rc == 0) rc = update_run(s, txn, ctx->run, ctx->iter, ctx->rec);
    if (rc == 0) rc = put_metric_keys(s, txn, ctx->run, ctx->iter, ctx->rec);
    if (rc == 0 && ctx->state) {
        key.mv_size = 4;
        rc = put_value(txn, s->dbi[DB_STATES], &key, "state", ctx->state, ctx->state_len);
    }
    return rc;
}

int mem_append(mem_store *s, uint32_t run, const char *record_json, const char *state_json,
               uint32_t *iter_out)
{
    if (iter_out) *iter_out = 0;
    if (!record_json) return fail(s, MEM_EINVAL, "append: no record");
    struct append_ctx ctx = {.run = run, .text = record_json, .state = state_json};
    ctx.text_len = strlen(record_json);
    if (state_json) {
        int rc = check_json(s, state_json, &ctx.state_len, "append: strategy state");
        if (rc) return rc;
    }
    ctx.rec = cJSON_ParseWithOpts(record_json, NULL, 1);
    if (!cJSON_IsObject(ctx.rec)) {
        cJSON_Delete(ctx.rec);
        return fail(s, MEM_EINVAL, "append to run %u: the record must be a JSON object", run);
    }
    int rc = write_txn(s, "appending a record", append_fn, &ctx);
    cJSON_Delete(ctx.rec);
    if (rc == 0 && iter_out) *iter_out = ctx.iter;
    return rc;
}

int mem_get(mem_store *s, uint32_t run, uint32_t iter, char **json_out)
{
    if (!json_out) return fail(s, MEM_EINVAL, "get: no output");
    *json_out = NULL;
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    unsigned char k[8];
    be32(k, run);
    be32(k + 4, iter);
    MDB_val key = {8, k};
    char what[64];
    snprintf(what, sizeof what, "run %u iteration %u", run, iter);
    rc = get_value(s, txn, DB_CANDIDATES, &key, "candidate", what, json_out);
    if (rc == MEM_NOTFOUND) fail(s, rc, "run %u has no iteration %u", run, iter);
    read_end(s, txn);
    return rc;
}

/* Fetch candidate (run, iter) and give it to fn as mem_scan does: a record that
 * fails its check, or one the metric index names but that is missing, reaches fn
 * as rc = MEM_EDAMAGED / MEM_EVERSION with json = NULL (mem_errmsg says why). */
static int visit_candidate(mem_store *s, MDB_txn *txn, uint32_t run, uint32_t iter,
                           mem_visit_fn fn, void *ud)
{
    unsigned char k[8];
    be32(k, run);
    be32(k + 4, iter);
    MDB_val key = {8, k}, v;
    int rc = mdb_get(txn, s->dbi[DB_CANDIDATES], &key, &v);
    if (rc == MDB_NOTFOUND) {
        fail(s, MEM_EDAMAGED, "run %u: metric index names iteration %u, which is missing", run, iter);
        return fn(ud, iter, MEM_EDAMAGED, NULL, 0);
    }
    if (rc) return rc;
    touch(s, v.mv_size);
    const char *d;
    size_t n;
    char what[64];
    snprintf(what, sizeof what, "run %u iteration %u", run, iter);
    int drc = decode(s, &v, "candidate", what, &d, &n);
    return fn(ud, iter, drc, drc ? NULL : d, drc ? 0 : n);
}

/* The visitor behind the strict readers (mem_recent, mem_best): appends each record
 * to a JSON array; a damaged one stops the call with its code. */
typedef struct { buf b; int count; } strict_ctx;

static int strict_visit(void *ud, uint32_t iter, int rc, const char *json, size_t len)
{
    strict_ctx *c = ud;
    (void)iter;
    if (rc) return rc;
    if (c->count++) buf_add(&c->b, ",", 1);
    buf_add(&c->b, json, len);
    return 0;
}

/* A visitor's return: 0 goes on, > 0 stops the walk (not an error), < 0 stops
 * with that code. Maps it to the walk's rc (1 = stopped). */
static int visit_result(int r) { return r > 0 ? 1 : r; }

/* What a walk visits, in key order: every run record (the keys of runs), or the
 * records of one run from an iteration on (candidates under the run's prefix). */
typedef struct {
    int of_run;            /* 0: the runs; 1: the records of run from iteration from */
    uint32_t run, from;
    const char *kind;      /* the envelope kind */
    const char *what;      /* for messages: "scanning records", "listing runs" */
} walk_range;

/* The one cursor loop behind mem_scan, mem_scan_runs and mem_runs, inside one read
 * (the caller's snapshot if one is open). Each record reaches fn as mem_scan says:
 * one that fails its check as rc = MEM_EDAMAGED / MEM_EVERSION with json = NULL,
 * and the walk goes on unless fn stops it. */
static int walk(mem_store *s, const walk_range *w, mem_visit_fn fn, void *ud)
{
    if (!fn) return fail(s, MEM_EINVAL, "%s: no visitor", w->what);
    s->err[0] = '\0';
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    MDB_cursor *c = NULL;
    if (w->of_run) rc = run_exists(s, txn, w->run);
    if (rc == 0) rc = mdb_cursor_open(txn, s->dbi[w->of_run ? DB_CANDIDATES : DB_RUNS], &c);
    unsigned char k[8];
    be32(k, w->run);
    be32(k + 4, w->from);
    MDB_val key = {8, k}, v;
    for (int op = w->of_run ? MDB_SET_RANGE : MDB_FIRST; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(c, &key, &v, op)) != 0) break;
        const unsigned char *kp = key.mv_data;
        uint32_t id;
        char what[64];
        if (w->of_run) {
            if (key.mv_size != 8 || get_be32(kp) != w->run) break; /* past the run */
            id = get_be32(kp + 4);
            snprintf(what, sizeof what, "run %u iteration %u", w->run, id);
        } else {
            id = key.mv_size == 4 ? get_be32(kp) : 0;
            snprintf(what, sizeof what, "run %u", id);
        }
        const char *d;
        size_t n;
        touch(s, v.mv_size);
        int drc = decode(s, &v, w->kind, what, &d, &n);
        int r = fn(ud, id, drc, drc ? NULL : d, drc ? 0 : n);
        if (r != 0) {
            rc = r > 0 ? 0 : r;
            break;
        }
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    if (c) mdb_cursor_close(c);
    read_end(s, txn);
    if (rc < 0 && is_mem_code(rc) && !s->err[0]) {
        if (w->of_run) fail(s, rc, "scan of run %u", w->run);
        else fail(s, rc, "scan of the runs");
    }
    return lmdb_fail(s, rc, w->what);
}

int mem_scan(mem_store *s, uint32_t run, uint32_t from, mem_visit_fn fn, void *ud)
{
    walk_range w = {1, run, from, "candidate", "scanning records"};
    return walk(s, &w, fn, ud);
}

int mem_scan_runs(mem_store *s, mem_visit_fn fn, void *ud)
{
    walk_range w = {0, 0, 0, "run", "listing runs"};
    return walk(s, &w, fn, ud);
}

int mem_runs(mem_store *s, char **json_out)
{
    if (!json_out) return fail(s, MEM_EINVAL, "runs: no output");
    *json_out = NULL;
    strict_ctx c = {{0}, 0};
    buf_add(&c.b, "[", 1);
    int rc = mem_scan_runs(s, strict_visit, &c);
    buf_add(&c.b, "]", 1);
    return buf_finish(s, &c.b, rc, json_out);
}

int mem_scan_recent(mem_store *s, uint32_t run, unsigned k, mem_visit_fn fn, void *ud)
{
    if (!fn) return fail(s, MEM_EINVAL, "scan_recent: no visitor");
    s->err[0] = '\0';
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    uint32_t last = 0;
    rc = run_exists(s, txn, run);
    if (rc == 0) rc = last_iter_in(s, txn, run, &last);
    /* Iterations have no gaps, so the last k are last-k+1 .. last. */
    uint32_t from = last >= k ? last - k + 1 : 1;
    for (uint32_t i = from; rc == 0 && k > 0 && last > 0 && i <= last; i++)
        rc = visit_result(visit_candidate(s, txn, run, i, fn, ud));
    read_end(s, txn);
    if (rc == 1) rc = 0;
    if (rc < 0 && is_mem_code(rc) && !s->err[0]) fail(s, rc, "recent records of run %u", run);
    return lmdb_fail(s, rc, "reading recent records");
}

int mem_recent(mem_store *s, uint32_t run, unsigned k, char **json_out)
{
    if (!json_out) return fail(s, MEM_EINVAL, "recent: no output");
    *json_out = NULL;
    strict_ctx c = {{0}, 0};
    buf_add(&c.b, "[", 1);
    int rc = mem_scan_recent(s, run, k, strict_visit, &c);
    buf_add(&c.b, "]", 1);
    return buf_finish(s, &c.b, rc, json_out);
}

typedef struct { uint64_t v; uint32_t iter; } ranked;

static int cmp_max(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->iter < y->iter ? -1 : x->iter > y->iter;
}

static int cmp_min(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->iter < y->iter ? -1 : x->iter > y->iter;
}

/* Walk the metric index from the best end, collecting whole groups of equal
 * values so ties can go to the earliest iteration. */
static int collect_best(mem_store *s, MDB_txn *txn, uint32_t run, const char *metric, int order,
                        unsigned n, ranked **out, size_t *count)
{
    unsigned char pre[4 + MEM_METRIC_MAX + 1];
    size_t ml = strlen(metric), pl = 4 + ml + 1;
    be32(pre, run);
    memcpy(pre + 4, metric, ml);
    pre[4 + ml] = order == MEM_MAX ? 1 : 0; /* just past / at the start of the range */
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->dbi[DB_METRICS], &c);
    if (rc) return rc;
    MDB_val key = {pl, pre}, v;
    rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE);
    if (order == MEM_MAX) {
        if (rc == 0) rc = mdb_cursor_get(c, &key, &v, MDB_PREV);
        else if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(c, &key, &v, MDB_LAST);
    }
    pre[4 + ml] = 0;
    size_t cap = n + 16, k = 0;
    ranked *r = malloc(cap * sizeof *r);
    if (!r) rc = ENOMEM;
    while (rc == 0 && key.mv_size == pl + 12 && memcmp(key.mv_data, pre, pl) == 0) {
        const unsigned char *p = (const unsigned char *)key.mv_data + pl;
        ranked e = {(uint64_t)get_be32(p) << 32 | get_be32(p + 4), get_be32(p + 8)};
        if (k >= n && e.v != r[k - 1].v) break;
        if (k == cap) {
            ranked *g = realloc(r, (cap *= 2) * sizeof *r);
            if (!g) {
                rc = ENOMEM;
                break;
            }
            r = g;
        }
        r[k++] = e;
        rc = mdb_cursor_get(c, &key, &v, order == MEM_MAX ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) rc = 0;
    if (rc) {
        free(r);
        return rc;
    }
    qsort(r, k, sizeof *r, order == MEM_MAX ? cmp_max : cmp_min);
    *out = r;
    *count = k < n ? k : n;
    return 0;
}

int mem_scan_best(mem_store *s, uint32_t run, unsigned n, const char *metric, int order,
                  mem_visit_fn fn, void *ud)
{
    if (!fn) return fail(s, MEM_EINVAL, "scan_best: no visitor");
    if (!metric || !*metric || strlen(metric) > MEM_METRIC_MAX)
        return fail(s, MEM_EINVAL, "best: metric name must be 1..%d bytes", MEM_METRIC_MAX);
    if (order != MEM_MAX && order != MEM_MIN)
        return fail(s, MEM_EINVAL, "best: order must be MEM_MAX or MEM_MIN");
    s->err[0] = '\0';
    MDB_txn *txn;
    int rc = read_begin(s, &txn);
    if (rc) return rc;
    rc = run_exists(s, txn, run);
    ranked *r = NULL;
    size_t count = 0;
    if (rc == 0 && n > 0) rc = collect_best(s, txn, run, metric, order, n, &r, &count);
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = visit_result(visit_candidate(s, txn, run, r[i].iter, fn, ud));
    free(r);
    read_end(s, txn);
    if (rc == 1) rc = 0;
    if (rc < 0 && is_mem_code(rc) && !s->err[0]) fail(s, rc, "ranking the records of run %u", run);
    return lmdb_fail(s, rc, "ranking records");
}

int mem_best(mem_store *s, uint32_t run, unsigned n, const char *metric, int order, char **json_out)
{
    if (!json_out) return fail(s, MEM_EINVAL, "best: no output");
    *json_out = NULL;
    strict_ctx c = {{0}, 0};
    buf_add(&c.b, "[", 1);
    int rc = mem_scan_best(s, run, n, metric, order, strict_visit, &c);
    buf_add(&c.b, "]", 1);
    return buf_finish(s, &c.b, rc, json_out);
}

int mem_state_get(mem_store *s, uint32_t run, char **json_out)
{
    char what[64];
    snprintf(what, sizeof what, "state of run %u", run);
    int rc = get_by_run(s, DB_STATES, run, "state", what, json_out);
    if (rc == MEM_NOTFOUND) fail(s, rc, "run %u has no stored strategy state", run);
    return rc;
}

/* ---- caches and key-value space ------------------------------------------ */

struct put_ctx { int db; const char *kind, *key, *json; size_t len; };

static int put_fn(mem_store *s, MDB_txn *txn, void *vctx)
{
    struct put_ctx *ctx = vctx;
    MDB_val key = {strlen(ctx->key), (void *)ctx->key};
    if (!ctx->json) {
        int rc = mdb_del(txn, s->dbi[ctx->db], &key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return put_value(txn, s->dbi[ctx->db], &key, ctx->kind, ctx->json, ctx->len);
}

static int put_keyed(mem_store *s, int db, const char *kind, const char *what,
                     const char *key, const char *json, int allow_delete)
{
    int rc = check_key(s, key, what);
    if (rc) return rc;
    struct put_ctx ctx = {db, kind, key, json, 0};
    if (json || !allow_delete) {
        rc = check_json(s, json, &ctx.len, what);
        if (rc) return rc;
    }
    return write_txn(s, what, put_fn, &ctx);
}

static int get_keyed(mem_store *s, int db, const char *kind, const char *what,
                     const char *key, char **json_out)
{
    if (!json_out) return fail(s, MEM_EINVAL, "%s: no output", what);
    *json_out = NULL;
    int rc = check_key(s, key, what);
    if (rc) return rc;
    MDB_txn *txn;
    if ((rc = read_begin(s, &txn)) != 0) return rc;
    MDB_val k = {strlen(key), (void *)key};
    char w[MEM_KEY_MAX + 64];
    snprintf(w, sizeof w, "%s \"%s\"", what, key);
    rc = get_value(s, txn, db, &k, kind, w, json_out);
    read_end(s, txn);
    return rc;
}

int mem_put_hash(mem_store *s, const char *hash, const char *result_json)
{
    return put_keyed(s, DB_BY_HASH, "result", "put_hash", hash, result_json, 0);
}

int mem_by_hash(mem_store *s, const char *hash, char **json_out)
{
    return get_keyed(s, DB_BY_HASH, "result", "by_hash", hash, json_out);
}

int mem_llm_put(mem_store *s, const char *key, const char *json)
{
    return put_keyed(s, DB_LLM, "llm", "llm_put", key, json, 0);
}

int mem_llm_get(mem_store *s, const char *key, char **json_out)
{
    return get_keyed(s, DB_LLM, "llm", "llm_get", key, json_out);
}

int mem_kv_put(mem_store *s, const char *key, const char *json)
{
    return put_keyed(s, DB_KV, "kv", "kv_put", key, json, 1);
}

int mem_kv_get(mem_store *s, const char *key, char **json_out)
{
    return get_keyed(s, DB_KV, "kv", "kv_get", key, json_out);
}
