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

-- Global pooling on nodes as PyTorch writes it: x.mean((2, 3)) is [B, C]; keepdim
-- [B, C, 1, 1]; dims count from 0 as in PyTorch (2 = H, 3 = W), negatives too.
function tests.global_mean_and_max_on_nodes()
  local g1 = assert(build("x:mean{2, 3}"))
  T.eq(g1:hash(), assert(build("nn.Flatten(nn.AdaptiveAvgPool2d(x, 1))")):hash(), "mean = pool + flatten")
  T.eq(assert(build("x:mean({-1, -2}, true)")):hash(), assert(build("nn.AdaptiveAvgPool2d(x, 1)")):hash(),
    "keepdim, negative dims")
  T.eq(assert(build("x:mean{2, 3, keepdim = true}")):hash(), assert(build("nn.AdaptiveAvgPool2d(x)")):hash())
  T.eq(assert(build("x:max{2, 3}")):hash(), assert(build("nn.Flatten(nn.AdaptiveMaxPool2d(x, 1))")):hash())
  T.eq(assert(build("x:amax({2, 3}, true)")):hash(), assert(build("nn.AdaptiveMaxPool2d(x)")):hash())
  T.ok(assert(build("x:max{2, 3}")):hash() ~= g1:hash(), "max is not mean")
  -- shapes as PyTorch gives them
  local shape = function(e)
    local src = ("function Net(x, classes) local y = %s error('S:' .. table.concat(y.shape, ',')) end")
      :format(e)
    local _, err = arch.compile(src, {isolated = false, input = {4, 6, 6}})
    return tostring(err):match("S:([%w,]+)")
  end
  T.eq(shape("x:mean{2, 3}"), "B,4")
  T.eq(shape("x:max({2, 3}, true)"), "B,4,1,1")
  for _, c in ipairs({
      {"x:mean{1}", "mean: only the spatial dims of [B, C, H, W] can be reduced: x:mean{2, 3}"},
      {"x:mean{2}", "only the spatial dims"}, {"x:max()", "x:max{2, 3}"},
      {"x:mean{2, 2}", "only the spatial dims"}, {"x:mean({2, 3}, 1)", "keepdim must be true or false"},
      {"x.mean({2, 3})", "call it as a method, x:mean{2, 3}"},
      {"x:sum{2, 3}", "a node has no field 'sum' (nodes have: shape, mean, max, amax)"},
      {"f:mean{2, 3}", "mean: expected a [B, C, H, W] node, got [B, 4]"}}) do
    local g, err = build(c[1])
    T.ok(g == nil, c[1] .. " should fail")
    T.ok(tostring(err):find(c[2], 1, true), ("%s: %q lacks %q"):format(c[1], tostring(err), c[2]))
  end
end

-- What accepts [B, F], what needs [B, C, H, W], and the messages that say which to use.
function tests.ranks_of_the_new_ops()
  for _, e in ipairs({"nn.BatchNorm1d(f)", "nn.LayerNorm(f)", "nn.LayerNorm(x)", "nn.PReLU(f, 4)",
                      "nn.PReLU(x, 4)", "nn.ELU(f)", "nn.Mish(f)", "nn.Softmax(f, 1)",
                      "nn.Softmax(x, 1)", "nn.Softmax(x, -1)", "nn.Dropout2d(x)", "nn.BatchNorm1d(f, 4)",
                      "nn.LayerNorm(x, {4})"}) do
    local g, err = build(e)
    T.ok(g, e .. ": " .. tostring(err))
  end
  for _, c in ipairs({
      {"nn.BatchNorm1d(x)", "BatchNorm1d: expected a [B, F] input, got [B, 4, 6, 6]; use nn.BatchNorm2d"},
      {"nn.BatchNorm2d(f)", "BatchNorm2d: expected a [B, C, H, W] input, got [B, 4]; use nn.BatchNorm1d"},
      {"nn.BatchNorm1d(f, 5)", "BatchNorm1d: expected 5 features, got 4 (input shape [B, 4])"},
      {"nn.Dropout2d(f)", "Dropout2d: expected a [B, C, H, W] input, got [B, 4]; use nn.Dropout"},
      {"nn.LayerNorm(x, {4, 6, 6})", "LayerNorm: normalized_shape must be 4, the channels of the input "
        .. "[B, 4, 6, 6] (the op normalises C at each position"},
      {"nn.LayerNorm(f, 8)", "LayerNorm: normalized_shape must be 4, the features of the input [B, 4]"},
      {"nn.PReLU(x, 3)", "PReLU: num_parameters must be 1 or the input's channels 4, got 3"},
      {"nn.Softmax(x, 0)", "Softmax: dim must be 1 to 3 (or -3 to -1) for the input [B, 4, 6, 6], "
        .. "got 0 (the batch dim cannot be normalised)"},
      {"nn.Softmax(f, 2)", "Softmax: dim must be 1 to 1 (or -1 to -1) for the input [B, 4], got 2"},
      {"nn.ELU(x, {alpha = 1/0})", "alpha must be finite"}}) do
    local g, err = build(c[1])
    T.ok(g == nil, c[1] .. " should fail")
    T.ok(tostring(err):find(c[2], 1, true), ("%s: %q lacks %q"):format(c[1], tostring(err), c[2]))
  end
  -- Softmax's dim is stored non-negative: -1 and 3 are one network
  T.eq(assert(build("nn.Softmax(x, -1)")):hash(), assert(build("nn.Softmax(x, 3)")):hash())
end

return tests
