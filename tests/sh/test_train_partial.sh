# test_train_partial.sh: issue #18 — an epoch's last partial batch is dropped, as
# PyTorch's DataLoader(drop_last=True) does (tests/py/epoch_reference.py is the
# reference), and the recipe says so. 300 images in batches of 128 for 2 epochs:
# 4 steps on 512 images (PyTorch's default, drop_last=False, would take 6 on 600).
# A trainer that starts training on the remainder, or a reference that stops
# matching llmnas's recipe, fails here.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
if [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    skip "Fashion-MNIST not installed (make deps installs dataset-fashion-mnist)" 5
    exit 0
fi
cat >"$T/net.lua" <<'LUA'
function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 8, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(x), classes)
end
LUA
run "$LLMNAS" train "$T/net.lua" --subset 300 --epochs 2 --val-fraction 0.1 --threads 2 --json
expect_rc 0 "300 images, batch 128, 2 epochs"
tail -n 1 "$T/out" >"$T/ours.json"
run "$PY" "$ROOT/tests/py/epoch_reference.py" 300 128 2
if [ "$rc" -eq 77 ]; then
    skip "torch not installed (make deps installs python3-torch)" 4
    exit 0
fi
expect_rc 0 "PyTorch's batching of the same epoch"
cp "$T/out" "$T/ref.json"
check() {  # check DESC PYTHON-EXPRESSION over ours, ref (the two JSON objects)
    if "$PY" -c "import json,sys; ours = json.load(open(sys.argv[1])); ref = json.load(open(sys.argv[2])); sys.exit(0 if ($2) else 1)" \
        "$T/ours.json" "$T/ref.json"; then
        pass "$1"
    else
        fail "$1: ours $(cat "$T/ours.json"), PyTorch $(cat "$T/ref.json")"
    fi
}
check "llmnas trains on 300 images" 'ours["ntrain"] == 300'
check "as many steps as DataLoader(drop_last=True)" 'ours["steps"] == ref["drop_last"]["steps"] == 4'
check "not as many as PyTorch's default drop_last=False" 'ours["steps"] != ref["keep_last"]["steps"]'
run "$LLMNAS" train --help
expect_out "a last partial batch is dropped" "the recipe in --help says so"
