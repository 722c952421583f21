-- count.lua DB: records lost or duplicated by run 2 (killed and resumed) against run 1
-- (uninterrupted) of the same store. Each record is keyed by its code (or its error when
-- it has none) and that key's occurrence number; a key of run 1 missing from run 2 is
-- lost, one of run 2 that run 1 lacks is duplicated (or foreign). Also checks that run 2
-- numbers its records 1..N without gaps and that its totals count N candidates.
local db = assert(memory.open(arg[1], { readonly = true }))
local function keys(run)
  local out, seen, n, gaps = {}, {}, 0, 0
  for r in db:iter(run) do
    n = n + 1
    if r.damaged then gaps = gaps + 1 elseif r.iter ~= n then gaps = gaps + 1 end
    local k = (r.code or ("no code: " .. tostring(r.error_kind))) .. "\0" .. tostring(r.proposal or "")
    seen[k] = (seen[k] or 0) + 1
    out[k .. "#" .. seen[k]] = true
  end
  return out, n, gaps
end
local a, na = keys(1)
local b, nb, gaps = keys(2)
local lost, dup = 0, 0
for k in pairs(a) do if not b[k] then lost = lost + 1 end end
for k in pairs(b) do if not a[k] then dup = dup + 1 end end
local totals = (db:run(2).totals or {}).candidates
print(("lost %d, duplicated %d (run 1: %d records, run 2: %d, gaps or damaged in run 2: %d, "
  .. "run 2's totals: %s candidates)")
  :format(lost, dup, na, nb, gaps, tostring(totals)))
if gaps > 0 or totals ~= nb then print("run 2's numbering or totals are wrong") os.exit(1) end
