-- __gc added after setmetatable is never called (Lua marks objects only in setmetatable)
local mt = {}
local t = setmetatable({}, mt)
mt.__gc = function() while true do end end
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
