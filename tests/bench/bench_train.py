#!/usr/bin/python3
"""bench_train.py — llmnas's trainer against PyTorch, side by side, same run.

For each reference network (examples/nets/bench_{small,vgg,resnet}.lua) and each
input kind (Fashion-MNIST 28x28x1; CIFAR-shaped 32x32x3 — random pixels in
CIFAR-10 binary files, with the crop + flip augmentation on both sides) it
trains the same fixed subset with the same recipe (batch 128, SGD lr 0.01,
momentum 0.9, weight decay 5e-4, per-step cosine, threads T) with

  llmnas  `llmnas train NET.lua --json` (compiled by the sandbox, trained in
          the forked worker, as a user runs it)
  PyTorch the same network exported by `llmnas export --format pytorch`,
          Debian's torch 1.13 on /usr/bin/python3, data already in memory
          (no DataLoader), torch.set_num_threads(T)

and prints images/s of the training loop, the ratio, achieved GFLOP/s
(3 x forward FLOPs per image x images/s), the bare oneDNN conv rate for the
same layers (build/bench/bench_train_conv), and the peak RSS of each side's
process tree. The machine is shared: each measurement records the CPU time
other processes used while it ran ("foreign" load, in cores); figures taken
under foreign load > 0.3 cores are marked with '*'. Each side is measured
--repeat times, alternating, and the fastest run is kept.

  bench_train.py [--threads 2] [--quick] [--repeat 2] [--nets small,vgg,resnet]
  (env LLMNAS: the binary; BUILD: the build directory)
"""
import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = "/usr/bin/python3"
FMNIST = "/usr/share/datasets/fashion-mnist"
MEAN_STD = {"fashion-mnist": ([0.2860], [0.3530]),
            "cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])}


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def measure_main(cmd):
    """Run cmd; print its JSON stdout merged with wall time, peak RSS of its
    process tree and the foreign CPU load while it ran."""
    hz = os.sysconf("SC_CLK_TCK")
    b0, t0 = busy_jiffies(), time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall, b1 = time.time() - t0, busy_jiffies()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        out = {"status": "no output"}
    out["exit"] = p.returncode
    out["wall"] = wall
    out["tree_maxrss_mib"] = ru.ru_maxrss / 1024.0
    out["foreign_cores"] = max(0.0, ((b1 - b0) / hz - (ru.ru_utime + ru.ru_stime)) / wall)
    print(json.dumps(out))


def measure(cmd):
    p = subprocess.run([PY, __file__, "--measure", "--"] + cmd, stdout=subprocess.PIPE, text=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- the PyTorch side ----

def load_fmnist(n):
    import numpy as np
    with gzip.open(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return x, y


def load_cifar(d, n):
    import numpy as np
    recs = np.fromfile(os.path.join(d, "cifar-10-batches-bin", "data_batch_1.bin"), np.uint8)
    recs = recs.reshape(-1, 3073)
    for i in range(2, 6):
        more = np.fromfile(os.path.join(d, "cifar-10-batches-bin", "data_batch_%d.bin" % i), np.uint8)
        recs = np.concatenate([recs, more.reshape(-1, 3073)])
    recs = recs[:n]
    return recs[:, 1:].reshape(-1, 3, 32, 32), recs[:, 0]


def torch_main(a):
    """One PyTorch training run of the exported network a.model on the first a.n images,
    the step under torch.autocast("cpu", bfloat16) when a.autocast (bench_precision.py)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(43)
    ns = {}
    exec(open(a.model).read(), ns)
    net = ns["Net"]()
    x8, y8 = load_fmnist(a.n) if a.dataset == "fashion-mnist" else load_cifar(a.data, a.n)
    mean, std = MEAN_STD[a.dataset]
    x = (torch.from_numpy(x8.astype(np.float32)) / 255.0 - torch.tensor(mean).view(1, -1, 1, 1)) \
        / torch.tensor(std).view(1, -1, 1, 1)
    y = torch.from_numpy(y8.astype(np.int64))
    pad_value = [(-m / s) for m, s in zip(mean, std)]
    B = 128
    steps = len(x) // B
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    g = torch.Generator().manual_seed(43)
    order = torch.randperm(len(x), generator=g)
    net.train()
    t0, c0 = time.time(), time.process_time()
    total = 0.0
    for s in range(steps):
        idx = order[s * B:(s + 1) * B]
        xb, yb = x[idx], y[idx]
        if a.augment:
            # RandomCrop(32, padding=4) + RandomHorizontalFlip, per image
            p = torch.empty(B, xb.shape[1], 40, 40)
            for c in range(xb.shape[1]):
                p[:, c].fill_(pad_value[c])
            p[:, :, 4:36, 4:36] = xb
            off = torch.randint(0, 9, (B, 2), generator=g)
            xb = torch.stack([p[i, :, off[i, 0]:off[i, 0] + 32, off[i, 1]:off[i, 1] + 32]
                              for i in range(B)])
            flip = torch.rand(B, generator=g) < 0.5
            xb = torch.where(flip.view(B, 1, 1, 1), xb.flip(3), xb)
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            z = net(xb)
        loss = F.cross_entropy(z.float(), yb)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item()
    secs, cpu = time.time() - t0, time.process_time() - c0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"status": "ok", "images_per_s": steps * B / secs, "seconds": secs,
                      "images_per_cpu_s": steps * B / cpu, "train_loss": total / max(1, steps),
                      "peak_rss_mib": ru.ru_maxrss / 1024.0}))


def torch_cmd(model, dataset, n, threads, data=None, augment=False, autocast=False):
    """The command line of one torch_main run, for measure()."""
    return ([PY, os.path.abspath(__file__), "--torch", "--model", model, "--dataset", dataset,
             "--n", str(n), "--threads", str(threads)] +
            (["--data", data] if data else []) + (["--augment"] if augment else []) +
            (["--autocast"] if autocast else []))


# ---- orchestration ----

def write_cifar(d, per_file):
    import random
    rnd = random.Random(43)
    os.makedirs(os.path.join(d, "cifar-10-batches-bin"))
    for name, n in [("data_batch_%d" % i, per_file) for i in range(1, 6)] + [("test_batch", 100)]:
        with open(os.path.join(d, "cifar-10-batches-bin", name + ".bin"), "wb") as f:
            for _ in range(n):
                f.write(bytes([rnd.randrange(10)]) + os.urandom(3072))


def reference_nets(llmnas, tmp, datasets, nets):
    """For each dataset (comma-separated) and reference net (examples/nets/bench_NET.lua):
    (dataset, net, source, the `--data` arguments, its JSON and its PyTorch export in tmp).
    An uninstalled Fashion-MNIST is said and passed over."""
    for ds in datasets.split(","):
        if ds == "fashion-mnist" and not os.path.exists(FMNIST):
            print("%-13s skipped: not installed" % ds)
            continue
        shape, data = ("1x28x28", []) if ds == "fashion-mnist" else ("3x32x32", ["--data", tmp])
        for net in nets.split(","):
            src = os.path.join(ROOT, "examples", "nets", "bench_" + net + ".lua")
            gj, mp = os.path.join(tmp, net + ds + ".json"), os.path.join(tmp, net + ds + ".py")
            for fmt, out in (("json", gj), ("pytorch", mp)):
                subprocess.run([llmnas, "export", src, "--format", fmt, "--input", shape,
                                "-o", out], check=True)
            yield ds, net, src, data, gj, mp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="smaller subsets")
    ap.add_argument("--nets", default="small,vgg,resnet")
    ap.add_argument("--datasets", default="fashion-mnist,cifar10")
    ap.add_argument("--winograd", action="store_true",
                    help="llmnas (and the bare conv rate) with Winograd convolutions")
    ap.add_argument("--repeat", type=int, default=2,
                    help="measure each side N times (alternating) and keep the fastest")
    a = ap.parse_args()
    llmnas = os.environ.get("LLMNAS", os.path.join(ROOT, "llmnas"))
    conv = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bench", "bench_train_conv")
    env_threads = str(a.threads)
    os.environ["OMP_NUM_THREADS"] = env_threads
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    sizes = {"small": 2560 if a.quick else 6400, "vgg": 384 if a.quick else 1280,
             "resnet": 384 if a.quick else 1280}
    tmp = tempfile.mkdtemp(prefix="bench_train.")
    write_cifar(tmp, 1320)
    print("threads %d, batch 128, recipe SGD 0.01/0.9/5e-4 cosine%s; '*' = other processes used "
          "> 0.3 cores during that measurement" % (a.threads, ", llmnas with --winograd"
                                                    if a.winograd else ""))
    head = ("%-13s %-6s %6s | %8s %8s %6s | %7s %7s %7s %6s | %7s %7s %5s | %s"
            % ("data", "net", "images", "llmnas", "torch", "ratio", "GFLOP/s", "torch", "conv",
               "l/conv", "RSS MiB", "torch", "ratio", "foreign cores l/t/conv"))
    print(head)
    print("-" * len(head))
    for ds, net, src, data, gj, mp in reference_nets(llmnas, tmp, a.datasets, a.nets):
        n = sizes[net]
        best = lambda old, new, key: new if not old or new.get(key, 0) > old.get(key, 0) else old
        c, l, t = None, None, {}
        for _ in range(max(1, a.repeat)):
            c = best(c, measure([conv, gj, "128", env_threads, "5",
                                 "1" if a.winograd else "0"]), "conv_gflops")
            run = measure([llmnas, "train", src, "--dataset", ds] + data +
                          ["--subset", str(n), "--val-fraction", "0.01", "--threads",
                           env_threads, "--json"] + (["--winograd"] if a.winograd else []))
            if run.get("status") != "ok":
                l = run
                break
            l = best(l, run, "images_per_s")
            if have_torch:
                t = best(t, measure(torch_cmd(mp, ds, n, env_threads,
                                              *((tmp, True) if ds == "cifar10" else ()))),
                         "images_per_s")
        if l.get("status") != "ok":
            print("%-13s %-6s llmnas failed: %s" % (ds, net, l))
            continue
        fwd = l["flops"]
        li, ti = l["images_per_s"], t.get("images_per_s", float("nan"))
        lg, tg = 3 * fwd * li / 1e9, 3 * fwd * ti / 1e9
        lr, tr = l["tree_maxrss_mib"], t.get("tree_maxrss_mib", float("nan"))
        star = lambda m: "*" if m.get("foreign_cores", 0) > 0.3 else " "
        print("%-13s %-6s %6d | %7.0f%s %7.0f%s %6.2f | %7.1f %7.1f %7.1f%s %5.0f%% | %7.0f %7.0f %5.2f | %.2f/%.2f/%.2f"
              % (ds, net, n, li, star(l), ti, star(t), li / ti, lg, tg, c["conv_gflops"],
                 star(c), 100 * lg / c["conv_gflops"], lr, tr, lr / tr,
                 l["foreign_cores"], t.get("foreign_cores", float("nan")),
                 c["foreign_cores"]))
        sys.stdout.flush()
    subprocess.run(["rm", "-rf", tmp])
    print("ratio = llmnas / PyTorch images/s (targets: small >= 2.5, vgg and resnet >= 1.4); "
          "l/conv = llmnas's achieved rate / the bare conv rate of the same layers (vgg >= 80%); "
          "RSS ratio = llmnas / PyTorch peak RSS (target <= 0.5)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure_main(sys.argv[3:] if sys.argv[2] == "--" else sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--torch":
        ap = argparse.ArgumentParser()
        ap.add_argument("--torch", action="store_true")
        ap.add_argument("--model")
        ap.add_argument("--dataset")
        ap.add_argument("--data")
        ap.add_argument("--n", type=int)
        ap.add_argument("--threads", type=int)
        ap.add_argument("--augment", action="store_true")
        ap.add_argument("--autocast", action="store_true")
        torch_main(ap.parse_args())
    else:
        main()
