-- test_blocks.lua: the stdlib's building blocks — templates, extraction of code
-- and JSON from replies, the history window, acceptance rules.
local T = require "testing"
local template = require "llmnas.template"
local extract = require "llmnas.extract"
local history = require "llmnas.history"
local accept = require "llmnas.accept"

local tests = {}

function tests.template_fills_slots_and_names_missing_ones()
  local t = template.new("Best ({{ best_acc }}):\n{{best_code}}\n{{task.dataset}} {{{{literal}}", "gen")
  T.eq(t:render({ best_acc = "71.5%", best_code = "x = 1", task = { dataset = "cifar10" } }),
    "Best (71.5%):\nx = 1\ncifar10 {{literal}}")
  T.eq(t.slots, { "best_acc", "best_code", "task.dataset" })
  T.raises(function() t:render({ best_acc = 1 }) end, "gen: no value for slot {{best_code}} (given: best_acc)")
  T.eq(template.render_text("{{v}}", { v = { 1, 2 } }), "[1,2]")
  T.eq(template.render_text("{{v}}", { v = "%1 %% 50%" }), "%1 %% 50%", "no pattern escapes in values")
end

function tests.code_from_fenced_blocks()
  T.eq(extract.code("Here you go:\n```lua\nfunction Net(x, c)\n  return x\nend\n```\nEnjoy!"),
    "function Net(x, c)\n  return x\nend\n")
  T.eq(extract.code("```\nlocal a = 1\n```"), "local a = 1\n", "no language tag")
  T.eq(extract.code("~~~python\nfunction Net() end\n~~~"), "function Net() end\n")
  T.eq(extract.code("```lua\nfunction Net() end\n```\nand\n```lua\nsecond()\n```"), "function Net() end\n",
    "the first block wins")
  T.eq(extract.code("```lua\nfunction Net(x) return x end"), "function Net(x) return x end\n",
    "an unclosed fence runs to the end")
end

function tests.code_without_fences()
  T.eq(extract.code("Sure! The network is:\n\nfunction Net(x, classes)\n  return x\nend"),
    "function Net(x, classes)\n  return x\nend\n")
  T.eq(extract.code("Explanation first.\nlocal function block(x) return x end\nfunction Net(x) end"),
    "local function block(x) return x end\nfunction Net(x) end\n")
  local code, err = extract.code("I cannot help with that.")
  T.eq(code, nil)
  T.eq(err, "no code block in the reply")
  T.eq(select(2, extract.code("")), "empty reply")
end

function tests.json_from_replies()
  T.eq(extract.json('{"reason": "r", "inspiration": "i", "improvement_suggestions": "s"}'),
    { reason = "r", inspiration = "i", improvement_suggestions = "s" })
  T.eq(extract.json('Analysis below.\n```json\n{"reason": "too shallow", "n": [1, 2,],}\n```\n'),
    { reason = "too shallow", n = { 1, 2 } }, "fenced, with trailing commas")
  T.eq(extract.json('prose {"a": "has } brace and , ]"} more'), { a = "has } brace and , ]" })
  local v, err = extract.json("no json here")
  T.eq(v, nil)
  T.eq(err, "no JSON object in the reply")
  v, err = extract.json('{"a": nope}')
  T.eq(v, nil)
  T.ok(err:find("unparsable JSON: error at byte", 1, true), err)
end

function tests.history_window_keeps_last_k()
  local h = history.new(2)
  for i = 1, 4 do
    h:open("problem " .. i, "suggestion " .. i)
    h:close("accuracy: " .. i .. "0.00%")
  end
  T.eq(#h.entries, 2)
  T.eq(h.entries[1].problem, "problem 3")
  T.eq(h:render(), "1. problem: problem 3\n   suggestion: suggestion 3\n   outcome: accuracy: 30.00%\n" ..
    "2. problem: problem 4\n   suggestion: suggestion 4\n   outcome: accuracy: 40.00%")
  local all = history.new("all")
  for i = 1, 7 do all:open(i, i); all:close("x") end
  T.eq(#all.entries, 7)
  local none = history.new(0)
  none:open("p", "s")
  none:close("o")
  T.eq(#none.entries, 0)
  T.eq(none:render("(history off)"), "(history off)")
  T.raises(function() history.new(-1) end, "k must be a non-negative integer")
end

function tests.history_outcomes_and_cuts()
  T.eq(history.outcome({ val_acc = 0.71519 }), "accuracy: 71.52%")
  T.eq(history.outcome({ error = string.rep("e", 300) }), "error: " .. string.rep("e", 200))
  local h = history.new(5)
  h:close("nothing pending")
  T.eq(#h.entries, 0, "close without a pending entry does nothing")
  h:open("p", string.rep("s", 400))
  h:close("o")
  T.ok(h:render():find(string.rep("s", 300) .. "...\n", 1, true), "suggestion cut to 300 chars")
  local back = history.load(json.decode(json.encode(h:save())))
  T.eq(back.entries, h.entries, "a window survives a JSON round trip (saved state)")
  T.eq(back.k, 5)
end

function tests.accept_rules()
  T.ok(accept.better(nil, { val_acc = 0.1 }))
  T.ok(not accept.better({ val_acc = 0.5 }, { val_acc = 0.5 }), "ties keep the old best")
  T.ok(not accept.better(nil, { status = "failed" }))
  local coin = 0.5
  local sa = accept.annealing({ t0 = 0.1, decay = 1, random = function() return coin end })
  T.ok(sa({ val_acc = 0.50 }, { val_acc = 0.49 }, { iteration = 1 }), "a slightly worse result may pass")
  T.ok(not sa({ val_acc = 0.50 }, { val_acc = 0.10 }, { iteration = 1 }), "a much worse one does not")
  local pareto = accept.pareto({ cost = "params" })
  local ctx = { state = {}, iteration = 1 }
  T.ok(pareto(nil, { val_acc = 0.8, params = 1000 }, ctx))
  ctx.iteration = 2
  T.ok(pareto(nil, { val_acc = 0.7, params = 100 }, ctx), "cheaper and worse is on the front")
  T.ok(not pareto(nil, { val_acc = 0.7, params = 2000 }, ctx), "dominated")
  T.ok(pareto(nil, { val_acc = 0.9, params = 50 }, ctx), "dominates everything")
  T.eq(#ctx.state.pareto, 1)
end

return tests
