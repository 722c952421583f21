-- input: 1x28x28 classes: 10
-- DenseNet-like: dense blocks whose layers see the cat of all earlier outputs, transitions between
local function dense_block(x, layers, growth)
  for _ = 1, layers do
    local y = nn.Conv2d(nn.ReLU(nn.BatchNorm2d(x)), 4 * growth, 1, {bias = false})
    y = nn.Conv2d(nn.ReLU(nn.BatchNorm2d(y)), growth, 3, {padding = 1, bias = false})
    x = nn.cat({x, y}, 1)
  end
  return x
end

local function transition(x)
  local c = x.shape[2]
  x = nn.Conv2d(nn.ReLU(nn.BatchNorm2d(x)), c // 2, 1, {bias = false})
  return nn.AvgPool2d(x, 2)
end

function Net(x, classes)
  x = nn.Conv2d(x, 24, 3, {padding = 1, bias = false})
  x = transition(dense_block(x, 3, 12))
  x = transition(dense_block(x, 3, 12))
  x = dense_block(x, 3, 12)
  x = nn.ReLU(nn.BatchNorm2d(x))
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x)), classes)
end
