-- report_fixtures.lua: runs the report must draw sanely, written through the real memory API.
--   llmnas run tests/e2e/report_fixtures.lua DB
-- run 1: a single iteration (valid); run 2: nothing valid (every kind of failure);
-- run 3: 240 iterations with triples, cache hits, pruned candidates, workers and fidelities,
-- and a candidate whose code carries markup (<script>, &, quotes) that must show as text.
local db = assert(memory.open(arg[1]))
local NET = [[
function Net(x, classes)
  local h = nn.ReLU(nn.Conv2d(x, 8, 3, { padding = 1 }))
  h = nn.MaxPool2d(h, 2)
  return nn.Linear(nn.Flatten(h), classes)
end]]
local task = { dataset = "fashion-mnist", input = { 1, 28, 28 }, classes = 10 }
local function llm(t) return { generator = { prompt_tokens = 900 + t, completion_tokens = 200, seconds = 1.5 },
  improver = { prompt_tokens = 1200, completion_tokens = 80, seconds = 0.5 } } end

local r1 = assert(db:begin_run({ name = "one-iteration", task = task }))
assert(db:append(r1, { status = "ok", code = NET, hash = "h1", accepted = true, cache_hit = false,
  metrics = { val_acc = 0.71, params = 12554, flops = 250000, seconds = 3.2 }, seconds = 5.0, llm = llm(1) }))

local r2 = assert(db:begin_run({ name = "nothing-valid", task = task }))
local kinds = { "syntax", "shape", "timeout", "shape", "runtime" }
for i, k in ipairs(kinds) do
  assert(db:append(r2, { status = "failed", error_kind = k, error = k .. " error in candidate " .. i,
    code = "function Net(x) return x end", seconds = 2.0, llm = llm(i),
    triple = { problem = "the candidate failed (" .. k .. ")", suggestion = "fix the " .. k, outcome = "still failing" } }))
end

local r3 = assert(db:begin_run({ name = "mixed", task = task }))
local best = 0
for i = 1, 240 do
  local rec = { code = NET .. "\n-- variant " .. i, hash = ("h3-%d"):format(i % 200), seconds = 4.0, llm = llm(i),
    worker = i % 2 + 1, fidelity = (i % 3 == 0) and 3 or 1 }
  if i % 7 == 0 then
    rec.status, rec.error_kind, rec.error = "failed", "shape", "Linear: expected 1568 input features, got 784"
  elseif i % 11 == 0 then
    rec.status, rec.pruned = "pruned", true
    rec.metrics = { val_acc = 0.3, params = 20000 + i, flops = 400000, seconds = 0.5 }
  else
    local acc = 0.5 + 0.4 * (1 - 1 / (1 + i / 40)) + (i % 5) * 0.01
    rec.status, rec.accepted = "ok", acc > best
    best = math.max(best, acc)
    rec.cache_hit = i > 200
    rec.metrics = { val_acc = acc, params = 5000 + (i * 7919) % 200000, flops = 100000 + (i * 104729) % 5000000,
      seconds = 2.5 }
  end
  if i % 4 == 0 then
    rec.triple = { problem = "iteration " .. i .. " underfits", suggestion = "widen the first stage",
      outcome = ("accuracy %.1f%%"):format(100 * ((rec.metrics or {}).val_acc or 0)) }
  end
  if i == 100 then rec.code = NET .. '\n-- <script>alert("x")</script> & "quotes"' end
  assert(db:append(r3, rec))
end
db:close()
print("fixtures: runs 1, 2, 3")
