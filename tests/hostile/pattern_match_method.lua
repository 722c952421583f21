local s = ('a'):rep(30)
return s:match('^(a?)*(a*)*(a+)*$')
