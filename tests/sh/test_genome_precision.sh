# test_genome_precision.sh: examples/evolve.lua and examples/random.lua honour
# `--set precision=...` like their other recipe fields: the run's recipe and every
# trained record carry it (bf16 = 1 where the CPU has native bf16, detected by
# train.precision, never assumed; refused with exit 64 where it has not), the default
# stays the trainer's fp32, and a value the trainer refuses stops the run before it
# exists with one line.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
SMALL="--iterations 1 --set subset=256 --set val_subset=128 --set reference=off --set abort=off"
# check.lua DB WANT: the run's recipe precision and each trained record's bf16 flag
cat >check.lua <<'LUA'
local db = assert(memory.open(arg[1], { readonly = true }))
local run = db:latest_run()
local recipe = db:run(run).meta.recipe
local n, bad = 0, {}
for r in db:iter(run) do
  if r.status == "ok" then
    n = n + 1
    if r.metrics.bf16 ~= tonumber(arg[3]) then bad[#bad + 1] = ("iter %d bf16=%s"):format(r.iter, tostring(r.metrics.bf16)) end
  end
end
print(("recipe precision %s, %d trained, %s"):format(tostring(recipe.precision), n, #bad == 0 and "all agree" or table.concat(bad, ", ")))
if recipe.precision ~= arg[2] or n == 0 or #bad > 0 then os.exit(1) end
LUA
printf 'local p, why = train.precision("bf16") print(p or ("no: " .. why))\n' >native.lua
"$LLMNAS" run native.lua >native.out 2>&1
for s in evolve random; do
    run "$LLMNAS" run "$ROOT/examples/$s.lua" --db "$s-default.db" $SMALL
    expect_rc 0 "$s.lua runs on its default precision"
    run "$LLMNAS" run check.lua "$s-default.db" fp32 0
    expect_rc 0 "$s.lua's default: the trainer's fp32 in the recipe and the records"
    if grep -qx bf16 native.out; then
        run "$LLMNAS" run "$ROOT/examples/$s.lua" --db "$s-bf16.db" $SMALL --set precision=bf16
        expect_rc 0 "$s.lua runs with --set precision=bf16"
        run "$LLMNAS" run check.lua "$s-bf16.db" bf16 1
        expect_rc 0 "$s.lua --set precision=bf16: the recipe says bf16 and the candidate trained in bf16"
    else
        run "$LLMNAS" run "$ROOT/examples/$s.lua" --db "$s-bf16.db" $SMALL --set precision=bf16
        expect_rc 64 "$s.lua --set precision=bf16 without native bf16 ($(cat native.out)): refused"
        skip "$s.lua trained in bf16: this CPU has no native bf16"
    fi
    run "$LLMNAS" run "$ROOT/examples/$s.lua" --db "$s-bad.db" $SMALL --set precision=bf17
    expect_rc 64 "$s.lua --set precision=bf17: EX_USAGE"
    expect_err "recipe: train.precision: precision must be" "$s.lua: a refused precision says what is wrong"
    [ "$(wc -l <"$T/err")" -eq 1 ] && pass "$s.lua: a refused precision is one line" ||
        fail "$s.lua: a refused precision is $(wc -l <"$T/err") lines"
    [ -e "$s-bad.db" ] && fail "$s.lua: a refused precision left a memory" ||
        pass "$s.lua: a refused precision creates no memory"
done
