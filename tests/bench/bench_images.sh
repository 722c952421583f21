#!/bin/sh
# bench_images.sh: image folders and predict. A folder of 10,000 RGB PNGs at 32x32
# (Fashion-MNIST resized by PIL): llmnas's scan + decode + cache write (median of 3,
# each with an empty cache) against Python's PIL decoding the same files into a
# uint8 array, single-threaded and with llmnas on all cores; the second run's load
# from the cache; then `llmnas predict` on the 10,000 files against the trainer's
# own evaluation rate (validation images/s of `llmnas train`, same network, batch).
cd "$(dirname "$0")/../.." || exit 2
LLMNAS=${LLMNAS:-./llmnas}
PY=/usr/bin/python3
if ! $PY -c "import PIL" 2>/dev/null || [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "skipped: needs python3-pil and dataset-fashion-mnist"
    exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
echo "load average: $(cut -d" " -f1-3 /proc/loadavg) (figures are meaningless when it is far above the core count)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores," \
    "$(grep -o -w -m1 -e avx512f -e avx2 /proc/cpuinfo | sort -u | tr '\n' ' ')"
$PY - "$T/png" <<'EOF'
import gzip, os, struct, sys
from PIL import Image
src = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
lab = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"
with gzip.open(src) as f:
    f.read(16); px = f.read(10000 * 784)
with gzip.open(lab) as f:
    f.read(8); y = f.read(10000)
for c in range(10):
    os.makedirs(os.path.join(sys.argv[1], "train", "c%d" % c))
for i in range(10000):
    im = Image.frombytes("L", (28, 28), px[i * 784:(i + 1) * 784]).resize((32, 32), Image.BILINEAR).convert("RGB")
    im.save(os.path.join(sys.argv[1], "train", "c%d" % y[i], "%05d.png" % i))
EOF
echo 'function Net(x, classes) return nn.Linear(nn.Flatten(x), classes) end' >"$T/tiny.lua"
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
load() {  # $1 = cache dir; prints the seconds llmnas train reports for the dataset
    LLMNAS_CACHE_DIR="$1" "$LLMNAS" train "$T/tiny.lua" --dataset "folder:$T/png" --in-process \
        --subset 128 --val-fraction 0.01 2>&1 >/dev/null | sed -n 's/.* in \([0-9.]*\) s.*/\1/p'
}
for threads in 1 ""; do
    dec=$(for r in 1 2 3; do rm -rf "$T/c$r"; OMP_NUM_THREADS=${threads:-$(nproc)} load "$T/c$r"; done | median)
    echo "llmnas decode + cache, 10,000 PNGs 32x32, ${threads:-$(nproc)} thread(s): $dec s," \
        "$(awk "BEGIN {printf \"%.0f\", 10000 / $dec}") images/s (median of 3)"
    [ -n "$threads" ] && dec1=$dec
done
hit=$(for r in 1 2 3; do load "$T/c1"; done | median)
echo "llmnas second run, from the cache: $hit s ($(awk "BEGIN {printf \"%.0f\", $dec / $hit}")x faster than decoding)"
pil=$(for r in 1 2 3; do $PY - "$T/png" <<'EOF'
import os, sys, time
import numpy as np
from PIL import Image
t = time.perf_counter()
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs)
out = np.empty((len(files), 3, 32, 32), np.uint8)
for i, p in enumerate(files):
    with Image.open(p) as im:
        out[i] = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
print("%.4f" % (time.perf_counter() - t))
EOF
done | median)
echo "PIL (python3-pil), one process, same files into a uint8 array: $pil s," \
    "$(awk "BEGIN {printf \"%.0f\", 10000 / $pil}") images/s"
echo "ratio llmnas / PIL: $(awk "BEGIN {printf \"%.2f\", $pil / $dec1}") (1 thread)," \
    "$(awk "BEGIN {printf \"%.2f\", $pil / $dec}") ($(nproc) threads)"

# predict against the trainer's evaluation, the reference small network, batch 128
export LLMNAS_CACHE_DIR="$T/c1"
"$LLMNAS" train examples/nets/bench_small.lua --dataset "folder:$T/png" --val-fraction 0.5 \
    --subset 1024 --save "$T/model" --json >"$T/train.json" 2>/dev/null
eval_rate=$(sed -n 's/.*"eval_seconds":\([0-9.e-]*\).*"nval":\([0-9]*\).*/\2 \1/p' "$T/train.json" |
    awk '{printf "%.0f", $1 / $2}')
echo "trainer's evaluation (small, 3x32x32, 5,000 validation images, batch 128): $eval_rate images/s"
for r in 1 2 3; do
    "$LLMNAS" predict "$T/model" "$T/png" --json 2>&1 >/dev/null | sed -n 's/.*: \([0-9]*\) images\/s.*/\1/p'
done | median >"$T/p"
"$LLMNAS" predict "$T/model" "$T/png" 2>&1 >/dev/null | tail -n 1 | sed 's/^/  last run: /'
echo "llmnas predict, 10,000 PNG files (decode + network + JSON): $(cat "$T/p") images/s (median of 3)," \
    "$(awk "BEGIN {printf \"%.2f\", $(cat "$T/p") / $eval_rate}")x the trainer's evaluation rate"
