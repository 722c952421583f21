-- time.lua DB RUN: where run RUN's time went (tests/soak/soak.sh prints it for the
-- uninterrupted run): the sum of its iterations' own times (record.seconds), split into
-- the LLM calls by role (retries, backoff and the faults' timeouts included), the
-- candidates' compile (sandbox worker) and training (the training worker's wall time),
-- and the rest: the loop's own work (prompts, dedup, hooks) between them.
local db = assert(memory.open(arg[1], { readonly = true }))
local run = assert(math.tointeger(tonumber(arg[2])), "run id expected")
local n, total, hits, trained = 0, 0, 0, 0
local parts = {}
local function add(k, v)
  if type(v) == "number" then parts[k] = (parts[k] or 0) + v end
end
for r in db:iter(run) do
  if not r.damaged then
    n = n + 1
    total = total + (r.seconds or 0)
    for role, u in pairs(r.llm or {}) do add("llm " .. role, u.seconds) end
    local t = r.time or {}
    add("compile", t.compile)
    if t.total then add("training", t.total - (t.compile or 0)) end
    if r.cache_hit then hits = hits + 1 elseif t.total then trained = trained + 1 end
  end
end
local names, known = {}, 0
for k, v in pairs(parts) do names[#names + 1] = k; known = known + v end
table.sort(names)
local line = {}
for _, k in ipairs(names) do
  line[#line + 1] = ("%s %.0f s (%.0f%%)"):format(k, parts[k], 100 * parts[k] / math.max(total, 1e-9))
end
line[#line + 1] = ("other %.0f s (%.0f%%)"):format(total - known, 100 * (total - known) / math.max(total, 1e-9))
print(("time of run %d: %d iterations, %.0f s in them (%.2f s each): %s; %d candidates trained, %d cache hits")
  :format(run, n, total, total / math.max(n, 1), table.concat(line, ", "), trained, hits))
db:close()
