-- input: 3x32x32 classes: 10
-- an inception-like module: four branches of different kernels concatenated, created in an
-- order unrelated to the cat order
local function inception(x, c)
  local pool = nn.Conv2d(nn.MaxPool2d(x, 3, {stride = 1, padding = 1}), c, 1)
  local b5 = nn.Conv2d(nn.ReLU(nn.Conv2d(x, c, 1)), c, 5, {padding = 2})
  local b1 = nn.Conv2d(x, c, 1)
  local b3 = nn.Conv2d(nn.ReLU(nn.Conv2d(x, c, 1)), c, 3, {padding = 1})
  return nn.ReLU(nn.cat({b1, b3, b5, pool}))
end

function Net(x, classes)
  x = nn.ReLU(nn.Conv2d(x, 32, 3, {padding = 1}))
  x = nn.MaxPool2d(inception(x, 16), 2)
  x = nn.MaxPool2d(inception(x, 32), 2)
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)
end
