function Net(x, classes)
  return nn.Conv2d(x, 8, 2.5)
end
