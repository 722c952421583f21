--- llmnas.digest — the memory summary: what has left the improver's K-window, condensed
-- into a bounded digest kept in the strategy's state, so early lessons are not lost as
-- the run grows (the design card's "memory summarisation", a user-editable part).
--
--   local digest = require "llmnas.digest"
--   local d = digest.new()               -- plain data: saved with the strategy's state
--   digest.add(d, entries)               -- history entries that left the window
--   digest.render(d)                     -- "" while empty, else a few bounded lines
--
-- Deterministic by default: the suggestions that helped most and hurt most (by the
-- accuracy change against the network they were applied to), and the failures by kind
-- with the latest messages. An LLM-written summary is the optional alternative:
-- digest.llm_update(ctx, d, entries) asks the "summary" role to fold the entries into
-- its previous text (llmnas.paper's `summary = "llm"`).
local history = require "llmnas.history"

local M = {}

M.KEEP = 3             -- entries kept per list (helped, hurt, failure examples)
M.WORDS_CHARS = 160    -- a kept suggestion, cut at a word boundary
M.LLM_CHARS = 1200     -- the LLM summary's text is cut to this

function M.new()
  return { n = 0, helped = json.array(), hurt = json.array(), failed = {}, failed_n = 0,
    failures = json.array(), text = json.null }
end

local function keep(list, item, better)
  list[#list + 1] = item
  table.sort(list, better)
  while #list > M.KEEP do table.remove(list) end
end

--- Fold history entries (from history:close's second value) into the digest.
function M.add(d, entries)
  for _, e in ipairs(entries or {}) do
    d.n = d.n + 1
    local item = { iter = e.iter, suggestion = history.cut_words(e.suggestion, M.WORDS_CHARS) }
    if e.val_acc and e.base_acc then
      item.delta = e.val_acc - e.base_acc
      if item.delta > 0 then
        keep(d.helped, item, function(a, b) return a.delta > b.delta end)
      elseif item.delta < 0 then
        keep(d.hurt, item, function(a, b) return a.delta < b.delta end)
      end
    elseif not e.val_acc then
      local kind = tostring(e.kind or "failed")
      d.failed[kind] = (d.failed[kind] or 0) + 1
      d.failed_n = d.failed_n + 1
      item.error = history.cut_words((tostring(e.outcome or ""):gsub("^error: ", "")), M.WORDS_CHARS)
      item.kind = kind
      d.failures[#d.failures + 1] = item
      while #d.failures > M.KEEP - 1 do table.remove(d.failures, 1) end
    end
  end
  return d
end

local function it(i) return i and ("iter %d: "):format(i) or "" end

--- The digest as prompt text ("" while nothing has left the window).
function M.render(d)
  if not d or d.n == 0 then return "" end
  if d.text and d.text ~= json.null then
    return ("Summary of the %d older entries, beyond the history below:\n%s\n\n"):format(d.n, d.text)
  end
  local out = { ("Lessons from the %d older entries, beyond the history below:"):format(d.n) }
  for _, h in ipairs(d.helped) do
    out[#out + 1] = ("- helped (%+.2f points, %s%s)"):format(h.delta * 100, it(h.iter), h.suggestion)
  end
  for _, h in ipairs(d.hurt) do
    out[#out + 1] = ("- hurt (%+.2f points, %s%s)"):format(h.delta * 100, it(h.iter), h.suggestion)
  end
  if d.failed_n > 0 then
    local kinds = {}
    for k, n in pairs(d.failed) do kinds[#kinds + 1] = ("%s x%d"):format(k, n) end
    table.sort(kinds)
    out[#out + 1] = ("- failed to compile or train: %d (%s)"):format(d.failed_n, table.concat(kinds, ", "))
    for _, f in ipairs(d.failures) do
      out[#out + 1] = ("  e.g. %safter \"%s\": %s"):format(it(f.iter), f.suggestion, f.error)
    end
  end
  return table.concat(out, "\n") .. "\n\n"
end

M.summary_system = [[
You keep the long-term memory of a neural architecture search. You fold old entries of the
search's history into a short summary of its lessons: what helped, what hurt, what failed.
Answer with the summary text only, at most 150 words.]]

--- The optional LLM-written summary: ask the "summary" role to fold `entries` into
-- d.text. On failure the deterministic lists (kept too) are used instead.
function M.llm_update(ctx, d, entries, sampling)
  if #entries == 0 then return true end
  local lines = {}
  for _, e in ipairs(entries) do
    lines[#lines + 1] = ("- suggestion: %s; applied to: %s; outcome: %s"):format(
      history.cut_words(e.suggestion, 300), tostring(e.applied_to or "?"), tostring(e.outcome))
  end
  local previous = (d.text and d.text ~= json.null) and d.text or "(empty)"
  local reply, err = ctx:chat({ role = "summary", temperature = sampling and sampling.temperature,
    seed = sampling and sampling.seed, max_tokens = 400, messages = {
      { role = "system", content = M.summary_system },
      { role = "user", content = ("Summary so far:\n%s\n\nEntries to fold in:\n%s\n\nThe new summary:")
        :format(previous, table.concat(lines, "\n")) } } })
  if reply then
    d.text = history.cut_words((reply:gsub("^%s+", ""):gsub("%s+$", "")), M.LLM_CHARS)
    return true
  end
  return false, err
end

return M
