/*
 * snapshot.h — reading the feedback memory the way `llmnas show` does, shared by
 * show, report, plot and serve (lua/cli/snapshot.c): open the store read-only
 * (never the writer's lock), read inside one committed snapshot, name runs as
 * `llmnas show` names them, and read record fields tolerantly (records lack
 * fields the search loop did not decide).
 */
#ifndef LLMNAS_CLI_SNAPSHOT_H
#define LLMNAS_CLI_SNAPSHOT_H

#include "store.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Open the store in dir read-only (no writer lock; safe while a run writes).
 * Returns 0 with *out, or prints "llmnas: CMD: why" and returns an exit code
 * (66 no store there, with a hint to give --db). */
int snap_open(const char *cmd, const char *dir, mem_store **out);

/* The sysexits code for a MEM_ return code (66 not found, 65 damaged, ...). */
int snap_exit_for(int rc);

/* Print "llmnas: CMD: <mem_errmsg or the code's name>" and return snap_exit_for(rc). */
int snap_store_error(const char *cmd, mem_store *s, int rc);

/* A positive decimal id of exactly len bytes of t; MEM_EINVAL otherwise. */
int snap_parse_id(const char *t, size_t len, uint32_t *id);

/* A run named by len bytes of t: a run id or "latest" (the highest id; MEM_NOTFOUND
 * in an empty store). MEM_EINVAL when it is neither. */
int snap_run_id(mem_store *s, const char *t, size_t len, uint32_t *run);

/* o.a.b for path "a.b" (NULL where a step is missing); a number at path into *v
 * (returns 0 and leaves *v when absent or not a number); a string at path (NULL). */
const cJSON *snap_jget(const cJSON *o, const char *path);
int snap_jnum(const cJSON *o, const char *path, double *v);
const char *snap_jstr(const cJSON *o, const char *path);

/* Sum of a numeric field over the roles of rec.llm (prompt_tokens, seconds, ...). */
double snap_llm_sum(const cJSON *rec, const char *field);

/* The run's display name: meta.name, else meta.strategy, else meta.script, else "-". */
const char *snap_run_name(const cJSON *run);

/* A record's status word: "ok", else its error_kind, else its status, else "?". */
const char *snap_status_of(const cJSON *rec);

#endif
