-- test_reference.lua: the candidate language's reference text for prompts
-- (llmnas.reference) says exactly what the engine accepts: every expression on every
-- "->" line compiles, with x = [B, C, H, W] and f = [B, F], and returns the shape the
-- line states; the example network compiles. A line the engine rejects, or a shape the
-- text gets wrong, fails here with the line.
local T = require "testing"
local reference = require "llmnas.reference"

local DIMS = { C = 16, H = 8, W = 8, F = 16 }   -- f = Flatten(AdaptiveAvgPool2d(x, 1))

local function shape_of(expr)
  local src = ("function Net(x, classes)\n  local f = nn.Flatten(nn.AdaptiveAvgPool2d(x, 1))\n"
    .. "  local y = %s\n  error('SHAPE:' .. table.concat(y.shape, ','))\nend"):format(expr)
  local g, err = arch.compile(src, { input = { DIMS.C, DIMS.H, DIMS.W }, classes = 10 })
  if g then return nil, "compiled without reaching the shape check" end
  local got = tostring(err):match("SHAPE:([%w,]+)")
  if not got then return nil, err end
  return got
end

local function expected(spec, expr)
  if spec == "same" then
    return (expr:find("%f[%w]f%f[^%w]") and "B,%d" or "B,%d,%d,%d"):format(DIMS.C, DIMS.H, DIMS.W)
  end
  local out = {}
  for e in spec:gmatch("[^,%s][^,]*") do
    e = e:gsub("%s+$", "")
    if e == "B" then out[#out + 1] = "B"
    else
      local v = assert(load("return " .. e, "shape", "t", DIMS))()
      out[#out + 1] = ("%d"):format(v)
    end
  end
  return table.concat(out, ",")
end

local tests = {}

function tests.every_example_line_compiles_with_its_shape()
  local lines, checked = 0, 0
  for line in reference.text:gmatch("[^\n]+") do
    local exprs, spec = line:match("^  (.-)%s+%->%s+(%b[])")
    if not exprs then exprs, spec = line:match("^  (.-)%s+%->%s+(same)") end
    if exprs then
      lines = lines + 1
      if spec ~= "same" then spec = spec:sub(2, -2) end
      for expr in (exprs .. "  "):gmatch("(.-)%s%s+") do
        if expr ~= "" then
          local got, err = shape_of(expr)
          T.ok(got, ("reference line %q: %s does not compile: %s"):format(line, expr, tostring(err)))
          T.eq(got, expected(spec, expr), ("reference line %q: the shape of %s"):format(line, expr))
          checked = checked + 1
        end
      end
    end
  end
  T.ok(lines >= 10 and checked >= 25,
    ("the reference has example lines (%d lines, %d expressions)"):format(lines, checked))
end

function tests.the_example_network_compiles()
  local g, err = arch.compile(reference.example, { input = { 1, 28, 28 }, classes = 10 })
  T.ok(g, err)
end

function tests.the_shape_error_of_broadcasting_names_both_shapes()
  local _, err = shape_of("nn.Conv2d(x, 8, 1) + nn.Conv2d(x, 4, 1)")
  T.ok(tostring(err):find("[B, 8, 8, 8] and [B, 4, 8, 8]", 1, true), err)
end

return tests
