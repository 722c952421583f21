function Net(x, classes)
  while true do x = x end
end
