#!/usr/bin/python3
"""arch_reference.py: llmnas's shapes, parameter counts and FLOPs against PyTorch.

For each network (a candidate file with a "-- input: CxHxW classes: N" line):
  1. llmnas compiles it (tests/py/arch_dump.lua) and reports every node's inferred
     output shape, parameters and FLOPs, the canonical graph JSON and both exports;
  2. this script builds the network independently from the graph JSON with torch.nn
     modules, runs a forward pass and compares each node's real output shape, each
     module's parameter count and the conv/linear FLOPs computed from torch's shapes;
  3. the PyTorch export is executed (its class Net): same parameter count and output shape;
  4. the Lua export is compiled again: same graph hash.
Run with Debian's /usr/bin/python3 (python3-torch). Prints "N passed, M failed".
Usage: arch_reference.py LLMNAS FILE...
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))


def header(path):
    if "@" in path:  # FILE@CxHxW: the same network at another input size
        return path.split("@")[1], 10
    with open(path) as f:
        for line in f:
            if line.startswith("-- input:"):
                parts = line.split()
                return parts[2], int(parts[4])
    return "1x28x28", 10


def dump(llmnas, path, inp, classes):
    out = subprocess.run([llmnas, "run", os.path.join(HERE, "arch_dump.lua"), path, inp,
                          str(classes)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("llmnas failed on %s: %s" % (path, out.stderr.strip()))
    return json.loads(out.stdout)


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


def module_for(node, cin):
    op = node["op"]
    if op == "Conv2d":
        return nn.Conv2d(cin, node["out"], pair(node["kernel"]), stride=pair(node["stride"]),
                         padding=pair(node["padding"]), dilation=pair(node["dilation"]),
                         groups=node["groups"], bias=node["bias"])
    if op == "BatchNorm2d":
        return nn.BatchNorm2d(cin, eps=node["eps"], momentum=node["momentum"])
    if op == "MaxPool2d":
        return nn.MaxPool2d(pair(node["kernel"]), stride=pair(node["stride"]),
                            padding=pair(node["padding"]), dilation=pair(node["dilation"]),
                            ceil_mode=node["ceil_mode"])
    if op == "AvgPool2d":
        return nn.AvgPool2d(pair(node["kernel"]), stride=pair(node["stride"]),
                            padding=pair(node["padding"]), ceil_mode=node["ceil_mode"],
                            count_include_pad=node["count_include_pad"])
    if op == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d(node["out"])
    if op == "BatchNorm1d":
        return nn.BatchNorm1d(cin, eps=node["eps"], momentum=node["momentum"])
    if op == "LayerNorm":
        return nn.LayerNorm(cin, eps=node["eps"])
    if op == "AdaptiveMaxPool2d":
        return nn.AdaptiveMaxPool2d(node["out"])
    if op == "ELU":
        return nn.ELU(node["alpha"])
    if op == "PReLU":
        return nn.PReLU(node["num_parameters"], init=node["init"])
    if op == "Softmax":
        return nn.Softmax(dim=node["dim"])
    if op == "Dropout2d":
        return nn.Dropout2d(node["p"])
    if op == "Linear":
        return nn.Linear(cin, node["out"], bias=node["bias"])
    if op == "LeakyReLU":
        return nn.LeakyReLU(node["negative_slope"])
    if op == "GELU":
        return nn.GELU(approximate=node["approximate"])
    if op == "Dropout":
        return nn.Dropout(node["p"])
    if op == "Flatten":
        return nn.Flatten()
    return getattr(nn, op)()  # ReLU, SiLU, Sigmoid, Tanh, Hardswish, Identity, Mish


def reference(graph):
    """Per node: (shape without batch, params, flops) as PyTorch computes them."""
    c, h, w = graph["input"]
    outs, result = [], []
    for node in graph["nodes"]:
        op = node["op"]
        if op == "Input":
            y, params, flops = torch.zeros(2, c, h, w), 0, 0
        elif op in ("mul_scalar", "add_scalar"):
            x = outs[node["inputs"][0]]
            y = x * node["other"] if op == "mul_scalar" else x + node["other"]
            params, flops = 0, 0
        elif op in ("add", "mul", "cat"):
            xs = [outs[i] for i in node["inputs"]]
            y = xs[0] + xs[1] if op == "add" else xs[0] * xs[1] if op == "mul" \
                else torch.cat(xs, dim=1)
            params, flops = 0, 0
        else:
            x = outs[node["inputs"][0]]
            m = module_for(node, x.shape[1]).eval()
            with torch.no_grad():
                if op == "LayerNorm" and x.dim() == 4:  # over channels
                    y = m(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
                else:
                    y = m(x)
            params = sum(p.numel() for p in m.parameters())
            flops = 0
            if op == "Conv2d":
                flops = 2 * (y[0].numel()) * (x.shape[1] // m.groups) * \
                    m.kernel_size[0] * m.kernel_size[1]
            elif op == "Linear":
                flops = 2 * m.in_features * m.out_features
        outs.append(y)
        result.append((list(y.shape[1:]), params, flops))
    return result


def run_export(source, input_shape):
    """Execute the exported module in this interpreter (torch is already loaded)."""
    namespace = {"__name__": "llmnas_export"}
    exec(compile(source, "<pytorch export>", "exec"), namespace)
    net = namespace["Net"]().eval()
    with torch.no_grad():
        out = net(torch.zeros(2, *input_shape))
    return sum(p.numel() for p in net.parameters()), str(tuple(out.shape))


def check(llmnas, path):
    inp, classes = header(path)
    path = path.split("@")[0]
    d = dump(llmnas, path, inp, classes)
    graph = json.loads(d["graph"])
    ref = reference(graph)
    problems = []
    for i, (layer, (shape, params, flops)) in enumerate(zip(d["layers"], ref)):
        mine = (layer["shape"], layer["params"], layer["flops"])
        if mine != (shape, params, flops):
            problems.append("node %d %s: llmnas %s, torch %s" % (i, layer["op"], mine,
                                                               (shape, params, flops)))
    if len(d["layers"]) != len(ref):
        problems.append("node count %d vs %d" % (len(d["layers"]), len(ref)))
    total_p = sum(r[1] for r in ref)
    total_f = sum(r[2] for r in ref)
    if (d["params"], d["flops"]) != (total_p, total_f):
        problems.append("totals llmnas %d params %d flops, torch %d / %d"
                        % (d["params"], d["flops"], total_p, total_f))
    p, shape = run_export(d["pytorch"], graph["input"])
    if p != total_p or shape != "(2, %d)" % classes:
        problems.append("PyTorch export: %d params, output %s" % (p, shape))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(d["lua"])
        name = f.name
    try:
        again = dump(llmnas, name, inp, classes)
    finally:
        os.unlink(name)
    if again["hash"] != d["hash"]:
        problems.append("Lua export compiles to %s, not %s" % (again["hash"], d["hash"]))
    return d, problems


def main():
    llmnas, files = sys.argv[1], sys.argv[2:]
    passed = failed = 0
    for path in files:
        try:
            d, problems = check(llmnas, path)
        except Exception as e:  # a crash is one failed network, not the end of the run
            d, problems = None, [str(e)]
        name = os.path.basename(path).replace(".lua", "")
        if problems:
            failed += 1
            print("FAIL %s" % name)
            for p in problems[:10]:
                print("     " + p)
        else:
            passed += 1
            print("ok   %-20s %3d nodes %11s params %9.2f MFLOP  same as PyTorch; exports agree"
                  % (name, len(d["layers"]), "{:,}".format(d["params"]), d["flops"] / 1e6))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
