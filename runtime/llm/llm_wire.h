/*
 * llm_wire.h — the LLM client's wire formats (internal to runtime/llm*.c): request
 * bodies and canonical request JSON, completion and error bodies, server-sent events,
 * cache entries. No I/O here: llm.c drives curl and calls these on bytes.
 */
#ifndef LLMNAS_LLM_WIRE_H
#define LLMNAS_LLM_WIRE_H

#include "llm/llm.h"

#include <stddef.h>

/* A growable byte buffer, always NUL-terminated when p != NULL. */
typedef struct llm_buf {
    char *p;
    size_t len, cap;
} llm_buf;
int llm_buf_add(llm_buf *b, const char *s, size_t n); /* 0 or LLM_ENOMEM */
void llm_buf_free(llm_buf *b);

/* A reply as the server sent it, before it is judged (llm_reply_judge). */
typedef struct llm_reply {
    llm_buf content;
    int content_null;          /* content was JSON null / absent */
    llm_buf refusal;
    char finish_reason[32];
    char model[128];
    long prompt_tokens, completion_tokens;
} llm_reply;
void llm_reply_free(llm_reply *r);

/* The POST body (malloc'd JSON) for req with the model resolved; NULL on OOM. */
char *llm_wire_body(const llm_request *req, const char *model);

/* See llm_request_canonical() in llm.h. Returns 0, LLM_EARG (bad response_format
 * JSON) or LLM_ENOMEM. */
int llm_wire_canonical(const llm_request *req, const char *model, int occurrence,
                       char **json_out);

/* Parse a non-streamed completion body. Returns 0; LLM_ESERVER when the body is an
 * error object (msg filled; *quota set for insufficient_quota); LLM_EPROTOCOL when it
 * is not a completion (msg says why); LLM_ENOMEM. */
int llm_wire_parse_completion(const char *body, size_t len, llm_reply *out,
                              char *msg, size_t cap, int *quota);

/* Find an error message in an error body of either shape: {"error": {...}} / {"error":
 * "..."} or the top-level {"object": "error", "message": ...} (also FastAPI's
 * {"detail": ...}). Returns 1 and fills msg ("message (type: t, code: c)") when found,
 * else 0 (msg gets the body's first bytes). *quota = 1 for insufficient_quota. */
int llm_wire_parse_error(const char *body, size_t len, char *msg, size_t cap, int *quota);

/* Judge a parsed reply: 0 if usable, else LLM_EFILTERED, LLM_EREFUSED, LLM_ETRUNCATED
 * or LLM_EEMPTY with msg filled. */
int llm_reply_judge(const llm_reply *r, char *msg, size_t cap);

/* Cache entries: {"v":1,"request":<canonical>,"reply":{...},"seconds":s}. */
char *llm_wire_cache_entry(const char *canonical, const llm_reply *r, double seconds);
int llm_wire_parse_cache_entry(const char *json, llm_reply *out); /* 0, LLM_ECACHE, OOM */

/* An incremental server-sent-events parser for a streamed chat completion. */
typedef struct llm_sse {
    llm_buf line;              /* the current, unfinished line */
    llm_buf data;              /* data lines of the current event */
    char event[32];            /* the current event's name ("" = message) */
    llm_reply reply;           /* assembled from the deltas */
    int done;                  /* saw data: [DONE] */
    int quota;                 /* the error event was insufficient_quota */
    size_t total, max;         /* bytes seen, cap (max_response_bytes) */
    char error[384];           /* message of an error event */
} llm_sse;

void llm_sse_init(llm_sse *s, size_t max);
void llm_sse_free(llm_sse *s);
/* Feed bytes. Returns 0, or LLM_ESTREAM (an error event: s->error), LLM_ETOOLARGE,
 * LLM_EPROTOCOL (a data line that is not JSON), LLM_ENOMEM. Stop feeding after an error. */
int llm_sse_feed(llm_sse *s, const char *p, size_t n);
/* End of stream: dispatch a last event not followed by a blank line. */
int llm_sse_finish(llm_sse *s);

#endif
