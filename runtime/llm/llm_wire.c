/*
 * llm_wire.c — JSON and server-sent events for the LLM client (see llm_wire.h).
 * Everything here works on bytes already received; nothing talks to the network,
 * and nothing here ever sees the API key.
 */
#include "llm/llm_wire.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffers -------------------------------------------------------------------- */

int llm_buf_add(llm_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return LLM_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

void llm_buf_free(llm_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void llm_reply_free(llm_reply *r)
{
    llm_buf_free(&r->content);
    llm_buf_free(&r->refusal);
    memset(r, 0, sizeof *r);
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- requests ------------------------------------------------------------------- */

/* content with the rest of each line after a volatile prefix replaced by "#" (malloc'd;
 * NULL on OOM). A prefix names a figure the engine measures (a time), not one the
 * strategy decides, so two prompts that differ only there ask the same question. */
static char *mask_volatile(const char *content, const llm_request *req)
{
    size_t n = strlen(content);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = content; *p;) {
        const char *hit = NULL;
        size_t hl = 0;
        for (int i = 0; i < req->n_volatile; i++) {
            const char *q = req->volatile_prefixes[i];
            if (!q || !*q)
                continue;
            const char *h = strstr(p, q);
            if (h && (!hit || h < hit))
                hit = h, hl = strlen(q);
        }
        if (!hit) {
            size_t rest = strlen(p);
            memcpy(o, p, rest);
            o += rest;
            break;
        }
        memcpy(o, p, (size_t)(hit - p) + hl);
        o += (hit - p) + hl;
        *o++ = '#';
        p = hit + hl;
        while (*p && *p != '\n')
            p++;
    }
    *o = '\0';
    return out;
}

/* The fields shared by the body and the canonical JSON (masked: the volatile figures
 * left out, for the key), in canonical order. */
static int add_request_fields(cJSON *o, const llm_request *req, const char *model, int masked)
{
    if (!cJSON_AddStringToObject(o, "model", model))
        return LLM_ENOMEM;
    cJSON *msgs = cJSON_AddArrayToObject(o, "messages");
    if (!msgs)
        return LLM_ENOMEM;
    for (int i = 0; i < req->n_messages; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m)
            return LLM_ENOMEM;
        cJSON_AddItemToArray(msgs, m);
        const char *content = req->messages[i].content;
        char *mc = masked && req->n_volatile > 0 ? mask_volatile(content, req) : NULL;
        int ok = (!masked || req->n_volatile == 0 || mc) &&
                 cJSON_AddStringToObject(m, "role", req->messages[i].role) &&
                 cJSON_AddStringToObject(m, "content", mc ? mc : content);
        free(mc);
        if (!ok)
            return LLM_ENOMEM;
    }
    if (req->temperature >= 0 && !cJSON_AddNumberToObject(o, "temperature", req->temperature))
        return LLM_ENOMEM;
    if (req->top_p >= 0 && !cJSON_AddNumberToObject(o, "top_p", req->top_p))
        return LLM_ENOMEM;
    if (req->max_tokens > 0 && !cJSON_AddNumberToObject(o, "max_tokens", req->max_tokens))
        return LLM_ENOMEM;
    if (req->has_seed && !cJSON_AddNumberToObject(o, "seed", (double)req->seed))
        return LLM_ENOMEM;
    if (req->n_stop > 0) {
        cJSON *stop = cJSON_AddArrayToObject(o, "stop");
        if (!stop)
            return LLM_ENOMEM;
        for (int i = 0; i < req->n_stop; i++) {
            cJSON *s = cJSON_CreateString(req->stop[i]);
            if (!s)
                return LLM_ENOMEM;
            cJSON_AddItemToArray(stop, s);
        }
    }
    if (req->response_format) {
        cJSON *rf = cJSON_Parse(req->response_format);
        if (!rf)
            return LLM_EARG;
        cJSON_AddItemToObject(o, "response_format", rf);
    }
    return 0;
}

char *llm_wire_body(const llm_request *req, const char *model)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;
    if (!o || add_request_fields(o, req, model, 0) != 0)
        goto done;
    if (req->stream) {
        cJSON *so;
        if (!cJSON_AddTrueToObject(o, "stream") ||
            !(so = cJSON_AddObjectToObject(o, "stream_options")) ||
            !cJSON_AddTrueToObject(so, "include_usage"))
            goto done;
    }
    out = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return out;
}

int llm_wire_canonical(const llm_request *req, const char *model, int occurrence,
                       char **json_out)
{
    *json_out = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return LLM_ENOMEM;
    int rc = add_request_fields(o, req, model, 1);
    if (rc == 0 && occurrence > 0 && !cJSON_AddNumberToObject(o, "occurrence", occurrence))
        rc = LLM_ENOMEM;
    if (rc == 0 && !(*json_out = cJSON_PrintUnformatted(o)))
        rc = LLM_ENOMEM;
    cJSON_Delete(o);
    return rc;
}

/* ---- replies and errors --------------------------------------------------------- */

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static long num_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

static int is_quota(const char *s)
{
    return s && (strstr(s, "insufficient_quota") || strstr(s, "exceeded your current quota"));
}

/* Format an error object {message, type, code} into msg; 1 if it had a message. */
static int format_error_object(const cJSON *e, char *msg, size_t cap, int *quota)
{
    const char *m = str_field(e, "message");
    const char *type = str_field(e, "type");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    char codebuf[64] = "";
    if (cJSON_IsString(code))
        copy_str(codebuf, sizeof codebuf, code->valuestring);
    else if (cJSON_IsNumber(code))
        snprintf(codebuf, sizeof codebuf, "%d", code->valueint);
    if (is_quota(type) || is_quota(codebuf) || is_quota(m))
        *quota = 1;
    if (!m && !type && !codebuf[0])
        return 0;
    int n = snprintf(msg, cap, "%s", m ? m : "(no message)");
    if (type && n >= 0 && (size_t)n < cap)
        n += snprintf(msg + n, cap - (size_t)n, " (type: %s%s%s)", type,
                      codebuf[0] ? ", code: " : "", codebuf);
    else if (codebuf[0] && n >= 0 && (size_t)n < cap)
        snprintf(msg + n, cap - (size_t)n, " (code: %s)", codebuf);
    return 1;
}

static int error_from_json(const cJSON *root, char *msg, size_t cap, int *quota)
{
    if (!cJSON_IsObject(root))
        return 0;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsObject(e))
        return format_error_object(e, msg, cap, quota);
    if (cJSON_IsString(e)) {
        copy_str(msg, cap, e->valuestring);
        *quota |= is_quota(e->valuestring);
        return 1;
    }
    const char *obj = str_field(root, "object");
    if (obj && strcmp(obj, "error") == 0)
        return format_error_object(root, msg, cap, quota);
    const char *detail = str_field(root, "detail");
    if (detail) {
        copy_str(msg, cap, detail);
        return 1;
    }
    return 0;
}

/* The first bytes of a body, printable, for messages about bodies we cannot read. */
static void body_excerpt(const char *body, size_t len, char *msg, size_t cap)
{
    size_t n = len < 160 ? len : 160, o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        msg[o++] = isprint((unsigned char)body[i]) ? body[i] : ' ';
    msg[o] = '\0';
    if (!o)
        copy_str(msg, cap, "(empty body)");
}

int llm_wire_parse_error(const char *body, size_t len, char *msg, size_t cap, int *quota)
{
    *quota = 0;
    cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
    int found = error_from_json(root, msg, cap, quota);
    cJSON_Delete(root);
    if (!found)
        body_excerpt(body ? body : "", body ? len : 0, msg, cap);
    return found;
}

/* Take usage and model from a completion or a stream chunk. */
static void take_usage(llm_reply *out, const cJSON *root)
{
    const char *model = str_field(root, "model");
    if (model)
        copy_str(out->model, sizeof out->model, model);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(u)) {
        out->prompt_tokens = num_field(u, "prompt_tokens");
        out->completion_tokens = num_field(u, "completion_tokens");
    }
}

static int add_text(llm_buf *b, const cJSON *v)
{
    return cJSON_IsString(v) ? llm_buf_add(b, v->valuestring, strlen(v->valuestring)) : 0;
}

int llm_wire_parse_completion(const char *body, size_t len, llm_reply *out,
                              char *msg, size_t cap, int *quota)
{
    *quota = 0;
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(body, len);
    int rc = 0;
    if (!root) {
        char ex[200];
        body_excerpt(body, len, ex, sizeof ex);
        snprintf(msg, cap, "reply is not JSON: %s", ex);
        return LLM_EPROTOCOL;
    }
    if (error_from_json(root, msg, cap, quota)) {
        rc = LLM_ESERVER;
        goto done;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    const cJSON *m = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    if (!cJSON_IsObject(m)) {
        snprintf(msg, cap, "reply has no choices[0].message");
        rc = LLM_EPROTOCOL;
        goto done;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    out->content_null = !cJSON_IsString(content);
    copy_str(out->finish_reason, sizeof out->finish_reason,
             str_field(c0, "finish_reason"));
    take_usage(out, root);
    if (add_text(&out->content, content) || add_text(&out->refusal,
                                                     cJSON_GetObjectItemCaseSensitive(m, "refusal")))
        rc = LLM_ENOMEM;
done:
    cJSON_Delete(root);
    if (rc)
        llm_reply_free(out);
    return rc;
}

static int all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

int llm_reply_judge(const llm_reply *r, char *msg, size_t cap)
{
    if (strcmp(r->finish_reason, "content_filter") == 0) {
        snprintf(msg, cap, "the reply was withheld by the server's content filter");
        return LLM_EFILTERED;
    }
    if (r->refusal.len > 0) {
        snprintf(msg, cap, "the model refused: %.300s", r->refusal.p);
        return LLM_EREFUSED;
    }
    if (strcmp(r->finish_reason, "length") == 0) {
        snprintf(msg, cap, "the reply was cut at the token limit after %ld completion "
                 "tokens (finish_reason \"length\"): raise max_tokens", r->completion_tokens);
        return LLM_ETRUNCATED;
    }
    if (r->content_null || all_space(r->content.p ? r->content.p : "", r->content.len)) {
        snprintf(msg, cap, "the reply is empty (%s content, finish_reason \"%s\")",
                 r->content_null ? "null" : "blank", r->finish_reason);
        return LLM_EEMPTY;
    }
    return 0;
}

/* ---- cache entries -------------------------------------------------------------- */

char *llm_wire_cache_entry(const char *canonical, const llm_reply *r, double seconds)
{
    cJSON *o = cJSON_CreateObject(), *rep = NULL;
    char *out = NULL;
    cJSON *req = canonical ? cJSON_Parse(canonical) : NULL;
    if (!o || !req)
        goto done;
    cJSON_AddNumberToObject(o, "v", 1);
    cJSON_AddItemToObject(o, "request", req);
    req = NULL;
    if (!(rep = cJSON_AddObjectToObject(o, "reply")))
        goto done;
    if (r->content_null)
        cJSON_AddNullToObject(rep, "content");
    else
        cJSON_AddStringToObject(rep, "content", r->content.p ? r->content.p : "");
    if (r->refusal.len)
        cJSON_AddStringToObject(rep, "refusal", r->refusal.p);
    cJSON_AddStringToObject(rep, "finish_reason", r->finish_reason);
    cJSON_AddStringToObject(rep, "model", r->model);
    cJSON_AddNumberToObject(rep, "prompt_tokens", (double)r->prompt_tokens);
    cJSON_AddNumberToObject(rep, "completion_tokens", (double)r->completion_tokens);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    out = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(req);
    cJSON_Delete(o);
    return out;
}

int llm_wire_parse_cache_entry(const char *json, llm_reply *out)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_Parse(json);
    const cJSON *rep = root ? cJSON_GetObjectItemCaseSensitive(root, "reply") : NULL;
    int rc = 0;
    if (!cJSON_IsObject(rep)) {
        rc = LLM_ECACHE;
        goto done;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(rep, "content");
    out->content_null = !cJSON_IsString(content);
    copy_str(out->finish_reason, sizeof out->finish_reason, str_field(rep, "finish_reason"));
    copy_str(out->model, sizeof out->model, str_field(rep, "model"));
    out->prompt_tokens = num_field(rep, "prompt_tokens");
    out->completion_tokens = num_field(rep, "completion_tokens");
    if (add_text(&out->content, content) ||
        add_text(&out->refusal, cJSON_GetObjectItemCaseSensitive(rep, "refusal")))
        rc = LLM_ENOMEM;
done:
    cJSON_Delete(root);
    if (rc)
        llm_reply_free(out);
    return rc;
}

/* ---- server-sent events --------------------------------------------------------- */

void llm_sse_init(llm_sse *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = max;
}

void llm_sse_free(llm_sse *s)
{
    llm_buf_free(&s->line);
    llm_buf_free(&s->data);
    llm_reply_free(&s->reply);
}

/* One chunk of a streamed completion: a delta, maybe a finish reason, maybe usage. */
static int sse_chunk(llm_sse *s, cJSON *root)
{
    if (error_from_json(root, s->error, sizeof s->error, &s->quota) ||
        strcmp(s->event, "error") == 0) {
        if (!s->error[0])
            copy_str(s->error, sizeof s->error, "error event in the stream");
        return LLM_ESTREAM;
    }
    take_usage(&s->reply, root);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    if (!c0)
        return 0; /* the usage-only chunk of include_usage */
    const char *fr = str_field(c0, "finish_reason");
    if (fr)
        copy_str(s->reply.finish_reason, sizeof s->reply.finish_reason, fr);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(c0, "delta");
    if (add_text(&s->reply.content, cJSON_GetObjectItemCaseSensitive(d, "content")) ||
        add_text(&s->reply.refusal, cJSON_GetObjectItemCaseSensitive(d, "refusal")))
        return LLM_ENOMEM;
    return 0;
}

static int sse_dispatch(llm_sse *s)
{
    int rc = 0;
    if (s->data.len == 0)
        goto reset;
    if (strcmp(s->data.p, "[DONE]") == 0) {
        s->done = 1;
        goto reset;
    }
    cJSON *root = cJSON_ParseWithLength(s->data.p, s->data.len);
    if (!root) {
        if (strcmp(s->event, "error") == 0) {
            copy_str(s->error, sizeof s->error, s->data.p);
            rc = LLM_ESTREAM;
        } else {
            snprintf(s->error, sizeof s->error, "stream event is not JSON: %.120s", s->data.p);
            rc = LLM_EPROTOCOL;
        }
        goto reset;
    }
    rc = sse_chunk(s, root);
    cJSON_Delete(root);
reset:
    s->data.len = 0;
    if (s->data.p)
        s->data.p[0] = '\0';
    s->event[0] = '\0';
    return rc;
}

/* One complete line (no line ending). */
static int sse_line(llm_sse *s, const char *l, size_t n)
{
    if (n == 0)
        return sse_dispatch(s);
    if (l[0] == ':')
        return 0; /* comment, e.g. ": keep-alive" or OpenRouter's ": PROCESSING" */
    const char *colon = memchr(l, ':', n);
    size_t fn = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    size_t vn = (size_t)(l + n - v);
    if (vn && *v == ' ')
        v++, vn--;
    if (fn == 4 && memcmp(l, "data", 4) == 0) {
        if (s->data.len && llm_buf_add(&s->data, "\n", 1))
            return LLM_ENOMEM;
        return llm_buf_add(&s->data, v, vn);
    }
    if (fn == 5 && memcmp(l, "event", 5) == 0)
        snprintf(s->event, sizeof s->event, "%.*s", (int)vn, v);
    return 0; /* id:, retry: and unknown fields are ignored */
}

int llm_sse_feed(llm_sse *s, const char *p, size_t n)
{
    s->total += n;
    if (s->max && s->total > s->max)
        return LLM_ETOOLARGE;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (llm_buf_add(&s->line, p + i, 1))
                return LLM_ENOMEM;
            continue;
        }
        size_t len = s->line.len;
        if (len && s->line.p[len - 1] == '\r')
            len--;
        int rc = sse_line(s, s->line.p ? s->line.p : "", len);
        s->line.len = 0;
        if (rc)
            return rc;
    }
    return 0;
}

int llm_sse_finish(llm_sse *s)
{
    int rc = 0;
    if (s->line.len)
        rc = sse_line(s, s->line.p, s->line.len);
    s->line.len = 0;
    return rc ? rc : sse_dispatch(s);
}
