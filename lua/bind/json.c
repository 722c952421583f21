/*
 * json.c — the `json` module over cJSON (rules in json.h):
 *   json.decode(s)                 -> value | nil, "error at byte N: ..."
 *   json.encode(v [, {canonical = true, indent = true}]) -> string (raises on
 *                                     values JSON cannot hold)
 *   json.null, json.array([t]), json.is_array(t)
 *
 * cJSON keeps numbers as doubles, which would lose integers above 2^53 and
 * the integer/float distinction; so the decoder also scans the text for
 * number tokens, which occur in the same order as cJSON's items.
 */
#include "bind/json.h"

#include "host/host.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char array_mt_key[] = "llmnas.json.array";
static char null_sentinel;

void json_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, &null_sentinel);
}

static void push_array_mt(lua_State *L)
{
    if (luaL_getmetatable(L, array_mt_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        luaL_newmetatable(L, array_mt_key);
        lua_pushliteral(L, "json.array");
        lua_setfield(L, -2, "__name");
    }
}

/* ---- encoding ---- */

struct enc {
    lua_State *L;
    int canonical;
    char *err;
    size_t errlen;
    char path[256];
};

static void enc_fail(struct enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void enc_fail(struct enc *e, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(e->err, e->errlen, "%s at $%s", msg, e->path);
}

/* Shortest %.Ng that reads back to d; always marked as a float. */
static void format_float(double d, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (strpbrk(buf, ".eE") == NULL)
        strncat(buf, ".0", len - strlen(buf) - 1);
}

static cJSON *enc_value(struct enc *e, int idx, int depth);

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Classify the table at idx: 1 array (n items), 0 object, -1 error. */
static int table_kind(struct enc *e, int idx, lua_Integer *n_out)
{
    lua_State *L = e->L;
    lua_Integer count = 0, max = 0;
    int strings = 0, ints = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING) {
            strings++;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            ints++;
            if (lua_tointeger(L, -1) > max)
                max = lua_tointeger(L, -1);
        } else {
            enc_fail(e, "cannot encode a table key of type %s", luaL_typename(L, -1));
            lua_pop(L, 1);
            return -1;
        }
    }
    if (strings && ints) {
        enc_fail(e, "cannot encode a table that mixes array and object keys");
        return -1;
    }
    if (ints && max != count) {
        enc_fail(e, "cannot encode a sparse array (integer keys are not 1..n)");
        return -1;
    }
    *n_out = count;
    if (count == 0) {
        int is_array = 0;
        if (lua_getmetatable(L, idx)) {
            push_array_mt(L);
            is_array = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
        }
        return is_array;
    }
    return ints > 0;
}

static cJSON *enc_array(struct enc *e, int idx, lua_Integer n, int depth)
{
    cJSON *arr = cJSON_CreateArray();
    size_t plen = strlen(e->path);
    for (lua_Integer i = 1; arr && i <= n; i++) {
        snprintf(e->path + plen, sizeof e->path - plen, "[%lld]", (long long)i);
        lua_rawgeti(e->L, idx, i);
        cJSON *item = enc_value(e, lua_gettop(e->L), depth + 1);
        lua_pop(e->L, 1);
        if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    e->path[plen] = '\0';
    return arr;
}

static cJSON *enc_object(struct enc *e, int idx, lua_Integer n, int depth)
{
    lua_State *L = e->L;
    const char **keys = malloc(sizeof *keys * (size_t)(n ? n : 1));
    cJSON *obj = cJSON_CreateObject();
    if (keys == NULL || obj == NULL) {
        free(keys);
        cJSON_Delete(obj);
        snprintf(e->err, e->errlen, "out of memory");
        return NULL;
    }
    lua_Integer k = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        keys[k++] = lua_tostring(L, -1);  /* strings stay alive: anchored in the table */
    }
    if (e->canonical)
        qsort(keys, (size_t)n, sizeof *keys, cmp_keys);
    size_t plen = strlen(e->path);
    for (lua_Integer i = 0; i < n; i++) {
        snprintf(e->path + plen, sizeof e->path - plen, ".%s", keys[i]);
        lua_getfield(L, idx, keys[i]);
        cJSON *item = enc_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (item == NULL) {
            free(keys);
            cJSON_Delete(obj);
            return NULL;
        }
        cJSON_AddItemToObject(obj, keys[i], item);
    }
    e->path[plen] = '\0';
    free(keys);
    return obj;
}

static cJSON *enc_value(struct enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    char buf[64];
    if (depth > JSON_MAX_DEPTH) {
        enc_fail(e, "cannot encode: nesting deeper than %d levels (a cyclic table?)", JSON_MAX_DEPTH);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d)) {
                enc_fail(e, "cannot encode non-finite number (%s)",
                         isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
                return NULL;
            }
            format_float(d, buf, sizeof buf);
        }
        return cJSON_CreateRaw(buf);
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &null_sentinel)
            return cJSON_CreateNull();
        break;
    case LUA_TTABLE: {
        if (!lua_checkstack(L, 8)) {
            enc_fail(e, "cannot encode: Lua stack exhausted");
            return NULL;
        }
        lua_Integer n;
        int kind = table_kind(e, idx, &n);
        if (kind < 0)
            return NULL;
        return kind ? enc_array(e, idx, n, depth) : enc_object(e, idx, n, depth);
    }
    default:
        break;
    }
    enc_fail(e, "cannot encode a %s value", luaL_typename(L, idx));
    return NULL;
}

char *json_encode_value(lua_State *L, int idx, int canonical, int indent,
                        char *err, size_t errlen)
{
    struct enc e = {L, canonical, err, errlen, ""};
    idx = lua_absindex(L, idx);
    cJSON *root = enc_value(&e, idx, 0);
    if (root == NULL)
        return NULL;
    char *s = indent ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (s == NULL)
        snprintf(err, errlen, "out of memory");
    return s;
}

/* ---- decoding ---- */

struct numtok { const char *start; size_t len; };

/* Number tokens outside strings, in document order. */
static size_t scan_numbers(const char *s, size_t len, struct numtok *toks, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t j = i;
            while (j < len && strchr("+-.eE0123456789", s[j]) && s[j] != '\0')
                j++;
            if (n < max)
                toks[n] = (struct numtok){s + i, j - i};
            n++;
            i = j;
        } else {
            i++;
        }
    }
    return n;
}

struct dec {
    lua_State *L;
    struct numtok *toks;
    size_t ntoks, next;
};

static void push_number(struct dec *d, const cJSON *item)
{
    if (d->next < d->ntoks) {
        struct numtok t = d->toks[d->next++];
        if (memchr(t.start, '.', t.len) == NULL && memchr(t.start, 'e', t.len) == NULL &&
            memchr(t.start, 'E', t.len) == NULL && t.len < 32) {
            char buf[32];
            memcpy(buf, t.start, t.len);
            buf[t.len] = '\0';
            errno = 0;
            long long v = strtoll(buf, NULL, 10);
            if (errno == 0) {
                lua_pushinteger(d->L, (lua_Integer)v);
                return;
            }
        }
    }
    lua_pushnumber(d->L, item->valuedouble);
}

static int dec_value(struct dec *d, const cJSON *item)
{
    lua_State *L = d->L;
    if (!lua_checkstack(L, 4))
        return -1;
    if (cJSON_IsNull(item)) {
        json_push_null(L);
    } else if (cJSON_IsBool(item)) {
        lua_pushboolean(L, cJSON_IsTrue(item));
    } else if (cJSON_IsNumber(item)) {
        push_number(d, item);
    } else if (cJSON_IsString(item)) {
        lua_pushstring(L, item->valuestring);
    } else if (cJSON_IsArray(item)) {
        lua_createtable(L, cJSON_GetArraySize(item), 0);
        lua_Integer i = 0;
        for (const cJSON *c = item->child; c; c = c->next) {
            if (dec_value(d, c) != 0)
                return -1;
            lua_rawseti(L, -2, ++i);
        }
        push_array_mt(L);
        lua_setmetatable(L, -2);
    } else if (cJSON_IsObject(item)) {
        lua_newtable(L);
        for (const cJSON *c = item->child; c; c = c->next) {
            if (dec_value(d, c) != 0)
                return -1;
            lua_setfield(L, -2, c->string);
        }
    } else {
        return -1;
    }
    return 0;
}

/* True when the text ends inside a string or an unclosed array/object: cJSON
 * then points at the last element, but the user's problem is the end. */
static int ends_early(const char *s, size_t len)
{
    long depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            if (i >= len)
                return 1;
        } else if (s[i] == '[' || s[i] == '{') {
            depth++;
        } else if (s[i] == ']' || s[i] == '}') {
            depth--;
        }
    }
    return depth > 0;
}

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

int json_decode_push(lua_State *L, const char *text, size_t len, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t at = end ? (size_t)(end - text) : 0;
    if (root == NULL) {
        at = skip_ws(text, at, len);
        if (ends_early(text, len))
            at = len;
        if (at >= len)
            snprintf(err, errlen, "error at byte %zu: unexpected end of input", at + 1);
        else
            snprintf(err, errlen, "error at byte %zu: unexpected character '%c'", at + 1,
                     (text[at] >= 32 && text[at] < 127) ? text[at] : '?');
        return 0;
    }
    at = skip_ws(text, at, len);
    if (at < len) {
        cJSON_Delete(root);
        snprintf(err, errlen, "error at byte %zu: unexpected text after the JSON value", at + 1);
        return 0;
    }
    size_t ntoks = scan_numbers(text, len, NULL, 0);
    struct numtok *toks = malloc(sizeof *toks * (ntoks ? ntoks : 1));
    if (toks == NULL) {
        cJSON_Delete(root);
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    scan_numbers(text, len, toks, ntoks);
    struct dec d = {L, toks, ntoks, 0};
    int top = lua_gettop(L);
    int rc = dec_value(&d, root);
    free(toks);
    cJSON_Delete(root);
    if (rc != 0) {
        lua_settop(L, top);
        snprintf(err, errlen, "error: nesting too deep");
        return 0;
    }
    return 1;
}

/* ---- the module ---- */

static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char err[200];
    if (json_decode_push(L, s, len, err, sizeof err))
        return 1;
    luaL_pushfail(L);
    lua_pushstring(L, err);
    return 2;
}

static int opt_flag(lua_State *L, int idx, const char *name)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    return host_opt_bool(L, idx, name, 0);
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    int canonical = opt_flag(L, 2, "canonical");
    int indent = opt_flag(L, 2, "indent");
    lua_settop(L, 1);
    char err[512];
    char *s = json_encode_value(L, 1, canonical, indent, err, sizeof err);
    if (s == NULL)
        return luaL_error(L, "json.encode: %s", err);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_array_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_is_array(lua_State *L)
{
    int r = 0;
    if (lua_getmetatable(L, 1)) {
        push_array_mt(L);
        r = lua_rawequal(L, -1, -2);
    }
    lua_pushboolean(L, r);
    return 1;
}

int luaopen_llmnas_json(lua_State *L);
int luaopen_llmnas_json(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"decode", l_decode},
        {"encode", l_encode},
        {"array", l_array},
        {"is_array", l_is_array},
        {NULL, NULL}};
    luaL_newlib(L, fns);
    json_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
