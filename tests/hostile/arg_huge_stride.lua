function Net(x, classes)
  return nn.Conv2d(x, 8, 3, {stride = 1e300})
end
