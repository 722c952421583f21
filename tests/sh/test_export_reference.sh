# test_export_reference.sh: shapes, parameters and FLOPs of 15 networks equal PyTorch's
# (tests/py/arch_reference.py builds each one independently with torch.nn from the graph
# JSON), the PyTorch export runs with the same parameter count and output shape, and the
# Lua export compiles back to the same hash.
. "$(dirname "$0")/lib.sh"

if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    fail "python3-torch is missing: /usr/bin/python3 cannot import torch (make deps)"
    exit 1
fi
nets="$ROOT/examples/nets/bench_small.lua $ROOT/examples/nets/bench_vgg.lua
      $ROOT/examples/nets/bench_resnet.lua $ROOT/examples/nets/bench_small.lua@3x32x32
      $ROOT/examples/nets/bench_vgg.lua@3x32x32 $ROOT/examples/nets/bench_resnet.lua@3x32x32
      $ROOT/tests/arch_nets/*.lua"
# shellcheck disable=SC2086
/usr/bin/python3 "$ROOT/tests/py/arch_reference.py" "$LLMNAS" $nets >"$T/py" 2>&1
while IFS= read -r line; do
    case "$line" in
        "ok   "*) pass "${line#ok   }" ;;
        "FAIL "*) fail "${line#FAIL }" ;;
        "     "*) echo "$line" ;;
    esac
done <"$T/py"
grep -q " passed, 0 failed" "$T/py" || { cat "$T/py"; fail "arch_reference.py did not finish cleanly"; }
