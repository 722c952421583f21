/*
 * mapped.h — give back the pages of LMDB's memory map that this process has
 * touched (Lua-free C, used by store.c only).
 *
 * LMDB reads data.mdb through one read-only MAP_SHARED mapping of the whole map
 * size. Every page a read touches (and, by the kernel's fault-around, up to 15
 * neighbours already in the page cache) stays in this process's page tables
 * until the map is closed, so a long search that reads the caches, the run
 * record and the newest leaves as the store grows ends up with pages of the
 * whole file in its RSS (RssFile): 17 -> 63 MiB for a 56 MiB store in the
 * 2,000-iteration soak. mapped_release drops them with madvise(MADV_DONTNEED).
 *
 * Why that is safe (madvise(2)): on a shared file mapping MADV_DONTNEED only
 * removes this process's page-table entries; the next access faults the page in
 * again from the page cache, i.e. from the file's current contents. No data can
 * be lost: the map is PROT_READ (the store never uses MDB_WRITEMAP, so LMDB
 * writes with pwrite and this mapping is never dirty). No reader can see other
 * bytes than before: a page that an open read transaction can reach is never
 * rewritten while that transaction is open (LMDB's MVCC keeps it off the free
 * list), so the refault reads what the first fault read. It may therefore run
 * with read transactions open, and pointers LMDB handed out stay valid.
 */
#ifndef LLMNAS_MAPPED_H
#define LLMNAS_MAPPED_H

#include <lmdb.h>
#include <stddef.h>

/* Where env's map lies in this process: found once, forgotten when it moves. */
typedef struct mapped_range {
    char *base;   /* NULL until found */
    size_t len;   /* the map size it was found at */
    int unknown;  /* 1: not found (no /proc?): do not look again until it moves */
} mapped_range;

/* The map moved or may have: after mdb_env_open, mdb_env_set_mapsize or
 * mdb_env_close. The next mapped_release looks for it again. */
void mapped_forget(mapped_range *m);

/*
 * Drop this process's page-table entries for env's map (see above). Finds the
 * map first if needed: the mapping in /proc/self/maps that holds a value read
 * from env's main database and is exactly the map's size long (me_mapaddr of
 * mdb_env_info is NULL unless MDB_FIXEDMAP). Must not be called with a write
 * transaction of env open in this thread; read transactions may be open.
 * Best effort: returns 0 when the pages were released, -1 when the map could
 * not be found or madvise failed (nothing else happens: pages are only memory).
 */
int mapped_release(mapped_range *m, MDB_env *env);

#endif
