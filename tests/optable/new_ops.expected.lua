-- exported by llmnas: graph 3f13d828ca0310575be78d34d9634754, input [B, 1, 28, 28], 463 params
function Net(x, classes)
  x = nn.Conv2d(x, 8, 3, {padding = 1})
  x = nn.LayerNorm(x, {eps = 0.0001})
  x = nn.ELU(x, 0.5)
  x = nn.PReLU(x, {num_parameters = 8, init = 0.1})
  x = nn.Dropout2d(x, 0.2)
  x = nn.Mish(x)
  local x1 = nn.AdaptiveMaxPool2d(x, 1)
  local x2 = nn.AdaptiveAvgPool2d(x, 1)
  x2 = x2 * 0.5
  x1 = x1 + x2
  x1 = nn.Conv2d(x1, 8, 1)
  x1 = nn.Softmax(x1, 1)
  x = x * x1
  x = x + -1
  x1 = nn.AdaptiveAvgPool2d(x, 1)
  x1 = nn.Flatten(x1)
  x1 = x1 * 0.25
  x = nn.AdaptiveMaxPool2d(x, 1)
  x = nn.Flatten(x)
  x = x * -1
  x = x1 + x
  x = nn.Linear(x, 12)
  x = nn.BatchNorm1d(x, {eps = 0.001, momentum = 0.3})
  x = nn.LayerNorm(x)
  x = nn.PReLU(x, {init = 0.2})
  x = x * -1
  x = x + 1
  x = nn.Linear(x, 10)
  x = nn.Softmax(x, 1)
  return x
end
