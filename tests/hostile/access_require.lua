-- removing a file through require('os') (the canary, never a system file) inside Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  require('os').remove('@DIR@/canary')
  return nn.Linear(nn.Flatten(x), classes)
end
