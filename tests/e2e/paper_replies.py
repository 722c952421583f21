#!/usr/bin/python3
"""paper_replies.py - writes the scripted LLM replies for the paper.lua end-to-end test.

Six iterations, each a Code Generator reply then a Prompt Improver reply, covering: a valid
candidate with prose around its fence, a shape error, a syntax error, an unparsable improver
reply, a candidate with no fence at all, a duplicate architecture written differently (a
cache hit), and improver JSON with a trailing comma inside a fence.
"""
import json
import sys

NET1 = """function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 8, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(x), classes)
end"""

# The same network as NET1 with other names and layout: must hash the same.
NET1_AGAIN = """local function stage(inp, width)
  local y = nn.Conv2d(inp, width, 3, {bias = false, padding = 1})
  y = nn.BatchNorm2d(y)
  y = nn.ReLU(y)
  return nn.MaxPool2d(y, 2)
end
function Net(input, n)
  local features = stage(input, 8)
  return nn.Linear(nn.Flatten(features), n)
end"""

SHAPE_ERROR = """function Net(x, classes)
  x = nn.ReLU(nn.Conv2d(x, 8, 3))
  return nn.Linear(x, classes)
end"""

SYNTAX_ERROR = """function Net(x, classes)
  x = nn.Conv2d(x, 8, 3 {padding = 1})
  return x
end"""

NET4 = """function Net(x, classes)
  x = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 16, 3, {padding = 1, bias = false})))
  x = nn.MaxPool2d(x, 2)
  x = nn.AdaptiveAvgPool2d(x, 1)
  return nn.Linear(nn.Flatten(x), classes)
end"""

NET6 = """function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 16, 3, {padding = 1, bias = false}))), 2)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 32, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(x), classes)
end"""


def advice(i, trailing_comma=False):
    body = {"reason": f"reason {i}", "inspiration": f"inspiration {i}",
            "improvement_suggestions": f"suggestion {i}: widen the first stage"}
    text = json.dumps(body)
    if trailing_comma:
        text = text[:-1] + ",}"
        return "My analysis:\n```json\n" + text + "\n```"
    return text


def reply(text, prompt_tokens=100, completion_tokens=50):
    return {"reply": text, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


LINES = [
    reply("Here is a first network.\n```lua\n" + NET1 + "\n```\nIt should train fast."),
    reply(advice(1)),
    reply("```lua\n" + SHAPE_ERROR + "\n```"),
    reply(advice(2)),
    reply("```\n" + SYNTAX_ERROR + "\n```"),
    reply("I think you should add more layers and maybe some dropout."),
    reply("Sure! The network is:\n\n" + NET4 + "\n"),
    reply(advice(4, trailing_comma=True)),
    reply("```lua\n" + NET1_AGAIN + "\n```"),
    reply(advice(5)),
    reply("```lua\n" + NET6 + "\n```"),
    reply(advice(6)),
]

if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        for line in LINES:
            f.write(json.dumps(line) + "\n")
