-- paper.lua: the method of "Resource-Efficient Iterative LLM-Based NAS with Feedback
-- Memory" (arXiv 2603.12091), faithfully — both LLM roles (Code Generator, Prompt
-- Improver), the previous candidate with its accuracy in the generator's prompt, a sliding
-- window of the last K = 5 diagnostic triples, strictly-better acceptance. The method itself
-- is stdlib/llmnas/paper.lua (read it; copy it to change it); this script picks the
-- settings.
--
--   llmnas run examples/paper.lua --base-url http://127.0.0.1:11434/v1 --model qwen2.5-coder:7b
--
-- Switches for the ablations the paper did not run:
--   --set k=0|1|5|all     history window size (default 5)
--   --set history=off     no history in the improver's prompt
--   --set improver=off    no Prompt Improver: the generator never gets a suggestion
--   --set reference=off   no best network in the generator's prompt
--   --set islands=M       M independent trajectories sharing the cache and the best
--                         (run them side by side with --workers N; 1 = the paper)
-- Additions to the paper (on by default; these settings turn them off):
--   --set repair=0        no repair round (default 1: a candidate that does not compile
--                         goes back to the generator with the error once)
--   --set summary=off     no memory digest of what left the window (summary=llm: the LLM
--                         writes it)
--   --set exact=on        both of the above: the paper's loop
-- and: --iterations N, --dataset NAME, --set subset=N (train on the first N images),
--   --set val_fraction=F --set val_subset=N   the validation split and how many of its
--                         images score a candidate (default: the trainer's)
--   --set time_limit=S    a candidate's training time limit in seconds (default: none)
--   --set seed=N          sent with every LLM request (servers that support it sample
--                         reproducibly); part of each request's record/replay key
-- tests/bench/record_paper.sh runs it at the strategy bench's settings.
local llmnas = require "llmnas"
local paper = require "llmnas.paper"

local set = llmnas.options().set
local sampling
if set.seed ~= nil then
  if math.type(set.seed) ~= "integer" then
    require("llmnas.preflight").fail(64, ("--set seed: an integer, got '%s'"):format(tostring(set.seed)))
  end
  sampling = { seed = set.seed }
  for key, v in pairs(paper.SAMPLING) do sampling[key] = v end
end

llmnas.search(paper.strategy {
  k = set.k,
  history = set.history,
  improver = set.improver,
  reference = set.reference,
  islands = set.islands,
  repair = set.repair,
  summary = set.summary,
  exact = set.exact,
  sampling = sampling,
  task = { dataset = "fashion-mnist", subset = set.subset, val_fraction = set.val_fraction,
    val_subset = set.val_subset },
  train = set.time_limit ~= nil and { time_limit = set.time_limit } or nil,
  budget = { iterations = 2000 },
})
