rawset(_G, 'nn', nil)
