-- test_json.lua: the json module — round trips, number types, arrays vs objects,
-- canonical form, and every error message.
local T = require "testing"

local tests = {}

function tests.round_trip_values()
  local v = { name = "small", layers = { 3, 5, 7 }, acc = 0.8925, ok = true, none = json.null,
    nested = { deep = { deeper = { "x" } } }, empty_obj = {}, text = "quote \" and \\ and \n" }
  local back = json.decode(json.encode(v))
  T.eq(back, v)
  T.eq(json.encode(back, { canonical = true }), json.encode(v, { canonical = true }))
end

function tests.integers_and_floats_keep_their_type()
  local v = json.decode(json.encode({ i = 42, f = 42.0, big = math.maxinteger, neg = -7,
    tiny = 5e-324, third = 1 / 3 }))
  T.eq(math.type(v.i), "integer")
  T.eq(math.type(v.f), "float")
  T.eq(v.big, math.maxinteger, "integers beyond 2^53 survive")
  T.eq(math.type(v.big), "integer")
  T.eq(v.neg, -7)
  T.eq(v.tiny, 5e-324)
  T.eq(v.third, 1 / 3, "floats read back to the same double")
  T.eq(json.encode(1.0), "1.0")
  T.eq(json.encode(1e300), "1e+300")
  T.eq(json.encode(0.1), "0.1")
  T.eq(math.type(json.decode("3")), "integer")
  T.eq(math.type(json.decode("3.0")), "float")
  T.eq(math.type(json.decode("3e2")), "float")
  T.eq(math.type(json.decode("99999999999999999999")), "float", "past int64 is a float")
end

function tests.numbers_inside_strings_do_not_confuse_types()
  local v = json.decode('{"a": "12.5e3 -4", "b": 7, "c": ["1.5", 2, 2.5]}')
  T.eq(v.a, "12.5e3 -4")
  T.eq(math.type(v.b), "integer")
  T.eq(math.type(v.c[2]), "integer")
  T.eq(math.type(v.c[3]), "float")
end

function tests.arrays_and_objects()
  T.eq(json.encode({}), "{}", "an empty table is an object")
  T.eq(json.encode(json.array()), "[]", "json.array() is an empty array")
  T.eq(json.encode(json.decode("[]")), "[]", "a decoded empty array stays an array")
  T.eq(json.encode(json.decode("{}")), "{}")
  T.eq(json.encode({ 1, 2, 3 }), "[1,2,3]")
  T.ok(json.is_array(json.decode("[1]")))
  T.ok(not json.is_array(json.decode("{}")))
  T.eq(json.encode({ json.null, 2 }), "[null,2]", "null keeps a slot in an array")
end

function tests.canonical_sorts_keys_and_indent_formats()
  T.eq(json.encode({ b = 1, a = { d = 1, c = 2 } }, { canonical = true }), '{"a":{"c":2,"d":1},"b":1}')
  local pretty = json.encode({ a = { 1, 2 } }, { indent = true })
  T.ok(pretty:find("\n"), "indent adds newlines")
  T.eq(json.decode(pretty).a, { 1, 2 })
end

function tests.encode_errors_name_the_place()
  T.raises(function() json.encode({ x = 0 / 0 }) end, "cannot encode non-finite number (nan) at $.x")
  T.raises(function() json.encode({ a = { 1, math.huge } }) end, "non-finite number (inf) at $.a[2]")
  T.raises(function() json.encode(-math.huge) end, "non-finite number (-inf) at $")
  T.raises(function() json.encode({ [1] = 1, [3] = 3 }) end, "sparse array")
  T.raises(function() json.encode({ 1, x = 2 }) end, "mixes array and object keys")
  T.raises(function() json.encode({ [true] = 1 }) end, "table key of type boolean")
  T.raises(function() json.encode({ f = print }) end, "cannot encode a function value at $.f")
  local cyclic = {}
  cyclic.self = cyclic
  T.raises(function() json.encode(cyclic) end, "nesting deeper than 200 levels")
end

function tests.decode_errors_give_the_byte()
  local v, err = json.decode('{"a": 1,}')
  T.eq(v, nil)
  T.ok(err:match("^error at byte %d+: "), err)
  v, err = json.decode("[1, 2")
  T.eq(v, nil)
  T.eq(err, "error at byte 6: unexpected end of input")
  err = select(2, json.decode('{"a": 1} x'))
  T.eq(err, "error at byte 10: unexpected text after the JSON value")
  err = select(2, json.decode(""))
  T.eq(err, "error at byte 1: unexpected end of input")
  v, err = json.decode("nul")
  T.ok(v == nil and err:find("error at byte 1", 1, true), err)
end

function tests.deep_nesting_is_refused_not_crashing()
  local deep = string.rep("[", 5000) .. string.rep("]", 5000)
  local v, err = json.decode(deep)
  T.eq(v, nil)
  T.ok(err:find("error at byte", 1, true), err)
end

function tests.unicode_escapes_decode_to_utf8()
  T.eq(json.decode('"caf\\u00e9 \\ud83d\\ude00"'), "café 😀")
  T.eq(json.decode(json.encode("naïve ✓")), "naïve ✓")
end

return tests
