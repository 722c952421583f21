-- input: 1x28x28 classes: 10
-- a plain MLP: Flatten first, Linear with explicit in_features as PyTorch code would write it
function Net(x, classes)
  x = nn.Flatten(x)
  x = nn.ReLU(nn.Linear(x, 784, 256))
  x = nn.Dropout(nn.ReLU(nn.Linear(x, 256, 128)))
  return nn.Linear(x, 128, classes)
end
