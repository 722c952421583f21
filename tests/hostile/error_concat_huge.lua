local s = string.rep('y', 2^20)
error(s .. s .. s .. s)
