--- llmnas.history — the sliding window of diagnostic triples (problem,
-- suggestion, outcome) that the Prompt Improver reads (paper, step 5 and 7).
--
--   local history = require "llmnas.history"
--   local h = history.new(5)            -- keep the last 5; "all" keeps all; 0 none
--   h:open(problem, suggestion)         -- after an improver call: a pending entry
--   h:close(history.outcome(result))    -- after the next evaluation
--   h:render()                          -- text for the prompt
--
-- Failures are kept (their outcome is the error). The window is plain data
-- (h.entries, h.pending), so it is saved with the strategy's state and a
-- resumed run continues with the same window: history.load(saved).
local M = {}
M.__index = M

M.SUGGESTION_CHARS = 300
M.ERROR_CHARS = 200

function M.new(k)
  if k ~= "all" and (math.type(k) ~= "integer" or k < 0) then
    error("history.new: k must be a non-negative integer or \"all\", got " .. tostring(k), 2)
  end
  return setmetatable({ k = k, entries = {}, pending = nil }, M)
end

--- Rebuild a window from its saved data (a table decoded from JSON).
function M.load(saved)
  local h = M.new(saved.k)
  for i, e in ipairs(saved.entries or {}) do h.entries[i] = e end
  h.pending = saved.pending
  return h
end

--- Plain data for saving.
function M:save()
  return { k = self.k, entries = json.array(self.entries), pending = self.pending }
end

--- The outcome text of an evaluation: "accuracy: 71.52%", "pruned: stopped at 30% of the
-- epoch: ..." (early abort) or "error: <first 200 chars>".
function M.outcome(result)
  if result and result.val_acc then
    return ("accuracy: %.2f%%"):format(result.val_acc * 100)
  end
  local err = tostring(result and (result.error or result.kind) or "unknown failure")
  if result and result.status == "pruned" then return "pruned: " .. err:sub(1, M.ERROR_CHARS) end
  return "error: " .. err:sub(1, M.ERROR_CHARS)
end

--- Open a pending entry (replaces an older pending one, which never got an outcome).
function M:open(problem, suggestion)
  self.pending = { problem = tostring(problem or ""), suggestion = tostring(suggestion or "") }
end

--- Close the pending entry with an outcome; it joins the window. No-op without one.
-- `info` (optional) is kept on the entry: applied_to (the network the suggestion was
-- applied to, as text), iter, val_acc, base_acc (that network's accuracy), kind.
-- Returns the entry and the entries that left the window (for llmnas.digest).
function M:close(outcome, info)
  if not self.pending then return nil, {} end
  local e = self.pending
  e.outcome = outcome
  for k, v in pairs(info or {}) do e[k] = v end
  self.pending = nil
  if self.k == 0 then return e, {} end  -- no memory at all: nothing to summarise either
  self.entries[#self.entries + 1] = e
  local dropped = {}
  if self.k ~= "all" then
    while #self.entries > self.k do dropped[#dropped + 1] = table.remove(self.entries, 1) end
  end
  return e, dropped
end

--- `s` cut to at most `n` characters at a word boundary, with "..." when cut (a single
-- word longer than n is cut inside it).
function M.cut_words(s, n)
  s = tostring(s or "")
  if #s <= n then return s end
  local head = s:sub(1, n)
  local at = head:match("^.*()%s")
  if at and at > n // 2 then head = head:sub(1, at - 1) end
  return (head:gsub("[%s%p]+$", "")) .. "..."
end

--- The window as prompt text: one numbered block per entry, oldest first, the
-- suggestion cut to 300 characters at a word boundary, and the network it was applied
-- to when known. `none` is returned for an empty window.
function M:render(none)
  if #self.entries == 0 then return none or "(no history yet)" end
  local out = {}
  for i, e in ipairs(self.entries) do
    local s = M.cut_words(e.suggestion, M.SUGGESTION_CHARS)
    local applied = e.applied_to and ("\n   applied to: %s"):format(e.applied_to) or ""
    out[#out + 1] = ("%d. problem: %s\n   suggestion: %s%s\n   outcome: %s"):format(i,
      M.cut_words(e.problem, M.SUGGESTION_CHARS), s, applied, e.outcome)
  end
  return table.concat(out, "\n")
end

return M
