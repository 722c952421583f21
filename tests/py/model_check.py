"""Check a model folder saved by `llmnas train --save` against PyTorch and ONNX.

    /usr/bin/python3 tests/py/model_check.py MODEL_DIR PREDICT.jsonl IMAGE_ROOT

PREDICT.jsonl is `llmnas predict MODEL_DIR ... --json --logits` output on images
of the model's own input size (so no resizing is involved: this checks the
network and the weights, not the resampler). It checks, and prints the measured
worst differences:
  1. model.onnx passes onnx.checker.check_model (full_check: shape inference);
  2. model.py's Net with load_safetensors(net, model.safetensors) (a strict
     load_state_dict, BatchNorm running statistics included) gives predict's
     logits within 1e-4 of the largest |logit| (float32, oneDNN vs PyTorch);
  3. model.onnx, run node by node with torch.nn.functional (there is no ONNX
     runtime in Debian), gives the same logits within 1e-4;
  4. predict's top-1 on the validation images equals validation.json's (the
     trained network's own predictions at the end of training).
Exits 1 with a message on the first failed check.
"""
import importlib.util
import json
import math
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from PIL import Image

TOL = 1e-4


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def load_net(model_dir):
    spec = importlib.util.spec_from_file_location("llmnas_model", os.path.join(model_dir, "model.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.Net()
    mod.load_safetensors(net, os.path.join(model_dir, "model.safetensors"))
    return net.eval()


def preprocess(path, meta):
    p = meta["preprocess"]
    img = Image.open(path).convert("L" if p["channels"] == 1 else "RGB")
    if img.size != (p["width"], p["height"]):
        fail("%s is %s, not the model's %dx%d (this check avoids resizing)"
             % (path, img.size, p["width"], p["height"]))
    a = np.asarray(img, dtype=np.float32).reshape(p["height"], p["width"], p["channels"])
    a = a.transpose(2, 0, 1)
    mean = np.array(p["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.array(p["std"], dtype=np.float32).reshape(-1, 1, 1)
    return (a * np.float32(1 / 255.0) - mean) / std


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pads2(a):
    p = list(a.get("pads", [0, 0, 0, 0]))
    if p[0] != p[2] or p[1] != p[3]:
        fail("asymmetric pads %s" % p)
    return (p[0], p[1])


def run_onnx(model, x):
    """Evaluate the graph with torch ops, one ONNX node at a time."""
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for n in model.graph.node:
        a = attrs(n)
        i = [env[name] for name in n.input]
        op = n.op_type
        if op == "Conv":
            y = F.conv2d(i[0], i[1], i[2] if len(i) > 2 else None, stride=tuple(a["strides"]),
                         padding=pads2(a), dilation=tuple(a.get("dilations", [1, 1])),
                         groups=a.get("group", 1))
        elif op == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5))
        elif op in ("Relu", "Sigmoid", "Tanh", "Erf"):
            y = {"Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Erf": torch.erf}[op](i[0])
        elif op == "HardSwish":
            y = F.hardswish(i[0])
        elif op == "LeakyRelu":
            y = F.leaky_relu(i[0], a.get("alpha", 0.01))
        elif op == "MaxPool":
            y = F.max_pool2d(i[0], tuple(a["kernel_shape"]), tuple(a["strides"]), pads2(a),
                             tuple(a.get("dilations", [1, 1])), bool(a.get("ceil_mode", 0)))
        elif op == "AveragePool":
            y = F.avg_pool2d(i[0], tuple(a["kernel_shape"]), tuple(a["strides"]), pads2(a),
                             bool(a.get("ceil_mode", 0)), bool(a.get("count_include_pad", 0)))
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(i[0], a.get("axis", 1))
        elif op == "Gemm":
            y = F.linear(i[0], i[1] if a.get("transB", 0) else i[1].t(), i[2] if len(i) > 2 else None)
        elif op == "Identity":
            y = i[0]
        elif op in ("Add", "Mul", "Div"):
            y = {"Add": torch.add, "Mul": torch.mul, "Div": torch.div}[op](i[0], i[1])
        elif op == "Concat":
            y = torch.cat(i, dim=a["axis"])
        elif op == "Transpose":
            y = i[0].permute(*a["perm"])
        elif op == "LayerNormalization":
            if a.get("axis", -1) != -1:
                fail("LayerNormalization over axis %s" % a["axis"])
            y = F.layer_norm(i[0], i[0].shape[-1:], i[1], i[2], a.get("epsilon", 1e-5))
        elif op == "Elu":
            y = F.elu(i[0], a.get("alpha", 1.0))
        elif op == "Softplus":
            y = F.softplus(i[0])
        elif op == "PRelu":
            y = torch.where(i[0] >= 0, i[0], i[0] * i[1])
        elif op == "Softmax":
            y = torch.softmax(i[0], a.get("axis", -1))
        elif op == "GlobalMaxPool":
            y = i[0].amax(dim=(2, 3), keepdim=True)
        else:
            fail("no interpreter for ONNX op %s" % op)
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


def worst(a, b):
    return float((a - b).abs().max() / max(1e-12, float(b.abs().max())))


def main():
    model_dir, pred_path, root = sys.argv[1:4]
    meta = json.load(open(os.path.join(model_dir, "meta.json")))
    preds = [json.loads(line) for line in open(pred_path)]
    if not preds or "logits" not in preds[0]:
        fail("%s: no predictions with logits" % pred_path)
    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    print("ok   model.onnx passes onnx.checker (full check), opset %s, %d nodes"
          % (opset, len(model.graph.node)))

    torch.set_num_threads(2)
    net = load_net(model_dir)
    print("ok   model.py's Net loads model.safetensors strictly (%d tensors)" % len(net.state_dict()))
    x = torch.from_numpy(np.stack([preprocess(p["file"], meta) for p in preds]))
    ours = torch.tensor([p["logits"] for p in preds], dtype=torch.float32)
    with torch.no_grad():
        theirs = net(x)
        onnx_out = run_onnx(model, x)
    e1, e2 = worst(ours, theirs), worst(onnx_out, theirs)
    print("     %d images: predict vs PyTorch %.2e, ONNX vs PyTorch %.2e (of the largest |logit|)"
          % (len(preds), e1, e2))
    if not e1 <= TOL:
        fail("predict's logits differ from PyTorch's by %.3g of the largest (tolerance %g)" % (e1, TOL))
    print("ok   predict's logits = PyTorch's within %g" % TOL)
    if not e2 <= TOL:
        fail("ONNX logits differ from PyTorch's by %.3g (tolerance %g)" % (e2, TOL))
    print("ok   ONNX logits = PyTorch's within %g" % TOL)

    val = {v["file"]: v for v in json.load(open(os.path.join(model_dir, "validation.json"))) if "file" in v}
    seen = same = 0
    for p in preds:
        rel = os.path.relpath(p["file"], root)
        if rel in val:
            seen += 1
            same += p["top"][0]["index"] == val[rel]["pred"]
    if seen == 0:
        fail("none of the predicted images is in validation.json")
    acc = sum(v["pred"] == v["label"] for v in val.values()) / len(val)
    print("     validation: %d of %d top-1 equal; validation.json accuracy %.4f, meta val_acc %.4f"
          % (same, seen, acc, meta["result"]["val_acc"]))
    if same != seen:
        fail("predict's top-1 differs from the trained network's on %d validation images" % (seen - same))
    if not math.isclose(acc, meta["result"]["val_acc"], abs_tol=1e-9):
        fail("validation.json accuracy %.6f != val_acc %.6f" % (acc, meta["result"]["val_acc"]))
    print("ok   predict's top-1 = the trained network's on all %d validation images" % seen)


if __name__ == "__main__":
    main()
