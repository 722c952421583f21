local t = {}
local kib = ('y'):rep(1024)  -- a MiB from 1,024 copies, not 1e6 one-byte ones: the CPU limit is not what it tests
for i = 1, 1e9 do
  pcall(function() t[#t + 1] = kib:rep(1024) .. i end)
end
