-- arch_dump.lua: compile a candidate file and print what llmnas inferred, as JSON, for
-- tests/py/arch_reference.py.   llmnas run tests/py/arch_dump.lua FILE CxHxW CLASSES
local file, input, classes = arg[1], arg[2], tonumber(arg[3])
local c, h, w = input:match("^(%d+)x(%d+)x(%d+)$")
local f = assert(io.open(file))
local src = f:read("a")
f:close()
local g, err, kind = arch.compile(src, {input = {tonumber(c), tonumber(h), tonumber(w)},
                                        classes = classes, name = file})
if not g then
  io.stderr:write(kind, ": ", err, "\n")
  os.exit(65)
end
local layers = {}
for i, l in ipairs(g:layers()) do
  local shape = {}
  for k = 2, #l.shape do shape[#shape + 1] = l.shape[k] end
  layers[i] = {op = l.op, shape = shape, params = l.params, flops = l.flops}
end
print(json.encode({hash = g:hash(), params = g:params(), flops = g:flops(),
                   graph = g:to_json(), pytorch = g:to_pytorch(), lua = g:to_lua(),
                   layers = layers}))
