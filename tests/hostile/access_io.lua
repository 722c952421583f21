-- writing a file inside Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  io.open('@DIR@/pwned', 'w'):write('x')
  return nn.Linear(nn.Flatten(x), classes)
end
