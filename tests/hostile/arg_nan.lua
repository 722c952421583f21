function Net(x, classes)
  return nn.Conv2d(x, 0/0, 3)
end
