# bench_strategies.sh: evolve.lua vs random.lua at an equal training budget (both
# with their defaults: cache and early abort, BENCH_ON_ITERS iterations: the same
# evolve runs as bench_budget.sh's), BENCH_SEEDS seeds each:
# `llmnas compare`'s table of best-so-far against training CPU-seconds (median,
# min-max over seeds); then the 1-epoch proxy's rank correlation with
# BENCH_EPOCHS-epoch training (default 10) on BENCH_NETS networks of evolve's runs
# without early abort (bench_budget.sh's: every network has its full proxy), the
# top half and the rest at random (default 20; tests/bench/fidelity.lua).
# Settings: tests/bench/budget_env.sh (BENCH_FULL=1, BENCH_SEEDS, BENCH_DIR, ...).
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/bench/budget_env.sh
runs="" evolves=""
for s in $(seq 1 "$SEEDS"); do
    # long enough that evolution is under way: the first POPULATION (8) candidates
    # of evolve are random.lua's draws for the same seed
    RUN_ITERS=$ON_ITERS
    run_once "on$s" evolve "$s"
    run_once "random$s" random "$s"
    unset RUN_ITERS
    run_once "off$s" evolve "$s" --set abort=off
    runs="$runs $D/on$s.db $D/random$s.db"
    evolves="$evolves,$D/off$s.db"
done
# shellcheck disable=SC2086
"$LLMNAS" compare $runs --points 6
NETS=${BENCH_NETS:-20}
"$LLMNAS" run tests/bench/fidelity.lua "${evolves#,}" $((NETS / 2)) $((NETS - NETS / 2)) "${BENCH_EPOCHS:-10}" "${BENCH_FIDELITY_SUBSET:-run}"
