function Net(x, classes)
  return nn.Conv2d(x, 10, 3)
end
