-- test_node_ops.lua: the language of issue 13 on nodes — scalar arithmetic (x * 0.5,
-- 0.5 * x, x + 1, x - 1, 1 - x, -x, x / 4, a - b) and the broadcasting rules of + and *,
-- whose shape errors name both shapes. Each form must build the nodes it claims, with
-- the number it was given; the trainer's side is tests/c/test_train_ops.c (gradients)
-- and test_train_torch.c (PyTorch) on net scalar_arith_bcast.
local T = require "testing"
local arch = require "arch"

local function build(expr, input)
  local src = ("function Net(x, classes)\n  local f = nn.Flatten(nn.AdaptiveAvgPool2d(x, 1))\n"
    .. "  local y = %s\n  return nn.Linear(nn.Flatten(y), classes)\nend\n"):format(expr)
  return arch.compile(src, {isolated = false, input = input or {4, 6, 6}})
end

local function ops_of(g)
  local out = {}
  for _, l in ipairs(g:layers()) do
    if l.op == "mul_scalar" or l.op == "add_scalar" or l.op == "add" or l.op == "mul" then
      out[#out + 1] = l.op .. (l.attrs.other and ("(" .. l.attrs.other .. ")") or "")
    end
  end
  table.sort(out)
  return table.concat(out, " ")
end

local tests = {}

function tests.scalar_forms_build_their_nodes()
  local cases = {
    {"x * 0.5", "mul_scalar(0.5)"}, {"0.5 * x", "mul_scalar(0.5)"},
    {"x + 1", "add_scalar(1.0)"}, {"1 + x", "add_scalar(1.0)"},
    {"x - 1", "add_scalar(-1.0)"}, {"-x", "mul_scalar(-1.0)"},
    {"1 - x", "add_scalar(1.0) mul_scalar(-1.0)"}, {"x / 4", "mul_scalar(0.25)"},
    {"x - nn.ReLU(x)", "add mul_scalar(-1.0)"}, {"nn.mul(x, 3)", "mul_scalar(3.0)"},
    {"nn.add(2, x)", "add_scalar(2.0)"}, {"f * 2 + 1", "add_scalar(1.0) mul_scalar(2.0)"},
    {"x * 2 // 1", nil},
  }
  for _, c in ipairs(cases) do
    local g, err = build(c[1])
    if c[2] then
      T.ok(g, c[1] .. ": " .. tostring(err))
      T.eq(ops_of(g), c[2], c[1])
    else
      T.ok(g == nil, c[1] .. " should fail")
    end
  end
end

function tests.equal_networks_hash_equal()
  local h = function(e) return assert(build(e)):hash() end
  T.eq(h("x * 0.5"), h("0.5 * x"))
  T.eq(h("x / 2"), h("x * 0.5"))
  T.eq(h("x - 1"), h("x + -1"))
  T.ok(h("x * 0.5") ~= h("x * 0.25"), "the number reaches the hash")
  T.ok(h("x * 1") ~= h("x + 1"), "mul and add differ")
end

function tests.bad_operands_are_named()
  local bad = {
    {"x / nn.ReLU(x)", "'/' takes a node divided by a number, got userdata and userdata"},
    {"2 / x", "'/' takes a node divided by a number, got number and userdata"},
    {"x / 0", "division of a node by zero"},
    {"x + 'a'", "the operands of '+' must be nodes or a node and a number, got userdata and string"},
    {"x * {}", "the operands of '*' must be nodes or a node and a number, got userdata and table"},
    {"x - true", "the operands of '-' must be nodes or a node and a number"},
    {"x * (1/0)", "the number must be finite"},
  }
  for _, c in ipairs(bad) do
    local g, err, kind = build(c[1])
    T.ok(g == nil, c[1] .. " should fail")
    T.eq(kind, "runtime", c[1])
    T.ok(tostring(err):find(c[2], 1, true), ("%s: %q lacks %q"):format(c[1], tostring(err), c[2]))
    T.ok(tostring(err):find("candidate:3:", 1, true), c[1] .. ": names the line: " .. tostring(err))
  end
end

function tests.broadcasting_rules()
  -- allowed: equal shapes, [B, C, 1, 1] and [B, 1, H, W] against [B, C, H, W], either order
  for _, e in ipairs({"x + x", "x * nn.AdaptiveAvgPool2d(x, 1)", "nn.AdaptiveAvgPool2d(x, 1) + x",
                      "x * nn.Conv2d(x, 1, 1)", "nn.Conv2d(x, 1, 1) - x", "f * f"}) do
    local g, err = build(e)
    T.ok(g, e .. ": " .. tostring(err))
  end
  local refused = {
    {"nn.Conv2d(x, 8, 1) + nn.Conv2d(x, 3, 1)",
     "add: shapes [B, 8, 6, 6] and [B, 3, 6, 6] cannot be broadcast (dimension 2: 8 vs 3"},
    {"nn.AvgPool2d(x, {6, 1}) * nn.AvgPool2d(x, {1, 6})",
     "mul: shapes [B, 4, 1, 6] and [B, 4, 6, 1] both broadcast: one operand must have the "
     .. "full shape [B, 4, 6, 6]"},
    {"x * f", "mul: shapes [B, 4, 6, 6] and [B, 4] have different ranks"},
    {"f + x", "add: shapes [B, 4] and [B, 4, 6, 6] have different ranks"},
  }
  for _, c in ipairs(refused) do
    local g, err, kind = build(c[1])
    T.ok(g == nil, c[1] .. " should fail")
    T.eq(kind, "shape", c[1])
    T.ok(tostring(err):find(c[2], 1, true), ("%s: %q lacks %q"):format(c[1], tostring(err), c[2]))
  end
end

return tests
