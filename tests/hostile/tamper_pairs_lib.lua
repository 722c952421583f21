-- pairs on a read-only library must not hand out the table behind it
local n = 0
for _, v in pairs(string) do
  assert(type(v) == "function")
  n = n + 1
end
local _, inner = pairs(string)
inner.rep = function() return "" end
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
