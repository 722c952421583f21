-- loading a C library at load time, after a valid Net (the harness puts a fresh temporary directory for @DIR@)
function Net(x, classes)
  return nn.Linear(nn.Flatten(x), classes)
end
package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')('touch @DIR@/pwned')
