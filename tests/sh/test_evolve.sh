# test_evolve.sh: the main job (`make demo`: examples/evolve.lua on its embedded defaults,
# offline) runs from any directory, improves on its first candidate and beats the
# hand-written reference network on the same subset (issue #12's bar) within its budget, and
# ends with the best architecture's summary, lines comparing the best with the hand-written
# reference network (examples/nets/bench_small.lua, trained with the same recipe on the same
# subset) and with the first candidate, and where its records and exports are.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
run "$LLMNAS" run "$ROOT/examples/evolve.lua"
expect_rc 0 "evolve.lua runs on its defaults"
cp "$T/out" demo.out
expect_out "iter 16/16" "it spends its whole budget"
expect_out "best: iteration" "it reports the best"
expect_out "Total params" "it prints the best architecture's summary"
expect_out "exports: llmnas.db/exports/run-1/best.lua" "it says where the exports are"
expect_out "llmnas show --db llmnas.db 1" "it says how to see the records"
expect_out "vs the reference network (examples/nets/bench_small.lua, same recipe and subset)" \
    "it compares the best with the reference network"
expect_out "vs the first candidate" "it compares the best with the first candidate"
grep -E "vs the reference network .*%: [+-][0-9.]+ points" "$T/out" >/dev/null &&
    pass "it gives the margin over the reference in points" || fail "no margin over the reference"
for f in best.lua best.json best.py; do
    [ -s "llmnas.db/exports/run-1/$f" ] && pass "export $f written" || fail "export $f missing"
done
run "$LLMNAS" check "llmnas.db/exports/run-1/best.lua"
expect_rc 0 "the exported best compiles again"
grep -F "(the search did not beat the reference)" demo.out >/dev/null &&
    fail "the demo says it did not beat the reference network" || pass "the demo does not say it lost to the reference"
run "$LLMNAS" run "$ROOT/tests/e2e/check_evolve.lua" llmnas.db reference
expect_rc 0 "the search improves on its first candidate and beats the reference network on the same subset"
grep -E "^best|vs the reference|vs the first" demo.out
cat "$T/out"
