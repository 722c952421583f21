-- custom_prompt.lua: the paper's loop with your own Code Generator prompt. A template is
-- text with {{slots}}; this one keeps the slots of llmnas.prompts.generator but asks for
-- small, fast networks. A slot you misspell fails on the first iteration with its name.
local llmnas = require "llmnas"
local paper = require "llmnas.paper"
local template = require "llmnas.template"

local frugal = template.new([[
Design a network for {{dataset}} ({{input}}, {{classes}} classes) that trains in seconds on
a CPU: at most 100k parameters, at most 4 convolutions. It will train for one epoch.
{{reference}}
The best so far ({{best_acc}}):
{{best_code}}
The last one ({{last_outcome}}):
{{last_code}}
Advice to follow: {{suggestion}}
Reply with a single ```lua block.]], "frugal generator prompt")

llmnas.search(paper.strategy {
  name = "custom-prompt",
  generator = frugal,
  task = { dataset = "fashion-mnist", subset = llmnas.options().set.subset or 6000 },
  budget = { iterations = 50 },
})
