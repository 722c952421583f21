# test_show_budget.sh: `llmnas show` on records of early abort and multi-fidelity
# search: a pruned candidate's curve, where it stopped and why; a candidate's time
# breakdown; the leaderboard leaves lower-fidelity records out.
. "$(dirname "$0")/lib.sh"

run "$LLMNAS" run "$ROOT/tests/e2e/budget_records.lua" "$T/b.db"
expect_rc 0 "records written"
run "$LLMNAS" show --db "$T/b.db" 1
expect_rc 0 "show the run"
grep -E "^ +1 +1 +81\.00%" "$T/out" >/dev/null && pass "the full-fidelity best ranks first" ||
    fail "the leaderboard's first row is not iteration 1 at 81%"
if grep -E "^ +[0-9]+ +2 +93\.00%" "$T/out" >/dev/null; then
    fail "a lower-fidelity record is ranked with the full ones"
else
    pass "the lower-fidelity record (93%) is not ranked"
fi
expect_out "1 record trained at a lower fidelity left out" "the leaderboard says it left one out"
# the ranking reads past the lower-fidelity records: --top 1 still has a row, and
# the runs listing's best is the full-fidelity one (the 93% record ranks first by
# the metric alone)
run "$LLMNAS" show --db "$T/b.db" 1 --top 1
grep -E "^ +1 +1 +81\.00%" "$T/out" >/dev/null && pass "--top 1 ranks the full-fidelity best, not an empty board" ||
    fail "--top 1 does not show iteration 1 at 81%"
run "$LLMNAS" show --db "$T/b.db"
grep -E "^ +1 .* 81\.00% +1 +0$" "$T/out" >/dev/null && pass "the runs listing's best is the full-fidelity one" ||
    fail "the runs listing's best is not iteration 1 at 81%"
run "$LLMNAS" show --db "$T/b.db" 1:1
expect_out "time       5.50 s: compile 0.10 build 0.20 train 4.00 probe 0.30 evaluate 0.50 ipc 0.40 (1.38x the training loop)" \
    "a candidate's time breakdown and its ratio to the training loop"
run "$LLMNAS" show --db "$T/b.db" 1:3
expect_rc 0 "show the pruned candidate"
expect_out "run 1, iteration 3: pruned" "its status"
expect_out "stopped at 20% of the epoch: held-out accuracy 50.0% vs 70.0%" "why it was stopped"
expect_out "10: 1.500 / 40.0% 20: 1.200 / 50.0%" "its partial curve"
expect_out "pruned     at step 20 of 100 (20%)" "where it stopped"
run "$LLMNAS" show --db "$T/b.db" 1:4
expect_out "10: 2.100 / 30.0%w 20: 2.000 / 35.0%w" "a one-epoch curve shows the window's accuracy"
