-- a C loop the instruction hook cannot see: only the worker's limits stop it
local t = setmetatable({}, {__len = function() return 2^52 end})
table.remove(t, 1)
