# test_check.sh: `llmnas check` — summary, exit codes, options, error and kind.
. "$(dirname "$0")/lib.sh"

small="$ROOT/examples/nets/bench_small.lua"

run "$LLMNAS" check "$small"
expect_rc 0 "check a valid candidate"
expect_out "Layer (type)" "Keras-style header"
expect_out "conv2d_1 (Conv2d)" "a layer row"
expect_out "[B, 32, 28, 28]" "output shapes"
expect_out "Total params: 50,282" "total params"
expect_out "Forward FLOPs per image: 7,739,648 (7.74 MFLOP" "FLOPs"
expect_out "Activation memory per image:" "activation memory"
expect_out "Graph hash: " "the hash"

run "$LLMNAS" check --input 3x32x32 --classes 10 "$small"
expect_rc 0 "--input 3x32x32"
expect_out "Total params: 60,458" "params at 3x32x32"
run "$LLMNAS" check "$small" --input=3x32x32 --classes=10
expect_rc 0 "options after the file, with ="
expect_out "Total params: 60,458" "same figures"

run "$LLMNAS" check "$ROOT/examples/nets/bench_vgg.lua"
expect_out "Total params: 1,147,722" "vgg params"
expect_out "(232.12 MFLOP" "vgg FLOPs"
run "$LLMNAS" check "$ROOT/examples/nets/bench_resnet.lua"
expect_out "Total params: 696,042" "resnet params"
expect_out "(161.02 MFLOP" "resnet FLOPs"

cat >"$T/bad.lua" <<'LUA'
function Net(x, classes)
  x = nn.Conv2d(x, 32, 3, {padding = 1})
  x = nn.MaxPool2d(x, 2)
  x = nn.Conv2d(x, 32, 3, {padding = 1})
  x = nn.MaxPool2d(x, 2)
  x = nn.Flatten(x)
  return nn.Linear(x, 3136, classes)
end
LUA
run "$LLMNAS" check "$T/bad.lua"
expect_rc 65 "a shape error"
expect_err "bad.lua: shape error" "names the kind"
expect_err "bad.lua:7: Linear: expected 3136 input features, got 1568 (input shape [B, 32, 7, 7])" \
    "names the line and shapes"

printf 'function Net(x, classes)\n  return nn.Linear(nn.Flatten(x), 10)\nend\n' >"$T/ten.lua"
run "$LLMNAS" check --classes 100 "$T/ten.lua"
expect_rc 65 "wrong number of classes"
expect_err "ten.lua: shape error" "kind shape"
expect_err "ten.lua:2: the network's output must be [B, 100], got [B, 10]" "output check"
run "$LLMNAS" check --classes 0 "$T/ten.lua"
expect_rc 0 "--classes 0 leaves the output unchecked"

printf 'function Net(x, c)\n  return nn.Linear(x c)\nend\n' >"$T/syntax.lua"
run "$LLMNAS" check "$T/syntax.lua"
expect_rc 65 "syntax error"
expect_err "syntax.lua: syntax error" "kind syntax"

run "$LLMNAS" check "$T/missing.lua"
expect_rc 66 "missing file"
expect_err "cannot read" "says why"

run "$LLMNAS" check
expect_rc 64 "no file"
run "$LLMNAS" check --bogus "$small"
expect_rc 64 "unknown option"
expect_err "unknown option '--bogus'" "names it"
run "$LLMNAS" check --input 3x32 "$small"
expect_rc 64 "bad --input"
run "$LLMNAS" check --classes ten "$small"
expect_rc 64 "bad --classes"
run "$LLMNAS" check "$small" "$small"
expect_rc 64 "two files"
run "$LLMNAS" check --help
expect_rc 0 "--help"
expect_out "usage: llmnas check" "help text"

"$LLMNAS" export "$small" --format json >"$T/small.json"
run "$LLMNAS" check "$T/small.json"
expect_rc 0 "a graph .json checks too"
expect_out "Total params: 50,282" "same figures from JSON"

# Ctrl-C while a worker is stuck in C code: the worker is killed, exit 130. The check
# runs in its own session, so that its workers (own process groups) are found by session
# id, not by a command-line pattern a concurrent run could match.
setsid -w sh -c 'echo $$ >"$0"; exec "$@"' "$T/sid" \
    "$LLMNAS" check --time-limit 20 "$ROOT/tests/hostile/c_loop_table_remove.lua" >"$T/out" 2>"$T/err" &
pid=$!
i=0
while [ ! -s "$T/sid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
sid=$(cat "$T/sid")
# interrupt once the worker exists (a loaded machine may be slow to fork it)
i=0
while [ "$(pgrep -s "$sid" | wc -l)" -lt 2 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT "$sid"
start=$(date +%s)
wait "$pid"
rc=$?
expect_rc 130 "interrupted by SIGINT"
expect_err "interrupted" "says so"
# the loop would run to its 20 s CPU limit (40 s deadline): 10 s is generous
[ $(($(date +%s) - start)) -le 10 ] && pass "stops at once" || fail "took too long to stop"
if left=$(pgrep -s "$sid"); then
    fail "the worker survived the interrupt: $left"
    pkill -KILL -s "$sid"
else
    pass "no worker left behind"
fi

# the same through arch.compile in a strategy
cat >"$T/strategy.lua" <<LUA
local f = assert(io.open("$ROOT/tests/hostile/c_loop_table_remove.lua"))
local src = f:read("a")
f:close()
local g, err, kind = arch.compile(src, {time_limit = 20})
print("not reached", g, err, kind)
LUA
"$LLMNAS" run "$T/strategy.lua" >"$T/out" 2>"$T/err" &
pid=$!
sleep 0.5
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc 130 "arch.compile interrupted by SIGINT"
expect_err "interrupted" "the strategy stops with 'interrupted'"
if grep -q "not reached" "$T/out"; then fail "the script went on"; else pass "the script stopped"; fi

# --json: one machine-readable line
run "$LLMNAS" check --json "$small"
expect_rc 0 "--json"
if /usr/bin/python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["status"] == "ok" and d["params"] == 50282 and d["flops"] == 7739648, d
assert d["layers"] == 10 and len(d["nodes"]) == 11 and d["output"] == [10], d
assert d["graph"]["nodes"][1]["op"] == "Conv2d" and len(d["graph_hash"]) == 32
' "$T/out"; then pass "--json carries the figures, nodes and graph"; else fail "--json content"; fi
# The per-node summary is one set of rows: the table, --json's nodes and g:layers() list the
# same live nodes under the same names (a branch the output does not use is in none).
for n in every_op defaults new_ops; do
    run "$LLMNAS" check "$ROOT/tests/optable/$n.lua"
    if cmp -s "$T/out" "$ROOT/tests/optable/$n.expected.check"; then pass "$n: the table as pinned"
    else fail "$n: check differs from tests/optable/$n.expected.check"; fi
    run "$LLMNAS" check --json "$ROOT/tests/optable/$n.lua"
    if cmp -s "$T/out" "$ROOT/tests/optable/$n.expected.check.json"; then pass "$n: --json as pinned"
    else fail "$n: check --json differs from tests/optable/$n.expected.check.json"; fi
done
cat >"$T/dead.lua" <<'EOF'
function Net(x, classes)
  local unused = nn.ReLU(nn.Conv2d(x, 4, 3))
  return nn.Linear(nn.Flatten(x), classes)
end
EOF
run "$LLMNAS" check "$T/dead.lua"
cp "$T/out" "$T/dead.table"
cat >"$T/dead_layers.lua" <<EOF
local f = assert(io.open("$T/dead.lua"))
local g = assert(arch.compile(f:read("a")))
for _, l in ipairs(g:layers()) do print(l.id, l.name, table.concat(l.inputs, ",")) end
EOF
"$LLMNAS" run "$T/dead_layers.lua" >"$T/dead.layers" 2>&1
run "$LLMNAS" check --json "$T/dead.lua"
if /usr/bin/python3 - "$T/out" "$T/dead.table" "$T/dead.layers" <<'EOF'
import json, sys
nodes = json.load(open(sys.argv[1]))["nodes"]
names = [n["name"] for n in nodes]
assert names == ["input", "flatten_1", "linear_2"], names
rows = [l for l in open(sys.argv[2]).read().split("\n")[2:] if l and not l.startswith("=")]
assert [l.split()[0] for l in rows[:3]] == names and rows[3].startswith("Total params"), rows
layers = [l.split("\t") for l in open(sys.argv[3]).read().splitlines()]
assert [l[1] for l in layers] == names and [l[0] for l in layers] == ["0", "1", "2"], layers
assert [l[2] for l in layers] == ["", "0", "1"], layers
EOF
then pass "a dead branch: the table, --json and g:layers() show the same three rows"
else fail "the three summaries disagree on a dead branch"; fi

run "$LLMNAS" check --json "$T/bad.lua"
expect_rc 65 "--json on a bad candidate"
expect_out '"status":"shape"' "status is the kind"
expect_out '"message":"' "and the message"
