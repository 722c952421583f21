--- llmnas.preflight — the checks a strategy that calls an LLM makes before its run is
-- created (stdlib/doc/search.md, "Before the first iteration"), so that a first run
-- cannot fail in a confusing way: no endpoint configured, a model the server does not
-- offer, a server that cannot be reached, a key it rejects. Each failure is one line
-- naming the flag or variable to fix and an exit code from sysexits.h; nothing is
-- written to the store.
--
--   local preflight = require "llmnas.preflight"
--   local note = preflight.check(llm, options)   -- raises a user error, or returns a note
--   preflight.fail(preflight.EX_CONFIG, "one line")
local M = {}

M.EX_CONFIG = 78        -- the configuration is wrong (no model, unknown model, bad key)
M.EX_UNAVAILABLE = 69   -- the server cannot be reached
M.MAX_LISTED = 20       -- models named in an "unknown model" message

local user_error_mt = { __tostring = function(e) return e.message end }

--- Raise a user error: the host prints `message` as one line (no traceback) and exits
-- with `code` (EX_CONFIG, EX_UNAVAILABLE, or 64 / 65 / 66).
function M.fail(code, message)
  error(setmetatable({ exit = code, message = message }, user_error_mt), 0)
end

--- Whether a value is a user error raised by M.fail.
function M.is_user_error(e)
  return getmetatable(e) == user_error_mt
end

local function key_vars(cfg)
  return cfg.api_key_env or "LLMNAS_API_KEY (or OPENAI_API_KEY)"
end

local function listed(ids)
  local shown = {}
  for i = 1, math.min(#ids, M.MAX_LISTED) do shown[i] = ids[i] end
  local more = #ids > M.MAX_LISTED and (", ... (%d more)"):format(#ids - M.MAX_LISTED) or ""
  return table.concat(shown, ", ") .. more
end

--- Check the endpoint configuration of `llm` (the module, or anything with config() and
-- models()) for a run with options `opts` (llmnas.options()). Returns nil, or a note to
-- print (the server does not list its models, replay mode). Raises a user error otherwise.
function M.check(llm, opts)
  opts = opts or {}
  local cfg = llm.config()
  local replay = opts.llm_cache == "replay" or cfg.cache_mode == "replay"
  local missing = {}
  if not cfg.base_url and not replay then
    missing[#missing + 1] = "--base-url URL (or LLMNAS_BASE_URL / OPENAI_BASE_URL)"
  end
  if not cfg.model then missing[#missing + 1] = "--model NAME (or LLMNAS_MODEL)" end
  if #missing > 0 then
    M.fail(M.EX_CONFIG, ("this strategy calls an LLM, and %s: give %s, e.g. --base-url "
      .. "http://127.0.0.1:11434/v1 --model qwen2.5-coder:7b"):format(
      #missing == 2 and "no endpoint is configured" or (cfg.model and "no base URL is set" or "no model is set"),
      table.concat(missing, " and ")))
  end
  if replay then return "llm: replay mode: the endpoint is not contacted" end
  local ids, err, kind = llm.models()
  if ids then
    if #ids == 0 then return nil end
    for _, id in ipairs(ids) do if id == cfg.model then return nil end end
    M.fail(M.EX_CONFIG, ("model '%s' is not offered by %s; it offers: %s (set --model or LLMNAS_MODEL)")
      :format(cfg.model, cfg.base_url, listed(ids)))
  end
  if kind == "llm_not_found" and llm.ping then
    -- Not every server lists its models: one minimal request checks the endpoint, the
    -- key and the model name instead (one token, no retry, never cached).
    local ok, perr, pkind = llm.ping()
    if ok then
      return ("llm: %s does not list its models; a one-token request to '%s' was answered")
        :format(cfg.base_url, cfg.model)
    end
    if pkind == "llm_not_found" or pkind == "llm_bad_request" then
      M.fail(M.EX_CONFIG, ("%s does not list its models and rejected a one-token request for "
        .. "model '%s': %s (check --model or LLMNAS_MODEL)"):format(cfg.base_url, cfg.model, tostring(perr)))
    end
    M.refuse(cfg, perr, pkind, "chat/completions")
    return ("llm: %s does not list its models, and a one-token request got %s (%s): "
      .. "the first call will say more"):format(cfg.base_url, tostring(perr), tostring(pkind))
  end
  if kind == "llm_not_found" then
    return ("llm: %s does not list its models (%s): the model name is checked by the first call")
      :format(cfg.base_url, tostring(err))
  end
  M.refuse(cfg, err, kind, "models")
  -- A server error, quota, or a list in another shape: the server is there; the first
  -- call reports what it says.
  return ("llm: %s/models: %s (%s)"):format(cfg.base_url, tostring(err), tostring(kind))
end

--- Raise the user error for a failure of the preflight request at `path` that means the
-- run cannot work: a rejected or missing key, an unreachable server, an unusable URL.
-- Returns for any other kind (the server is there; the first call says more).
function M.refuse(cfg, err, kind, path)
  if kind == "llm_auth" then
    if cfg.key_env then
      M.fail(M.EX_CONFIG, ("the LLM server rejected the API key read from %s: %s")
        :format(cfg.key_env, tostring(err)))
    end
    M.fail(M.EX_CONFIG, ("the LLM server wants an API key and none is set: set %s (%s)")
      :format(key_vars(cfg), tostring(err)))
  end
  if kind == "llm_network" or kind == "llm_timeout" then
    local cause = tostring(err):gsub("^%S+/" .. path .. ": ", "")
    M.fail(M.EX_UNAVAILABLE, ("cannot reach the LLM server at %s: %s (is it running? check --base-url)")
      :format(cfg.base_url, cause))
  end
  if kind == "llm_config" then
    M.fail(M.EX_CONFIG, ("the LLM base URL '%s' is not usable: %s"):format(cfg.base_url, tostring(err)))
  end
end

return M
