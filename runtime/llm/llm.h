/*
 * llm.h — an OpenAI-compatible chat-completions client over libcurl (Lua-free).
 *
 * One client talks to one endpoint (OpenAI, vLLM, Ollama's /v1, llama.cpp's server,
 * DeepSeek...): POST {base_url}/chat/completions, optionally streamed (server-sent
 * events). Every call goes through the same engine, built on curl's multi interface,
 * so llm_chat() is llm_chat_many() with one request:
 *
 *   - retries with exponential backoff and full jitter on connection errors, timeouts,
 *     stalls, 408, 409, 429 and 5xx, honouring Retry-After (seconds or HTTP date) and
 *     retry-after-ms up to a cap; no retry on 400/401/403/404/422 or a quota error;
 *   - typed outcomes for replies that must never be used as a candidate: cut at
 *     max_tokens (LLM_ETRUNCATED), empty (LLM_EEMPTY), refused (LLM_EREFUSED),
 *     filtered (LLM_EFILTERED);
 *   - accounting per call (llm_result) and summed per role (llm_usage_*);
 *   - a record/replay cache behind two callbacks (llm_cache), keyed by the SHA-256 of
 *     a canonical JSON of the request (model, messages, sampling parameters, seed);
 *   - every wait polls rt_interrupted(), so Ctrl-C stops a call within ~0.1 s.
 *
 * Secrets: the API key is read from the environment (or given by C code), kept in the
 * client and sent only in the Authorization header. It is never part of a request key,
 * a cache entry, a log line or an error message (messages are scrubbed of it, since some
 * servers echo the key they rejected).
 *
 * Threads: a client is used by one thread at a time. Different clients are independent.
 * Error codes: 0 = ok, negative codes in the band -600..-699 (llm_strerror, llm_kind).
 */
#ifndef LLMNAS_LLM_H
#define LLMNAS_LLM_H

#include <stddef.h>

enum {
    LLM_OK = 0,
    LLM_EARG = -600,       /* invalid argument (a bug in the caller) */
    LLM_ENOMEM = -601,     /* out of memory */
    LLM_ECONFIG = -602,    /* no base URL / model, or a malformed URL */
    LLM_ENETWORK = -603,   /* could not connect, connection reset, nothing received */
    LLM_ETIMEOUT = -604,   /* connect timeout or the per-attempt timeout */
    LLM_ESTALL = -605,     /* no byte for stall_timeout once the reply had started */
    LLM_EAUTH = -606,      /* HTTP 401 / 403: key missing, wrong or not allowed */
    LLM_EQUOTA = -607,     /* insufficient_quota (billing), never retried */
    LLM_EBADREQ = -608,    /* HTTP 400 / 422: the server rejected the request */
    LLM_ERATELIMIT = -609, /* HTTP 429, still limited after every retry */
    LLM_ESERVER = -610,    /* HTTP 5xx (or an error object in a 200), after every retry */
    LLM_EHTTP = -611,      /* any other HTTP status (408/409 after retries, 402, 413...) */
    LLM_EPROTOCOL = -612,  /* the body is not a chat completion */
    LLM_ETOOLARGE = -613,  /* the reply exceeds max_response_bytes */
    LLM_ESTREAM = -614,    /* an error event mid-stream, or a stream cut before [DONE] */
    LLM_ETRUNCATED = -615, /* finish_reason "length": the reply was cut at max_tokens */
    LLM_EEMPTY = -616,     /* empty or null content */
    LLM_EREFUSED = -617,   /* the model refused (message.refusal) */
    LLM_EFILTERED = -618,  /* finish_reason "content_filter" */
    LLM_ECACHEMISS = -619, /* replay mode and no recorded reply for this request */
    LLM_ECACHE = -620,     /* the cache callbacks failed or returned a bad entry */
    LLM_EINTR = -621,      /* interrupted (rt_interrupted()) */
    LLM_ENOTFOUND = -622,  /* HTTP 404: unknown model or wrong base URL (no /v1?) */
};

/* "LLM_EAUTH: ..." — a static string for any code (unknown codes included). */
const char *llm_strerror(int code);

/* The error kind handed to Lua as the third value of `nil, message, kind`:
 * "llm_auth", "llm_truncated", "llm_cache_miss", "interrupted", ... ("ok" for 0). */
const char *llm_kind(int code);

/* Nonzero when the code is worth retrying (network, timeout, stall, 429, 5xx...). */
int llm_retriable(int code);

/* One error code as the table in llm.c holds it: kind (llm_kind), text
 * (llm_strerror), retriable (llm_retriable) and klass, what a search does with
 * a proposal that failed so: "fatal" (stop the run: no retry fixes it),
 * "transient" (propose again), "call" (this proposal is spent), "ok".
 * Exported to Lua as llm.kinds. */
typedef struct llm_kind_info {
    int code;
    const char *kind, *text;
    int retriable;
    const char *klass;
} llm_kind_info;

/* Number of codes, and code i (0..llm_kind_count()-1; NULL outside). */
int llm_kind_count(void);
const llm_kind_info *llm_kind_at(int i);

/* ---- configuration ------------------------------------------------------------ */

typedef struct llm_config {
    const char *base_url;      /* e.g. "http://127.0.0.1:11434/v1"; NULL = unset */
    const char *model;         /* default model; NULL = unset */
    const char *api_key_env;   /* name of the variable that holds the key; NULL =
                                  LLMNAS_API_KEY, then OPENAI_API_KEY */
    double connect_timeout;    /* seconds (10) */
    double timeout;            /* seconds per attempt, whole reply (600) */
    double stall_timeout;      /* seconds without a byte once the reply started (60) */
    int max_retries;           /* retries after the first attempt (4) */
    double backoff_base;       /* first backoff bound, seconds (0.5) */
    double backoff_cap;        /* largest backoff bound, seconds (30) */
    double retry_after_cap;    /* largest server-requested wait honoured, seconds (60) */
    int jitter;                /* 1: full jitter U(0, bound); 0: wait = bound (tests) */
    size_t max_response_bytes; /* cap on a reply body or stream (8 MiB) */
    int context_limit;         /* warn when prompt tokens reach it; 0 = only the common
                                  server defaults 2048, 4096, 8192 */
    int parallel;              /* most transfers at once in llm_chat_many (8) */
} llm_config;

/* Defaults above, with base_url and model NULL. */
void llm_config_defaults(llm_config *cfg);

/* Fill base_url and model from LLMNAS_BASE_URL / OPENAI_BASE_URL and LLMNAS_MODEL when
 * they are set (the pointers point into the environment). Fields already set are kept,
 * so flags and strategy settings applied before win. */
void llm_config_from_env(llm_config *cfg);

typedef struct llm_client llm_client;

/* Create a client from cfg (strings are copied). The key is read now from the
 * environment as cfg->api_key_env says. Returns 0, LLM_EARG or LLM_ENOMEM.
 * A missing base URL or model is reported by the first call (LLM_ECONFIG), not here. */
int llm_client_new(const llm_config *cfg, llm_client **out);

/* Replace the configuration (strings copied). The key is read from the environment
 * again only when api_key_env changes (so a host may remove the variable once read).
 * Usage totals, cache and log callbacks are kept. Returns 0, LLM_EARG or LLM_ENOMEM. */
int llm_client_configure(llm_client *c, const llm_config *cfg);

/* The configuration in force (strings owned by the client, valid until the next
 * configure or free). */
void llm_client_get_config(const llm_client *c, llm_config *out);

/* Set the key directly (C callers); NULL or "" removes it. The previous key is wiped. */
int llm_client_set_key(llm_client *c, const char *key);

/* Nonzero when a key is set. The key itself cannot be read back. */
int llm_client_has_key(const llm_client *c);

/* The environment variable the key was read from ("" when there is no key or it was
 * set with llm_client_set_key), so the host can unset it: lua/llm.c does, so neither
 * scripts (os.getenv) nor forked workers ever see the key. */
const char *llm_client_key_source(const llm_client *c);

/* Free the client (NULL is fine); wipes the key. */
void llm_client_free(llm_client *c);

/* Log sink. level: 1 warning (context limit, cache write failed), 2 info (retries),
 * 3 debug. Messages never contain the key. Without a sink nothing is printed. */
enum { LLM_LOG_WARN = 1, LLM_LOG_INFO = 2, LLM_LOG_DEBUG = 3 };
typedef void (*llm_log_fn)(void *user, int level, const char *message);
void llm_client_set_log(llm_client *c, llm_log_fn fn, void *user);

/* ---- record / replay cache ------------------------------------------------------ */

/* get: 0 and *json_out = a malloc'd entry (the client frees it), 1 = not found,
 *      negative = failure. put: 0 or negative. Keys are 64 lowercase hex digits.
 * Entries are JSON objects written by the client; they hold the canonical request
 * (model, messages, sampling parameters) and the reply, never the key or URL. */
typedef struct llm_cache {
    int (*get)(void *user, const char *key, char **json_out);
    int (*put)(void *user, const char *key, const char *json);
    void *user;
} llm_cache;

typedef enum { LLM_CACHE_OFF = 0, LLM_CACHE_RECORD = 1, LLM_CACHE_REPLAY = 2 } llm_cache_mode;

/* Install (cache != NULL, copied) or remove (NULL) the cache and set the mode.
 * RECORD: a call whose request was recorded before is answered from the cache; any
 * other goes to the network and its reply is stored (a failed store is a warning), so a
 * run resumed after a crash gets the replies the crashed process already received.
 * REPLAY: calls are answered from the cache only; a miss is LLM_ECACHEMISS and nothing
 * touches the network. OFF: the cache is not used.
 * Occurrences of repeated requests (llm_request_key) are counted afresh from here.
 * Returns LLM_EARG for RECORD/REPLAY without a cache. */
int llm_client_set_cache(llm_client *c, const llm_cache *cache, llm_cache_mode mode);
llm_cache_mode llm_client_cache_mode(const llm_client *c);

/* "off" / "record" / "replay" <-> mode; returns 0 or LLM_EARG. */
int llm_cache_mode_parse(const char *s, llm_cache_mode *out);
const char *llm_cache_mode_name(llm_cache_mode m);

/* ---- requests and results ------------------------------------------------------- */

typedef struct llm_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} llm_message;

typedef struct llm_request {
    const char *model;             /* NULL = the client's */
    const llm_message *messages;
    int n_messages;                /* >= 1 */
    double temperature;            /* < 0 = not sent */
    double top_p;                  /* < 0 = not sent */
    int max_tokens;                /* 0 = not sent */
    int has_seed;
    long long seed;
    const char *const *stop;       /* n_stop strings */
    int n_stop;
    const char *response_format;   /* JSON text, e.g. {"type":"json_object"}; NULL = none */
    int stream;                    /* 1 = server-sent events */
    double timeout;                /* seconds per attempt; 0 = the client's */
    const char *role;              /* accounting role; NULL = "default" */
    /* Prefixes of run-to-run figures in the prompt (e.g. "training time: "): in the
     * request key, the rest of each line after one of them is left out, so a replay
     * finds the reply recorded for the same prompt measured on another day. The
     * server still gets the whole text. */
    const char *const *volatile_prefixes;
    int n_volatile;
} llm_request;

/* Everything unset: no sampling parameters, no stream, role NULL. */
void llm_request_init(llm_request *r);

typedef struct llm_result {
    int status;                /* 0 or an LLM_E* code; also the call's return value */
    char *content;             /* the reply (malloc'd) when status == 0, else NULL */
    char finish_reason[32];    /* "stop", "length", ... ("" if none) */
    char model[128];           /* the model that answered (the server's name for it) */
    long prompt_tokens;
    long completion_tokens;
    double seconds;            /* wall time of the call, waits and retries included */
    int retries;               /* attempts after the first */
    int cached;                /* 1 when answered from the replay cache */
    int http_status;           /* last HTTP status (0: none, e.g. connection refused) */
    char key[65];              /* the request key (hex SHA-256) */
    char message[512];         /* error message when status != 0 (key scrubbed) */
    char warning[256];         /* e.g. the prompt sat at a context limit; "" if none */
} llm_result;

/* Free result->content and zero the struct. */
void llm_result_free(llm_result *r);

/* One chat completion. res is filled in every case (llm_result_free it afterwards).
 * Returns res->status. */
int llm_chat(llm_client *c, const llm_request *req, llm_result *res);

/* n requests at once (at most cfg.parallel transfers in flight). res[i] answers
 * reqs[i], each with its own status. Returns 0 when every request was carried out
 * (whatever each status), LLM_EINTR when interrupted (unfinished ones have status
 * LLM_EINTR), LLM_EARG, or LLM_ENOMEM. */
int llm_chat_many(llm_client *c, const llm_request *reqs, int n, llm_result *res);

/* The request key: hex SHA-256 of llm_request_canonical(). The n-th repetition of an
 * identical request within one client (n >= 1) adds "occurrence": n to the canonical
 * JSON, so a run that asks the same question twice replays both answers in order;
 * llm_request_key() gives the key of the first occurrence. */
int llm_request_key(const llm_client *c, const llm_request *req, char out[65]);

/* Count the request whose first-occurrence key (llm_request_key) is key as already
 * asked n more times in this client. Occurrences are counted per client, that is per
 * process: a run resumed in a new process calls this for every request its earlier
 * processes made (the search loop books each key on its records), so that a request
 * repeated after the resume gets the occurrence, hence the recorded reply, it has in an
 * uninterrupted run. The counts restart when the cache is set (llm_client_set_cache):
 * call this after. Returns 0, LLM_EARG (key not 64 hex digits, n < 0) or LLM_ENOMEM. */
int llm_client_count_requests(llm_client *c, const char *key, int n);

/* The canonical JSON (malloc'd, caller frees) the key is computed from: model,
 * messages (their volatile figures masked: see llm_request.volatile_prefixes),
 * temperature, top_p, max_tokens, seed, stop, response_format, in that order, unset
 * fields omitted. Never the key, URL, stream flag, timeout or role. */
int llm_request_canonical(const llm_client *c, const llm_request *req, int occurrence,
                          char **json_out);

/* ---- the models the server offers ------------------------------------------------ */

/* GET {base_url}/models (OpenAI's model list, also served by vLLM, Ollama's /v1 and
 * llama.cpp's server): *ids_out = the "id" of each entry of "data" (malloc'd; free with
 * llm_models_free), *n_out their count. One attempt, no retry: this is the preflight
 * of a run, which reports an unreachable server instead of waiting for it. res gets
 * status, http_status, seconds and the message (key scrubbed); its content stays NULL.
 * Returns res->status: 0, LLM_ECONFIG (no base URL), LLM_ENETWORK / LLM_ETIMEOUT (with
 * curl's cause), LLM_EAUTH, LLM_ENOTFOUND (the server does not serve the list, or the
 * base URL is wrong), another HTTP code, or LLM_EPROTOCOL (not a model list). */
int llm_models(llm_client *c, char ***ids_out, int *n_out, llm_result *res);
void llm_models_free(char **ids, int n);

/* The preflight for a server that does not list its models: one minimal chat request
 * (a one-word message, max_tokens 1, temperature 0, role "preflight") with no retry and
 * the replay cache bypassed, so it neither waits out a dead server nor leaves an entry
 * in a recording. Any reply (cut at the one token, empty, refused or filtered included)
 * means the endpoint, key and model name work: 0. Otherwise res carries the failure as
 * for llm_chat (LLM_ENOTFOUND or LLM_EBADREQ for a model the server does not know,
 * LLM_EAUTH, LLM_ENETWORK...). Free res with llm_result_free. */
int llm_ping(llm_client *c, llm_result *res);

/* ---- accounting ----------------------------------------------------------------- */

typedef struct llm_usage {
    char role[64];
    long calls;              /* calls made (cached ones included) */
    long failures;           /* calls that ended with status != 0 */
    long cached;             /* calls answered from the replay cache */
    long retries;
    long prompt_tokens;
    long completion_tokens;
    double seconds;
} llm_usage;

/* Number of roles seen so far, and role i's totals (0 <= i < count; in first-seen
 * order). Returns 0 or LLM_EARG. */
int llm_usage_count(const llm_client *c);
int llm_usage_get(const llm_client *c, int i, llm_usage *out);
void llm_usage_reset(llm_client *c);

/* ---- pieces exposed for tests --------------------------------------------------- */

/* The wait before retry number `attempt` (1-based) when the server named none:
 * bound = min(cap, base * 2^(attempt-1)); full jitter draws U(0, bound) from *rng
 * (a xorshift state, nonzero). */
double llm_backoff(int attempt, double base, double cap, int jitter, unsigned long long *rng);

/* Seconds from a Retry-After value ("2", "1.5", or an HTTP date, relative to `now`
 * in Unix seconds) or, when ms != 0, a retry-after-ms value. -1 if unparseable. */
double llm_parse_retry_after(const char *value, int ms, double now);

/* Replace every occurrence of secret (if non-empty) in s by "[redacted]", in place,
 * within the capacity cap (bytes, NUL included). */
void llm_redact(char *s, size_t cap, const char *secret);

#endif
