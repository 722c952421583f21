-- a backtracking pattern through the gsub method at load time, after a valid Net
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
local _ = ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'):gsub('(a-)*b', '')
