local t = {}
for i = 1, 1e9 do
  pcall(function() t[#t + 1] = ('y'):rep(1e6) .. i end)
end
