--- llmnas.rank — rank correlation of two score lists (proxy fidelity: does a
-- cheap evaluation order networks as a longer training does?).
--
--   local rank = require "llmnas.rank"
--   rank.spearman(xs, ys)   -- Pearson correlation of the ranks (ties: mean rank)
--   rank.kendall(xs, ys)    -- Kendall's tau-b (ties in either list accounted for)
local M = {}

--- Ranks 1..n, ties sharing their mean rank.
function M.ranks(xs)
  local idx = {}
  for i = 1, #xs do idx[i] = i end
  table.sort(idx, function(a, b) return xs[a] < xs[b] end)
  local r, i = {}, 1
  while i <= #idx do
    local j = i
    while j < #idx and xs[idx[j + 1]] == xs[idx[i]] do j = j + 1 end
    for k = i, j do r[idx[k]] = (i + j) / 2 end
    i = j + 1
  end
  return r
end

local function pearson(a, b)
  local n = #a
  local ma, mb = 0, 0
  for i = 1, n do ma, mb = ma + a[i], mb + b[i] end
  ma, mb = ma / n, mb / n
  local sab, saa, sbb = 0, 0, 0
  for i = 1, n do
    sab = sab + (a[i] - ma) * (b[i] - mb)
    saa = saa + (a[i] - ma) ^ 2
    sbb = sbb + (b[i] - mb) ^ 2
  end
  if saa == 0 or sbb == 0 then return 0 / 0 end
  return sab / math.sqrt(saa * sbb)
end

local function check(xs, ys)
  assert(type(xs) == "table" and type(ys) == "table" and #xs == #ys and #xs >= 2,
    "rank: two lists of the same length (at least 2) expected")
end

function M.spearman(xs, ys)
  check(xs, ys)
  return pearson(M.ranks(xs), M.ranks(ys))
end

function M.kendall(xs, ys)
  check(xs, ys)
  local c, d, tx, ty = 0, 0, 0, 0
  for i = 1, #xs - 1 do
    for j = i + 1, #xs do
      local a, b = xs[i] - xs[j], ys[i] - ys[j]
      if a == 0 and b ~= 0 then tx = tx + 1   -- tied in both lists: counts in neither
      elseif b == 0 and a ~= 0 then ty = ty + 1
      elseif a ~= 0 and b ~= 0 then
        if (a > 0) == (b > 0) then c = c + 1 else d = d + 1 end
      end
    end
  end
  local den = math.sqrt((c + d + tx) * (c + d + ty))
  if den == 0 then return 0 / 0 end
  return (c - d) / den
end

return M
