--- llmnas.template — prompt templates with named slots.
--
--   local template = require "llmnas.template"
--   local t = template.new [[Best so far ({{best_acc}}):
--   {{best_code}}]]
--   local text = t:render{best_acc = "71.5%", best_code = code}
--
-- A slot is `{{name}}` (letters, digits, _ and .; dots index nested tables).
-- Rendering with a slot missing raises an error naming it and the slots given,
-- so a typo in a template fails on the first iteration, not silently.
-- Tables are rendered as JSON; other values with tostring. `{{{{` writes `{{`.
local M = {}
M.__index = M

local SLOT = "{{%s*([%w_%.]+)%s*}}"

function M.new(text, name)
  assert(type(text) == "string", "template.new: text must be a string")
  local t = setmetatable({ text = text, name = name or "template", slots = {} }, M)
  for slot in text:gsub("{{{{", ""):gmatch(SLOT) do t.slots[#t.slots + 1] = slot end
  return t
end

local function lookup(values, path)
  local v = values
  for part in path:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

local function given(values)
  local names = {}
  for k in pairs(values) do names[#names + 1] = tostring(k) end
  table.sort(names)
  return #names > 0 and table.concat(names, ", ") or "none"
end

--- Render with `values`; raises on a missing slot.
function M:render(values)
  values = values or {}
  local text = self.text:gsub("{{{{", "\0")
  text = text:gsub(SLOT, function(slot)
    local v = lookup(values, slot)
    if v == nil then
      error(("%s: no value for slot {{%s}} (given: %s)"):format(self.name, slot, given(values)), 3)
    end
    if type(v) == "table" then return json.encode(v, { canonical = true }) end
    return tostring(v)
  end)
  return (text:gsub("%z", "{{"))
end

--- Render a template text in one call.
function M.render_text(text, values, name)
  return M.new(text, name):render(values)
end

return M
