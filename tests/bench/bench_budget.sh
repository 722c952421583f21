# bench_budget.sh: issue #12's figures on the demo (evolve.lua on its defaults):
# the per-candidate time breakdown against the training loops, evaluation vs
# training images/s, and the training CPU-seconds early abort needs to reach the
# final best of a run without it — over BENCH_SEEDS seeds (default 3).
# BENCH_ITERS (default 16) iterations per run.
set -u
SEEDS=${BENCH_SEEDS:-3}
ITERS=${BENCH_ITERS:-16}
D=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench-budget.XXXXXX")
trap 'rm -rf "$D"' EXIT
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
offs="" ons=""
for s in $(seq 1 "$SEEDS"); do
    "$LLMNAS" run examples/evolve.lua --db "$D/off$s.db" --iterations "$ITERS" --set seed=$s \
        --set abort=off --set reference=off >/dev/null || echo "   (run off $s failed)"
    "$LLMNAS" run examples/evolve.lua --db "$D/on$s.db" --iterations "$ITERS" --set seed=$s \
        --set reference=off >/dev/null || echo "   (run on $s failed)"
    offs="$offs $D/off$s.db" ons="$ons $D/on$s.db"
done
# shellcheck disable=SC2086
"$LLMNAS" run tests/bench/budget.lua $offs -- $ons
