# bench_candidate.sh: issue #12 item 5 on the demo itself (`make demo`: evolve.lua on its
# embedded defaults, early abort on, one seed) — where a candidate's time goes outside
# its training loop. Prints the per-candidate breakdown (compile, build, train, probe,
# evaluate, ipc) summed over the run's trained candidates and its ratio to the training
# loops (target <= 1.15), and evaluation vs training images/s (target >= 2.5), with the
# CPU and the load average beside them (a figure taken at load > 4 is not representative).
# bench_budget.sh gives the same figures over several seeds, with and without abort.
set -u
D=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench-candidate.XXXXXX")
trap 'rm -rf "$D"' EXIT
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$LLMNAS" run examples/evolve.lua --db "$D/demo.db" --set reference=off >/dev/null ||
    echo "   (the demo failed: exit $?)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$LLMNAS" run tests/bench/budget.lua "$D/demo.db"
