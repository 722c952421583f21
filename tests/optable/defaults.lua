-- defaults.lua: every op with its default attributes (the exports leave them out).
function Net(x, classes)
  local a = nn.Conv2d(x, 4, 3)
  a = nn.LeakyReLU(nn.BatchNorm2d(a))
  local b = nn.GELU(nn.Conv2d(x, 4, 3))
  local c = nn.cat({a, b})
  c = nn.AvgPool2d(nn.MaxPool2d(c, 2), 2)
  c = nn.Dropout(nn.Flatten(nn.AdaptiveAvgPool2d(c)))
  return nn.Linear(c, classes)
end
