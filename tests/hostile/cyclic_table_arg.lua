local t = {}
t.t = t
t[1] = t
function Net(x, classes)
  return nn.Conv2d(x, t, 3)
end
