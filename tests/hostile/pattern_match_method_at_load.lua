-- a backtracking pattern through the match method at load time, after a valid Net
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
local s = ('a'):rep(30); local _ = s:match('^(a?)*(a*)*(a+)*$')
