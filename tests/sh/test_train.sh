# test_train.sh: `llmnas train` end to end — metrics in text and JSON, every exit
# code (bad usage, missing dataset, candidate errors, too large, diverged,
# timeout), CIFAR-format data with --data, the worker and in-process paths.
. "$(dirname "$0")/lib.sh"

NET="$ROOT/examples/nets/bench_small.lua"
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

run "$LLMNAS" train --help
expect_rc 0 "train --help"
expect_out "usage: llmnas train ARCH.lua" "help shows the usage"

run "$LLMNAS" train
expect_rc 64 "no file"
expect_err "no file given" "no file is named"

run "$LLMNAS" train "$NET" --epochs zero
expect_rc 64 "bad --epochs"
expect_err "--epochs needs a number" "bad number is explained"

run "$LLMNAS" train "$NET" --frobnicate
expect_rc 64 "unknown option"

run "$LLMNAS" train "$NET" --dataset cifar10 --data "$T/nothing"
expect_rc 66 "missing dataset"
expect_err "data_batch_1.bin not found" "missing dataset file is named"

run "$LLMNAS" train "$T/missing.lua"
expect_rc 66 "missing candidate file"

if [ -r "$FM" ]; then
    run "$LLMNAS" train "$NET" --subset 1024 --stratified --threads 2 --test
    expect_rc 0 "small trains on a Fashion-MNIST subset"
    expect_out "val_acc" "text output has val_acc"
    expect_out "test_acc" "--test adds test_acc"
    expect_out "1024 training images, 6000 validation images" "subset and validation split"

    run "$LLMNAS" train "$NET" --subset 1024 --threads 2 --json --in-process
    expect_rc 0 "--json --in-process"
    expect_out '"status":"ok"' "JSON status"
    expect_out '"params":50282' "JSON params of small"
    acc=$(sed -n 's/.*"val_acc":\([0-9.]*\).*/\1/p' "$T/out")
    if awk "BEGIN {exit !($acc > 0.5)}"; then pass "val_acc $acc > 0.5"; else fail "val_acc $acc"; fi

    printf 'function Net(x, classes)\n  return nn.Linear(nn.Flatten(x), 7)\nend\n' >"$T/bad.lua"
    run "$LLMNAS" train "$T/bad.lua"
    expect_rc 65 "wrong class count is a candidate error"
    expect_err "shape error" "shape error kind"

    printf 'function Net(x, classes)\n  x = nn.Conv2d(x, 4096, 3, {padding = 1})\n  x = nn.Conv2d(x, 4096, 3, {padding = 1})\n  return nn.Linear(nn.Flatten(x), classes)\nend\n' >"$T/big.lua"
    run "$LLMNAS" train "$T/big.lua" --json
    expect_rc 65 "too large"
    expect_out '"status":"too_large"' "too_large status in JSON"

    run "$LLMNAS" train "$NET" --lr 1e30 --subset 2048 --json
    expect_rc 65 "diverged"
    expect_out '"status":"diverged"' "diverged status"
    expect_out '"diverged_step":' "diverged step reported"

    run "$LLMNAS" train "$NET" --time-limit 0.2 --threads 2
    expect_rc 65 "timeout"
    expect_err "timeout" "timeout is reported"
else
    skip "Fashion-MNIST not installed (make deps installs dataset-fashion-mnist)" 17
fi

# CIFAR-10 format, tiny generated files, augmentation on by default
mkdir -p "$T/data/cifar-10-batches-bin"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
    head -c $((3073 * 30)) /dev/urandom >"$T/data/cifar-10-batches-bin/$f.bin.raw"
    # labels must be < 10: rewrite each record's first byte
    /usr/bin/python3 - "$T/data/cifar-10-batches-bin/$f.bin" <<'PY'
import sys
raw = bytearray(open(sys.argv[1] + ".raw", "rb").read())
for i in range(0, len(raw), 3073):
    raw[i] = (i // 3073) % 10
open(sys.argv[1], "wb").write(raw)
PY
    rm "$T/data/cifar-10-batches-bin/$f.bin.raw"
done
printf 'function Net(x, classes)\n  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 8, 3, {padding = 1}))), 4)\n  return nn.Linear(nn.Flatten(x), classes)\nend\n' >"$T/c.lua"
run "$LLMNAS" train "$T/c.lua" --dataset cifar10 --data "$T/data" --batch 16 --json --test
expect_rc 0 "CIFAR-format training"
expect_out '"ntrain":135' "CIFAR split: 150 images, 15 held out"
