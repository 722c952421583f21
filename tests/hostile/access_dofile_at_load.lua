-- running a file from disk at load time, after a valid Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
dofile('@DIR@/canary')
