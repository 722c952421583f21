--- llmnas.rng — a small seeded random generator (xorshift64*) whose whole state
-- is one integer, so a strategy can keep it in ctx.state and a resumed run
-- draws the same numbers as an uninterrupted one (math.random cannot do that).
--
--   local rng = require("llmnas.rng").new(seed)  -- or .load(saved)
--   rng:int(1, 6)  rng:float()  rng:choice(list)  rng.state  (save it)
local M = {}
M.__index = M

function M.new(seed)
  local s = math.tointeger(seed) or 43
  if s == 0 then s = 0x9E3779B97F4A7C15 end
  local r = setmetatable({ state = s }, M)
  for _ = 1, 4 do r:next() end  -- mix small seeds
  return r
end

function M.load(state) return setmetatable({ state = state }, M) end

--- The next raw 64-bit value (as a Lua integer, any sign).
function M:next()
  local x = self.state
  x = x ~ (x >> 12)
  x = x ~ (x << 25)
  x = x ~ (x >> 27)
  self.state = x
  return x * 0x2545F4914F6CDD1D
end

--- Uniform float in [0, 1).
function M:float()
  return ((self:next() >> 11) & 0x1FFFFFFFFFFFFF) / 9007199254740992.0
end

--- Uniform integer in [lo, hi].
function M:int(lo, hi)
  return lo + math.floor(self:float() * (hi - lo + 1))
end

function M:choice(list)
  return list[self:int(1, #list)]
end

return M
