-- input: 3x32x32 classes: 10
-- The ops of issue 13: LayerNorm over channels and features, BatchNorm1d, PReLU (per
-- channel and single), ELU, Mish, Softmax over channels, Dropout2d, global mean and max
-- pooling on nodes (x:mean / x:max, nn.AdaptiveMaxPool2d), scalar arithmetic.
local function gate(x)
  local c = x.shape[2]
  local s = x:mean({2, 3}, true) + nn.AdaptiveMaxPool2d(x, 1)   -- [B, C, 1, 1]
  s = nn.Sigmoid(nn.Conv2d(nn.ELU(nn.Conv2d(s, c // 4, 1)), c, 1))
  return x * (s * 2 - 0.5)
end

function Net(x, classes)
  x = nn.Conv2d(x, 32, 3, {padding = 1})
  x = nn.PReLU(nn.LayerNorm(x), 32)
  x = gate(nn.Dropout2d(x, 0.1))
  x = nn.Mish(nn.Conv2d(nn.MaxPool2d(x, 2), 64, 3, {padding = 1}))
  x = x * nn.Softmax(nn.Conv2d(x, 64, 1), 1)
  local f = x:mean{2, 3} + x:max{-2, -1} * 0.5
  f = nn.PReLU(nn.BatchNorm1d(nn.Linear(f, 48)))
  f = -nn.LayerNorm(f, 48) + 1
  return nn.Linear(f, classes)
end
