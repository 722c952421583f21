--- llmnas.extract — pull code and JSON out of an LLM reply.
--
-- Replies come with prose around them, fences with or without a language tag,
-- or no fence at all; JSON comes with trailing commas or inside a fence.
--   extract.code(reply)  -> code | nil, message
--   extract.json(reply)  -> table | nil, message
local M = {}

--- The first fenced block (``` or ~~~, any language tag); with no fence, the
-- text from the first line that starts a Lua definition (function, local)
-- to the end. nil, message when there is nothing code-like.
function M.code(reply)
  if type(reply) ~= "string" or reply == "" then return nil, "empty reply" end
  local text = reply:gsub("\r\n", "\n")
  for _, fence in ipairs({ "```", "~~~" }) do
    local open = text:find(fence, 1, true)
    if open then
      local body_start = text:find("\n", open, true)
      if body_start then
        local close = text:find("\n" .. fence, body_start, true)
        local body = text:sub(body_start + 1, close and close or #text)
        if body:match("%S") then return (body:gsub("%s+$", "")) .. "\n" end
      end
    end
  end
  local first = text:find("%f[^\n%z]%s*local%s+function") or text:find("%f[^\n%z]%s*function%s")
    or text:find("%f[^\n%z]%s*local%s+[%w_]+%s*=")
  if first then return (text:sub(first):gsub("%s+$", "")) .. "\n" end
  return nil, "no code block in the reply"
end

-- The first balanced {...} in text, outside JSON strings; nil if none.
local function first_object(text)
  local start = text:find("{", 1, true)
  while start do
    local depth, i, in_str = 0, start, false
    while i <= #text do
      local c = text:sub(i, i)
      if in_str then
        if c == "\\" then i = i + 1 elseif c == '"' then in_str = false end
      elseif c == '"' then in_str = true
      elseif c == "{" then depth = depth + 1
      elseif c == "}" then
        depth = depth - 1
        if depth == 0 then return text:sub(start, i) end
      end
      i = i + 1
    end
    start = text:find("{", start + 1, true)
  end
  return nil
end

-- Remove commas that stand before a closing bracket, outside strings.
local function drop_trailing_commas(s)
  local out, i, in_str = {}, 1, false
  while i <= #s do
    local c = s:sub(i, i)
    if in_str then
      out[#out + 1] = c
      if c == "\\" then out[#out + 1] = s:sub(i + 1, i + 1); i = i + 1
      elseif c == '"' then in_str = false end
    elseif c == '"' then
      in_str = true
      out[#out + 1] = c
    elseif c ~= "," or not s:sub(i + 1):match("^%s*[}%]]") then
      out[#out + 1] = c
    end
    i = i + 1
  end
  return table.concat(out)
end

--- The first JSON object in the reply (fenced or not), tolerating trailing
-- commas. nil, message when none parses.
function M.json(reply)
  if type(reply) ~= "string" or reply == "" then return nil, "empty reply" end
  local candidates = {}
  for body in reply:gmatch("```[%w]*%s*\n(.-)\n%s*```") do candidates[#candidates + 1] = body end
  candidates[#candidates + 1] = reply
  local last_err = "no JSON object in the reply"
  for _, text in ipairs(candidates) do
    local obj = first_object(text)
    if obj then
      local v, err = json.decode(obj)
      if v == nil then v, err = json.decode(drop_trailing_commas(obj)) end
      if type(v) == "table" then return v end
      last_err = "unparsable JSON: " .. tostring(err)
    end
  end
  return nil, last_err
end

return M
