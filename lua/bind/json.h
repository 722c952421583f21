/*
 * json.h — JSON between Lua values and text, over cJSON. The `json` module and
 * every binding that stores or sends Lua tables use these, so all JSON in the
 * project follows one set of rules:
 *
 *   - A table whose keys are exactly 1..n (n > 0) is an array; a table whose
 *     keys are all strings is an object; an empty table is an object unless it
 *     carries json.array's metatable (decoded arrays do, so [] round-trips).
 *     Sparse arrays, mixed keys and other key types are errors.
 *   - Integers encode as integers, floats always with a '.' or exponent
 *     ("1.0"), in the shortest form that reads back to the same double; on
 *     decode a number without '.', 'e' or 'E' that fits 64 bits is an integer.
 *   - NaN and infinities are refused. json.null (a light userdata) is null.
 *   - canonical: object keys sorted bytewise, no whitespace.
 */
#ifndef LLMNAS_JSON_H
#define LLMNAS_JSON_H

#include <lua.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 200

/* Encode the value at idx. Returns a malloc'd NUL-terminated string (caller
 * frees) or NULL with err filled ("cannot encode non-finite number (inf) at
 * $.a[2]"). Never raises; may call no metamethods. */
char *json_encode_value(lua_State *L, int idx, int canonical, int indent,
                        char *err, size_t errlen);

/* Decode text[0..len) and push the value. Returns 1, or 0 with nothing pushed
 * and err filled ("error at byte 7: unexpected character '}'"). */
int json_decode_push(lua_State *L, const char *text, size_t len, char *err, size_t errlen);

/* Push json.null. */
void json_push_null(lua_State *L);

#endif
