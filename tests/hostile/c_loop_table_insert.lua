local t = setmetatable({}, {__len = function() return 2^52 end})
table.insert(t, 1, 'x')
