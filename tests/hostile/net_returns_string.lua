function Net(x, classes)
  return 'a network'
end
