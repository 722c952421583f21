--- llmnas.prompts — the default prompt templates of the paper's two roles, in our
-- own words, keeping the paper's structure (DESIGN §1). Copy and edit them in a
-- strategy, or pass your own templates to examples/paper.lua's functions.
local template = require "llmnas.template"

local M = {}

M.generator_system = [[
You are an expert in neural architecture design for image classification. You write compact,
trainable networks that reach high accuracy after a single epoch of training on a CPU.
Answer with one Lua code block that defines `function Net(x, classes)`, and nothing else.]]

M.generator = template.new([[
Task: classify {{dataset}} images of shape {{input}} into {{classes}} classes. The network is
trained for one epoch (SGD, lr 0.01, momentum 0.9, batch 128) and scored by validation accuracy.

{{reference}}
Best network so far ({{best_acc}}):
{{best_code}}

Previous candidate ({{last_outcome}}):
{{last_code}}

Improvement suggestion to apply now:
{{suggestion}}

Write the complete improved network as one ```lua code block.]], "generator prompt")

M.improver_system = [[
You review neural networks proposed for an image classification task and tell the designer
what to change next. You learn from the history of earlier suggestions and their outcomes:
repeat what worked, avoid what failed. Answer with one JSON object and nothing else.]]

M.improver = template.new([[
History of earlier suggestions (problem, suggestion, outcome), oldest first:
{{history}}

Best network so far ({{best_acc}}):
{{best_code}}

Current network ({{current_acc}}):
{{current_code}}

Evaluator feedback on the current network: {{feedback}}

Diagnose the current network's main problem and propose one concrete change for the next
candidate. Reply with JSON: {"reason": "<the problem you see>", "inspiration": "<what the
history or the best network teaches>", "improvement_suggestions": "<the change to make>"}]],
  "improver prompt")

M.NO_REFERENCE = "(none yet: this is the first candidate)"
M.NO_SUGGESTION = "(none yet: propose a strong, simple baseline)"
M.NO_HISTORY = "(no history yet)"

return M
