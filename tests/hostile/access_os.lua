os.execute('touch /tmp/llmnas-hostile-pwned')
