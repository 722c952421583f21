# bench_budget.sh: issue #12's compute figure: the training CPU-seconds evolve.lua
# with the evaluation cache and early abort (its defaults) needs to reach the final
# best of evolve.lua without them (early abort off, a cache hit charged what
# training it again would cost), median over the seeds (target <= 1/3; the run with
# them gets BENCH_ON_ITERS iterations, 2 x by default, and the figure within the same
# iterations is printed beside it); and the
# per-candidate time breakdown against the training loops, evaluation vs training
# images/s. Settings: tests/bench/budget_env.sh (BENCH_FULL=1, BENCH_SEEDS, ...).
# A third run per seed, evolve.lua with successive halving on top of cache and abort
# (stdlib/doc/budget.md, "Fidelities and successive halving"), gets the same figure:
#   BENCH_HALVING=RUNGS  its --set halving (default: 1000 with BENCH_FULL=1, the setting
#                        measured in stdlib/doc/budget.md; else on, a quarter of the subset;
#                        off: no such run); BENCH_ETA=N, BENCH_BRACKET=N its --set eta / bracket
#   BENCH_SH_ITERS=N     its iterations, lower rungs included (default 2 x BENCH_ON_ITERS)
# Its runs are named after the setting (sh1_on_e4_b8.db), so several share a BENCH_DIR.
#   BENCH_REPRICE=N      then tests/bench/reprice.lua: the halving figure again with every
#                        training of the runs without abort and with halving priced by the
#                        median of N fresh measurements in shuffled order (default 3 with
#                        BENCH_FULL=1, else 0: off): on a shared machine the same networks
#                        cost up to 40% more CPU-seconds in one run than in another
#                        made minutes later, which the runs' own figures carry
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/bench/budget_env.sh
if [ "${BENCH_FULL:-0}" = 1 ]; then HALVING=${BENCH_HALVING:-1000}; else HALVING=${BENCH_HALVING:-on}; fi
ETA=${BENCH_ETA:-4} BRACKET=${BENCH_BRACKET:-8}
SH_ITERS=${BENCH_SH_ITERS:-$((ON_ITERS * 2))}
pairs=""
for s in $(seq 1 "$SEEDS"); do
    run_once "off$s" evolve "$s" --set abort=off
    # measured in compute: it may run more iterations than the run without them
    RUN_ITERS=$ON_ITERS
    run_once "on$s" evolve "$s"
    unset RUN_ITERS
    pairs="$pairs $D/off$s.db,$D/on$s.db"
    if [ "$HALVING" != off ]; then
        sh="sh${s}_$(echo "$HALVING" | tr , -)_e${ETA}_b${BRACKET}"
        RUN_ITERS=$SH_ITERS
        run_once "$sh" evolve "$s" --set halving="$HALVING" --set eta="$ETA" --set bracket="$BRACKET"
        unset RUN_ITERS
        pairs="$pairs,$D/$sh.db"
    fi
done
# shellcheck disable=SC2086
"$LLMNAS" run tests/bench/budget.lua $pairs
REPRICE=${BENCH_REPRICE:-$([ "${BENCH_FULL:-0}" = 1 ] && echo 3 || echo 0)}
if [ "$HALVING" != off ] && [ "$REPRICE" -gt 0 ]; then
    # OFF_DB,ON_DB,SH_DB -> OFF_DB,SH_DB
    # shellcheck disable=SC2086
    "$LLMNAS" run tests/bench/reprice.lua $(for p in $pairs; do echo "${p%%,*},${p##*,}"; done) repeats="$REPRICE"
fi
