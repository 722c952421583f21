-- load or loadstring through _G and _ENV inside Net
function Net(x, classes)
  local f = _G['load'] or _ENV['loadstring']; f('os.exit(1)')
  return nn.Linear(nn.Flatten(x), classes)
end
