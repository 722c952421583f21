setmetatable({}, {__gc = function() while true do end end})
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
