-- testing.lua: assertions for the Lua tests (see runner.lua).
local T = {}

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- Deep equality; returns nil or the path of the first difference.
local function diff(a, b, path, seen)
  if a == b then return nil end
  if type(a) ~= "table" or type(b) ~= "table" then
    if type(a) == "number" and type(b) == "number" and a ~= a and b ~= b then return nil end
    return ("%s: got %s, expected %s"):format(path, show(a), show(b))
  end
  seen = seen or {}
  if seen[a] == b then return nil end
  seen[a] = b
  for k, v in pairs(b) do
    local d = diff(a[k], v, path .. "." .. tostring(k), seen)
    if d then return d end
  end
  for k, v in pairs(a) do
    if b[k] == nil then
      return ("%s.%s: got %s, expected nothing"):format(path, tostring(k), show(v))
    end
  end
  return nil
end

function T.eq(actual, expected, msg)
  local d = diff(actual, expected, "value")
  if d then error((msg and msg .. ": " or "") .. d, 2) end
end

function T.ok(v, msg)
  if not v then error(msg or "expected a true value, got " .. show(v), 2) end
  return v
end

-- NaN is never near anything (|NaN - b| <= tol is false).
function T.near(a, b, tol, msg)
  if type(a) ~= "number" or type(b) ~= "number" or not (a == b or math.abs(a - b) <= tol) then
    error(("%sgot %s, expected %s within %g"):format(msg and msg .. ": " or "", show(a), show(b), tol), 2)
  end
end

-- Ends the current test as skipped (a check this machine cannot make), counted apart
-- from passes by tests/lua/runner.lua; tests/run.sh fails a run with skips unless SKIP_OK=1.
local SKIP = {}
function T.skip(reason)
  error(setmetatable({reason = reason}, SKIP), 0)
end
function T.is_skip(e)
  return type(e) == "table" and getmetatable(e) == SKIP
end

-- fn must raise an error whose message contains `substring` (plain text).
function T.raises(fn, substring)
  local ok, err = pcall(fn)
  if ok then error("expected an error containing " .. show(substring) .. ", got none", 2) end
  err = tostring(err)
  if substring and not err:find(substring, 1, true) then
    error(("expected an error containing %s, got %s"):format(show(substring), show(err)), 2)
  end
  return err
end

-- A fresh empty directory (removed by the OS's tmp cleaning, not by us).
function T.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"))
  return p
end

return T
