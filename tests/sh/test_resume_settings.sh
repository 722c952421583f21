# test_resume_settings.sh: a resumed run keeps what it was started with (llmnas.resume).
# examples/evolve.lua on real training (a small Fashion-MNIST subset), started with --set
# options and resumed with the command it prints (--resume --db, no --set): its records
# are those of an uninterrupted run with the same settings, and it says which settings it
# restored. A --set that differs, or that the run was not started with, and a changed
# task (--dataset) or recipe (an edited strategy) are refused in one line (exit 64) with
# the run left as it was; the same --set again is accepted (README: "the same line with
# --resume"). A --run or --resume that names no run is refused the same way.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
SET="--set subset=512 --set val_subset=256 --set seed=7 --set population=3 --set reference=off"
EVOLVE="$ROOT/examples/evolve.lua"
run "$LLMNAS" run "$EVOLVE" --db whole.db --iterations 5 $SET
expect_rc 0 "an uninterrupted run of 5 iterations"
run "$LLMNAS" run "$EVOLVE" --db part.db --iterations 3 $SET
expect_rc 0 "the same run stopped after 3"

records() { "$LLMNAS" show --db "$1" --format csv 2>/dev/null | wc -l; }
n_before=$(records part.db)
# refused: each leaves the run as it was
for bad in "--dataset mnist:--dataset mnist: run 1 was made with task.dataset = fashion-mnist" \
    "--set seed=8:--set seed=8: run 1 was started with seed=7" \
    "--set sample=2:--set sample=2: run 1 was started without it"; do
    opt=${bad%%:*}
    # shellcheck disable=SC2086
    run "$LLMNAS" run "$EVOLVE" --db part.db --iterations 5 --resume $opt
    expect_rc 64 "--resume $opt is refused"
    expect_err "${bad#*:}" "--resume $opt: it says what the run was started with"
    if grep -q "traceback" "$T/err"; then fail "--resume $opt: a traceback"; else pass "--resume $opt: no traceback"; fi
    [ "$(records part.db)" = "$n_before" ] && pass "--resume $opt: the run is as it was" ||
        fail "--resume $opt: the run changed ($n_before lines, now $(records part.db))"
done
expect_err "keeps its settings (--set population=3 --set reference=off --set seed=7 --set subset=512 --set val_subset=256)" \
    "the refusal lists the run's settings (the last one's, --set sample=2)"

# a run that is not there: one line, exit 64, no traceback
run "$LLMNAS" run "$EVOLVE" --db part.db --run 99 --iterations 5
expect_rc 64 "--run 99 (no such run) is refused"
expect_err "--run 99: part.db has no run 99 (llmnas show --db part.db lists its runs)" "it says so"
run "$LLMNAS" run "$EVOLVE" --db empty.db --resume --iterations 5
expect_rc 64 "--resume with no run in the memory is refused"
expect_err "--resume: there is no run to resume in empty.db" "it says so"
if grep -q "traceback" "$T/err"; then fail "--resume with no run: a traceback"; else pass "--resume with no run: no traceback"; fi

# an edited strategy (its recipe) is refused the same way
sed 's/^local TASK, TRAIN = genome.task(set).*/&\nTRAIN.momentum = 0.5/' "$EVOLVE" >edited.lua
if cmp -s "$EVOLVE" edited.lua; then fail "the edit did not apply (evolve.lua's TRAIN line moved)"; else
    run "$LLMNAS" run edited.lua --db part.db --iterations 5 --resume
    expect_rc 64 "a resumed run with an edited recipe is refused"
    expect_err "run 1 was made with recipe.momentum = " "it names the recipe field that changed"
fi

# the printed command: --resume --db, no --set: the settings are restored
run "$LLMNAS" run "$EVOLVE" --db part.db --iterations 4 --resume
expect_rc 0 "--resume without the --set options"
expect_out "resuming run 1 at iteration 4 with its settings (--set population=3 --set reference=off --set seed=7 --set subset=512 --set val_subset=256)" \
    "it says which settings it restored"
# the same line with --resume: accepted
# shellcheck disable=SC2086
run "$LLMNAS" run "$EVOLVE" --db part.db --iterations 5 --resume $SET
expect_rc 0 "--resume with the same --set options"
run "$LLMNAS" run "$ROOT/tests/e2e/compare_runs.lua" whole.db 1 part.db 1
expect_rc 0 "the resumed run's records are the uninterrupted run's"
expect_out "same 5 records" "all five of them"
