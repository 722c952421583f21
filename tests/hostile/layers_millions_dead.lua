function Net(x, classes)
  for i = 1, 1e7 do nn.ReLU(x) end
  return nn.Linear(nn.Flatten(x), classes)
end
