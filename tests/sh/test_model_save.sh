# test_model_save.sh: `llmnas train --save DIR` and `llmnas predict DIR` end to end
# on a PNG folder written from Fashion-MNIST: the saved folder holds every file;
# model.onnx passes Debian's onnx checker; PyTorch's Net from model.py loaded with
# load_safetensors (strict, BatchNorm running statistics included) gives predict's
# logits, and so does model.onnx run op by op; predict's top-1 on the validation
# images equals the trained network's (tests/py/model_check.py); bad input to
# predict is named; --json and --top work.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if ! $PY -c "import PIL, onnx, torch" 2>/dev/null || [ ! -r "$FM" ]; then
    skip "python3-pil, python3-onnx, python3-torch or dataset-fashion-mnist not installed"
    exit 0
fi
export LLMNAS_CACHE_DIR="$T/cache"
$PY "$ROOT/tests/py/make_image_folder.py" "$T/fm" --train 3000 --test 500
M="$T/model"

# The reference small network has BatchNorm (running statistics) and pooling.
run "$LLMNAS" train "$ROOT/examples/nets/bench_small.lua" --dataset "folder:$T/fm" --threads 2 \
    --save "$M" --json
expect_rc 0 "train --save"
for f in model.safetensors model.onnx model.json model.lua model.py meta.json validation.json; do
    if [ -s "$M/$f" ]; then pass "$f written"; else fail "$f missing"; fi
done
grep -q '"0-T-shirt"' "$M/meta.json" && grep -q '"mean"' "$M/meta.json" && grep -Eq '"onnx_opset":[[:space:]]*17' "$M/meta.json"
if [ $? -eq 0 ]; then pass "meta.json: class names, mean, opset"; else fail "meta.json content"; cat "$M/meta.json"; fi
grep -q 'running_var' "$M/model.safetensors" && grep -q 'num_batches_tracked' "$M/model.safetensors"
if [ $? -eq 0 ]; then pass "safetensors holds BatchNorm running statistics"; else fail "no running stats"; fi

# predict on the validation images (files named in validation.json) and the test folder
$PY -c "import json,sys; print('\n'.join(sys.argv[2] + '/' + v['file'] for v in json.load(open(sys.argv[1]))))" \
    "$M/validation.json" "$T/fm" >"$T/val.txt"
run sh -c "'$LLMNAS' predict '$M' \$(cat '$T/val.txt') '$T/fm/test' --json --logits --threads 2"
expect_rc 0 "predict on 300 validation images and the test folder"
cp "$T/out" "$T/pred.jsonl"
expect_err "800 images in" "summary counts every image"
run $PY "$ROOT/tests/py/model_check.py" "$M" "$T/pred.jsonl" "$T/fm"
if [ "$rc" -eq 0 ]; then pass "PyTorch, ONNX and validation agree with predict"; else fail "model_check"; fi
sed 's/^/     /' "$T/out"

first=$(ls "$T/fm/test/3-Dress" | head -n 1)
run "$LLMNAS" predict "$M" "$T/fm/test/3-Dress/$first" --top 2
expect_rc 0 "predict one image"
n=$(awk -F'\t' '{print NF}' "$T/out")
if [ "$n" = 3 ]; then pass "--top 2 gives two classes"; else fail "--top 2 gave $n fields"; fi

printf 'not an image' >"$T/bad.png"
run "$LLMNAS" predict "$M" "$T/bad.png" "$T/fm/test/3-Dress/$first"
expect_rc 65 "an unreadable image"
expect_err "bad.png: not a PNG or JPEG image" "is named"
expect_out "$first" "and the others are still classified"
run "$LLMNAS" predict "$T/nomodel" "$T/bad.png"
expect_rc 66 "missing model folder"
expect_err "nomodel/meta.json: cannot read" "names the missing file"
run "$LLMNAS" predict "$M"
expect_rc 64 "no images"
run "$LLMNAS" predict "$M" "$T/bad.png" --frob
expect_rc 64 "unknown option"

# A damaged weights file is refused, not half-loaded.
cp -r "$M" "$T/m2"
head -c 2000 "$M/model.safetensors" >"$T/m2/model.safetensors"
run "$LLMNAS" predict "$T/m2" "$T/fm/test/3-Dress/$first"
expect_rc 66 "truncated safetensors"
expect_err "model.safetensors: tensor" "names the tensor that is missing"

# Ctrl-C stops predict after the batch in hand, through the commands' one SIGINT path:
# exit 130, what was classified is printed, and the summary line still comes. (A
# background job of a non-interactive shell starts with SIGINT ignored: without the
# handler, predict would not stop at all.)
$PY -c "import os,sys; [os.symlink(sys.argv[1], '%s/%05d.png' % (sys.argv[2], i)) for i in range(20000)]" \
    "$T/fm/test/3-Dress/$first" "$(mkdir -p "$T/many" && echo "$T/many")"
"$LLMNAS" predict "$M" "$T/many" --batch 1 --threads 1 >"$T/out" 2>"$T/err" </dev/null &
pid=$!
n=0
while [ ! -s "$T/out" ] && [ $n -lt 1200 ] && kill -0 $pid 2>/dev/null; do sleep 0.05; n=$((n + 1)); done
kill -INT $pid
wait $pid
rc=$?
expect_rc 130 "Ctrl-C during predict"
expect_err "images in" "the summary line is printed"
lines=$(wc -l <"$T/out")
if [ "$lines" -gt 0 ] && [ "$lines" -lt 20000 ]; then pass "stopped early: $lines of 20000 images classified"
else fail "Ctrl-C: $lines of 20000 images classified"; fi

# The ops of issue 13 (LayerNorm over channels and features, BatchNorm1d, PReLU, ELU,
# Mish, Softmax, Dropout2d, global max pooling, scalar arithmetic) through the same
# checks: ONNX passes the checker and gives PyTorch's logits, model.py loads strictly.
M2="$T/model_ops"
run "$LLMNAS" train "$ROOT/tests/arch_nets/norms_gates.lua" --dataset "folder:$T/fm" --threads 2 \
    --subset 1000 --save "$M2" --json
expect_rc 0 "train --save a network of the new ops"
$PY -c "import json,sys; print('\n'.join(sys.argv[2] + '/' + v['file'] for v in json.load(open(sys.argv[1]))))" \
    "$M2/validation.json" "$T/fm" >"$T/val2.txt"
run sh -c "'$LLMNAS' predict '$M2' \$(cat '$T/val2.txt') --json --logits --threads 2"
expect_rc 0 "predict with the new ops"
cp "$T/out" "$T/pred2.jsonl"
run $PY "$ROOT/tests/py/model_check.py" "$M2" "$T/pred2.jsonl" "$T/fm"
if [ "$rc" -eq 0 ]; then pass "new ops: PyTorch, ONNX and validation agree with predict"; else fail "model_check (new ops)"; fi
sed 's/^/     /' "$T/out"
