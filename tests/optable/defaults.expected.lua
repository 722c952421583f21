-- exported by llmnas: graph 4b2bd6762fc3b3ece7f6b5ab01f29396, input [B, 1, 28, 28], 178 params
function Net(x, classes)
  local x1 = nn.Conv2d(x, 4, 3)
  x1 = nn.BatchNorm2d(x1)
  x1 = nn.LeakyReLU(x1, 0.01)
  x = nn.Conv2d(x, 4, 3)
  x = nn.GELU(x)
  x = nn.cat({x1, x})
  x = nn.MaxPool2d(x, 2)
  x = nn.AvgPool2d(x, 2)
  x = nn.AdaptiveAvgPool2d(x, 1)
  x = nn.Flatten(x)
  x = nn.Dropout(x, 0.5)
  x = nn.Linear(x, classes)
  return x
end
