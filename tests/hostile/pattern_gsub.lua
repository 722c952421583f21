return ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'):gsub('(a-)*b', '')
