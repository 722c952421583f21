--- llmnas.progress — what a search prints. On a terminal, a live status line
-- (rewritten in place) while an iteration runs, then one line per iteration;
-- elsewhere only the per-iteration lines. Colour only on a terminal and when
-- NO_COLOR is not set. strategy.quiet = true prints nothing but the summary.
local core = require "core"

local M = {}

local tty = core.isatty(1)
local color = tty and (os.getenv("NO_COLOR") or "") == "" and os.getenv("TERM") ~= "dumb"

local function paint(code, s)
  if not color then return s end
  return ("\27[%sm%s\27[0m"):format(code, s)
end

local function pct(x) return x and ("%.2f%%"):format(x * 100) or "-" end

local function tokens(n)
  if n >= 1e6 then return ("%.1fM"):format(n / 1e6) end
  if n >= 1e3 then return ("%.1fk"):format(n / 1e3) end
  return tostring(math.floor(n))
end

local function clear()
  if tty then io.stdout:write("\r\27[K") end
end

function M.start(run)
  if run.quiet then return end
  local what = run.resumed and ("resuming run %s at iteration %d"):format(run.id, run.loop.iteration + 1)
    or ("run %s"):format(run.id)
  -- the settings --resume restored (llmnas.resume): the run goes on as it was started
  local restored = run.resumed and require("llmnas").options().restored
  if restored and next(restored) then
    what = ("%s with its settings (%s)"):format(what, require("llmnas.resume").flags(restored))
  end
  io.stdout:write(("llmnas: %s — %s on %s%s, db %s\n"):format(what, run.strategy.name or "search",
    run.task.dataset, run.task.subset and (" (subset " .. run.task.subset .. ")") or "", run.db_path))
  io.stdout:flush()
end

--- The live status line (terminal only).
function M.phase(run, what)
  if run.quiet or not tty then return end
  clear()
  io.stdout:write(("iter %d: %s..."):format(run.loop.iteration + 1, what))
  io.stdout:flush()
end

function M.note(run, text)
  if run.quiet then return end
  clear()
  io.stderr:write("llmnas: " .. text .. "\n")
end

function M.iteration(run, r)
  if run.quiet then return end
  clear()
  local loop = run.loop
  local status
  if r.status == "ok" then
    status = paint("32", r.cache_hit and "cached" or "ok    ")
  else
    status = paint("31", ("%-6s"):format((r.error_kind or "failed"):sub(1, 12)))
  end
  local best = loop.best and ("%s (it %d)"):format(pct(loop.best.val_acc), loop.best.iteration) or "-"
  local budget = run.budget.iterations and ("/%d"):format(run.budget.iterations) or ""
  local width = #tostring(run.budget.iterations or 0)
  local line = ("iter %" .. width .. "d%s  %s  acc %-7s  best %s%s  valid %d%%  %.1f s/it  tokens %s"):format(
    r.iter, budget, status, pct(r.metrics.val_acc), best, r.accepted and paint("1", " *") or "",
    math.floor(100 * loop.valid / math.max(1, loop.iteration) + 0.5), loop.seconds / math.max(1, loop.iteration),
    tokens(loop.tokens))
  -- a lower fidelity's accuracy (successive halving's lower rungs) is not the run's
  if r.fidelity then line = line .. ("  (%s)"):format(r.fidelity) end
  io.stdout:write(line, "\n")
  io.stdout:flush()
end

function M.finish(run)
  if run.quiet then return end
  clear()
  local loop = run.loop
  io.stdout:write(("llmnas: run %s stopped (%s budget reached) after %d iterations, %d valid\n"):format(
    run.id, run.stopped_by or "?", loop.iteration, loop.valid))
end

return M
