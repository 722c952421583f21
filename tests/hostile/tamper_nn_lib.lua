nn.Linear = function(x) return x end
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
