/*
 * mapped.c — finding LMDB's map in this process and releasing its touched pages
 * (mapped.h says why and why it is safe). Linux: /proc/self/maps and madvise.
 */
#include "mapped.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

void mapped_forget(mapped_range *m)
{
    m->base = NULL;
    m->len = 0;
    m->unknown = 0;
}

/* An address inside env's map: the main database's first value (the record of
 * one of the store's named databases), read in a read-only transaction, which
 * LMDB serves from the map itself. */
static int map_pointer(MDB_env *env, uintptr_t *p)
{
    MDB_txn *txn;
    MDB_dbi main;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0) return -1;
    int rc = mdb_dbi_open(txn, NULL, 0, &main);
    if (rc == 0) rc = mdb_cursor_open(txn, main, &c);
    if (rc == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        mdb_cursor_close(c);
    }
    if (rc == 0) *p = (uintptr_t)v.mv_data;
    mdb_txn_abort(txn);
    return rc == 0 ? 0 : -1;
}

/* The mapping of /proc/self/maps that holds p, if it is exactly len long. */
static int find(uintptr_t p, size_t len, char **base)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int rc = -1;
    while (getline(&line, &cap, f) > 0) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || p < lo || p >= hi) continue;
        if (hi - lo == len) {
            *base = (char *)lo;
            rc = 0;
        }
        break;
    }
    free(line);
    fclose(f);
    return rc;
}

int mapped_release(mapped_range *m, MDB_env *env)
{
    MDB_envinfo info;
    if (!env || mdb_env_info(env, &info) != 0) return -1;
    if (m->base && m->len != info.me_mapsize) mapped_forget(m); /* resized meanwhile */
    if (!m->base) {
        uintptr_t p;
        if (m->unknown) return -1;
        if (map_pointer(env, &p) != 0) return -1; /* e.g. resized by another process: later */
        if (find(p, info.me_mapsize, &m->base) != 0) {
            m->unknown = 1;
            m->base = NULL;
            return -1;
        }
        m->len = info.me_mapsize;
    }
    return madvise(m->base, m->len, MADV_DONTNEED) == 0 ? 0 : -1;
}
