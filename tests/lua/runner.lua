-- runner.lua: runs Lua test files inside llmnas.
--   llmnas run tests/lua/runner.lua tests/lua/test_json.lua [more files] [-- only-name]
-- A test file returns a table of named test functions; they run in name order,
-- each in its own protected call; T.skip(reason) ends one as skipped. Ends with
-- "N passed, M failed, K skipped"; exit 1 on failure.
local T = require "testing"
local passed, failed, skipped = 0, 0, 0
local files, only = {}, nil
for i = 1, #arg do
  if arg[i]:match("^name=") then only = arg[i]:sub(6) else files[#files + 1] = arg[i] end
end

for _, file in ipairs(files) do
  local chunk, err = loadfile(file)
  if not chunk then
    print("FAIL " .. file .. ": " .. err)
    failed = failed + 1
  else
    local ok, tests = xpcall(chunk, debug.traceback)
    if not ok or type(tests) ~= "table" then
      print("FAIL " .. file .. ": did not return a table of tests: " .. tostring(tests))
      failed = failed + 1
      tests = {}
    end
    local names = {}
    for name in pairs(tests) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      if not only or name:find(only, 1, true) then
        local t0 = os.clock()
        local ok2, e = xpcall(tests[name], function(m)
          return T.is_skip(m) and m or debug.traceback(m)
        end)
        if not ok2 and T.is_skip(e) then
          skipped = skipped + 1
          print(("skip %s: %s"):format(name, e.reason))
        elseif ok2 then
          passed = passed + 1
          print(("ok   %s (%.2fs)"):format(name, os.clock() - t0))
        else
          failed = failed + 1
          print(("FAIL %s: %s"):format(name, e))
        end
      end
    end
  end
end
print(("%d passed, %d failed, %d skipped"):format(passed, failed, skipped))
if failed > 0 then os.exit(1, true) end
