-- input: 3x32x32 classes: 10
-- ResNet-18-like: 4 stages (64, 128, 256, 512) of two basic blocks, projections on stride 2
local function block(x, c, stride)
  local y = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, c, 3, stride, 1, {bias = false})))
  y = nn.BatchNorm2d(nn.Conv2d(y, c, 3, {padding = 1, bias = false}))
  local s = x
  if stride ~= 1 or x.shape[2] ~= c then
    s = nn.BatchNorm2d(nn.Conv2d(x, c, 1, {stride = stride, bias = false}))
  end
  return nn.ReLU(y + s)
end

function Net(x, classes)
  x = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 64, 3, {padding = 1, bias = false})))
  for i, c in ipairs({64, 128, 256, 512}) do
    x = block(x, c, i == 1 and 1 or 2)
    x = block(x, c, 1)
  end
  x = nn.AdaptiveAvgPool2d(x, 1)
  return nn.Linear(nn.Flatten(x), classes)
end
