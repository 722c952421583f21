--- llmnas.resume — a resumed run keeps what it was started with.
--
-- `llmnas run S.lua --resume` (or `--run ID`) continues a run stored in the memory. The
-- run's settings (`--set KEY=VALUE` and a script's declared options) are restored before
-- the script reads any (`llmnas.options()` calls `settings` on its first use), so the
-- command `llmnas run S.lua --resume --db DIR` continues with the same settings as the
-- command that started the run. A setting given again with the same value is accepted
-- (the same command line with --resume works); one that differs, or that the run was not
-- started with, is refused in one line (exit 64): a resumed run whose settings changed
-- would mix records of two searches in one run.
--
-- `check` (llmnas.search, when the run is opened) then compares the run's stored task
-- and recipe, the fields that change a result (those of the evaluation cache's key), with
-- the ones this command gives, and refuses a difference the same way — a changed
-- --dataset or an edited strategy. The data directory, the threads and the time limits
-- may change: they do not change a result; so may the settings in MAY_CHANGE.
local M = {}

local function fail(msg) require("llmnas.preflight").fail(64, msg) end

-- Settings a resumed run may be given anew (this command's value wins): the iteration
-- budget and the per-candidate time limit, which change how long, not what, it trains.
M.MAY_CHANGE = { iterations = true, time_limit = true }

local function shown(v)
  if v == true then return "on" elseif v == false then return "off" end
  return tostring(v)
end

-- "--set a=1 --set b=x", sorted, for the messages.
function M.flags(set)
  local keys = {}
  for k in pairs(set or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = ("--set %s=%s"):format(k, shown(set[k])) end
  return table.concat(keys, " ")
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- The run opts.resume / opts.run names in the memory opts.db (else default_db): its id
-- and meta, or nil when there is none to read (no memory yet, no run: llmnas.search
-- then says so).
local function stored_run(opts, default_db)
  local ok, db = pcall(memory.open, opts.db or default_db, { readonly = true })
  if not ok or not db then return nil end
  local got, id, info = pcall(function()
    local id = opts.run and tonumber(opts.run) or db:latest_run()
    return id, id and db:run(id)
  end)
  db:close()
  if not got or not info then return nil end
  return id, info.meta or {}
end

-- Whether opts.set may continue a run started with `stored`: refuses (exit 64) a
-- setting that differs or that the run was not started with.
local function refuse_changes(id, set, stored)
  local keys = {}
  for k in pairs(set) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not M.MAY_CHANGE[k] and (stored[k] == nil or not same(stored[k], set[k])) then
      fail(("--set %s=%s: run %s was started %s, and a resumed run keeps its settings (%s); to change them, "
        .. "start a new run (another --db)"):format(k, shown(set[k]), tostring(id),
        stored[k] == nil and "without it" or ("with %s=%s"):format(k, shown(stored[k])),
        next(stored) and M.flags(stored) or "none"))
    end
  end
end

--- Restores the settings of the run to be resumed into opts.set (opts: the table of
-- `llmnas.options()`), once; nothing when opts resumes no run. opts.restored: the
-- settings it filled in.
function M.settings(opts, default_db)
  if opts.restored or not (opts.resume or opts.run) then return end
  opts.restored = {}
  local id, meta = stored_run(opts, default_db)
  if not id then return end
  local stored = meta.settings or {}
  refuse_changes(id, opts.set, stored)
  -- before the dataset is looked at (a missing dataset's error would hide this one)
  local was = (meta.task or {}).dataset
  if opts.dataset and was and opts.dataset ~= was then
    fail(("--dataset %s: run %s was made with task.dataset = %s, and a resumed run trains as it started; to "
      .. "change it, start a new run (another --db)"):format(opts.dataset, tostring(id), was))
  end
  for k, v in pairs(stored) do
    if opts.set[k] == nil then opts.restored[k], opts.set[k] = v, v end
  end
end

-- The first field where a and b differ that changes a result (not one of
-- llmnas.search.NOT_IN_RESULT: the evaluation cache's key leaves the same out).
local function first_difference(a, b, path)
  local free = require("llmnas.search").NOT_IN_RESULT
  for _, t in ipairs({ a, b }) do
    for k in pairs(t) do
      if not free[k] and not same(a[k], b[k]) then
        if type(a[k]) == "table" and type(b[k]) == "table" then
          return first_difference(a[k], b[k], path .. "." .. tostring(k))
        end
        return path .. "." .. tostring(k), a[k], b[k]
      end
    end
  end
end

--- When a run is resumed: refuses (exit 64) what this command would change in it —
-- settings (a strategy that sets its own db was started before they could be restored),
-- the task or the recipe. meta: the run's stored meta; task, recipe: this command's.
function M.check(id, meta, opts, task, recipe)
  local stored = meta.settings or {}
  refuse_changes(id, opts.set or {}, stored)
  for k in pairs(stored) do
    if (opts.set or {})[k] == nil and not M.MAY_CHANGE[k] then
      fail(("run %s was started with %s, which this command does not give (a strategy that names its own "
        .. "db is resumed with the same --set options)"):format(tostring(id), M.flags(stored)))
    end
  end
  for _, part in ipairs({ { "task", meta.task, task }, { "recipe", meta.recipe, recipe } }) do
    if type(part[2]) == "table" then
      local where, was, now = first_difference(part[2], part[3], part[1])
      if where then
        fail(("run %s was made with %s = %s, and this command gives %s: a resumed run trains as it "
          .. "started (the same --dataset, and the strategy's task and train tables unchanged); to change "
          .. "them, start a new run (another --db)"):format(tostring(id), where, shown(was), shown(now)))
      end
    end
  end
end

return M
