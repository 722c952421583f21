# bench_strategies.sh: evolve.lua vs random.lua at an equal training budget over
# BENCH_SEEDS seeds (default 3) on the demo's subset, BENCH_ITERS iterations each
# (default 16): `llmnas compare`'s table (median, min-max over seeds); then the
# 1-epoch proxy's rank correlation with BENCH_EPOCHS-epoch training (default 10)
# on 20 networks (top 10 and 10 at random) of the evolve runs (tests/bench/fidelity.lua).
set -u
SEEDS=${BENCH_SEEDS:-3}
ITERS=${BENCH_ITERS:-16}
D=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench-strategies.XXXXXX")
trap 'rm -rf "$D"' EXIT
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
runs=""
for s in $(seq 1 "$SEEDS"); do
    for strat in evolve random; do
        "$LLMNAS" run "examples/$strat.lua" --db "$D/$strat$s.db" --iterations "$ITERS" --set seed=$s \
            --set reference=off >/dev/null || echo "   ($strat seed $s failed)"
        runs="$runs $D/$strat$s.db"
    done
done
# shellcheck disable=SC2086
"$LLMNAS" compare $runs
evolves=$(for s in $(seq 1 "$SEEDS"); do printf '%s,' "$D/evolve$s.db"; done)
"$LLMNAS" run tests/bench/fidelity.lua "${evolves%,}" 10 10 "${BENCH_EPOCHS:-10}" 0
