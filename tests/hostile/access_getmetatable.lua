-- reaching the string library through its metatable inside Net
function Net(x, classes)
  getmetatable('').__index.rep = nil
  return nn.Linear(nn.Flatten(x), classes)
end
