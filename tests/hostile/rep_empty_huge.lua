-- Lua's own rep would loop 2^63 times over an empty string
local s = string.rep('', math.maxinteger)
local e = ('').rep('', math.maxinteger, '')
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), #s + #e)
end
