-- a backtracking pattern through the match method inside Net
function Net(x, classes)
  local s = ('a'):rep(30); local _ = s:match('^(a?)*(a*)*(a+)*$')
  return nn.Linear(nn.Flatten(x), classes)
end
