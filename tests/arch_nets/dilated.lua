-- input: 2x20x24 classes: 5
-- dilation, asymmetric kernels / strides / padding, grouped convs, "same" padding
function Net(x, classes)
  x = nn.ReLU(nn.Conv2d(x, 16, 3, {dilation = 2, padding = "same"}))
  x = nn.ReLU(nn.Conv2d(x, 16, {1, 5}, {stride = {1, 2}, padding = {0, 2}}))
  x = nn.ReLU(nn.Conv2d(x, 32, {3, 3}, {stride = 2, dilation = {2, 1}, groups = 4}))
  x = nn.MaxPool2d(x, {2, 3}, {stride = {2, 1}, dilation = 2})
  return nn.Linear(nn.Flatten(x), classes)
end
