-- load or loadstring through _G and _ENV at load time, after a valid Net
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
local f = _G['load'] or _ENV['loadstring']; f('os.exit(1)')
