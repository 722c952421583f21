-- input: 3x16x16 classes: 7
-- every activation and the dropout/identity ops, with non-default arguments
function Net(x, classes)
  x = nn.LeakyReLU(nn.Conv2d(x, 8, 3, {padding = 1}), 0.2)
  x = nn.GELU(nn.Conv2d(x, 8, 3, {padding = 1}))
  x = nn.GELU(nn.Conv2d(x, 8, 3, {padding = 1}), "tanh")
  x = nn.Tanh(nn.BatchNorm2d(x, 8, {eps = 1e-3, momentum = 0.01}))
  x = nn.Identity(nn.Dropout(x, 0.1))
  x = nn.Flatten(x)
  x = nn.SiLU(nn.Linear(x, 64))
  x = nn.Hardswish(nn.Linear(x, 32, {bias = false}))
  return nn.Linear(nn.Sigmoid(x), classes)
end
