local f = _G['load'] or _ENV['loadstring']
return f('os.exit(1)')
