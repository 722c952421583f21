-- runner.lua: runs Lua test files inside llmnas.
--   llmnas run tests/lua/runner.lua tests/lua/test_json.lua [more files] [-- only-name]
-- A test file returns a table of named test functions; they run in name order,
-- each in its own protected call. Ends with "N passed, M failed"; exit 1 on failure.
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
        local ok2, e = xpcall(tests[name], function(x)
          if type(x) == "table" and x.skip then return x end
          return debug.traceback(x)
        end)
        if not ok2 and type(e) == "table" and e.skip then
          skipped = skipped + 1
          print(("skip %s: %s"):format(name, tostring(e.skip)))
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
if skipped > 0 then
  print(("%d passed, %d failed, %d skipped"):format(passed, failed, skipped))
else
  print(("%d passed, %d failed"):format(passed, failed))
end
if failed > 0 then os.exit(1, true) end
