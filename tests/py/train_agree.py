#!/usr/bin/python3
"""train_agree.py DIR NAME — check llmnas's trainer against PyTorch.

DIR is written by tests/c/test_train_torch.c: graph.txt (one node a line),
params.txt, init<i>.bin (initial parameters, PyTorch layouts), x<s>.bin /
y<s>.bin (batches), mask<node>_<s>.bin (dropout masks llmnas drew),
logits0.bin, grad<i>.bin (first step), losses.bin (every step), final<i>.bin
(after the SGD steps), eval_logits.bin (inference mode on batch 0 after
training).

The network is rebuilt with torch.nn modules from the same weights, trained on
the same batches with torch.optim.SGD(lr, momentum=0.9, weight_decay=5e-4) and
CosineAnnealingLR(T_max=steps), dropout replaced by the recorded masks.

Tolerances (float32 on both sides, different kernels and summation orders):
  logits, eval logits   max|a-b| <= 1e-4 + 1e-3 * max|b|
  loss (each step)      |a-b| <= 1e-4 + 1e-4 * |b|   (steps >= 1: 1e-3 relative)
  gradients             max|a-b| <= 1e-5 + 2e-3 * max|b| per tensor
  first update          ||a-b|| <= 1e-7 + 1e-3 * ||b|| per tensor, a and b the change of the
                        tensor by the first step (step1_ - init), not the weights: relative
                        to the weights, an error in the update itself (a weight decay twice
                        too strong) would vanish in them
  update after steps    ||a-b|| <= 1e-6 + 1e-2 * ||b|| per tensor (final - init); looser, as a
                        max-pool window whose two largest inputs differ by float rounding may
                        route one gradient differently, a sparse, legitimate difference that
                        the later steps amplify (L2 for the same reason)
With --bf16 (llmnas trained in bf16 mixed precision) the comparison is still
against PyTorch fp32, and PyTorch is replayed a second time under its own mixed
precision, torch.autocast("cpu", dtype=torch.bfloat16): each tolerance becomes
BF16_FACTOR (3) times the worst relative error of PyTorch's bf16 against its fp32
on that kind of quantity (losses, logits, gradients, first update, update after
the steps, eval logits), or the fp32 tolerance where larger. llmnas's bf16 must
stay about as close to fp32 as PyTorch's own bf16 is; gradients are then
compared in L2, as bf16 makes single elements noisy.
Exit 0 on agreement, 1 on disagreement, 77 if torch is unavailable.
"""
import math
import os
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("train_agree: torch not available, skipped")
    sys.exit(77)

torch.set_num_threads(1)
D, NAME = sys.argv[1], sys.argv[2]
BF16 = "--bf16" in sys.argv[3:]
BF16_FACTOR = 3.0


def load(name, dtype=np.float32):
    return np.fromfile(os.path.join(D, name), dtype=dtype)


def parse_graph():
    nodes, output = [], None
    for line in open(os.path.join(D, "graph.txt")):
        t = line.split()
        if t[0] == "output":
            output = int(t[1])
            continue
        k, op, nin = int(t[0]), t[1], int(t[2])
        ins = [int(v) for v in t[3:3 + nin]]
        rest = t[3 + nin:]
        rank = int(rest[1])
        shape = [int(v) for v in rest[2:1 + rank]]
        kv = rest[1 + rank:]
        a, i = {}, 0
        while i < len(kv):
            key = kv[i]
            n = 2 if key in ("k", "s", "p", "d") else 1
            vals = [float(v) for v in kv[i + 1:i + 1 + n]]
            a[key] = vals if n == 2 else vals[0]
            i += 1 + n
        nodes.append(dict(id=k, op=op, ins=ins, shape=shape, a=a))
    return nodes, output


class Net(nn.Module):
    def __init__(self, nodes, output):
        super().__init__()
        self.nodes, self.output = nodes, output
        self.mods = nn.ModuleDict()
        self.masks = {}
        for n in nodes:
            a, op = n["a"], n["op"]
            i2 = lambda key: (int(a[key][0]), int(a[key][1]))
            if op == "Conv2d":
                cin = nodes[n["ins"][0]]["shape"][0]
                m = nn.Conv2d(cin, int(a["out"]), i2("k"), i2("s"), i2("p"), i2("d"),
                              int(a["g"]), bool(a["bias"]))
            elif op == "BatchNorm2d":
                m = nn.BatchNorm2d(n["shape"][0], eps=a["eps"], momentum=a["mom"])
            elif op == "Linear":
                m = nn.Linear(nodes[n["ins"][0]]["shape"][0], int(a["out"]), bool(a["bias"]))
            elif op == "BatchNorm1d":
                m = nn.BatchNorm1d(n["shape"][0], eps=a["eps"], momentum=a["mom"])
            elif op == "LayerNorm":
                m = nn.LayerNorm(n["shape"][0], eps=a["eps"])
            elif op == "PReLU":
                m = nn.PReLU(int(a["np"]), init=a["init"])
            else:
                continue
            self.mods[str(n["id"])] = m

    def forward(self, x):
        v = {0: x}
        for n in self.nodes[1:]:
            a, op, k = n["a"], n["op"], n["id"]
            i2 = lambda key: (int(a[key][0]), int(a[key][1]))
            xs = [v[i] for i in n["ins"]]
            x0 = xs[0]
            if op in ("Conv2d", "BatchNorm2d", "Linear", "BatchNorm1d", "PReLU"):
                y = self.mods[str(k)](x0)
            elif op == "LayerNorm" and x0.dim() == 4:  # over channels (ConvNeXt's LayerNorm2d)
                y = self.mods[str(k)](x0.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            elif op == "LayerNorm":
                y = self.mods[str(k)](x0)
            elif op == "ReLU":
                y = F.relu(x0)
            elif op == "LeakyReLU":
                y = F.leaky_relu(x0, a["slope"])
            elif op == "GELU":
                y = F.gelu(x0, approximate="tanh" if a["approx"] else "none")
            elif op == "SiLU":
                y = F.silu(x0)
            elif op == "Sigmoid":
                y = torch.sigmoid(x0)
            elif op == "Tanh":
                y = torch.tanh(x0)
            elif op == "Hardswish":
                y = F.hardswish(x0)
            elif op == "MaxPool2d":
                y = F.max_pool2d(x0, i2("k"), i2("s"), i2("p"), i2("d"), bool(a["ceil"]))
            elif op == "AvgPool2d":
                y = F.avg_pool2d(x0, i2("k"), i2("s"), i2("p"), bool(a["ceil"]), bool(a["incl"]))
            elif op == "AdaptiveAvgPool2d":
                y = F.adaptive_avg_pool2d(x0, 1)
            elif op == "Flatten":
                y = torch.flatten(x0, 1)
            elif op == "Dropout":
                y = x0 * self.masks[k] if self.training and a["drop"] > 0 else x0
            elif op == "Identity":
                y = x0
            elif op == "add":
                y = xs[0] + xs[1]
            elif op == "mul":
                y = xs[0] * xs[1]
            elif op == "cat":
                y = torch.cat(xs, 1)
            elif op == "ELU":
                y = F.elu(x0, a["alpha"])
            elif op == "Mish":
                y = F.mish(x0)
            elif op == "Softmax":
                y = F.softmax(x0, int(a["dim"]))
            elif op == "AdaptiveMaxPool2d":
                y = F.adaptive_max_pool2d(x0, 1)
            elif op == "Dropout2d":
                y = x0 * self.masks[k] if self.training and a["drop"] > 0 else x0
            elif op == "mul_scalar":
                y = x0 * a["other"]
            elif op == "add_scalar":
                y = x0 + a["other"]
            else:
                raise SystemExit("train_agree: unknown op " + op)
            v[k] = y
        return v[self.output]


def dropout_agrees(p, mask, module=nn.Dropout):
    """The masks llmnas drew against module(p) (nn.Dropout, or nn.Dropout2d with one value
    per channel) in training mode on ones: the same scale on the kept elements (1/(1-p)),
    and keep rates within 5 binomial sigmas of 1-p."""
    torch.manual_seed(1)
    ones = torch.ones(200000) if module is nn.Dropout else torch.ones(1, 200000, 1, 1)
    ref = module(p).train()(ones).numpy().ravel()
    ok = True
    for who, m in (("llmnas", mask), ("nn.Dropout", ref)):
        kept = m[m != 0]
        rate = kept.size / m.size
        sigma = math.sqrt(p * (1 - p) / m.size)
        if abs(rate - (1 - p)) > 5 * sigma:
            print("  %s dropout p=%g: %s keeps %.4f of %d, expected %.4f +- %.4f  DISAGREE"
                  % (NAME, p, who, rate, m.size, 1 - p, 5 * sigma))
            ok = False
    scale = float(ref[ref != 0][0])
    kept = mask[mask != 0].astype(np.float64)
    if kept.size == 0 or np.max(np.abs(kept - scale)) > 1e-6 * scale:
        print("  %s dropout p=%g: llmnas scales kept elements by %s, nn.Dropout by %.7g  DISAGREE"
              % (NAME, p, np.unique(kept)[:4], scale))
        ok = False
    name = module.__name__
    print("  %s %s p=%g: keep rate %.4f over %d (nn.%s %.4f), scale %.7g (nn.%s %.7g)"
          % (NAME, name, p, kept.size / mask.size, mask.size, name, float((ref != 0).mean()),
             float(kept[0]) if kept.size else float("nan"), name, scale))
    return ok


def replay(nodes, output, params, meta, autocast):
    """Train the PyTorch network on the recorded batches; returns what was seen:
    losses, logits0, grads {i}, step1 {i} (change by the first step), final {i}
    (change over all steps), eval logits, drawn masks. autocast: forward under
    torch.autocast("cpu", dtype=torch.bfloat16), PyTorch's own mixed precision."""
    batch, steps, lr, mom, wd, c, h, w = meta
    torch.manual_seed(0)
    net = Net(nodes, output)
    tensors = []
    for i, node, name, count, trainable in params:
        t = getattr(net.mods[str(node)], name)
        assert t.numel() == count, (node, name, t.shape, count)
        with torch.no_grad():
            t.copy_(torch.from_numpy(load("init%d.bin" % i)).view_as(t))
        tensors.append((i, node, name, t, trainable))
    init = {i: t.detach().clone() for (i, _, _, t, _) in tensors}
    trainable = [t for (_, _, _, t, tr) in tensors if tr]
    opt = torch.optim.SGD(trainable, lr=lr, momentum=mom, weight_decay=wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    out = {"losses": [], "grads": {}, "step1": {}, "final": {}, "drawn": {}, "drawn2d": {},
           "mask_ok": True, "tensors": tensors}
    net.train()
    for s in range(steps):
        x = torch.from_numpy(load("x%d.bin" % s)).view(batch, c, h, w)
        y = torch.from_numpy(load("y%d.bin" % s, np.int32).astype(np.int64))
        for n in nodes:
            if n["op"] == "Dropout" and n["a"]["drop"] > 0:
                m = load("mask%d_%d.bin" % (n["id"], s))
                out["drawn"].setdefault(n["a"]["drop"], []).append(m)
                net.masks[n["id"]] = torch.from_numpy(m).view(batch, *n["shape"])
            if n["op"] == "Dropout2d" and n["a"]["drop"] > 0:
                m = load("mask%d_%d.bin" % (n["id"], s))
                planes = m.reshape(batch * n["shape"][0], -1)
                if not (planes == planes[:, :1]).all():  # one draw per (image, channel)
                    print("  %s Dropout2d node %d: the mask varies within a channel  DISAGREE"
                          % (NAME, n["id"]))
                    out["mask_ok"] = False
                out["drawn2d"].setdefault(n["a"]["drop"], []).append(planes[:, 0].copy())
                net.masks[n["id"]] = torch.from_numpy(m).view(batch, *n["shape"])
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            z = net(x)
        z = z.float()
        loss = F.cross_entropy(z, y)
        out["losses"].append(loss.detach().reshape(1))
        loss.backward()
        if s == 0:
            out["logits"] = z.detach()
            for i, node, name, t, tr in tensors:
                if tr:
                    out["grads"][i] = t.grad.detach().clone()
        opt.step()
        sched.step()
        if s == 0:
            for i, node, name, t, tr in tensors:
                out["step1"][i] = (t - init[i]).detach().clone()
    for i, node, name, t, tr in tensors:
        out["final"][i] = (t - init[i]).detach().clone()
    net.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out["eval"] = net(torch.from_numpy(load("x0.bin")).view(batch, c, h, w)).float()
    return out


def main():
    nodes, output = parse_graph()
    plines = [l.split() for l in open(os.path.join(D, "params.txt"))]
    meta = plines[-1]
    batch, steps = int(meta[1]), int(meta[3])
    lr, mom, wd = float(meta[5]), float(meta[7]), float(meta[9])
    c, h, w, classes = int(meta[11]), int(meta[12]), int(meta[13]), int(meta[15])
    params = [(int(p[0]), int(p[1]), p[2], int(p[3]), int(p[4])) for p in plines[:-1]]
    m = (batch, steps, lr, mom, wd, c, h, w)
    ref = replay(nodes, output, params, m, False)
    low = replay(nodes, output, params, m, True) if BF16 else None
    ours_losses = load("losses.bin", np.float64)
    ok = True

    def metric(ours, r, l2):
        r = r.detach().double().numpy().ravel()
        ours = np.asarray(ours, dtype=np.float64).ravel()
        if l2:
            return float(np.linalg.norm(ours - r)), float(np.linalg.norm(r))
        err = float(np.max(np.abs(ours - r))) if r.size else 0.0
        return err, float(np.max(np.abs(r))) if r.size else 0.0

    # bf16: PyTorch's own autocast error against its fp32, relative, the worst
    # over each kind of quantity (every loss, every gradient tensor, ...)
    low_rel = {}
    if BF16:
        for key, l2 in (("losses", False), ("logits", False), ("grads", True), ("step1", True),
                        ("final", True), ("eval", False)):
            items = ref[key] if isinstance(ref[key], dict) else {None: ref[key]}
            if key == "losses":
                items = dict(enumerate(ref[key]))
            worst_rel = 0.0
            for i, r in items.items():
                lo = low[key][i] if i is not None else low[key]
                e, sc = metric(lo.detach().double().numpy(), r, l2)
                worst_rel = max(worst_rel, e / (sc or 1.0))
            low_rel[key] = worst_rel

    def check(what, ours, key, atol, rtol, l2=False, i=None, kind=None):
        """ours against PyTorch fp32. In bf16 mode the tolerance is BF16_FACTOR times
        the worst relative error of PyTorch's own bf16 autocast on that kind of
        quantity (against its fp32), or the fp32 tolerance if larger: as far from
        fp32 as PyTorch's bf16 goes, give or take the factor."""
        nonlocal ok
        r = ref[key] if i is None else ref[key][i]
        err, scale = metric(ours, r, l2)
        tol = atol + rtol * scale
        if BF16:
            tol = max(tol, BF16_FACTOR * low_rel[kind or key] * scale)
            rel_torch[0] = max(rel_torch[0], low_rel[kind or key])
        good = err <= tol
        if not good:
            ok = False
            print("  %s %s: max|diff| %.3g, max|ref| %.3g, tolerance %.3g  DISAGREE"
                  % (NAME, what, err, scale, tol))
        return err / (scale or 1.0)

    rel_torch = [0.0]
    worst = {"logits": 0.0, "grad": 0.0, "update1": 0.0, "update": 0.0, "loss": 0.0}
    for s in range(steps):
        worst["loss"] = max(worst["loss"], check("loss step %d" % s, [ours_losses[s]],
                                                 "losses", 1e-4, 1e-4 if s == 0 else 1e-3, i=s))
    worst["logits"] = check("logits", load("logits0.bin"), "logits", 1e-4, 1e-3)
    for i, node, name, t, tr in ref["tensors"]:
        if tr:
            worst["grad"] = max(worst["grad"], check(
                "grad node %d %s" % (node, name), load("grad%d.bin" % i), "grads", 1e-5, 2e-3,
                l2=BF16, i=i))
        ours = load("step1_%d.bin" % i).astype(np.float64) - load("init%d.bin" % i)
        worst["update1"] = max(worst["update1"], check(
            "first update node %d %s" % (node, name), ours, "step1", 1e-7, 1e-3, l2=True, i=i))
    for i, node, name, t, tr in ref["tensors"]:
        ours = load("final%d.bin" % i).astype(np.float64) - load("init%d.bin" % i)
        worst["update"] = max(worst["update"], check(
            "update over %d steps node %d %s" % (steps, node, name), ours, "final", 1e-6, 1e-2,
            l2=True, i=i))
    for p, masks in ref["drawn"].items():
        ok = dropout_agrees(p, np.concatenate(masks)) and ok
    for p, masks in ref["drawn2d"].items():
        ok = dropout_agrees(p, np.concatenate(masks), nn.Dropout2d) and ok
    ok = ok and ref["mask_ok"]
    worst["eval"] = check("eval logits", load("eval_logits.bin"), "eval", 1e-4, 1e-3)
    print("train_agree %s%s: %s; worst relative error: %s%s" % (
        NAME, " (bf16 against PyTorch fp32)" if BF16 else "", "agree" if ok else "DISAGREE",
        ", ".join("%s %.2g" % (k, v) for k, v in worst.items()),
        "; PyTorch's own bf16 autocast, worst: %.2g" % rel_torch[0] if BF16 else ""))
    sys.exit(0 if ok else 1)

main()
