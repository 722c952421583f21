-- bench_prompts.lua: how big llmnas.paper's prompts get as a run grows, and what the
-- repair round costs. A 1,000-iteration run of the paper strategy on the real compiler,
-- with the reference networks of examples/nets as the generator's candidates, a seeded
-- fake trainer (accuracies, losses, sizes) and an improver that answers with suggestions
-- of a typical length (about 60 words). Prompt sizes are deterministic (no repeats
-- needed); tokens are estimated as characters / 4 (no tokenizer on this machine), the
-- characters are exact. Run by bench_prompts.sh; prints figures, asserts nothing.
package.path = "tests/lua/?.lua;" .. package.path
local F = require "fakes"
local search = require "llmnas.search"
local paper = require "llmnas.paper"
local rng_mod = require "llmnas.rng"
local rng

local ITERS = tonumber(arg[1]) or 1000
local nets = {}
for _, name in ipairs({ "bench_small", "bench_vgg", "bench_resnet" }) do
  local f = assert(io.open("examples/nets/" .. name .. ".lua"))
  nets[#nets + 1] = f:read("a")
  f:close()
end
local BAD = "function Net(x, classes)\n  return nn.Linear(nn.ReLU(nn.Conv2d(x, 8, 3)), classes)\nend"
local WORDS = ("widen the second stage to 48 channels, add a residual connection around each pair of "
  .. "convolutions, keep batch normalisation after every convolution, replace the max pooling by a "
  .. "strided convolution and use global average pooling before the classifier so that the "
  .. "parameter count stays near the best network's while the accuracy improves"):rep(1)

local function fake_llm(bad_every)
  local L = { sizes = {}, gen = 0 }
  function L.chat(req)
    local chars = 0
    for _, m in ipairs(req.messages) do chars = chars + #m.content end
    L.sizes[#L.sizes + 1] = { role = req.role, chars = chars }
    local info = { prompt_tokens = chars // 4, completion_tokens = 120 }
    if req.role == "improver" then
      return ('{"reason": "the network underfits after %d steps", "inspiration": "the best is wider", '
        .. '"improvement_suggestions": "%s"}'):format(#L.sizes, WORDS), info
    end
    if req.role == "repair" then return "```lua\n" .. nets[1] .. "\n```", info end
    L.gen = L.gen + 1
    local code = (bad_every and L.gen % bad_every == 0) and BAD or nets[1 + L.gen % #nets]
    return "```lua\n" .. code .. "\n```", info
  end
  return L
end

local function fake_train()
  local Tr = {}
  function Tr.evaluate(g)
    local acc = 0.6 + 0.3 * rng:float()
    return { val_acc = acc, val_loss = 1.2 - acc, train_loss = 1.1 - acc, params = g:params(), flops = g:flops(),
      seconds = 20 + 10 * rng:float(), images_per_s = 1500, ntrain = 5400, nval = 6000, steps = 42 }
  end
  return Tr
end

-- The real compiler, once per distinct program (the same few networks recur).
local compiled = {}
local memo_arch = { compile = function(code, o)
  local key = code .. "@" .. json.encode(o)
  if not compiled[key] then compiled[key] = table.pack(arch.compile(code, o)) end
  return table.unpack(compiled[key], 1, compiled[key].n)
end }

local function run(iters, opts, bad_every)
  rng = rng_mod.new(7)  -- every run sees the same accuracies
  local L = fake_llm(bad_every)
  local env = { arch = memo_arch, train = fake_train(), db = F.db(), llm = L }
  local o = { quiet = true, env = env, task = { dataset = "fashion-mnist", subset = 6000 },
    budget = { iterations = iters } }
  for k, v in pairs(opts or {}) do o[k] = v end
  local r = search.search(paper.strategy(o))
  return L, env.db.runs[r.id].records
end

-- Prompt characters of `role` at the calls made in iteration `it` (a record's prompts).
local function at(recs, it, role)
  for _, p in ipairs(recs[it].prompts) do
    if p.role == role then
      local n = 0
      for _, m in ipairs(p.messages) do n = n + #m.content end
      return n
    end
  end
end

print(("prompt size per role (characters, ~tokens = chars/4), k = 5, %d iterations:"):format(ITERS))
for _, mode in ipairs({ { "default (digest)", {} }, { "summary=off (paper)", { summary = false } } }) do
  local _, recs = run(ITERS, mode[2])
  print("  " .. mode[1])
  for _, role in ipairs({ "generator", "improver" }) do
    local row = {}
    for _, it in ipairs({ 10, 100, 1000 }) do
      if it <= ITERS then
        local c = at(recs, it, role)
        row[#row + 1] = ("iter %4d: %6d chars ~%5d tokens"):format(it, c, c // 4)
      end
    end
    print(("    %-9s  %s"):format(role, table.concat(row, " | ")))
  end
end

-- Repair cost: every 3rd generator reply has a shape error that the repair fixes.
local _, recs = run(60, { repair = 1 }, 3)
local recovered, repair_tokens, attempts = 0, 0, 0
for _, r in ipairs(recs) do
  if r.repair then
    attempts = attempts + #r.repair.attempts
    if r.repair.fixed and r.status == "ok" then recovered = recovered + 1 end
    local u = r.llm.repair
    if u then repair_tokens = repair_tokens + u.prompt_tokens + u.completion_tokens end
  end
end
print(("repair round (repair=1, 60 iterations, every 3rd reply a shape error): %d attempts, %d candidates "
  .. "recovered, %d extra tokens, %.0f extra tokens per recovered candidate"):format(attempts, recovered,
  repair_tokens, recovered > 0 and repair_tokens / recovered or 0))
