function Net(x, classes)
  return nn.Linear(x classes)
end
