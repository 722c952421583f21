# budget_env.sh: settings shared by bench_budget.sh and bench_strategies.sh (sourced;
# not a benchmark itself). Training CPU-seconds are the budget unit (the workers'
# user + system time). They depend on the load less than wall time does, but not
# nothing: with OpenMP's spinning wait a network measured 4.7 CPU-s on a quiet machine
# and 11.2 at load 5 (llmnas now starts OpenMP with a short spin, which narrows
# that; stdlib/doc/training.md). Make the runs that are compared at one load, and
# read budget.lua's figure in work (FLOPs x images, load-free) beside it.
#
#   BENCH_FULL=1     the issue's settings: the demo's subset (6000 training images,
#                    2000 validation), 16 iterations, 10 epochs for fidelity;
#                    default: a reduced setting (2000 images, 1000 validation, 16
#                    iterations), about 4x cheaper per candidate
#   BENCH_SEEDS=N    seeds per strategy (default 3), BENCH_ITERS=N iterations per run
#   BENCH_ON_ITERS=N bench_budget.sh's runs with cache and abort (default 2 x BENCH_ITERS:
#                    they are measured in compute, so they may run more iterations)
#   BENCH_SUBSET=N, BENCH_VAL=N   override the subset sizes
#   BENCH_DIR=DIR    keep the runs in DIR (default: a temporary folder, removed);
#                    a run already complete there is reused (bench_budget.sh's
#                    off/on runs and bench_strategies.sh's evolve/random runs)
LLMNAS=${LLMNAS:-./llmnas}   # make bench gives the build's
SEEDS=${BENCH_SEEDS:-3}
ITERS=${BENCH_ITERS:-16}
ON_ITERS=${BENCH_ON_ITERS:-$((ITERS * 2))}
if [ "${BENCH_FULL:-0}" = 1 ]; then
    SUBSET=${BENCH_SUBSET:-6000} VAL=${BENCH_VAL:-2000} SETTING="full (BENCH_FULL=1)"
else
    SUBSET=${BENCH_SUBSET:-2000} VAL=${BENCH_VAL:-1000} SETTING="reduced (BENCH_FULL=1 for the demo's subset)"
fi
# TASK: what every strategy's runs share, paper.lua's too (tests/bench/record_paper.sh),
# so that `llmnas compare` takes them: the subset, the validation split (evolve.lua's
# default) and size; the runs' 300 s per-candidate wall-clock limit is lifted: on a
# loaded machine it fails candidates at random, and the figures are CPU-seconds.
# SIZE: evolve.lua's and random.lua's (no reference network trained after the search;
# paper.lua's reference=off is an ablation, not given to it)
TASK="--set subset=$SUBSET --set val_subset=$VAL --set val_fraction=0.2 --set time_limit=36000"
SIZE="$TASK --set reference=off"
if [ -n "${BENCH_DIR:-}" ]; then
    D=$BENCH_DIR
    mkdir -p "$D" || exit 2
else
    D=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench-budget.XXXXXX")
    trap 'rm -rf "$D"' EXIT
fi
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores," \
    "isa: $(if grep -qw avx512f /proc/cpuinfo; then echo avx512f; elif grep -qw avx2 /proc/cpuinfo; then echo avx2; else echo baseline; fi)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "setting: $SETTING: Fashion-MNIST subset $SUBSET, $VAL validation images, $ITERS iterations," \
    "seeds 1..$SEEDS; budget unit: training CPU-seconds"

# run_once NAME SCRIPT SEED [options...]: one run into $D/NAME.db, unless a
# complete one is there already; RUN_ITERS=N for other than $ITERS iterations,
# RUN_SET="--set ..." for other settings than $SIZE, RUN_INIT=FUNCTION to prepare the
# new store first (FUNCTION DB; bench_strategies.sh puts recorded LLM replies in it).
run_once() {
    name=$1 script=$2 seed=$3
    shift 3
    [ -e "$D/$name.done" ] && return 0
    rm -rf "$D/$name.db"
    if [ -n "${RUN_INIT:-}" ] && ! "$RUN_INIT" "$D/$name.db" >"$D/$name.log" 2>&1; then
        echo "   (run $name failed: $(tail -n 1 "$D/$name.log"))"
        return 0
    fi
    # shellcheck disable=SC2086
    if "$LLMNAS" run "examples/$script.lua" --db "$D/$name.db" --iterations "${RUN_ITERS:-$ITERS}" --set seed="$seed" \
        ${RUN_SET:-$SIZE} "$@" >"$D/$name.log" 2>&1; then
        : >"$D/$name.done"
    else
        echo "   (run $name failed: $(tail -n 1 "$D/$name.log"))"
    fi
}
