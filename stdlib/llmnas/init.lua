--- llmnas — the stdlib entry point (embedded in the binary).
-- `local llmnas = require "llmnas"` gives the version, the options of `llmnas run`
-- and the settings passed with `--set key=value`.
local core = require "core"

local M = { version = core.version }

--- The options `llmnas run` was given (db, resume, run, iterations, dataset, data,
-- llm_cache, base_url, model, script, set = {key = value}).
-- With --resume (or --run ID), the resumed run's settings are restored into it on the
-- first call, before the script reads any (llmnas.resume).
function M.options()
  local o = package.loaded["llmnas.options"] or { set = {} }
  if (o.resume or o.run) and not o.restored then
    require("llmnas.resume").settings(o, require("llmnas.search").DEFAULT_DB)
  end
  return o
end

--- Called by `llmnas run` (lua/cli/cmd_run.c) before the script runs: the run's
-- options reach the LLM client through llm.configure, like any other setting, so a
-- script's own llm.configure still beats them and the C side reads no options table.
function M.start(options)
  local cfg = {}
  if options.base_url then cfg.base_url = options.base_url end
  if options.model then cfg.model = options.model end
  if options.llm_cache then cfg.cache_mode = options.llm_cache end
  if next(cfg) then require("llm").configure(cfg) end
end

--- A `--set` setting, or `default` when it was not given.
-- The value's type follows the default's when one is given: a number default
-- makes "5" a number, a boolean default accepts true/false/on/off. A value of
-- another type is the user's mistake: one line and exit 64 (no traceback).
-- `opts.positive_integer` also refuses a number that is not a whole one >= 1.
function M.setting(key, default, opts)
  local v = M.options().set[key]
  if v == nil then return default end
  local want = type(default)
  local fail = require("llmnas.preflight").fail
  if want ~= "nil" and type(v) ~= want then
    if want == "string" then return tostring(v) end
    fail(64, ("--set %s=%s: expected %s"):format(key, tostring(v),
      want == "boolean" and "on or off" or "a " .. want))
  end
  if opts and opts.positive_integer and (math.type(v) ~= "integer" or v < 1) then
    fail(64, ("--set %s=%s: expected a positive integer"):format(key, tostring(v)))
  end
  return v
end

--- Run a search (see llmnas.search and stdlib/doc/search.md).
function M.search(strategy)
  return require("llmnas.search").search(strategy)
end

return M
