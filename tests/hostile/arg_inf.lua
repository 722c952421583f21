function Net(x, classes)
  return nn.Linear(nn.Flatten(x), math.huge)
end
