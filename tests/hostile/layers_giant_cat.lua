function Net(x, classes)
  local t = {}
  for i = 1, 100000 do t[i] = x end
  return nn.cat(t)
end
