local ok = pcall(function()
  local guard <close> = setmetatable({}, {__close = function() while true do end end})
  error('boom')
end)
