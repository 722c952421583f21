-- removing nn from the globals inside Net
function Net(x, classes)
  rawset(_G, 'nn', nil)
  return nn.Linear(nn.Flatten(x), classes)
end
