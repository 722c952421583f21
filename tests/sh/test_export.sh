# test_export.sh: `llmnas export` — formats, -o, round trips, exit codes.
. "$(dirname "$0")/lib.sh"

resnet="$ROOT/examples/nets/bench_resnet.lua"
hash=$("$LLMNAS" check "$resnet" | sed -n 's/^Graph hash: //p')

run "$LLMNAS" export "$resnet" --format json
expect_rc 0 "json to stdout"
expect_out '{"input":[1,28,28],"nodes":[{"op":"Input"},' "canonical JSON"
[ "$(grep -c '' "$T/out")" -eq 1 ] && pass "one line" || fail "JSON is not one line"

run "$LLMNAS" export "$resnet" --format lua -o "$T/re.lua"
expect_rc 0 "lua to a file"
[ -s "$T/re.lua" ] && pass "file written" || fail "no file written"
run "$LLMNAS" check "$T/re.lua"
expect_out "Graph hash: $hash" "the Lua export compiles back to the same hash"

run "$LLMNAS" export "$resnet" --format=pytorch --output="$T/net.py"
expect_rc 0 "pytorch"
grep -q "class Net(nn.Module):" "$T/net.py" && pass "class Net" || fail "no class Net"
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
    out=$(/usr/bin/python3 "$T/net.py" 2>&1)
    [ "$out" = "696042 (2, 10)" ] && pass "PyTorch runs it: same params and output shape" ||
        fail "PyTorch export printed '$out'"
else
    skip "PyTorch not installed (make deps installs python3-torch): the export is not run"
fi

"$LLMNAS" export "$resnet" --format json >"$T/g.json"
run "$LLMNAS" export "$T/g.json" --format json
cmp -s "$T/out" "$T/g.json" && pass "JSON -> JSON is the identity" || fail "JSON round trip differs"

run "$LLMNAS" export "$resnet"
expect_rc 64 "--format is required"
run "$LLMNAS" export "$resnet" --format onnx
expect_rc 64 "unknown format"
expect_err "--format must be json, lua or pytorch" "lists the formats"
run "$LLMNAS" export "$T/none.lua" --format json
expect_rc 66 "missing file"
printf 'function Net(x, c) return x end\n' >"$T/bad.lua"
run "$LLMNAS" export "$T/bad.lua" --format lua -o "$T/never.lua"
expect_rc 65 "a candidate that does not compile"
[ ! -e "$T/never.lua" ] && pass "no output file on failure" || fail "output written on failure"
run "$LLMNAS" export "$resnet" --format json -o "$T/no/such/dir/x.json"
expect_rc 73 "unwritable output"
