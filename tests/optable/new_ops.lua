-- new_ops.lua: every op added after the op table (issue 13), with non-default attributes,
-- so that the pinned hash, JSON and exports (new_ops.*) cover each of their attributes.
function Net(x, classes)
  local a = nn.Conv2d(x, 8, 3, {padding = 1})
  a = nn.LayerNorm(a, {eps = 1e-4})
  a = nn.ELU(a, 0.5)
  a = nn.PReLU(a, 8, 0.1)
  a = nn.Mish(nn.Dropout2d(a, 0.2))
  local s = a:mean({2, 3}, true) * 0.5 + nn.AdaptiveMaxPool2d(a, 1)
  a = a * nn.Softmax(nn.Conv2d(s, 8, 1), -3) - 1
  local f = -a:max{2, 3} + a:mean{2, 3} / 4
  f = nn.BatchNorm1d(nn.Linear(f, 12), {eps = 1e-3, momentum = 0.3})
  f = nn.PReLU(nn.LayerNorm(f), {init = 0.2})
  return nn.Softmax(nn.Linear(1 - f, classes), 1)
end
