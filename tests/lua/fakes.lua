-- fakes.lua: stand-ins for the C primitives, for testing the stdlib loop's own
-- logic (ordering, hooks, cache, budgets, resume) in isolation. The end-to-end
-- tests run the same loop on the real primitives.
--
-- A fake candidate is code of the form "net <name> <accuracy>" (or "fail <kind>
-- <message>"); candidates with the same name build "the same network".
local F = {}

function F.arch()
  local A = { compiled = 0 }
  function A.compile(code)
    A.compiled = A.compiled + 1
    local kind, msg = code:match("^fail (%S+) (.*)")
    if kind then return nil, msg, kind end
    local name, acc = code:match("^net (%S+) ([%d%.]+)")
    if not name then return nil, "candidate:1: not a fake network", "syntax" end
    return { hash = function() return "h-" .. name end, params = function() return #name * 1000 end,
      flops = function() return #name * 1e6 end, acc = tonumber(acc) }
  end
  return A
end

function F.train()
  local Tr = { trained = 0 }
  function Tr.evaluate(g)
    Tr.trained = Tr.trained + 1
    if g.acc == 0 then return nil, "loss became NaN at step 3", "diverged" end
    return { val_acc = g.acc, val_loss = 1 - g.acc, seconds = 0.01 }
  end
  return Tr
end

-- An in-memory store with the memory module's interface.
function F.db()
  local D = { runs = {}, hashes = {}, appended = 0 }
  function D:begin_run(meta)
    self.runs[#self.runs + 1] = { meta = meta, records = {}, state = nil }
    return #self.runs
  end
  function D:append(run, record, state)
    local r = self.runs[run]
    r.records[#r.records + 1] = json.decode(json.encode(record))
    if state then r.state = json.decode(json.encode(state)) end
    self.appended = self.appended + 1
    return #r.records
  end
  function D:by_hash(key) return self.hashes[key] and json.decode(self.hashes[key]) end
  function D:put_hash(key, v) self.hashes[key] = json.encode(v); return true end
  function D:latest_run() return #self.runs > 0 and #self.runs or nil end
  function D:state(run) return self.runs[run] and self.runs[run].state end
  function D:iter(run, _, from)  -- from: the first iteration, as the store's (no filter)
    local recs, i = self.runs[run] and self.runs[run].records or {}, (from or 1) - 1
    return function()
      i = i + 1
      return recs[i]
    end
  end
  return D
end

return F
