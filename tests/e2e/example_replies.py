#!/usr/bin/python3
"""example_replies.py - scripted replies for running the LLM examples end to end: the
Prompt Improver (its prompt asks to "Reply with JSON") always gets advice; every other
request (the Code Generator) gets the next of three small networks, round and round
(the server runs with --loop)."""
import json
import sys

NETS = [
    "function Net(x, classes)\n"
    "  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, %d, 3, {padding = 1, bias = false}))), 2)\n"
    "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)\nend" % width
    for width in (4, 8, 12)
]
ADVICE = {"reason": "too narrow", "inspiration": "the best is wider",
          "improvement_suggestions": "double the width of the convolution"}

with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"when": "Reply with JSON", "reply": json.dumps(ADVICE)}) + "\n")
    for net in NETS:
        f.write(json.dumps({"reply": "```lua\n" + net + "\n```"}) + "\n")
