-- a backtracking pattern through the gsub method inside Net
function Net(x, classes)
  local _ = ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'):gsub('(a-)*b', '')
  return nn.Linear(nn.Flatten(x), classes)
end
