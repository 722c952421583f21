-- input: 3x32x32 classes: 10
-- MobileNet-like: depthwise 3x3 (groups = channels) + pointwise 1x1, Hardswish, ReLU6-free
local function dw_sep(x, out, stride)
  local c = x.shape[2]
  x = nn.Conv2d(x, c, 3, {stride = stride, padding = 1, groups = c, bias = false})
  x = nn.Hardswish(nn.BatchNorm2d(x))
  return nn.Hardswish(nn.BatchNorm2d(nn.Conv2d(x, out, 1, {bias = false})))
end

function Net(x, classes)
  x = nn.Hardswish(nn.BatchNorm2d(nn.Conv2d(x, 16, 3, {stride = 2, padding = 1, bias = false})))
  x = dw_sep(x, 32, 1)
  x = dw_sep(x, 64, 2)
  x = dw_sep(x, 64, 1)
  x = dw_sep(x, 128, 2)
  -- an inverted residual with expansion 4
  local e = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 512, 1, {bias = false})))
  e = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(e, 512, 3, {padding = 1, groups = 128, bias = false})))
  e = nn.BatchNorm2d(nn.Conv2d(e, 128, 1, {bias = false}))
  x = x + e
  x = nn.Dropout(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), 0.2)
  return nn.Linear(x, classes)
end
