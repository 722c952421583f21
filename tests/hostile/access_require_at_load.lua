-- removing a file through require('os') (the canary, never a system file) at load time, after a valid Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
require('os').remove('@DIR@/canary')
