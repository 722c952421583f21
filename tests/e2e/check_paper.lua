-- check_paper.lua: what a paper.lua run against tests/e2e/paper_replies.py must have
-- recorded (DESIGN §1). Run by tests/sh/test_paper_e2e.sh through the Lua test runner,
-- with PAPER_DB (the memory) and PAPER_RUN (the run id) in the environment.
local T = require "testing"

local db = assert(memory.open(os.getenv("PAPER_DB"), { readonly = true }))
local run = math.tointeger(tonumber(os.getenv("PAPER_RUN")))
local recs = {}
for i = 1, 6 do recs[i] = assert(db:get(run, i)) end

local function user_prompt(rec, role)
  for _, p in ipairs(rec.prompts) do
    if p.role == role then return p.messages[2].content end
  end
  error("no " .. role .. " prompt in iteration " .. rec.iter)
end

local tests = {}

function tests.statuses_and_error_kinds()
  local got = {}
  for i, r in ipairs(recs) do got[i] = r.status == "ok" and "ok" or r.error_kind end
  T.eq(got, { "ok", "shape", "syntax", "ok", "ok", "ok" })
  T.ok(recs[2].error:find("Linear", 1, true), recs[2].error)
  T.ok(recs[3].error:find("candidate:2:", 1, true), "the syntax error names the candidate's line: " .. recs[3].error)
end

function tests.duplicate_architecture_is_a_cache_hit()
  T.eq(recs[5].cache_hit, true)
  T.eq(recs[5].hash, recs[1].hash, "the same network written differently hashes the same")
  T.eq(recs[5].metrics.val_acc, recs[1].metrics.val_acc)
  for _, i in ipairs({ 1, 4, 6 }) do T.eq(recs[i].cache_hit, false, "iteration " .. i) end
end

function tests.best_is_strictly_better()
  local best, best_iter = -1, nil
  for i, r in ipairs(recs) do
    local acc = r.metrics.val_acc
    local should = acc ~= nil and acc > best
    T.eq(r.accepted, should, "accepted at iteration " .. i)
    if should then best, best_iter = acc, i end
    T.eq(r.best_iter, best_iter, "best_iter at iteration " .. i)
  end
end

function tests.triples_close_with_the_next_outcome()
  T.eq(recs[1].triple, nil, "nothing pending before the first improver call")
  T.eq(recs[2].triple.problem, "reason 1")
  T.eq(recs[2].triple.suggestion, "suggestion 1: widen the first stage")
  T.ok(recs[2].triple.outcome:match("^error: "), recs[2].triple.outcome)
  T.eq(recs[3].triple.problem, "reason 2")
  T.ok(recs[3].triple.outcome:match("^error: "), recs[3].triple.outcome)
  T.eq(recs[4].triple, nil, "the unparsable improver reply of iteration 3 opened no entry")
  T.eq(recs[5].triple.problem, "reason 4", "improver JSON with a trailing comma in a fence parsed")
  T.eq(recs[5].triple.outcome, ("accuracy: %.2f%%"):format(recs[5].metrics.val_acc * 100))
  T.eq(recs[6].triple.problem, "reason 5")
end

function tests.generator_prompts_carry_best_previous_and_suggestion()
  local p1 = user_prompt(recs[1], "generator")
  T.ok(p1:find("(none yet: this is the first candidate)", 1, true), "first prompt has placeholders")
  T.ok(p1:find("(none yet: propose a strong, simple baseline)", 1, true))
  local p2 = user_prompt(recs[2], "generator")
  local acc1 = ("accuracy: %.2f%%"):format(recs[1].metrics.val_acc * 100)
  -- Iteration 1 is both the best and the previous candidate: shown once.
  T.ok(p2:find("Best network so far, which is also the previous candidate (" .. acc1 .. ")", 1, true),
    "previous candidate with its accuracy")
  T.ok(p2:find(recs[1].code, 1, true), "best/previous code in the prompt")
  T.ok(not p2:find(recs[1].code, p2:find(recs[1].code, 1, true) + 1, true), "the same network once")
  T.ok(p2:find("suggestion 1: widen the first stage", 1, true), "the current suggestion")
  local p3 = user_prompt(recs[3], "generator")
  T.ok(p3:find("Previous candidate (failed)", 1, true), "a failed previous candidate says failed")
  local p4 = user_prompt(recs[4], "generator")
  T.ok(p4:find("suggestion 2: widen the first stage", 1, true), "the old suggestion stays after an unparsable reply")
end

function tests.improver_prompts_carry_the_window()
  local p5 = user_prompt(recs[5], "improver")
  T.ok(p5:find("1. problem: reason 1", 1, true), p5)
  T.ok(p5:find("2. problem: reason 2", 1, true))
  T.ok(p5:find("3. problem: reason 4", 1, true))
  T.ok(not p5:find("problem: reason 3", 1, true), "no entry from the unparsable reply")
  local p1 = user_prompt(recs[1], "improver")
  T.ok(p1:find("(no history yet)", 1, true))
  T.ok(p1:find("Evaluator feedback on the current network:\nvalidation accuracy: ", 1, true))
  T.ok(p1:find("training loss (last epoch): ", 1, true), "the feedback carries the training loss")
  local p2 = user_prompt(recs[2], "improver")
  T.ok(p2:find("Current network (failed)", 1, true))
end

function tests.llm_usage_is_booked_per_role()
  for i, r in ipairs(recs) do
    T.eq(r.llm.generator.calls, 1, "generator calls at " .. i)
    T.eq(r.llm.generator.prompt_tokens, 100)
    T.eq(r.llm.improver.completion_tokens, 50)
  end
end

return tests
