local t = {}
local s = ('x'):rep(1000)
for i = 1, 1e12 do t[i] = s .. i end
