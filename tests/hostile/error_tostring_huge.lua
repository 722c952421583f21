error(setmetatable({}, {__tostring = function() return ('x'):rep(1e6) end, __name = 'evil'}))
