-- test_llm_lua.lua — the `llm` module against tests/llm_server.py (started per test).
local T = require "testing"
local server = dofile((os.getenv("LLMNAS_TEST_ROOT") or ".") .. "/tests/llm/server.lua")

local CANARY = "sk-canary-lua-51f0c2"

-- Fast, deterministic retries for every test; each test points the client at its server.
local function use(srv, extra)
  local cfg = { base_url = srv.url, model = "test-model", retries = 3, backoff_base = 0.05,
    backoff_cap = 0.4, jitter = false, stall_timeout = 0.5, timeout = 10, cache = false,
    cache_mode = "off", log = "quiet" }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  llm.configure(cfg)
  llm.reset_usage()
end

local function with_server(replies, fn, extra)
  local srv = server.start(replies)
  use(srv, extra)
  local ok, err = pcall(fn, srv)
  srv:stop()
  if not ok then error(err, 0) end
end

local hello = { { role = "system", content = "You write small networks." },
  { role = "user", content = "Say hello." } }

local tests = {}

function tests.chat_reply_and_info()
  with_server({ { reply = "hello there", prompt_tokens = 21, completion_tokens = 3,
    model = "served" } }, function(srv)
    local reply, info = llm.chat{ messages = hello, temperature = 0.7, top_p = 0.9,
      max_tokens = 2048, seed = 43, stop = { "END" }, response_format = { type = "json_object" },
      role = "generator" }
    T.eq(reply, "hello there")
    T.eq(info.prompt_tokens, 21)
    T.eq(info.completion_tokens, 3)
    T.eq(info.finish_reason, "stop")
    T.eq(info.model, "served")
    T.eq(info.retries, 0)
    T.eq(info.cached, false)
    T.eq(info.role, "generator")
    T.ok(info.seconds > 0 and info.seconds < 5)
    T.eq(#info.key, 64)
    local body = srv:requests()[1].body
    T.eq(body.model, "test-model")
    T.eq(body.messages, hello)
    T.eq(body.temperature, 0.7)
    T.eq(body.top_p, 0.9)
    T.eq(body.max_tokens, 2048)
    T.eq(body.seed, 43)
    T.eq(body.stop, { "END" })
    T.eq(body.response_format, { type = "json_object" })
  end)
end

function tests.chat_string_messages_and_model_override()
  with_server({ "a", "b" }, function(srv)
    T.eq(llm.chat{ messages = "just this" }, "a")
    T.eq(llm.chat{ messages = { "one", { role = "assistant", content = "two" } }, model = "other" }, "b")
    local r = srv:requests()
    T.eq(r[1].body.messages, { { role = "user", content = "just this" } })
    T.eq(r[2].body.model, "other")
    T.eq(r[2].body.messages[2].role, "assistant")
    T.eq(r[1].body.temperature, nil) -- unset fields are not sent
  end)
end

function tests.failures_are_values_with_kinds()
  local cases = {
    { { fault = "401" }, "llm_auth", 1 },
    { { fault = "quota" }, "llm_quota", 1 },
    { { fault = "400", message = "bad max_tokens" }, "llm_bad_request", 1 },
    { { fault = "404" }, "llm_not_found", 1 },
    { { fault = "length", reply = "def Net(" }, "llm_truncated", 1 },
    { { fault = "empty" }, "llm_empty", 1 },
    { { fault = "refusal" }, "llm_refused", 1 },
    { { fault = "content_filter" }, "llm_filtered", 1 },
    { { fault = "503", ["repeat"] = 4 }, "llm_server", 4 },
  }
  for _, c in ipairs(cases) do
    with_server({ c[1], "never" }, function(srv)
      local reply, msg, kind, info = llm.chat{ messages = hello }
      T.eq(reply, nil, c[2])
      T.eq(kind, c[2])
      T.eq(type(msg), "string")
      T.eq(type(info), "table")
      T.eq(srv:calls(), c[3], c[2] .. " calls")
    end)
  end
end

function tests.retry_after_is_waited_and_counted()
  with_server({ { fault = "retry_after", seconds = 1 }, "done" }, function(srv)
    local reply, info = llm.chat{ messages = hello }
    T.eq(reply, "done")
    T.eq(info.retries, 1)
    T.ok(info.seconds >= 1.0, "waited " .. info.seconds)
    T.eq(srv:calls(), 2)
  end)
end

function tests.stream()
  with_server({ { reply = "streamed, in pieces", completion_tokens = 5 },
    { fault = "stream_cut" } }, function()
    local reply, info = llm.chat{ messages = hello, stream = true }
    T.eq(reply, "streamed, in pieces")
    T.eq(info.completion_tokens, 5)
    local r2, _, kind = llm.chat{ messages = hello, stream = true }
    T.eq(r2, nil)
    T.eq(kind, "llm_stream")
  end, { retries = 0 })
end

function tests.chat_many_in_order_and_at_once()
  with_server({ { echo = true, delay = 0.5, ["repeat"] = 3 } }, function(srv)
    local res = llm.chat_many{
      { messages = "first", role = "generator" },
      { messages = "second", role = "improver" },
      { messages = "third", role = "generator", stream = true },
    }
    T.eq(#res, 3)
    T.eq(res[1][1], "first")
    T.eq(res[2][1], "second")
    T.eq(res[3][1], "third")
    T.eq(res[2][2].role, "improver")
    -- at once: the server was answering all three when the last arrived (an ordering
    -- from its log, not a wall-clock bound)
    local most = 0
    for _, q in ipairs(srv:requests()) do most = math.max(most, q.in_flight or 0) end
    T.eq(most, 3, "the three requests in flight at once")
    T.eq(srv:calls(), 3)
  end)
end

function tests.chat_many_reports_each_failure()
  with_server({ { fault = "401" }, "ok" }, function()
    llm.configure{ parallel = 1 } -- one at a time: the 401 answers the first
    local res = llm.chat_many{ { messages = "a" }, { messages = "b" } }
    T.eq(res[1][1], nil)
    T.eq(res[1][3], "llm_auth")
    T.eq(res[2][1], "ok")
    llm.configure{ parallel = 8 }
  end)
end

function tests.server_queues_by_prompt_text()
  -- "when" lines answer the requests whose messages contain the text, whatever the order.
  with_server({ { when = "improve", reply = '{"reason": "r"}' }, { reply = "code 1" },
    { reply = "code 2" } }, function()
    T.eq(llm.chat{ messages = "generate" }, "code 1")
    T.eq(llm.chat{ messages = "please improve" }, '{"reason": "r"}')
    T.eq(llm.chat{ messages = "generate again" }, "code 2")
    local _, msg, kind = llm.chat{ messages = "improve more" }
    T.eq(kind, "llm_bad_request")
    T.ok(msg:find('script exhausted for "improve"', 1, true), msg)
  end)
end

function tests.usage_per_role()
  with_server({ { reply = "g", prompt_tokens = 10, completion_tokens = 4 },
    { reply = "i", prompt_tokens = 6, completion_tokens = 2 },
    { reply = "g", prompt_tokens = 10, completion_tokens = 4 },
    { fault = "empty", prompt_tokens = 3, completion_tokens = 0 } }, function()
    llm.chat{ messages = "x", role = "generator" }
    llm.chat{ messages = "y", role = "improver" }
    llm.chat{ messages = "z", role = "generator" }
    llm.chat{ messages = "w" }
    local u = llm.usage()
    T.eq(u.generator.calls, 2)
    T.eq(u.generator.prompt_tokens, 20)
    T.eq(u.generator.completion_tokens, 8)
    T.eq(u.improver.calls, 1)
    T.eq(u.default.failures, 1)
    T.eq(u.default.prompt_tokens, 3)
    T.ok(u.generator.seconds > 0)
    llm.reset_usage()
    T.eq(llm.usage(), {})
  end)
end

function tests.arguments_are_checked()
  T.raises(function() llm.chat{ messages = hello, temprature = 0.7 } end, "unknown request field 'temprature'")
  T.raises(function() llm.chat{} end, "needs messages")
  T.raises(function() llm.chat{ messages = {} } end, "non-empty array")
  T.raises(function() llm.chat{ messages = { { role = "user" } } } end, "messages[1]")
  T.raises(function() llm.chat{ messages = hello, temperature = 3 } end, "temperature must be")
  T.raises(function() llm.chat{ messages = hello, seed = 1.5 } end, "seed must be an integer")
  T.raises(function() llm.chat{ messages = hello, seed = 1 << 60 } end, "within +-2^53")
  T.raises(function() llm.chat_many{ { messages = hello }, { nope = 1 } } end, "request #2")
  T.raises(function() llm.configure{ api_key = CANARY } end, "environment only")
  T.raises(function() llm.configure{ retrys = 3 } end, "unknown setting 'retrys'")
  T.raises(function() llm.configure{ cache = 42 } end, "cache must be")
  T.raises(function() llm.chat("hi") end, "table expected")
end

function tests.config_shows_no_key()
  llm.configure{ api_key_env = "LLMNAS_TEST_NO_SUCH_VAR" }
  T.eq(llm.config().has_key, false)
  llm.configure{ api_key_env = false }
  T.eq(llm.config().model, "test-model")
  -- with the canary key actually set (in the environment of a child llmnas, as this
  -- process cannot set its own): the config says it has a key and shows none of it
  local dir = T.tmpdir()
  local f = assert(io.open(dir .. "/config.lua", "w"))
  f:write([[
llm.configure{ api_key_env = "LLMNAS_TEST_CANARY_KEY" }
local c = llm.config()
local parts = {}
for k, v in pairs(c) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(v) end
print("has_key=" .. tostring(c.has_key))
print(table.concat(parts, "\n"))
]])
  f:close()
  local p = assert(io.popen(("LLMNAS_TEST_CANARY_KEY=%s '%s' run '%s/config.lua' 2>&1"):format(
    CANARY, assert(os.getenv("LLMNAS"), "LLMNAS (the binary) not set"), dir)))
  local out = p:read("a")
  p:close()
  os.remove(dir .. "/config.lua")
  os.remove(dir)
  T.ok(out:find("has_key=true", 1, true), "the child's config has the key: " .. out)
  T.ok(not out:find(CANARY, 1, true), "the key shows in llm.config(): " .. out)
  T.ok(not out:find(CANARY:sub(4, 12), 1, true), "part of the key shows in llm.config()")
end

function tests.request_key_ignores_url_and_transport()
  llm.configure{ base_url = "http://a.invalid/v1", model = "m" }
  local k1 = llm.request_key{ messages = hello, temperature = 0.7, seed = 1 }
  llm.configure{ base_url = "http://b.invalid/v1" }
  local k2 = llm.request_key{ messages = hello, temperature = 0.7, seed = 1, stream = true, role = "x" }
  local k3 = llm.request_key{ messages = hello, temperature = 0.7, seed = 2 }
  T.eq(k1, k2)
  T.ok(k1 ~= k3)
  T.eq(k1, core.sha256('{"model":"m","messages":[{"role":"system","content":"You write small networks."},'
    .. '{"role":"user","content":"Say hello."}],"temperature":0.7,"seed":1}'))
end

function tests.record_then_replay_from_a_directory()
  local dir = T.tmpdir() .. "/llm-cache"
  local srv = server.start{ "first", "second", { fault = "length" } }
  use(srv, { cache = dir, cache_mode = "record" })
  local a = llm.chat{ messages = hello, seed = 7 }
  local b = llm.chat{ messages = hello, seed = 7 } -- the same question twice
  local _, _, kind = llm.chat{ messages = "cut me", max_tokens = 3 }
  T.eq({ a, b, kind }, { "first", "second", "llm_truncated" })
  T.eq(srv:calls(), 3)
  srv:stop()
  -- Replay: the server is gone; answers come from the cache, in the same order.
  llm.configure{ base_url = "http://127.0.0.1:9/v1", cache_mode = "replay" }
  local ra, ia = llm.chat{ messages = hello, seed = 7 }
  local rb = llm.chat{ messages = hello, seed = 7 }
  local _, _, k2 = llm.chat{ messages = "cut me", max_tokens = 3 }
  T.eq({ ra, rb, k2 }, { "first", "second", "llm_truncated" })
  T.eq(ia.cached, true)
  local miss, msg, k3 = llm.chat{ messages = "never recorded" }
  T.eq(miss, nil)
  T.eq(k3, "llm_cache_miss")
  T.ok(msg:find("no recorded reply", 1, true), msg)
  T.eq(llm.usage().default.cached, 3)
  llm.configure{ cache = false, cache_mode = "off" }
end

function tests.record_then_replay_from_the_memory_store()
  local db = assert(memory.open(T.tmpdir() .. "/llmnas.db"))
  local srv = server.start{ "stored one", "stored two" }
  use(srv, { cache = db, cache_mode = "record" })
  local _, info = llm.chat{ messages = hello, temperature = 0.7, seed = 43, role = "generator" }
  T.eq(llm.chat{ messages = "second" }, "stored two")
  srv:stop()
  local entry = db:llm_get(info.key)
  T.eq(entry.reply.content, "stored one")
  T.eq(entry.request.messages, hello)
  T.eq(entry.request.temperature, 0.7)
  T.eq(entry.request.seed, 43)
  llm.configure{ base_url = "http://127.0.0.1:9/v1", cache_mode = "replay" }
  local r1, i1 = llm.chat{ messages = hello, temperature = 0.7, seed = 43 }
  T.eq(r1, "stored one")
  T.eq(i1.cached, true)
  T.eq(llm.chat{ messages = "second" }, "stored two")
  local _, _, kind = llm.chat{ messages = hello, temperature = 0.8, seed = 43 }
  T.eq(kind, "llm_cache_miss")
  db:close() -- a closed store is a cache failure, not a crash
  local _, msg2, kind2 = llm.chat{ messages = "second" }
  T.eq(kind2, "llm_cache", msg2)
  T.raises(function() llm.configure{ cache = db } end, "closed")
  llm.configure{ cache = false, cache_mode = "off" }
end

function tests.cache_mode_without_store_is_a_config_error()
  llm.configure{ cache = false, cache_mode = "replay" }
  local r, msg, kind = llm.chat{ messages = hello }
  T.eq(r, nil)
  T.eq(kind, "llm_config")
  T.ok(msg:find("needs a store", 1, true), msg)
  llm.configure{ cache_mode = "off" }
end

return tests
