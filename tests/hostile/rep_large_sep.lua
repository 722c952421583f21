local sep = string.rep('y', 1e5)
local s = string.rep('x', 1e6, sep)
