--- llmnas.report — the end of a run: the best architecture's summary, its
-- exports (candidate Lua, canonical JSON, PyTorch) written next to the memory,
-- and the commands that show the records.
local M = {}

local function write(path, text)
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  f:write(text)
  f:close()
  return path
end

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Write the exports of the best candidate; returns the folder, or nil, message.
function M.export_best(run)
  local best = run.loop.best
  if not best then return nil, "no candidate trained successfully" end
  local g, err = run.env.arch.compile(best.code, { input = run.task.input, classes = run.task.classes })
  if not g then return nil, "the best candidate no longer compiles: " .. tostring(err) end
  local dir = ("%s/exports/run-%s"):format(run.db_path, tostring(run.id))
  if not os.execute("mkdir -p " .. shell_quote(dir)) then return nil, "cannot create " .. dir end
  local files = {}
  for _, e in ipairs({ { "best.lua", g.to_lua }, { "best.json", g.to_json }, { "best.py", g.to_pytorch } }) do
    if e[2] then
      local path, werr = write(dir .. "/" .. e[1], e[2](g))
      if not path then return nil, werr end
      files[#files + 1] = path
    end
  end
  return dir, g, files
end

function M.print(run)
  local best = run.loop.best
  local out = io.stdout
  if not best then
    out:write("llmnas: no candidate trained successfully in this run\n")
  else
    out:write(("\nbest: iteration %d, validation accuracy %.2f%%, %d parameters, %.2f MFLOPs\n")
      :format(best.iteration, best.val_acc * 100, best.params or 0, (best.flops or 0) / 1e6))
    local dir, g, files = M.export_best(run)
    if dir then
      if g.summary then out:write(g:summary(), "\n") end
      out:write("exports: ", table.concat(files, ", "), "\n")
    else
      out:write("llmnas: exports not written: ", tostring(g), "\n")
    end
  end
  out:write(("records: %s (run %s) — llmnas show --db %s %s\n"):format(run.db_path, tostring(run.id),
    run.db_path, tostring(run.id)))
  if run.summary_text then out:write(tostring(run.summary_text), "\n") end
end

return M
