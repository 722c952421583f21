local f = io.open('/tmp/llmnas-hostile-pwned', 'w')
f:write('x')
