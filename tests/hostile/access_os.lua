-- running a shell command inside Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  os.execute('touch @DIR@/pwned')
  return nn.Linear(nn.Flatten(x), classes)
end
