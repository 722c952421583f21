-- dump_layers.lua FILE: g:layers() of a candidate as sorted text, one layer a line
-- (the Lua view of the nodes, pinned by tests/lua/test_optable.lua).
local arch = require "arch"
local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. "=" .. show(v[k]) end
  return "{" .. table.concat(out, " ") .. "}"
end
local M = {}
function M.dump(path)
  local f = assert(io.open(path))
  local g = assert(arch.compile(f:read("a"), {isolated = false}))
  f:close()
  local lines = {}
  for _, l in ipairs(g:layers()) do lines[#lines + 1] = show(l) end
  return table.concat(lines, "\n") .. "\n"
end
if arg and arg[0] and arg[0]:match("dump_layers%.lua$") then io.write(M.dump(arg[1])) end
return M
