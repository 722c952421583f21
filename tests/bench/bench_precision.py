#!/usr/bin/python3
"""bench_precision.py — llmnas in fp32 and bf16 against PyTorch fp32 and PyTorch's
own bf16 autocast, side by side, same run.

For each reference network (examples/nets/bench_{small,vgg,resnet}.lua) and each
dataset (Fashion-MNIST; --datasets cifar10 adds CIFAR-shaped random data with
crop + flip on both sides) it trains the same subset with the same recipe (batch
128, SGD 0.01 / 0.9 / 5e-4, per-step cosine, THREADS threads):

  llmnas fp32   `llmnas train NET --precision fp32 --json` (the forked worker)
  llmnas bf16   the same with --precision bf16 (only where the CPU has native bf16)
  torch fp32    the network exported by `llmnas export --format pytorch`, Debian's
                torch 1.13 on /usr/bin/python3, data in memory (bench_train.torch_main)
  torch bf16    the same step under torch.autocast("cpu", dtype=torch.bfloat16)

Each of the four is measured --repeat times, interleaved, and the median is
printed: images/s, the ratios to PyTorch fp32 and to PyTorch bf16, GFLOP/s
(3 x forward FLOPs x images/s) and its share of the machine's fp32 FMA peak
(build/bench/bench_fma_peak, measured in the same run), peak RSS of the process
tree, and the CPU time other processes took during each measurement ("foreign",
in cores; a row with any median input above 0.3 is marked '*'). The header names
the CPU model, the ISA flags cpuid reports, oneDNN's effective ISA and the
`uptime` load at the start; the footer the load at the end. A wall-clock figure
taken at load > 4 is not representative (2 cores shared); img/cpu (training images
per CPU-second of the training process, with its ratios) moves less under load —
with --threads 1 it is nearly load-independent, as no thread waits for another.

  bench_precision.py [--threads 2] [--quick] [--repeat 3] [--nets small,vgg,resnet]
                     [--datasets fashion-mnist]
  (env LLMNAS: the binary; BUILD: the build directory)
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_train as bt  # noqa: E402  (the shared measuring and data helpers)

ROOT = bt.ROOT
ISA_NAMES = {0x1: "sse41", 0x3: "avx", 0x7: "avx2", 0x407: "avx2_vnni", 0x27: "avx512_core",
             0x67: "avx512_core_vnni", 0xe7: "avx512_core_bf16", 0x3e7: "avx512_core_amx"}


def cpu_info():
    model, flags = "?", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    want = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"]
    try:
        isa = ctypes.CDLL("libdnnl.so.2").dnnl_get_effective_cpu_isa()
        onednn = ISA_NAMES.get(isa, hex(isa))
    except OSError:
        onednn = "unknown"
    return model, " ".join(f for f in want if f in flags), onednn


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def per_cpu(r):
    """llmnas: images per CPU-second of the worker, its CPU time scaled to the training
    part of the job (cpu_seconds covers build, training and evaluation)."""
    if r.get("status") == "ok" and r.get("cpu_seconds") and r.get("job_seconds"):
        r["images_per_cpu_s"] = r["steps"] * 128 / (r["cpu_seconds"] * r["seconds"] /
                                                     r["job_seconds"])
    return r


def median(runs, key):
    v = [r[key] for r in runs if r.get("status") == "ok" and key in r]
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="smaller subsets")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--nets", default="small,vgg,resnet")
    ap.add_argument("--datasets", default="fashion-mnist")
    a = ap.parse_args()
    llmnas = os.environ.get("LLMNAS", os.path.join(ROOT, "llmnas"))
    build = os.path.join(ROOT, os.environ.get("BUILD", "build"))
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    model, flags, onednn = cpu_info()
    load0 = load()
    peak = bt.measure([os.path.join(build, "bench", "bench_fma_peak"), "--json", str(a.threads)])
    fp32_peak = peak.get("gflops", float("nan"))
    try:
        import torch
        have_torch = True
        torch_bf16 = hasattr(torch, "autocast")
    except ImportError:
        have_torch = torch_bf16 = False
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    native = native and onednn in ("avx512_core_bf16", "avx512_core_amx")
    print("CPU: %s; cpuid: %s; oneDNN ISA: %s; native bf16: %s" % (model, flags, onednn,
                                                                  "yes" if native else "no"))
    print("fp32 FMA peak: %.1f GFLOP/s on %d threads (%s); threads %d, batch 128, median of %d; "
          "load at start %s" % (fp32_peak, a.threads, peak.get("isa", "?"), a.threads, a.repeat,
                                load0))
    sizes = {"small": 2560 if a.quick else 6400, "vgg": 384 if a.quick else 1280,
             "resnet": 384 if a.quick else 1280}
    tmp = tempfile.mkdtemp(prefix="bench_precision.")
    bt.write_cifar(tmp, 1320)
    head = ("%-13s %-6s %-4s | %8s %7s %7s | %7s %6s | %7s %7s %7s | %7s | %s"
            % ("data", "net", "prec", "images/s", "/t.fp32", "/t.bf16", "GFLOP/s", "%peak",
               "img/cpu", "/t.fp32", "/t.bf16", "RSS MiB",
               "torch fp32 / bf16 images/s; foreign cores"))
    print(head)
    print("-" * len(head))
    for ds, net, src, data, gj, mp in bt.reference_nets(llmnas, tmp, a.datasets, a.nets):
        n = sizes[net]
        precs = ["fp32", "bf16"] if native else ["fp32"]
        runs = {p: [] for p in precs}
        truns = {"fp32": [], "bf16": []}
        for _ in range(max(1, a.repeat)):
            for p in precs:
                runs[p].append(per_cpu(bt.measure(
                    [llmnas, "train", src, "--dataset", ds] + data +
                    ["--subset", str(n), "--val-fraction", "0.01", "--threads",
                     str(a.threads), "--precision", p, "--json"])))
            for tp in (["fp32", "bf16"] if torch_bf16 else ["fp32"]) if have_torch else []:
                truns[tp].append(bt.measure(bt.torch_cmd(
                    mp, ds, n, a.threads, *((tmp, True) if ds == "cifar10" else (None, False)),
                    autocast=tp == "bf16")))
        t32, t16 = median(truns["fp32"], "images_per_s"), median(truns["bf16"], "images_per_s")
        c32 = median(truns["fp32"], "images_per_cpu_s")
        c16 = median(truns["bf16"], "images_per_cpu_s")
        tf = [median(truns[k], "foreign_cores") for k in ("fp32", "bf16")]
        for p in precs:
            ok = [r for r in runs[p] if r.get("status") == "ok"]
            if not ok:
                print("%-13s %-6s %-4s llmnas failed: %s" % (ds, net, p, runs[p][-1]))
                continue
            li = median(ok, "images_per_s")
            gf = 3 * ok[0]["flops"] * li / 1e9
            fc = median(ok, "foreign_cores")
            star = "*" if max([fc] + [f for f in tf if f == f]) > 0.3 else " "
            lc = median(ok, "images_per_cpu_s")
            print("%-13s %-6s %-4s | %7.0f%s %7.2f %7.2f | %7.1f %5.0f%% | %7.0f %7.2f %7.2f | "
                  "%7.0f | %.0f / %.0f; %.2f (torch %.2f / %.2f)"
                  % (ds, net, p, li, star, li / t32, li / t16, gf, 100 * gf / fp32_peak,
                     lc, lc / c32, lc / c16, median(ok, "tree_maxrss_mib"), t32, t16, fc,
                     tf[0], tf[1]))
            sys.stdout.flush()
    subprocess.run(["rm", "-rf", tmp])
    print("load at end %s; targets (native bf16): vgg and resnet bf16 >= 2x PyTorch fp32; "
          "small >= 4x in either precision" % load())


if __name__ == "__main__":
    main()
