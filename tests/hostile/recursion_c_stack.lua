local t = setmetatable({}, {})
getmetatable = nil
local u = setmetatable({}, {__index = function(self, k) return self[k] end})
return u.x
