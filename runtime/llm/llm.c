/*
 * llm.c — the LLM client: configuration, the key, accounting, the replay cache, and
 * the one engine (curl multi) that carries every call with its retries and waits.
 * Wire formats live in llm_wire.c. See llm.h for the contract.
 *
 * A call is a small state machine (struct xfer): WAIT (backoff, not in the multi
 * handle) -> RUN (a transfer in flight) -> DONE. The loop never sleeps more than
 * 100 ms at a time, so Ctrl-C and stalls are noticed promptly, and waits of several
 * requests overlap instead of adding up.
 */
#include "llm/llm.h"
#include "llm/llm_wire.h"
#include "base/hash.h"
#include "base/rt.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 100
#define DEFAULT_ROLE "default"

struct llm_client {
    llm_config cfg;            /* string fields point to the copies below */
    char *base_url, *model, *api_key_env;
    char *url;                 /* base_url + "/chat/completions" */
    char *key;                 /* NULL when none; wiped on change and free */
    char key_source[128];      /* the variable the key came from ("" if none / set in C) */
    int configured;            /* configure ran once: the key was read */
    llm_log_fn log;
    void *log_user;
    llm_cache cache;
    llm_cache_mode mode;
    llm_usage *usage;
    int n_usage, cap_usage;
    struct seen { char key[65]; int count; } *seen; /* occurrences per request key */
    int n_seen, cap_seen;
    unsigned long long rng;
    CURLM *multi;              /* kept across calls: it holds the connection cache */
};

/* ---- codes ---------------------------------------------------------------------- */

/* One row per code: its kind, its text, whether the client retries the HTTP
 * call (llm_retriable), and what a search does with a failed proposal (class,
 * exported to Lua as llm.kinds): "fatal" stops the run (no retry fixes it),
 * "transient" is worth another proposal, "call" spends this proposal only. */
static const llm_kind_info codes[] = {
    {LLM_OK, "ok", "LLM_OK: success", 0, "ok"},
    {LLM_EARG, "llm_arg", "LLM_EARG: invalid argument", 0, "fatal"},
    {LLM_ENOMEM, "llm_nomem", "LLM_ENOMEM: out of memory", 0, "call"},
    {LLM_ECONFIG, "llm_config", "LLM_ECONFIG: LLM endpoint not configured", 0, "fatal"},
    {LLM_ENETWORK, "llm_network", "LLM_ENETWORK: cannot reach the LLM server", 1, "transient"},
    {LLM_ETIMEOUT, "llm_timeout", "LLM_ETIMEOUT: the LLM call timed out", 1, "transient"},
    {LLM_ESTALL, "llm_stall", "LLM_ESTALL: the reply stalled", 1, "transient"},
    {LLM_EAUTH, "llm_auth", "LLM_EAUTH: the server rejected the API key", 0, "fatal"},
    {LLM_EQUOTA, "llm_quota", "LLM_EQUOTA: quota exhausted", 0, "fatal"},
    {LLM_EBADREQ, "llm_bad_request", "LLM_EBADREQ: the server rejected the request", 0, "fatal"},
    {LLM_ERATELIMIT, "llm_rate_limit", "LLM_ERATELIMIT: rate limited", 1, "transient"},
    {LLM_ESERVER, "llm_server", "LLM_ESERVER: server error", 1, "transient"},
    {LLM_EHTTP, "llm_http", "LLM_EHTTP: unexpected HTTP status", 0, "fatal"},
    {LLM_EPROTOCOL, "llm_protocol", "LLM_EPROTOCOL: the reply is not a chat completion", 0, "transient"},
    {LLM_ETOOLARGE, "llm_too_large", "LLM_ETOOLARGE: the reply is too large", 0, "call"},
    {LLM_ESTREAM, "llm_stream", "LLM_ESTREAM: the stream failed", 1, "transient"},
    {LLM_ETRUNCATED, "llm_truncated", "LLM_ETRUNCATED: the reply was cut at max_tokens", 0, "call"},
    {LLM_EEMPTY, "llm_empty", "LLM_EEMPTY: the reply is empty", 0, "call"},
    {LLM_EREFUSED, "llm_refused", "LLM_EREFUSED: the model refused", 0, "call"},
    {LLM_EFILTERED, "llm_filtered", "LLM_EFILTERED: the reply was filtered", 0, "call"},
    {LLM_ECACHEMISS, "llm_cache_miss", "LLM_ECACHEMISS: no recorded reply (replay mode)", 0, "fatal"},
    {LLM_ECACHE, "llm_cache", "LLM_ECACHE: the reply cache failed", 0, "call"},
    {LLM_EINTR, "interrupted", "LLM_EINTR: interrupted", 0, "fatal"},
    {LLM_ENOTFOUND, "llm_not_found", "LLM_ENOTFOUND: no such model or endpoint", 0, "fatal"},
};

const char *llm_strerror(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].text;
    return "LLM_E?: unknown error code";
}

const char *llm_kind(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].kind;
    return "llm_error";
}

int llm_retriable(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].retriable;
    return 0;
}

int llm_kind_count(void)
{
    return (int)(sizeof codes / sizeof codes[0]);
}

const llm_kind_info *llm_kind_at(int i)
{
    return i >= 0 && i < llm_kind_count() ? &codes[i] : NULL;
}

/* ---- small helpers -------------------------------------------------------------- */

static unsigned long long rng_next(unsigned long long *s)
{
    unsigned long long x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double llm_backoff(int attempt, double base, double cap, int jitter, unsigned long long *rng)
{
    double bound = base;
    for (int i = 1; i < attempt && bound < cap; i++)
        bound *= 2;
    if (bound > cap)
        bound = cap;
    if (!jitter)
        return bound;
    return bound * (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double llm_parse_retry_after(const char *value, int ms, double now)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    char *end;
    double v = strtod(value, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    if (end != value && *end == '\0')
        return v < 0 ? -1 : ms ? v / 1000.0 : v;
    if (ms)
        return -1;
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    double d = (double)t - now;
    return d > 0 ? d : 0;
}

void llm_redact(char *s, size_t cap, const char *secret)
{
    static const char mark[] = "[redacted]";
    size_t sl = secret ? strlen(secret) : 0, ml = sizeof mark - 1;
    if (!s || sl == 0)
        return;
    char *p = s;
    while ((p = strstr(p, secret)) != NULL) {
        size_t tail = strlen(p + sl);
        size_t pos = (size_t)(p - s);
        size_t room = cap - 1 - pos; /* bytes available from p on, NUL excluded */
        size_t keep = ml + tail <= room ? tail : (room > ml ? room - ml : 0);
        memmove(p + (ml < room ? ml : room), p + sl, keep);
        memcpy(p, mark, ml < room ? ml : room);
        p[(ml < room ? ml : room) + keep] = '\0';
        p += ml < room ? ml : room;
    }
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        volatile char *v = s;
        while (*v)
            *v++ = 0;
        free(s);
    }
}

static void logf_(llm_client *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(llm_client *c, int level, const char *fmt, ...)
{
    if (!c->log)
        return;
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    llm_redact(buf, sizeof buf, c->key);
    c->log(c->log_user, level, buf);
}

/* ---- configuration and lifecycle ------------------------------------------------ */

void llm_config_defaults(llm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout = 10;
    cfg->timeout = 600;
    cfg->stall_timeout = 60;
    cfg->max_retries = 4;
    cfg->backoff_base = 0.5;
    cfg->backoff_cap = 30;
    cfg->retry_after_cap = 60;
    cfg->jitter = 1;
    cfg->max_response_bytes = (size_t)8 << 20;
    cfg->parallel = 8;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

void llm_config_from_env(llm_config *cfg)
{
    if (!cfg->base_url || !*cfg->base_url) {
        cfg->base_url = env_nonempty("LLMNAS_BASE_URL");
        if (!cfg->base_url)
            cfg->base_url = env_nonempty("OPENAI_BASE_URL");
    }
    if (!cfg->model || !*cfg->model)
        cfg->model = env_nonempty("LLMNAS_MODEL");
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int llm_client_new(const llm_config *cfg, llm_client **out)
{
    if (!out)
        return LLM_EARG;
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    llm_client *c = calloc(1, sizeof *c);
    if (!c)
        return LLM_ENOMEM;
    c->rng = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32) ^
             (unsigned long long)(size_t)c;
    llm_config d;
    if (!cfg) {
        llm_config_defaults(&d);
        cfg = &d;
    }
    int rc = llm_client_configure(c, cfg);
    if (rc) {
        llm_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int llm_client_configure(llm_client *c, const llm_config *cfg)
{
    if (!c || !cfg || cfg->max_retries < 0 || cfg->parallel < 0 || cfg->timeout < 0)
        return LLM_EARG;
    char *base = dup_or_null(cfg->base_url), *model = dup_or_null(cfg->model);
    char *env = dup_or_null(cfg->api_key_env), *url = NULL;
    if (base) {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            base[--n] = '\0';
        url = malloc(n + sizeof "/chat/completions");
        if (url)
            snprintf(url, n + sizeof "/chat/completions", "%s/chat/completions", base);
    }
    if ((cfg->base_url && *cfg->base_url && (!base || !url)) ||
        (cfg->model && *cfg->model && !model) || (cfg->api_key_env && *cfg->api_key_env && !env)) {
        free(base), free(model), free(env), free(url);
        return LLM_ENOMEM;
    }
    int reread = !c->configured || (env == NULL) != (c->api_key_env == NULL) ||
                 (env && strcmp(env, c->api_key_env) != 0);
    free(c->base_url), free(c->model), free(c->api_key_env), free(c->url);
    c->base_url = base, c->model = model, c->api_key_env = env, c->url = url;
    c->cfg = *cfg;
    c->cfg.base_url = base, c->cfg.model = model, c->cfg.api_key_env = env;
    if (c->cfg.parallel == 0)
        c->cfg.parallel = 8;
    c->configured = 1;
    if (!reread)
        return 0; /* the key was read when api_key_env last changed */
    const char *src = env ? env : "LLMNAS_API_KEY";
    const char *key = env_nonempty(src);
    if (!env && !key)
        key = env_nonempty(src = "OPENAI_API_KEY");
    int rc = llm_client_set_key(c, key);
    if (rc == 0 && key)
        snprintf(c->key_source, sizeof c->key_source, "%s", src);
    return rc;
}

const char *llm_client_key_source(const llm_client *c)
{
    return c->key_source;
}

void llm_client_get_config(const llm_client *c, llm_config *out)
{
    *out = c->cfg;
}

int llm_client_set_key(llm_client *c, const char *key)
{
    if (!c)
        return LLM_EARG;
    char *k = dup_or_null(key);
    if (key && *key && !k)
        return LLM_ENOMEM;
    wipe_free(c->key);
    c->key = k;
    c->key_source[0] = '\0';
    return 0;
}

int llm_client_has_key(const llm_client *c)
{
    return c && c->key != NULL;
}

void llm_client_set_log(llm_client *c, llm_log_fn fn, void *user)
{
    c->log = fn;
    c->log_user = user;
}

void llm_client_free(llm_client *c)
{
    if (!c)
        return;
    wipe_free(c->key);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c->base_url), free(c->model), free(c->api_key_env), free(c->url);
    free(c->usage);
    free(c->seen);
    free(c);
}

/* ---- cache ---------------------------------------------------------------------- */

int llm_client_set_cache(llm_client *c, const llm_cache *cache, llm_cache_mode mode)
{
    if (!c || mode < LLM_CACHE_OFF || mode > LLM_CACHE_REPLAY)
        return LLM_EARG;
    if (mode != LLM_CACHE_OFF && (!cache || !cache->get || !cache->put))
        return LLM_EARG;
    if (cache)
        c->cache = *cache;
    else
        memset(&c->cache, 0, sizeof c->cache);
    c->mode = mode;
    c->n_seen = 0; /* a new recording or replay session counts occurrences afresh */
    return 0;
}

llm_cache_mode llm_client_cache_mode(const llm_client *c)
{
    return c->mode;
}

int llm_cache_mode_parse(const char *s, llm_cache_mode *out)
{
    static const char *names[] = {"off", "record", "replay"};
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (llm_cache_mode)i;
            return 0;
        }
    return LLM_EARG;
}

const char *llm_cache_mode_name(llm_cache_mode m)
{
    return m == LLM_CACHE_RECORD ? "record" : m == LLM_CACHE_REPLAY ? "replay" : "off";
}

/* ---- accounting ----------------------------------------------------------------- */

static llm_usage *usage_for(llm_client *c, const char *role)
{
    role = role && *role ? role : DEFAULT_ROLE;
    for (int i = 0; i < c->n_usage; i++)
        if (strncmp(c->usage[i].role, role, sizeof c->usage[i].role - 1) == 0)
            return &c->usage[i];
    if (c->n_usage == c->cap_usage) {
        int cap = c->cap_usage ? 2 * c->cap_usage : 4;
        llm_usage *u = realloc(c->usage, (size_t)cap * sizeof *u);
        if (!u)
            return NULL;
        c->usage = u;
        c->cap_usage = cap;
    }
    llm_usage *u = &c->usage[c->n_usage++];
    memset(u, 0, sizeof *u);
    snprintf(u->role, sizeof u->role, "%s", role);
    return u;
}

static void account(llm_client *c, const llm_request *req, const llm_result *r)
{
    llm_usage *u = usage_for(c, req->role);
    if (!u)
        return;
    u->calls++;
    u->failures += r->status != 0;
    u->cached += r->cached;
    u->retries += r->retries;
    u->prompt_tokens += r->prompt_tokens;
    u->completion_tokens += r->completion_tokens;
    u->seconds += r->seconds;
}

int llm_usage_count(const llm_client *c)
{
    return c ? c->n_usage : 0;
}

int llm_usage_get(const llm_client *c, int i, llm_usage *out)
{
    if (!c || i < 0 || i >= c->n_usage || !out)
        return LLM_EARG;
    *out = c->usage[i];
    return 0;
}

void llm_usage_reset(llm_client *c)
{
    c->n_usage = 0;
}

/* ---- requests ------------------------------------------------------------------- */

void llm_request_init(llm_request *r)
{
    memset(r, 0, sizeof *r);
    r->temperature = -1;
    r->top_p = -1;
}

void llm_result_free(llm_result *r)
{
    if (!r)
        return;
    free(r->content);
    memset(r, 0, sizeof *r);
}

static const char *model_of(const llm_client *c, const llm_request *req)
{
    return req->model && *req->model ? req->model : c->model;
}

static int check_request(const llm_request *req)
{
    if (!req || req->n_messages < 1 || !req->messages || req->n_stop < 0 ||
        (req->n_stop > 0 && !req->stop))
        return LLM_EARG;
    for (int i = 0; i < req->n_messages; i++)
        if (!req->messages[i].role || !req->messages[i].content)
            return LLM_EARG;
    for (int i = 0; i < req->n_stop; i++)
        if (!req->stop[i])
            return LLM_EARG;
    return 0;
}

int llm_request_canonical(const llm_client *c, const llm_request *req, int occurrence,
                          char **json_out)
{
    if (!c || !json_out || check_request(req))
        return LLM_EARG;
    const char *model = model_of(c, req);
    if (!model)
        return LLM_ECONFIG;
    return llm_wire_canonical(req, model, occurrence, json_out);
}

int llm_request_key(const llm_client *c, const llm_request *req, char out[65])
{
    char *canon;
    out[0] = '\0';
    int rc = llm_request_canonical(c, req, 0, &canon);
    if (rc)
        return rc;
    rc = hash_sha256_hex(canon, strlen(canon), out) ? LLM_ENOMEM : 0;
    free(canon);
    return rc;
}

/* The occurrence number of this key in the client so far (0 the first time). */
static int next_occurrence(llm_client *c, const char *key)
{
    for (int i = 0; i < c->n_seen; i++)
        if (strcmp(c->seen[i].key, key) == 0)
            return c->seen[i].count++;
    if (c->n_seen == c->cap_seen) {
        int cap = c->cap_seen ? 2 * c->cap_seen : 16;
        struct seen *s = realloc(c->seen, (size_t)cap * sizeof *s);
        if (!s)
            return -1;
        c->seen = s;
        c->cap_seen = cap;
    }
    memcpy(c->seen[c->n_seen].key, key, 65);
    c->seen[c->n_seen++].count = 1;
    return 0;
}

int llm_client_count_requests(llm_client *c, const char *key, int n)
{
    if (!c || !key || strlen(key) != 64 || strspn(key, "0123456789abcdef") != 64 || n < 0)
        return LLM_EARG;
    if (n == 0)
        return 0;
    if (next_occurrence(c, key) < 0) /* finds or adds it, counting one */
        return LLM_ENOMEM;
    for (int i = 0; i < c->n_seen; i++)
        if (strcmp(c->seen[i].key, key) == 0)
            c->seen[i].count += n - 1;
    return 0;
}

/* ---- the engine ----------------------------------------------------------------- */

enum { X_WAIT, X_RUN, X_DONE };

typedef struct xfer {
    llm_client *c;
    const llm_request *req;
    llm_result *res;
    char *canon;               /* canonical JSON (for the cache entry) */
    char *body;
    CURL *h;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    llm_buf raw;               /* non-streamed body, or an error body */
    llm_sse sse;
    int state;
    double t0, wake, last_byte, timeout;
    long status;               /* from the status line, as it arrives */
    int headers_done;
    int json_body;             /* Content-Type application/json: not a stream after all */
    double retry_after;        /* seconds the server asked for; -1 = none */
    int abort_code;            /* set by a callback that stopped the transfer */
} xfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    x->last_byte = rt_now();
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->retry_after = -1;
        x->headers_done = 0;
        x->json_body = 0;
    } else if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        x->headers_done = x->status >= 200;
    } else {
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(len < 255 ? len : 255), p);
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            int ms = strcasecmp(line, "retry-after-ms") == 0;
            if (strcasecmp(line, "content-type") == 0)
                x->json_body = strstr(colon + 1, "json") != NULL;
            if (ms || strcasecmp(line, "retry-after") == 0) {
                double v = llm_parse_retry_after(colon + 1, ms, (double)time(NULL));
                if (v >= 0 && (ms || x->retry_after < 0))
                    x->retry_after = v; /* retry-after-ms wins: it is more precise */
            }
        }
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    x->last_byte = rt_now();
    if (x->req->stream && !x->json_body && x->status >= 200 && x->status < 300) {
        int rc = llm_sse_feed(&x->sse, p, len);
        if (rc) {
            x->abort_code = rc;
            return 0;
        }
        return len;
    }
    if (x->raw.len + len > x->c->cfg.max_response_bytes) {
        x->abort_code = LLM_ETOOLARGE;
        return 0;
    }
    if (llm_buf_add(&x->raw, p, len)) {
        x->abort_code = LLM_ENOMEM;
        return 0;
    }
    return len;
}

static void free_headers(xfer *x)
{
    for (struct curl_slist *s = x->hdrs; s; s = s->next)
        if (strncasecmp(s->data, "Authorization:", 14) == 0) {
            volatile char *v = s->data;
            while (*v)
                *v++ = 0;
        }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
}

static int xfer_setup(xfer *x)
{
    llm_client *c = x->c;
    x->body = llm_wire_body(x->req, model_of(c, x->req));
    if (!x->body || !(x->h = curl_easy_init()))
        return LLM_ENOMEM;
    const char *fixed[] = {"Content-Type: application/json", "Expect:",
                           x->req->stream ? "Accept: text/event-stream" : "Accept: application/json"};
    for (size_t i = 0; i < 3; i++) {
        struct curl_slist *s = curl_slist_append(x->hdrs, fixed[i]);
        if (!s)
            return LLM_ENOMEM;
        x->hdrs = s;
    }
    if (c->key) {
        size_t n = strlen(c->key) + sizeof "Authorization: Bearer ";
        char *auth = malloc(n);
        if (!auth)
            return LLM_ENOMEM;
        snprintf(auth, n, "Authorization: Bearer %s", c->key);
        struct curl_slist *s = curl_slist_append(x->hdrs, auth);
        wipe_free(auth);
        if (!s)
            return LLM_ENOMEM;
        x->hdrs = s;
    }
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llmnas/" LLMNAS_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect must not carry the key */
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* the size cap counts decoded bytes */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->cfg.connect_timeout * 1000));
    /* A non-streamed reply can be minutes of silence: keepalive probes notice a dead
     * peer (and keep NAT and proxies from dropping the connection) meanwhile. */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(x->timeout * 1000));
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    return 0;
}

static int xfer_start(xfer *x)
{
    x->raw.len = 0;
    llm_sse_free(&x->sse);
    llm_sse_init(&x->sse, x->c->cfg.max_response_bytes);
    x->status = 0;
    x->headers_done = 0;
    x->retry_after = -1;
    x->abort_code = 0;
    x->errbuf[0] = '\0';
    x->last_byte = rt_now();
    if (curl_multi_add_handle(x->c->multi, x->h) != CURLM_OK)
        return LLM_ENOMEM;
    x->state = X_RUN;
    return 0;
}

static void xfer_free(xfer *x)
{
    if (x->h) {
        if (x->state == X_RUN)
            curl_multi_remove_handle(x->c->multi, x->h);
        curl_easy_cleanup(x->h);
    }
    free_headers(x);
    free(x->body);
    free(x->canon);
    llm_buf_free(&x->raw);
    llm_sse_free(&x->sse);
}

static int http_code(long status, int quota)
{
    if (quota)
        return LLM_EQUOTA;
    if (status == 401 || status == 403)
        return LLM_EAUTH;
    if (status == 404)
        return LLM_ENOTFOUND;
    if (status == 400 || status == 422)
        return LLM_EBADREQ;
    if (status == 429)
        return LLM_ERATELIMIT;
    if (status == 408)
        return LLM_ETIMEOUT;
    if (status == 409 || status >= 500)
        return LLM_ESERVER;
    return LLM_EHTTP;
}

static int curl_code(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return LLM_ETIMEOUT;
    case CURLE_URL_MALFORMAT: case CURLE_UNSUPPORTED_PROTOCOL:
        return LLM_ECONFIG;
    case CURLE_OUT_OF_MEMORY:
        return LLM_ENOMEM;
    default:
        return LLM_ENETWORK;
    }
}

/* Warn when the prompt sits at a context size where servers cut silently. */
static void context_warning(llm_client *c, llm_result *r)
{
    static const int common[] = {2048, 4096, 8192};
    int limits[4] = {common[0], common[1], common[2], c->cfg.context_limit};
    for (int i = 0; i < 4; i++) {
        long L = limits[i];
        if (L > 0 && r->prompt_tokens <= L && r->prompt_tokens >= L - L / 64) {
            rt_fmt(r->warning, sizeof r->warning,
                   "the prompt used %ld tokens, at a %ld-token context limit: the server "
                   "may have cut it silently (Ollama: raise num_ctx)", r->prompt_tokens, L);
            logf_(c, LLM_LOG_WARN, "llm: %s", r->warning);
            return;
        }
    }
}

/* Fill the result from a reply (network or cache) and judge it. */
static int take_reply(xfer *x, llm_reply *rep)
{
    llm_result *r = x->res;
    r->prompt_tokens = rep->prompt_tokens;
    r->completion_tokens = rep->completion_tokens;
    snprintf(r->finish_reason, sizeof r->finish_reason, "%s", rep->finish_reason);
    snprintf(r->model, sizeof r->model, "%s", rep->model[0] ? rep->model :
             model_of(x->c, x->req));
    context_warning(x->c, r);
    int code = llm_reply_judge(rep, r->message, sizeof r->message);
    if (code == 0) {
        r->content = rep->content.p ? rep->content.p : strdup("");
        rep->content.p = NULL;
        if (!r->content)
            code = LLM_ENOMEM;
    }
    return code;
}

static void xfer_done(xfer *x, int code)
{
    llm_result *r = x->res;
    if (x->state == X_RUN)
        curl_multi_remove_handle(x->c->multi, x->h);
    x->state = X_DONE;
    r->status = code;
    r->seconds = rt_now() - x->t0;
    if (code) {
        free(r->content);
        r->content = NULL;
        if (!r->message[0])
            rt_fmt(r->message, sizeof r->message, "%s", llm_strerror(code));
        if (r->retries && llm_retriable(code)) {
            size_t n = strlen(r->message);
            rt_fmt(r->message + n, sizeof r->message - n, " (gave up after %d retries)",
                   r->retries);
        }
    }
    llm_redact(r->message, sizeof r->message, x->c->key);
    account(x->c, x->req, r);
}

static void record(xfer *x, const llm_reply *rep, double seconds)
{
    llm_client *c = x->c;
    if (c->mode != LLM_CACHE_RECORD)
        return;
    char *entry = llm_wire_cache_entry(x->canon, rep, seconds);
    int rc = entry ? c->cache.put(c->cache.user, x->res->key, entry) : LLM_ENOMEM;
    if (rc)
        logf_(c, LLM_LOG_WARN, "llm: could not record the reply %.16s in the cache (%d)",
              x->res->key, rc);
    free(entry);
}

/* The message for a transfer stopped by a callback or the stall check. */
static void abort_message(xfer *x, char *msg, size_t cap)
{
    switch (x->abort_code) {
    case LLM_ETOOLARGE:
        rt_fmt(msg, cap, "the reply from %s exceeds %zu bytes (max_response_bytes)",
               x->c->url, x->c->cfg.max_response_bytes);
        break;
    case LLM_ESTALL:
        rt_fmt(msg, cap, "the reply from %s stalled: no data for %.3g s after it started",
               x->c->url, x->c->cfg.stall_timeout);
        break;
    case LLM_ESTREAM:
        rt_fmt(msg, cap, "error event in the stream from %s: %s", x->c->url, x->sse.error);
        break;
    default:
        rt_fmt(msg, cap, "%s: %s", x->c->url, x->sse.error[0] ? x->sse.error :
               llm_strerror(x->abort_code));
    }
}

/* A 2xx reply: parse it, record it, judge it. Returns the outcome code. */
static int finish_ok(xfer *x, char *msg, size_t cap)
{
    llm_reply rep;
    int code, quota = 0;
    if (x->req->stream && !x->json_body) {
        code = llm_sse_finish(&x->sse);
        if (code) {
            x->abort_code = code;
            abort_message(x, msg, cap);
            return code;
        }
        if (!x->sse.done && !x->sse.reply.finish_reason[0]) {
            rt_fmt(msg, cap, "the stream from %s ended before [DONE]", x->c->url);
            return LLM_ESTREAM;
        }
        rep = x->sse.reply;
        memset(&x->sse.reply, 0, sizeof x->sse.reply);
    } else {
        code = llm_wire_parse_completion(x->raw.p ? x->raw.p : "", x->raw.len, &rep,
                                         msg, cap, &quota);
        if (code == LLM_ESERVER && quota)
            code = LLM_EQUOTA;
        if (code) {
            char m[384];
            rt_fmt(m, sizeof m, "%s", msg);
            rt_fmt(msg, cap, "HTTP %ld from %s: %s", x->status, x->c->url, m);
            return code;
        }
    }
    record(x, &rep, rt_now() - x->t0);
    code = take_reply(x, &rep);
    llm_reply_free(&rep);
    return code;
}

/* The transfer ended (cc) or was stopped: decide done or retry. */
static void xfer_finish(xfer *x, CURLcode cc, double now)
{
    llm_client *c = x->c;
    llm_result *r = x->res;
    char msg[512] = "";
    int code;
    r->http_status = (int)x->status;
    if (x->abort_code) {
        code = x->abort_code == LLM_ESTREAM && x->sse.quota ? LLM_EQUOTA : x->abort_code;
        abort_message(x, msg, sizeof msg);
    } else if (cc != CURLE_OK && x->req->stream && x->headers_done &&
               x->status >= 200 && x->status < 300 && cc != CURLE_OPERATION_TIMEDOUT) {
        code = LLM_ESTREAM;
        rt_fmt(msg, sizeof msg, "the stream from %s was cut before [DONE]: %s", c->url,
               x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        code = curl_code(cc);
        rt_fmt(msg, sizeof msg, "%s: %s", c->url, x->errbuf[0] ? x->errbuf :
               curl_easy_strerror(cc));
    } else if (x->status >= 200 && x->status < 300) {
        code = finish_ok(x, msg, sizeof msg);
    } else {
        int quota;
        char m[384];
        llm_wire_parse_error(x->raw.p, x->raw.len, m, sizeof m, &quota);
        code = http_code(x->status, quota);
        rt_fmt(msg, sizeof msg, "HTTP %ld from %s: %s%s", x->status, c->url, m,
               x->status >= 300 && x->status < 400
                   ? " (redirects are not followed: check the base URL, e.g. https://)" : "");
    }
    llm_redact(msg, sizeof msg, c->key);
    if (code && llm_retriable(code) && r->retries < c->cfg.max_retries) {
        double wait = x->retry_after >= 0
                          ? (x->retry_after < c->cfg.retry_after_cap ? x->retry_after
                                                                     : c->cfg.retry_after_cap)
                          : llm_backoff(r->retries + 1, c->cfg.backoff_base,
                                        c->cfg.backoff_cap, c->cfg.jitter, &c->rng);
        r->retries++;
        logf_(c, LLM_LOG_INFO, "llm: %s; retry %d/%d in %.2f s", msg, r->retries,
              c->cfg.max_retries, wait);
        curl_multi_remove_handle(c->multi, x->h);
        x->state = X_WAIT;
        x->wake = now + wait;
        return;
    }
    if (code)
        rt_fmt(r->message, sizeof r->message, "%s", msg);
    xfer_done(x, code);
}

/* Answer from the cache; returns 1 when the request is settled. A miss settles it
 * with LLM_ECACHEMISS in replay mode, and leaves it to the network (returns 0) in
 * record mode. */
static int replay(xfer *x)
{
    llm_client *c = x->c;
    char *entry = NULL;
    int rc = c->cache.get(c->cache.user, x->res->key, &entry);
    if (rc == 1 && c->mode == LLM_CACHE_RECORD)
        return 0;
    if (rc == 1) {
        rt_fmt(x->res->message, sizeof x->res->message,
               "replay: no recorded reply for request %.16s (model %s, %d messages); "
               "record it first with --llm-cache record", x->res->key,
               model_of(c, x->req), x->req->n_messages);
        xfer_done(x, LLM_ECACHEMISS);
        return 1;
    }
    llm_reply rep;
    if (rc != 0 || !entry || llm_wire_parse_cache_entry(entry, &rep) != 0) {
        rt_fmt(x->res->message, sizeof x->res->message,
               "replay: the cache entry for request %.16s cannot be read (%d)",
               x->res->key, rc);
        free(entry);
        xfer_done(x, LLM_ECACHE);
        return 1;
    }
    free(entry);
    x->res->cached = 1;
    xfer_done(x, take_reply(x, &rep));
    llm_reply_free(&rep);
    return 1;
}

/* Validate, key, and either settle a request at once or prepare its transfer. */
static int xfer_prepare(xfer *x)
{
    llm_client *c = x->c;
    llm_result *r = x->res;
    int rc = check_request(x->req);
    if (rc) {
        rt_fmt(r->message, sizeof r->message, "invalid request (no messages, or a NULL string)");
        xfer_done(x, rc);
        return 0;
    }
    if (!model_of(c, x->req)) {
        rt_fmt(r->message, sizeof r->message, "no LLM model: set --model, LLMNAS_MODEL or "
               "llm.configure{model = ...}");
        xfer_done(x, LLM_ECONFIG);
        return 0;
    }
    rc = llm_wire_canonical(x->req, model_of(c, x->req), 0, &x->canon);
    if (rc == 0) {
        hash_sha256_hex(x->canon, strlen(x->canon), r->key);
        int occ = next_occurrence(c, r->key);
        if (occ > 0) {
            free(x->canon);
            x->canon = NULL;
            rc = llm_wire_canonical(x->req, model_of(c, x->req), occ, &x->canon);
            if (rc == 0)
                hash_sha256_hex(x->canon, strlen(x->canon), r->key);
        } else if (occ < 0) {
            rc = LLM_ENOMEM;
        }
    }
    if (rc) {
        rt_fmt(r->message, sizeof r->message, "%s", rc == LLM_EARG ?
               "response_format is not valid JSON" : llm_strerror(rc));
        xfer_done(x, rc);
        return 0;
    }
    /* Record mode reads through: a request recorded before (a resumed run asking
     * again what it asked before it was killed) gets its recorded reply. */
    if (c->mode != LLM_CACHE_OFF && replay(x))
        return 0;
    if (!c->url) {
        rt_fmt(r->message, sizeof r->message, "no LLM endpoint: set --base-url, "
               "LLMNAS_BASE_URL or OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1)");
        xfer_done(x, LLM_ECONFIG);
        return 0;
    }
    x->timeout = x->req->timeout > 0 ? x->req->timeout : c->cfg.timeout;
    if ((rc = xfer_setup(x)) != 0) {
        xfer_done(x, rc);
        return 0;
    }
    x->state = X_WAIT;
    x->wake = 0;
    return 1;
}

/* Run the loop until every transfer is done; returns 0 or LLM_EINTR. */
static int run_loop(llm_client *c, xfer *xs, int n)
{
    for (;;) {
        double now = rt_now(), next_wake = now + POLL_MS / 1000.0;
        int running = 0, pending = 0;
        for (int i = 0; i < n; i++)
            running += xs[i].state == X_RUN, pending += xs[i].state != X_DONE;
        if (!pending)
            return 0;
        if (rt_interrupted()) {
            for (int i = 0; i < n; i++)
                if (xs[i].state != X_DONE) {
                    rt_fmt(xs[i].res->message, sizeof xs[i].res->message,
                           "interrupted while waiting for %s", c->url);
                    xfer_done(&xs[i], LLM_EINTR);
                }
            return LLM_EINTR;
        }
        for (int i = 0; i < n; i++) {
            xfer *x = &xs[i];
            if (x->state == X_WAIT && x->wake <= now && running < c->cfg.parallel) {
                int rc = xfer_start(x);
                if (rc)
                    xfer_done(x, rc);
                else
                    running++;
            } else if (x->state == X_WAIT && x->wake < next_wake) {
                next_wake = x->wake;
            }
        }
        int still;
        curl_multi_perform(c->multi, &still);
        CURLMsg *m;
        while ((m = curl_multi_info_read(c->multi, &still)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            for (int i = 0; i < n; i++)
                if (xs[i].h == m->easy_handle && xs[i].state == X_RUN) {
                    xfer_finish(&xs[i], m->data.result, rt_now());
                    break;
                }
        }
        now = rt_now();
        for (int i = 0; i < n; i++) {
            xfer *x = &xs[i];
            if (x->state == X_RUN && x->headers_done && c->cfg.stall_timeout > 0 &&
                now - x->last_byte > c->cfg.stall_timeout) {
                x->abort_code = LLM_ESTALL;
                xfer_finish(x, CURLE_OK, now);
            }
        }
        pending = 0;
        for (int i = 0; i < n; i++)
            pending += xs[i].state != X_DONE;
        if (!pending)
            return 0;
        int ms = (int)((next_wake - rt_now()) * 1000);
        curl_multi_poll(c->multi, NULL, 0, ms < 1 ? 1 : ms > POLL_MS ? POLL_MS : ms, NULL);
    }
}

int llm_chat_many(llm_client *c, const llm_request *reqs, int n, llm_result *res)
{
    if (!c || n < 0 || (n > 0 && (!reqs || !res)))
        return LLM_EARG;
    if (n == 0)
        return 0;
    if (!c->multi && !(c->multi = curl_multi_init()))
        return LLM_ENOMEM;
    xfer *xs = calloc((size_t)n, sizeof *xs);
    if (!xs)
        return LLM_ENOMEM;
    double t0 = rt_now();
    for (int i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        xs[i] = (xfer){.c = c, .req = &reqs[i], .res = &res[i], .t0 = t0, .state = X_WAIT};
        llm_sse_init(&xs[i].sse, c->cfg.max_response_bytes);
        xfer_prepare(&xs[i]);
    }
    int rc = run_loop(c, xs, n);
    for (int i = 0; i < n; i++)
        xfer_free(&xs[i]);
    free(xs);
    return rc;
}

int llm_chat(llm_client *c, const llm_request *req, llm_result *res)
{
    if (!res)
        return LLM_EARG;
    int rc = llm_chat_many(c, req, 1, res);
    return rc && rc != LLM_EINTR ? rc : res->status;
}

/* ---- the models the server offers (preflight) ------------------------------------ */

int llm_ping(llm_client *c, llm_result *res)
{
    if (!c || !res)
        return LLM_EARG;
    llm_message m = {.role = "user", .content = "Reply with one word: ok"};
    llm_request req;
    llm_request_init(&req);
    req.messages = &m;
    req.n_messages = 1;
    req.max_tokens = 1;
    req.temperature = 0;
    req.role = "preflight";
    int retries = c->cfg.max_retries;
    llm_cache_mode mode = c->mode;
    c->cfg.max_retries = 0;
    c->mode = LLM_CACHE_OFF;
    int rc = llm_chat(c, &req, res);
    c->cfg.max_retries = retries;
    c->mode = mode;
    /* One token is usually cut at max_tokens, or empty: either way the model answered. */
    if (rc == LLM_ETRUNCATED || rc == LLM_EEMPTY || rc == LLM_EREFUSED || rc == LLM_EFILTERED)
        rc = res->status = 0;
    return rc;
}

typedef struct { llm_buf b; size_t cap; int over; } models_body;

static size_t on_models_body(char *p, size_t size, size_t n, void *ud)
{
    models_body *m = ud;
    size_t len = size * n;
    if (m->b.len + len > m->cap || llm_buf_add(&m->b, p, len)) {
        m->over = 1;
        return 0;
    }
    return len;
}

void llm_models_free(char **ids, int n)
{
    for (int i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

int llm_models(llm_client *c, char ***ids_out, int *n_out, llm_result *res)
{
    if (!c || !ids_out || !n_out || !res)
        return LLM_EARG;
    memset(res, 0, sizeof *res);
    *ids_out = NULL;
    *n_out = 0;
    if (!c->base_url) {
        rt_fmt(res->message, sizeof res->message, "no LLM base URL");
        return res->status = LLM_ECONFIG;
    }
    size_t ul = strlen(c->base_url) + sizeof "/models";
    char *url = malloc(ul);
    CURL *h = curl_easy_init();
    models_body body = {.cap = c->cfg.max_response_bytes};
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int code = LLM_ENOMEM;
    if (!url || !h)
        goto out;
    snprintf(url, ul, "%s/models", c->base_url);
    hdrs = curl_slist_append(NULL, "Accept: application/json");
    if (!hdrs)
        goto out;
    if (c->key) {
        size_t n = strlen(c->key) + sizeof "Authorization: Bearer ";
        char *auth = malloc(n);
        if (!auth)
            goto out;
        snprintf(auth, n, "Authorization: Bearer %s", c->key);
        struct curl_slist *s = curl_slist_append(hdrs, auth);
        wipe_free(auth);
        if (!s)
            goto out;
        hdrs = s;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llmnas/" LLMNAS_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect must not carry the key */
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->cfg.connect_timeout * 1000));
    /* A model list is small: a server that takes longer than this is not answering. */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)((c->cfg.connect_timeout + 30) * 1000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_models_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    double t0 = rt_now();
    CURLcode cc = curl_easy_perform(h);
    res->seconds = rt_now() - t0;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    res->http_status = (int)status;
    if (body.over) {
        code = LLM_ETOOLARGE;
        rt_fmt(res->message, sizeof res->message, "the model list from %s is too large", url);
    } else if (cc != CURLE_OK) {
        code = curl_code(cc);
        rt_fmt(res->message, sizeof res->message, "%s: %s", url,
               errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status < 200 || status >= 300) {
        int quota;
        char m[384];
        llm_wire_parse_error(body.b.p, body.b.len, m, sizeof m, &quota);
        code = http_code(status, quota);
        rt_fmt(res->message, sizeof res->message, "HTTP %ld from %s: %s", status, url, m);
    } else {
        cJSON *j = cJSON_ParseWithLength(body.b.p ? body.b.p : "", body.b.len);
        cJSON *data = j ? cJSON_GetObjectItemCaseSensitive(j, "data") : NULL;
        if (!cJSON_IsArray(data)) {
            code = LLM_EPROTOCOL;
            rt_fmt(res->message, sizeof res->message,
                   "the answer of %s is not a model list ({\"data\": [...]})", url);
        } else {
            int n = cJSON_GetArraySize(data), k = 0;
            char **ids = calloc((size_t)n + 1, sizeof *ids);
            code = ids ? LLM_OK : LLM_ENOMEM;
            const cJSON *it;
            cJSON_ArrayForEach(it, data) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
                if (ids && cJSON_IsString(id) && !(ids[k++] = strdup(id->valuestring))) {
                    code = LLM_ENOMEM;
                    break;
                }
            }
            if (code == LLM_OK) {
                *ids_out = ids;
                *n_out = k;
            } else {
                llm_models_free(ids, k);
            }
        }
        cJSON_Delete(j);
    }
out:
    if (code == LLM_ENOMEM && !res->message[0])
        rt_fmt(res->message, sizeof res->message, "out of memory");
    llm_redact(res->message, sizeof res->message, c->key);
    if (hdrs)
        for (struct curl_slist *s = hdrs; s; s = s->next)
            if (strncasecmp(s->data, "Authorization:", 14) == 0) {
                volatile char *v = s->data;
                while (*v)
                    *v++ = 0;
            }
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    llm_buf_free(&body.b);
    free(url);
    return res->status = code;
}
