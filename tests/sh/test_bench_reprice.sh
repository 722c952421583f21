# test_bench_reprice.sh: tests/bench/reprice.lua on two real small evolve runs (a
# Fashion-MNIST subset of 1024 images), one without cache and abort and one with
# successive halving: it trains every distinct training of both again at its recorded
# fidelity (the lower rungs' subset and validation images), each gives its record's
# accuracy again, and it prints the repriced ratio (abort off in both: a pruned record is
# not repriced). The figures themselves, CPU-seconds of this machine's moment, are not
# checked.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
SET="--set subset=1024 --set val_subset=1024 --set reference=off --set population=2"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db off.db --iterations 3 $SET --set abort=off
expect_rc 0 "a run without abort"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db sh.db --iterations 6 $SET --set halving=256 --set bracket=2 --set eta=2 \
    --set abort=off
expect_rc 0 "a run with successive halving (lower rungs validate on 500 of 1024 images)"
run "$LLMNAS" run "$ROOT/tests/bench/reprice.lua" off.db,sh.db repeats=1
expect_rc 0 "reprice.lua runs"
n=$(sed -n 's/^reprice: \([0-9]*\) distinct trainings.*/\1/p' "$T/out")
[ "${n:-0}" -ge 4 ] && pass "it trains the runs' distinct trainings again ($n)" || fail "distinct trainings: '${n}'"
expect_out "  0 of ${n:-x} trainings gave another accuracy than their record's" \
    "each, trained again at its recorded fidelity, gives its record's accuracy"
expect_out "repriced (median of 1 shuffled measurements per training)" "it prints the repriced figure"
