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
-- Additions to the paper (on by default; these settings turn them off):
--   --set repair=0        no repair round (default 1: a candidate that does not compile
--                         goes back to the generator with the error once)
--   --set summary=off     no memory digest of what left the window (summary=llm: the LLM
--                         writes it)
--   --set exact=on        both of the above: the paper's loop
-- and: --iterations N, --dataset NAME, --set subset=N (train on the first N images).
local llmnas = require "llmnas"
local paper = require "llmnas.paper"

local set = llmnas.options().set

llmnas.search(paper.strategy {
  k = set.k,
  history = set.history,
  improver = set.improver,
  reference = set.reference,
  repair = set.repair,
  summary = set.summary,
  exact = set.exact,
  task = { dataset = "fashion-mnist", subset = set.subset },
  budget = { iterations = 2000 },
})
