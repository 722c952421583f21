-- catches the budget error and carries on looping
for i = 1, math.maxinteger do
  local ok = pcall(function() for j = 1, 1e9 do end end)
end
