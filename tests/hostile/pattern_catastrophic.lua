-- a backtracking pattern through string.find inside Net
function Net(x, classes)
  local s = string.rep('a', 40); string.find(s, '(a*)*b')
  return nn.Linear(nn.Flatten(x), classes)
end
