-- a backtracking pattern through string.find at load time, after a valid Net
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
local s = string.rep('a', 40); string.find(s, '(a*)*b')
