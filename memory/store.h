/*
 * store.h — the feedback memory: every candidate, result and diagnostic triple of
 * a search, kept in one LMDB environment (Lua-free C).
 *
 * A store is a directory (default ./llmnas.db) holding LMDB's data.mdb and
 * lock.mdb, plus llmnas.lock, the writer lock. The environment is opened
 * without MDB_WRITEMAP and without MDB_NOSYNC: a committed call is on disk
 * when it returns, and a process killed at any instant (kill -9 included)
 * leaves the store as of its last committed call.
 *
 * Named databases (all readable with `mdb_stat -a` and `mdb_dump -s NAME`):
 *   runs        run id (4 bytes, big-endian)           -> run record
 *   candidates  run id + iteration (8 bytes, BE)       -> candidate record
 *   states      run id (4 bytes, BE)                   -> strategy state at the
 *                                                         run's last iteration
 *   by_hash     graph hash (text)                      -> evaluation result
 *   llm         request hash (text)                    -> LLM response
 *   kv          key (text)                             -> any JSON value
 *   metrics     run + metric name + NUL + value + iteration -> (empty); the
 *               index behind mem_best
 *
 * Values are JSON envelopes written by this module:
 *     {"crc32":"1a2b3c4d","v":1,"kind":"candidate","data":<the JSON you stored>}
 * The CRC-32 (zlib) covers every byte after the crc32 field. It is verified on
 * every read; a record that fails it (or is not an envelope, or has a newer
 * version) is reported as MEM_EDAMAGED / MEM_EVERSION and never returned as data.
 *
 * Numbering: run ids start at 1; iterations of a run start at 1 and have no
 * gaps — mem_append always writes last_iteration + 1.
 *
 * Return codes: 0 on success, or a negative code from the MEM_ band below
 * (mem_strerror() names it). Calls that fail for a reason a user must read
 * also leave a message naming the run, iteration, key or file involved in
 * mem_errmsg(); mem_open writes its message into err.
 *
 * Ownership: strings passed in are copied (the caller keeps them). Every
 * char ** out-parameter receives a NUL-terminated string the caller owns and
 * releases with mem_free(); on failure it is set to NULL.
 *
 * Memory: LMDB reads through a shared map of data.mdb; the pages of it this
 * process has touched are given back after every write call, at the end of a
 * snapshot, and every few dozen reads (memory/mapped.h says how and why that is
 * safe), so a long-lived process's RSS does not grow with the store.
 *
 * Thread rules: a mem_store is used by one thread at a time (it may move
 * between threads: the environment is opened with MDB_NOTLS). Any number of
 * processes may read while one process writes; each reader call sees one
 * committed snapshot. A second writer on the same directory is refused with
 * MEM_ELOCKED. Do not open the same directory twice in one process (LMDB's
 * locks are per process): the second mem_open returns MEM_EBUSY. A child
 * process made by fork() must not use its parent's store; it closes its copy
 * of the writer lock at fork (pthread_atfork), so a worker that outlives its
 * parent does not keep the store locked.
 */
#ifndef LLMNAS_STORE_H
#define LLMNAS_STORE_H

#include <stddef.h>
#include <stdint.h>

#define MEM_DEFAULT_DIR "llmnas.db"
#define MEM_VERSION 1          /* envelope version written by this build */
#define MEM_METRIC_MAX 200     /* longest metric name that is indexed */
#define MEM_KEY_MAX 400        /* longest kv / hash / llm key */

/* Error codes: LMDB's band is -30800..-30780; ours starts at -31000. */
enum {
    MEM_OK = 0,
    MEM_NOTFOUND = -31000,  /* no such run, iteration or key */
    MEM_EDAMAGED = -31001,  /* a stored record failed its checksum or shape */
    MEM_EVERSION = -31002,  /* a record written by a newer llmnas */
    MEM_ELOCKED = -31003,   /* another process writes this store */
    MEM_EBUSY = -31004,     /* store already open in this process / call during a snapshot */
    MEM_ENOSPC = -31005,    /* disk full: nothing of the call was written */
    MEM_EMAPFULL = -31006,  /* the map reached opts.map_max */
    MEM_EINVAL = -31007,    /* bad argument (NULL, malformed JSON, key too long) */
    MEM_ECONFLICT = -31008, /* record's iter/run field disagrees with the next iteration */
    MEM_EREADONLY = -31009, /* write call on a store opened read-only */
    MEM_ENOENT = -31010,    /* read-only open of a directory that holds no store */
    MEM_EIO = -31011,       /* operating system error (errno in the message) */
    MEM_ENOMEM = -31012,
    MEM_ELMDB = -31013,     /* LMDB failed otherwise (its message is in mem_errmsg) */
    MEM_EINTERRUPTED = -31014, /* a scan's visitor stopped it for an interrupt */
};

/* Order for mem_best. */
enum { MEM_MAX = 0, MEM_MIN = 1 };

typedef struct mem_store mem_store;

typedef struct mem_options {
    int readonly;      /* 1: no writer lock, write calls fail with MEM_EREADONLY */
    size_t map_size;   /* initial map size in bytes (0 = 64 MiB); an existing,
                          larger store keeps its own size */
    size_t map_max;    /* growth limit (0 = 1 TiB); the map doubles when full */
} mem_options;

/* The string for a code, beginning with the code's name ("MEM_EDAMAGED: ...").
 * Also names LMDB codes and errno values. Never NULL, static storage. */
const char *mem_strerror(int rc);

/* Release a string returned by this module (NULL is allowed). */
void mem_free(void *p);

/*
 * Open (creating if needed, unless opts->readonly) the store in directory dir.
 * opts may be NULL for the defaults. Clears stale reader slots left by killed
 * processes. A writer takes dir/llmnas.lock (flock) and writes its pid there.
 * Returns 0 and *out, or:
 *   MEM_ELOCKED   another process holds the writer lock (err names its pid)
 *   MEM_EBUSY     dir is already open in this process
 *   MEM_ENOENT    readonly and dir holds no store
 *   MEM_EIO, MEM_ELMDB, MEM_ENOMEM, MEM_EVERSION
 * On failure *out is NULL and err (if errlen > 0) holds a message naming dir.
 */
int mem_open(const char *dir, const mem_options *opts, mem_store **out,
             char *err, size_t errlen);

/* Close the store and release the writer lock. NULL is allowed. Ends a
 * snapshot left open. Not to be called twice on the same pointer. */
void mem_close(mem_store *s);

/* The message of the last failed call on s ("" if none). Valid until the next
 * call on s. */
const char *mem_errmsg(const mem_store *s);

/* The directory s was opened on. */
const char *mem_path(const mem_store *s);

/* Current map size and growth count since open (for tests and `show`). */
int mem_map_info(mem_store *s, size_t *map_size, unsigned *grown);

/*
 * Snapshots: between mem_snapshot_begin and mem_snapshot_end every read call
 * on s sees the same committed state (one LMDB read transaction). Write calls
 * during a snapshot fail with MEM_EBUSY. Nested begins fail with MEM_EBUSY.
 */
int mem_snapshot_begin(mem_store *s);
void mem_snapshot_end(mem_store *s);

/* ---- runs --------------------------------------------------------------- */

/*
 * Start a run. meta_json is a JSON object (strategy, dataset, model, options…)
 * or NULL for {}. Writes the run record
 *     {"id":N,"started":UNIX_SECONDS,"meta":{...},"last_iteration":0,"totals":{...}}
 * and returns its id in *run_out (ids increase from 1).
 * Errors: MEM_EINVAL (meta not an object), MEM_EREADONLY, MEM_ENOSPC, MEM_EMAPFULL.
 */
int mem_begin_run(mem_store *s, const char *meta_json, uint32_t *run_out);

/* The run record of run (see mem_begin_run; totals in stdlib/doc/memory.md).
 * MEM_NOTFOUND if there is no such run. */
int mem_run_get(mem_store *s, uint32_t run, char **json_out);

/* A JSON array of every run record, oldest first. A damaged run record fails
 * the whole call (MEM_EDAMAGED); mem_scan_runs lists the rest around it. */
int mem_runs(mem_store *s, char **json_out);

/* The highest run id; MEM_NOTFOUND if the store holds no run. */
int mem_latest_run(mem_store *s, uint32_t *run_out);

/* The run's last committed iteration (0 if none yet); MEM_NOTFOUND if no run. */
int mem_last_iteration(mem_store *s, uint32_t run, uint32_t *iter_out);

/* ---- candidates ----------------------------------------------------------- */

/*
 * Commit one iteration of run: the candidate record (a JSON object) and, if
 * state_json is not NULL, the strategy's state (any JSON value), together with
 * the run's totals and the metric index, in one transaction. The record gets
 * "run", "iter" (= last_iteration + 1) and "committed_at" fields; if it already
 * has "iter" or "run" they must match (MEM_ECONFLICT otherwise — the guard
 * against committing an iteration twice after a resume).
 * Numeric fields of record.metrics are indexed for mem_best when the record's
 * status is "ok" or absent.
 * When the map is full the transaction is aborted, the map doubled and the
 * commit retried (up to opts.map_max, then MEM_EMAPFULL). On MEM_ENOSPC
 * nothing of the call is stored; once space is freed the same call succeeds.
 * Errors: MEM_NOTFOUND (no such run), MEM_EINVAL, MEM_ECONFLICT, MEM_EREADONLY,
 *         MEM_EBUSY (snapshot open), MEM_ENOSPC, MEM_EMAPFULL, MEM_EIO.
 */
int mem_append(mem_store *s, uint32_t run, const char *record_json,
               const char *state_json, uint32_t *iter_out);

/* The record of iteration iter of run. MEM_NOTFOUND, MEM_EDAMAGED. */
int mem_get(mem_store *s, uint32_t run, uint32_t iter, char **json_out);

/* A JSON array of the last k records of run, in iteration order (oldest
 * first). Fewer if the run is shorter; MEM_NOTFOUND if no such run. A damaged
 * record fails the whole call (MEM_EDAMAGED); mem_scan_recent lists the rest
 * around it. */
int mem_recent(mem_store *s, uint32_t run, unsigned k, char **json_out);

/* A JSON array of the n records of run with the highest (MEM_MAX) or lowest
 * (MEM_MIN) value of metrics.<metric>, best first; ties go to the earlier
 * iteration. Only records whose status is "ok" (or absent) count. A damaged
 * record fails the whole call (MEM_EDAMAGED); mem_scan_best lists the rest. */
int mem_best(mem_store *s, uint32_t run, unsigned n, const char *metric,
             int order, char **json_out);

/*
 * Visit the records of run from iteration `from` on, in order, inside one
 * snapshot. fn gets rc = 0 and the record text (not NUL-terminated beyond len;
 * valid only during the call), or rc = MEM_EDAMAGED / MEM_EVERSION and
 * json = NULL for a record that failed its check (mem_errmsg says why).
 * fn returns 0 to continue, > 0 to stop (mem_scan then returns 0), < 0 to stop
 * with that code. memory/ knows nothing of signals: a caller that must stop
 * on Ctrl-C polls its own flag in fn and returns MEM_EINTERRUPTED.
 */
typedef int (*mem_visit_fn)(void *ud, uint32_t iter, int rc, const char *json,
                            size_t len);
int mem_scan(mem_store *s, uint32_t run, uint32_t from, mem_visit_fn fn, void *ud);

/* Visit every run record, oldest first, inside one snapshot, as mem_scan
 * does (iter is the run id): a damaged run record reaches fn as rc =
 * MEM_EDAMAGED / MEM_EVERSION with json = NULL and the scan goes on, so a
 * listing can show the others. */
int mem_scan_runs(mem_store *s, mem_visit_fn fn, void *ud);

/* mem_recent and mem_best as visits, inside one snapshot, for listings that must show
 * what is intact around a damaged record: fn is called as mem_scan calls it, for
 * the records mem_recent (oldest first) or mem_best (best first; a record the
 * metric index names but that is missing counts as damaged) would return; a
 * damaged one reaches fn with rc = MEM_EDAMAGED / MEM_EVERSION and json = NULL
 * (mem_errmsg says why) and the visit goes on. fn's return as in mem_scan.
 * mem_recent and mem_best are these with a visitor that stops at damage. */
int mem_scan_recent(mem_store *s, uint32_t run, unsigned k, mem_visit_fn fn, void *ud);
int mem_scan_best(mem_store *s, uint32_t run, unsigned n, const char *metric,
                  int order, mem_visit_fn fn, void *ud);

/* The strategy state stored by the run's last mem_append that had one.
 * MEM_NOTFOUND if none. */
int mem_state_get(mem_store *s, uint32_t run, char **json_out);

/* ---- caches and key-value space ------------------------------------------- */

/* Evaluation cache shared by all runs, keyed by graph hash (1..MEM_KEY_MAX bytes).
 * put replaces. by_hash: MEM_NOTFOUND if absent. */
int mem_put_hash(mem_store *s, const char *hash, const char *result_json);
int mem_by_hash(mem_store *s, const char *hash, char **json_out);

/* LLM record/replay cache keyed by the request hash. get: MEM_NOTFOUND if absent. */
int mem_llm_get(mem_store *s, const char *key, char **json_out);
int mem_llm_put(mem_store *s, const char *key, const char *json);

/* Strategy key-value space (any JSON value). put with json = NULL deletes
 * (deleting an absent key is not an error). get: MEM_NOTFOUND if absent. */
int mem_kv_get(mem_store *s, const char *key, char **json_out);
int mem_kv_put(mem_store *s, const char *key, const char *json);

#endif
