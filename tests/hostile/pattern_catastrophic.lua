local s = string.rep('a', 40)
return string.find(s, '(a*)*b')
