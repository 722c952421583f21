# record_paper.sh OUT [--base-url URL] [--model NAME]: records examples/paper.lua
# against your LLM endpoint at the strategy bench's settings (tests/bench/budget_env.sh:
# the same BENCH_* variables as the bench you will run), one memory per seed,
# OUT/paper1.db ... OUT/paperN.db, with --llm-cache record: every reply is kept, so
# that bench_strategies.sh can replay the runs (BENCH_PAPER=OUT/paper1.db,...) with no
# LLM. Record on the machine that runs the bench: the prompts carry the candidates'
# results, and a replay finds its replies only where training gives the same numbers.
# The endpoint: --base-url / --model, or LLMNAS_BASE_URL, LLMNAS_MODEL and the key in
# LLMNAS_API_KEY or OPENAI_API_KEY (README.md, "Endpoints"); anything after OUT goes
# to `llmnas run`. A recording that stopped (Ctrl-C, the server went away) is resumed
# by running the same command again: nothing already recorded is asked again.
set -u
[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || {
    echo "usage: tests/bench/record_paper.sh OUT [--base-url URL] [--model NAME]" >&2
    exit 64
}
OUT=$1
shift
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
cd "$(dirname "$0")/../.." || exit 2
. tests/bench/budget_env.sh
mkdir -p "$OUT" || exit 2
list="" failed=0
for s in $(seq 1 "$SEEDS"); do
    db=$OUT/paper$s.db
    list="$list,$db"
    [ -e "$OUT/paper$s.done" ] && { echo "seed $s: $db is complete"; continue; }
    resume=""
    [ -d "$db" ] && resume=--resume
    echo "seed $s: recording $ON_ITERS iterations into $db ${resume:+(resuming)}"
    # the same settings as the bench's replay of it (bench_strategies.sh: run_once)
    # shellcheck disable=SC2086
    if "$LLMNAS" run examples/paper.lua --db "$db" --iterations "$ON_ITERS" --set seed="$s" $TASK \
        --llm-cache record $resume "$@"; then
        : >"$OUT/paper$s.done"
    else
        echo "seed $s: the recording stopped (exit $?); run the same command again to resume it"
        failed=1
    fi
done
[ "$failed" = 0 ] || exit 1
echo "recorded; the strategy bench with the paper's row (the same BENCH_* settings):"
echo "  BENCH_PAPER=${list#,} make bench BENCH=strategies"
