-- test_testing.lua: the helpers of tests/lua/testing.lua fail when they should (a helper
-- that cannot fail makes every test using it assert nothing).
local T = require "testing"

local tests = {}

local function fails(fn, what)
  local ok = pcall(fn)
  if ok then error(what .. " did not fail", 2) end
end

function tests.near_fails_on_nan_and_non_numbers()
  fails(function() T.near(0 / 0, 1, 1) end, "T.near(NaN, 1, 1)")
  fails(function() T.near(1, 0 / 0, 1) end, "T.near(1, NaN, 1)")
  fails(function() T.near(0 / 0, 0 / 0, math.huge) end, "T.near(NaN, NaN, huge)")
  fails(function() T.near("1", 1, 1) end, "T.near('1', 1, 1)")
  fails(function() T.near(1.2, 1, 0.1) end, "T.near(1.2, 1, 0.1)")
  T.near(1.05, 1, 0.1)
  T.near(math.huge, math.huge, 0)
end

function tests.eq_ok_raises_fail()
  fails(function() T.eq({1, {2}}, {1, {3}}) end, "T.eq of different tables")
  fails(function() T.ok(false) end, "T.ok(false)")
  fails(function() T.ok(nil) end, "T.ok(nil)")
  fails(function() T.raises(function() end, "x") end, "T.raises of a function that returns")
  fails(function() T.raises(function() error("abc") end, "xyz") end, "T.raises, other message")
  T.eq({1, {2}}, {1, {2}})
  T.raises(function() error("abc") end, "b")
end

function tests.skip_is_a_skip()
  local ok, e = pcall(T.skip, "why")
  T.ok(not ok and T.is_skip(e), "T.skip raises a skip")
  T.eq(e.reason, "why")
  T.ok(not T.is_skip("an error"), "a plain error is no skip")
end

return tests
