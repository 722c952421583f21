# test_registry.sh: one dataset registry (runtime/train/dataset.c) behind every
# view of it — `llmnas run --help` and `llmnas train --help` list each dataset
# train.datasets() knows (cifar100-coarse included) with its shape, and the
# defaults in `train --help` are train.defaults(); a --data folder that does not
# hold the dataset is an error naming what was looked for (issue #18), in
# `llmnas train` and in `llmnas run`.
. "$(dirname "$0")/lib.sh"

cat >"$T/list.lua" <<'LUA'
for _, n in ipairs(train.datasets()) do
  local d = train.datasets()[n]
  if d.input then
    print(n, table.concat(d.input, "x") .. ", " .. d.classes .. " classes")
  else  -- a scheme (folder:): the shape comes from the files
    print(n .. "PATH", "shape and classes from the files")
  end
end
local d = train.defaults()
print("defaults", d.lr, d.momentum, d.weight_decay, d.seed, d.batch)
LUA
run "$LLMNAS" run "$T/list.lua"
expect_rc 0 "train.datasets() from a script"
cp "$T/out" "$T/list"
grep -q "^cifar100-coarse	3x32x32, 20 classes" "$T/list" && pass "the registry has cifar100-coarse" ||
    fail "no cifar100-coarse in train.datasets()"
n=$(grep -vc '^defaults' "$T/list")
[ "$n" -ge 5 ] && pass "$n datasets registered" || fail "only $n datasets"

for cmd in run train; do
    run "$LLMNAS" "$cmd" --help
    expect_rc 0 "$cmd --help"
    cp "$T/out" "$T/help-$cmd"
    missing=
    while IFS='	' read -r name shape; do
        [ "$name" = defaults ] && continue
        grep -qE "^  $name +$shape" "$T/help-$cmd" || missing="$missing $name"
    done <"$T/list"
    [ -z "$missing" ] && pass "$cmd --help lists every registered dataset with its shape" ||
        fail "$cmd --help lacks:$missing"
    grep -q "(default fashion-mnist)\|else fashion-mnist)" "$T/help-$cmd" &&
        pass "$cmd --help names the registry's default" || fail "$cmd --help: no default dataset"
done
set -- $(grep '^defaults' "$T/list")
grep -q "SGD lr $2," "$T/help-train" && grep -q "(default $5)" "$T/help-train" &&
    grep -q "seed $5\|(default $5)" "$T/help-train" && pass "train --help shows train.defaults()" ||
    fail "train --help defaults differ from train.defaults() ($*)"

# issue #18: --data pointing at a folder without the dataset.
mkdir -p "$T/wrong"
NET="$ROOT/examples/nets/bench_small.lua"
run "$LLMNAS" train "$NET" --data "$T/wrong"
expect_rc 66 "train --data at a folder without Fashion-MNIST fails"
expect_err "dataset fashion-mnist: train-images-idx3-ubyte or train-labels-idx1-ubyte (optionally .gz) not found in $T/wrong/fashion-mnist, $T/wrong" \
    "the error names the files and folders looked in"
expect_err "so /usr/share/datasets/fashion-mnist is not used" "and says the system copy was not used"
LLMNAS_DATA="$T/wrong" run "$LLMNAS" train "$NET"
expect_rc 66 "LLMNAS_DATA at a folder without Fashion-MNIST fails too"

cat >"$T/one.lua" <<'LUA'
llmnas = require "llmnas"
llmnas.search { name = "t", quiet = true, budget = { iterations = 1 },
  propose = function() return "function Net(x, classes) return nn.Linear(nn.Flatten(x), classes) end" end }
LUA
run "$LLMNAS" run "$T/one.lua" --db "$T/db" --data "$T/wrong"
expect_rc 66 "run --data at a folder without the dataset stops before the run exists (EX_NOINPUT)"
expect_err "training data: dataset fashion-mnist: train-images-idx3-ubyte" "run names what was looked for"
expect_err "not found in $T/wrong/fashion-mnist" "run names the folder"
if grep -q "traceback" "$T/err"; then fail "run --data: a traceback for a user's mistake"
else pass "run --data: no traceback"; fi
