-- stopping the collector inside Net
function Net(x, classes)
  collectgarbage('stop')
  return nn.Linear(nn.Flatten(x), classes)
end
