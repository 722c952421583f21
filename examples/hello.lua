-- hello.lua: the smallest strategy script. It shows what a script can reach:
-- the stdlib (require "llmnas"), the built-in modules as globals (json here),
-- the script's own arguments (arg) and the options of `llmnas run` (--set).
--
--   llmnas run examples/hello.lua --set name=world extra args
local llmnas = require "llmnas"

local name = llmnas.setting("name", "llmnas user")
print(("hello, %s — llmnas %s"):format(name, llmnas.version))
print("script arguments: " .. json.encode(json.array({ table.unpack(arg) })))
print("a JSON round trip: " ..
  json.encode(json.decode('{"layers": [3, 5, 7], "acc": 0.5, "name": "small"}'),
    { canonical = true }))
