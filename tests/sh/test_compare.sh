# test_compare.sh: examples/random.lua runs on real training, and `llmnas compare`
# puts it beside evolve.lua at an equal training budget (median, min-max over two
# seeds each) from real memories; bad arguments get clear errors.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
SMALL="--iterations 2 --set subset=256 --set val_subset=256 --set reference=off"
for seed in 1 2; do
    run "$LLMNAS" run "$ROOT/examples/random.lua" --db "r$seed.db" $SMALL --set seed=$seed
    expect_rc 0 "random.lua runs (seed $seed)"
    expect_out "iter 2/2" "random.lua spends its budget (seed $seed)"
    run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db "e$seed.db" $SMALL --set seed=$seed
    expect_rc 0 "evolve.lua runs (seed $seed)"
done
if "$LLMNAS" show --db r1.db 1:1 | grep -q "rendered by llmnas.genome"; then
    pass "random.lua proposes networks of the genome space"
else
    fail "random.lua's candidates are not rendered genomes"
fi

run "$LLMNAS" compare r1.db e1.db r2.db e2.db
expect_rc 0 "compare reads four runs"
expect_out "equal training budget:" "it states the budget"
expect_out "median [min-max] over runs" "it says what the cells are"
grep -E "^random +2 " "$T/out" >/dev/null && pass "random: one row over its 2 runs" || fail "no random row over 2 runs"
grep -E "^evolve +2 " "$T/out" >/dev/null && pass "evolve: one row over its 2 runs" || fail "no evolve row over 2 runs"

# the last column is the best within the budget: check it against the records
run "$LLMNAS" compare r1.db:1 --json
expect_rc 0 "one run, as JSON"
cp "$T/out" table.json
run "$LLMNAS" run "$ROOT/tests/e2e/check_compare.lua" table.json r1.db
expect_rc 0 "the table's best at the full budget is the run's best accuracy"

run "$LLMNAS" compare
expect_rc 64 "no runs: usage error"
expect_err "no runs given" "it says what is missing"
run "$LLMNAS" compare "$T/missing.db"
expect_rc 65 "a missing memory"
expect_err "cannot open the memory" "it names the problem"
run "$LLMNAS" compare r1.db --budget nope
expect_rc 64 "a bad budget"
expect_err "--budget needs a positive number" "it says what is wrong"
run "$LLMNAS" run "$ROOT/examples/random.lua" --db r9.db --iterations 1 --set subset=128 --set val_subset=128 \
    --set reference=off
run "$LLMNAS" compare r1.db r9.db
expect_rc 65 "runs of another recipe (subset) are refused"
expect_err "another recipe (fidelity)" "it says why"
# a limit that does not change results (the wall-clock time limit) does not keep runs apart
run "$LLMNAS" run "$ROOT/examples/random.lua" --db r8.db $SMALL --iterations 1 --set seed=1 --set time_limit=900
run "$LLMNAS" compare r1.db r8.db
expect_rc 0 "a run with another time limit compares"
grep -E "^random +2 " "$T/out" >/dev/null && pass "both runs in the random row" || fail "the time-limited run is missing"
