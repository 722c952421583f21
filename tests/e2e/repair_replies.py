#!/usr/bin/python3
"""repair_replies.py - scripted replies for tests/sh/test_prompts_e2e.sh: iteration 1 a
valid network; iteration 2 a shape error that the repair round fixes; iteration 3 a shape
error whose repair fails again. The improver (its prompt asks to "Reply with JSON") always
advises; repair requests (their last message says "does not compile") get their own queue."""
import json
import sys

GOOD = ("function Net(x, classes)\n"
        "  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, %d, 3, {padding = 1, bias = false}))), 2)\n"
        "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)\nend")
# Linear on a [B, C, H, W] node: a shape error the engine names.
BAD = ("function Net(x, classes)\n"
       "  x = nn.ReLU(nn.Conv2d(x, %d, 3, {padding = 1}))\n"
       "  return nn.Linear(x, classes)\nend")
ADVICE = {"reason": "too narrow", "inspiration": "the best is wider",
          "improvement_suggestions": "double the width of the convolution"}


def block(code):
    return {"reply": "```lua\n" + code + "\n```", "prompt_tokens": 100, "completion_tokens": 40}


with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"when": "Reply with JSON", "reply": json.dumps(ADVICE), "repeat": 10}) + "\n")
    f.write(json.dumps(dict(block(GOOD % 6), when="does not compile")) + "\n")   # repairs #2
    f.write(json.dumps(dict(block(BAD % 7), when="does not compile")) + "\n")    # fails #3 again
    for code in (GOOD % 4, BAD % 5, BAD % 9):
        f.write(json.dumps(block(code)) + "\n")
