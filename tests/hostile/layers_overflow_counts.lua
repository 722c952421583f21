function Net(x, classes)
  x = nn.Conv2d(x, 2^24, 3, {padding = 1})
  x = nn.Conv2d(x, 2^24, 3, {padding = 1})
  x = nn.Conv2d(x, 2^24, 3, {padding = 1})
  return nn.Linear(nn.Flatten(x), classes)
end
