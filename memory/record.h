/*
 * record.h — what the store computes from records (internal to memory/):
 * the run record and its running totals, the stamp put on each candidate
 * record, and the metric-index keys behind mem_best. All JSON is cJSON.
 */
#ifndef LLMNAS_RECORD_H
#define LLMNAS_RECORD_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* The text of a new run record: {"id","started","meta","last_iteration":0,"totals"}.
 * NULL on out-of-memory. Caller frees. */
char *rec_new_run(uint32_t run, const cJSON *meta);

/* The fields to put in front of a candidate record's own: "run", "iter" and
 * "committed_at", each unless the record has it, as `"run":1,"iter":2,...`
 * (possibly empty) in out. The record's own text is kept byte for byte, so
 * integers beyond 2^53 survive. Returns -1 with a reason in why if the record
 * already names another run or iteration. */
int rec_stamp(const cJSON *rec, uint32_t run, uint32_t iter, char *out, size_t outlen,
              char *why, size_t whylen);

/* Add candidate rec (iteration iter) to the run record's last_iteration and
 * totals; return the new run record text (caller frees) or NULL on OOM. */
char *rec_add_to_run(cJSON *run, uint32_t iter, const cJSON *rec);

/* True when rec counts for rankings: status "ok" or no status. */
int rec_is_ranked(const cJSON *rec);

/* Metric-index key: run (BE) | name | NUL | value (8 bytes, ordered like the
 * doubles) | iter (BE). Returns its length, or 0 if value is not a finite
 * number or name is empty or longer than MEM_METRIC_MAX. k holds
 * 4 + MEM_METRIC_MAX + 13 bytes. */
size_t rec_metric_key(unsigned char *k, uint32_t run, const char *name, const cJSON *value,
                      uint32_t iter);

#endif
