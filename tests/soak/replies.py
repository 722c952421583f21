#!/usr/bin/python3
"""replies.py - the soak's scripted LLM (tests/soak/soak.sh): one reply file for
tests/llm_server.py --loop, three queues that cycle on their own:

  the repair round ("That network does not compile"): a fixed network, or a broken one;
  the Prompt Improver ("tell the designer"): JSON advice, some of it unparsable;
  the Code Generator (every other request): tiny valid networks (cheap to train on the
  soak's subset), and candidates that fail to compile (syntax, shape), diverge (the loss
  turns Inf at step 1) or hang (an endless loop: the sandbox's instruction budget).

Faults are spread over all queues: 429 with Retry-After (seconds and ms), 500/503, a
connection closed without a reply, a body cut short, a reply too slow for the client's
2 s timeout, a stalled reply, a 200 whose body is not JSON. Each fault is followed by a
real reply, so the client's retries (4 per call) always end in one.
Usage: replies.py OUT.jsonl
"""
import json
import sys

NETS = []
for w in (4, 6, 8, 12):
    NETS.append(f"""function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, {w}, 3, {{padding = 1, bias = false}}))), 4)
  return nn.Linear(nn.Flatten(x), classes)
end""")
    NETS.append(f"""function Net(x, classes)
  x = nn.AvgPool2d(x, 2)
  local a = nn.ReLU(nn.Conv2d(x, {w}, 3, {{padding = 1}}))
  local b = nn.ReLU(nn.Conv2d(x, {w}, 1))
  x = nn.MaxPool2d(nn.cat({{a, b}}), 2)
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)
end""")
RESIDUAL = """function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.Conv2d(x, 8, 3, {padding = 1})), 2)
  local s = x
  x = nn.BatchNorm2d(nn.Conv2d(nn.ReLU(nn.Conv2d(x, 8, 3, {padding = 1})), 8, 3, {padding = 1}))
  x = nn.ReLU(x + s)
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)
end"""
SYNTAX = """function Net(x, classes)
  x = nn.Conv2d(x, 8, 3 {padding = 1})
  return x
end"""
SHAPE = """function Net(x, classes)
  x = nn.ReLU(nn.Conv2d(x, 8, 3))
  return nn.Linear(x, classes)
end"""
DIVERGE = """function Net(x, classes)
  x = nn.Linear(nn.Flatten(nn.AvgPool2d(x, 2)), classes)
  for _ = 1, 12 do x = x * x end
  return x
end"""
HANG = """function Net(x, classes)
  while true do end
end"""


def fenced(code, prose="Here is the network."):
    return {"reply": f"{prose}\n```lua\n{code}\n```"}


def advice(i):
    return {"reply": json.dumps({"reason": f"reason {i}", "inspiration": f"inspiration {i}",
                                 "improvement_suggestions": f"suggestion {i}: change stage {i % 3}"})}


FAULTS = [
    {"fault": "retry_after", "seconds": 1},
    {"fault": "retry_after_ms", "ms": 100},
    {"fault": "503"},
    {"fault": "500"},
    {"fault": "close"},
    {"fault": "cut"},
    {"fault": "slow", "seconds": 3},
    {"fault": "stall", "seconds": 3},
    {"fault": "bad_json"},
]


def main(out):
    gen = []
    bad = [SYNTAX, SHAPE, DIVERGE, HANG]
    for i in range(24):
        if i % 3 == 1:
            gen.append(FAULTS[(i // 3) % len(FAULTS)])
        if i % 6 == 5:
            gen.append(fenced(bad[(i // 6) % len(bad)], "Try this."))
        elif i % 8 == 7:
            gen.append(fenced(RESIDUAL))
        else:
            gen.append(fenced(NETS[i % len(NETS)]))
    imp = []
    for i in range(14):
        if i % 4 == 2:
            imp.append(FAULTS[(i + 4) % len(FAULTS)])
        imp.append(advice(i) if i % 5 != 4 else {"reply": "I would add more layers and some dropout."})
    rep = [fenced(NETS[0], "Fixed."), fenced(SYNTAX, "Fixed?"), fenced(NETS[3], "Fixed.")]
    with open(out, "w", encoding="utf-8") as f:
        for item in rep:
            f.write(json.dumps(dict(item, when="That network does not compile")) + "\n")
        for item in imp:
            f.write(json.dumps(dict(item, when="tell the designer")) + "\n")
        for item in gen:
            f.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
