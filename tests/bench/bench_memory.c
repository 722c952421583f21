/*
 * bench_memory.c — the feedback memory at 100,000 records (`make bench`).
 *
 * Builds one run of N candidate records (default 100,000; BENCH_MEMORY_N to
 * change) of about 2 KB each, every one its own durable transaction with the
 * strategy state, as the search loop writes them. Prints, measured here:
 *   append        amortised over all N, and beside it a bare LMDB put+commit of
 *                 the same bytes in the same mode (the reference: what the
 *                 envelope, JSON, totals and metric index cost on top); once on
 *                 disk (BENCH_MEMORY_DIR, default /tmp) and once on /dev/shm, where
 *                 fdatasync is free and the ratio shows our own CPU cost
 *   recent(5), best(10), get, state   mean over repeated calls at N records
 *   llmnas show RUN (whole process), and show --all --format csv (every record)
 * Targets from issue 5: recent(5), best(10) < 1 ms; append < 1 ms amortised;
 * show of a run < 1 s. No assertion: figures only.
 */
#include "store.h"
#include "bench_records.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned n_records;

typedef int (*query_fn)(mem_store *s, uint32_t run, unsigned i, char **out);

static int q_recent(mem_store *s, uint32_t run, unsigned i, char **out) { (void)i; return mem_recent(s, run, 5, out); }
static int q_best(mem_store *s, uint32_t run, unsigned i, char **out) { (void)i; return mem_best(s, run, 10, "val_acc", MEM_MAX, out); }
static int q_get(mem_store *s, uint32_t run, unsigned i, char **out) { return mem_get(s, run, 1 + i * 7919u % n_records, out); }
static int q_state(mem_store *s, uint32_t run, unsigned i, char **out) { (void)i; return mem_state_get(s, run, out); }

static double time_query(mem_store *s, uint32_t run, query_fn fn, unsigned reps)
{
    double t0 = now();
    for (unsigned i = 0; i < reps; i++) {
        char *out = NULL;
        int rc = fn(s, run, i, &out);
        if (rc) {
            fprintf(stderr, "query failed: %s\n", mem_errmsg(s));
            exit(1);
        }
        mem_free(out);
    }
    return (now() - t0) / reps;
}

/* The reference: the same bytes, one mdb_put + commit each, same env flags. */
static double bare_lmdb(const char *dir, unsigned n, size_t bytes)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mkdir(dir, 0755);
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, (size_t)4 << 30);
    if (mdb_env_open(env, dir, MDB_NOTLS, 0644)) return -1;
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    char *v = malloc(bytes);
    memset(v, 'x', bytes);
    double t0 = now();
    for (unsigned i = 0; i < n; i++) {
        unsigned char k[4] = {(unsigned char)(i >> 24), (unsigned char)(i >> 16), (unsigned char)(i >> 8), (unsigned char)i};
        MDB_val key = {4, k}, val = {bytes, v};
        mdb_txn_begin(env, NULL, 0, &txn);
        mdb_put(txn, dbi, &key, &val, 0);
        mdb_txn_commit(txn);
    }
    double t = (now() - t0) / n;
    mdb_env_close(env);
    free(v);
    return t;
}

static double time_cmd(const char *cmd)
{
    double t0 = now();
    if (system(cmd) != 0) return -1;
    return now() - t0;
}

/* Build n records in a new store under parent; print the append figures
 * beside bare LMDB; with queries, the query and `llmnas show` figures too. */
static int bench_in(const char *parent, const char *label, unsigned n, int queries)
{
    char dir[256], db[300], ref[300], cmd[1024];
    snprintf(dir, sizeof dir, "%s/llmnas-bench-XXXXXX", parent);
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof db, "%s/db", dir);
    snprintf(ref, sizeof ref, "%s/ref", dir);
    mem_store *s;
    char err[512];
    if (mem_open(db, NULL, &s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    uint32_t run, iter;
    mem_begin_run(s, "{\"name\":\"bench\"}", &run);
    static char rec[8192];
    char state[128];
    size_t total = 0;
    double t0 = now(), worst = 0;
    for (unsigned i = 1; i <= n; i++) {
        total += (size_t)bench_record(rec, sizeof rec, i);
        snprintf(state, sizeof state, "{\"iteration\":%u,\"best\":{\"iteration\":%u},\"tokens\":%u}", i, i / 2, i * 4750);
        double a = now();
        if (mem_append(s, run, rec, state, &iter)) {
            fprintf(stderr, "append %u: %s\n", i, mem_errmsg(s));
            return 1;
        }
        a = now() - a;
        if (a > worst) worst = a;
    }
    double append = (now() - t0) / n;
    size_t map;
    unsigned grown;
    mem_map_info(s, &map, &grown);
    unsigned refn = n < 20000 ? n : 20000;
    double bare = bare_lmdb(ref, refn, total / n);
    printf("[%s] %u records of %zu bytes on average, one run; map %zu MiB (grew %u times)\n",
           label, n, total / n, map >> 20, grown);
    printf("append (durable)     %8.1f us amortised   (worst %.1f ms)   target < 1000 us\n", append * 1e6, worst * 1e3);
    printf("  bare LMDB put+commit of the same bytes, same mode: %.1f us (%u records)   ratio %.2fx\n",
           bare * 1e6, refn, append / bare);
    if (queries) {
        printf("recent(5)            %8.1f us   target < 1000 us\n", time_query(s, run, q_recent, 20000) * 1e6);
        printf("best(10, val_acc)    %8.1f us   target < 1000 us\n", time_query(s, run, q_best, 20000) * 1e6);
        printf("get(run, iter)       %8.1f us   (random iterations)\n", time_query(s, run, q_get, 20000) * 1e6);
        printf("state(run)           %8.1f us\n", time_query(s, run, q_state, 20000) * 1e6);
    }
    mem_close(s);
    if (queries) {
        const char *llmnas = getenv("LLMNAS");
        if (!llmnas) llmnas = "./llmnas";
        snprintf(cmd, sizeof cmd, "'%s' show --db '%s' %u >/dev/null", llmnas, db, run);
        double show = time_cmd(cmd);
        snprintf(cmd, sizeof cmd, "'%s' show --db '%s' >/dev/null", llmnas, db);
        double runs = time_cmd(cmd);
        snprintf(cmd, sizeof cmd, "'%s' show --db '%s' %u --all --format csv >/dev/null", llmnas, db, run);
        double all = time_cmd(cmd);
        snprintf(cmd, sizeof cmd, "'%s' --version >/dev/null", llmnas);
        double start = time_cmd(cmd);
        printf("llmnas show RUN      %8.1f ms   (whole process; `llmnas --version` takes %.1f ms)   target < 1000 ms\n",
               show * 1e3, start * 1e3);
        printf("llmnas show          %8.1f ms   (the runs)\n", runs * 1e3);
        printf("show RUN --all --format csv  %.1f ms   (all %u records)\n", all * 1e3, n);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

int main(void)
{
    const char *ns = getenv("BENCH_MEMORY_N");
    unsigned n = ns ? (unsigned)strtoul(ns, NULL, 10) : 100000;
    if (n < 10) n = 10;
    n_records = n;
    bench_records_init();
    const char *disk = getenv("BENCH_MEMORY_DIR");
    if (bench_in(disk ? disk : "/tmp", "disk", n, 1)) return 1;
    /* In memory the commit's fdatasync costs nothing: what is left is our own
     * work (JSON, checksum, totals, index) against LMDB's. */
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
        return bench_in("/dev/shm", "tmpfs, no disk wait", n, 0);
    return 0;
}
