-- loading a C library inside Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')('touch @DIR@/pwned')
  return nn.Linear(nn.Flatten(x), classes)
end
