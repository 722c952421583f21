# bench_budget.sh: issue #12's compute figure: the training CPU-seconds evolve.lua
# with the evaluation cache and early abort (its defaults) needs to reach the final
# best of evolve.lua without them (early abort off, a cache hit charged what
# training it again would cost), median over the seeds (target <= 1/3; the run with
# them gets BENCH_ON_ITERS iterations, 2 x by default, and the figure within the same
# iterations is printed beside it); and the
# per-candidate time breakdown against the training loops, evaluation vs training
# images/s. Settings: tests/bench/budget_env.sh (BENCH_FULL=1, BENCH_SEEDS, ...).
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/bench/budget_env.sh
pairs=""
for s in $(seq 1 "$SEEDS"); do
    run_once "off$s" evolve "$s" --set abort=off
    # measured in compute: it may run more iterations than the run without them
    RUN_ITERS=$ON_ITERS
    run_once "on$s" evolve "$s"
    unset RUN_ITERS
    pairs="$pairs $D/off$s.db,$D/on$s.db"
done
# shellcheck disable=SC2086
"$LLMNAS" run tests/bench/budget.lua $pairs
