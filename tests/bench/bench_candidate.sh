# bench_candidate.sh: issue #12 item 5 on the demo itself (`make demo`: evolve.lua on its
# embedded defaults, early abort on, one seed) — where a candidate's time goes outside
# its training loop. Prints the per-candidate breakdown (compile, build, train, probe,
# evaluate, ipc) summed over the run's trained candidates and its ratio to the training
# loops (target <= 1.15), and evaluation vs training images/s (target >= 2.5), with the
# CPU and the load average beside them (a figure taken at load > 4 is not representative);
# BENCH_REPEATS=N (default 1) runs the demo N times and prints the medians over them.
# BENCH_DIR=DIR keeps the runs. bench_budget.sh gives the same figures over several seeds,
# with and without abort.
set -u
if [ -n "${BENCH_DIR:-}" ]; then
    D=$BENCH_DIR/candidate
    mkdir -p "$D" || exit 2
else
    D=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench-candidate.XXXXXX")
    trap 'rm -rf "$D"' EXIT
fi
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
dbs=""
for i in $(seq 1 "${BENCH_REPEATS:-1}"); do
    rm -rf "$D/demo$i.db"
    echo "run $i: load before $(cut -d' ' -f1-3 /proc/loadavg)"
    "$LLMNAS" run examples/evolve.lua --db "$D/demo$i.db" --set reference=off >"$D/demo$i.log" 2>&1 ||
        echo "   (the demo failed: exit $?: $(tail -n 1 "$D/demo$i.log"))"
    echo "run $i: load after $(cut -d' ' -f1-3 /proc/loadavg)"
    dbs="$dbs $D/demo$i.db"
done
# shellcheck disable=SC2086
"$LLMNAS" run tests/bench/budget.lua $dbs
