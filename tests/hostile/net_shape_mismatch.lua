function Net(x, classes)
  local a = nn.Conv2d(x, 8, 3)
  local b = nn.Conv2d(x, 16, 3)
  return nn.Linear(nn.Flatten(a + b), classes)
end
