# bench_precision.sh — `make bench` entry for the trainer's precision (issue 17): speed
# of llmnas fp32 / bf16 against PyTorch fp32 / bf16 autocast on the reference nets
# (tests/bench/bench_precision.py), then whether bf16 and Winograd rank candidates as
# fp32 does (tests/bench/precision_agreement.lua) on the networks of an evolve run on
# the demo subset, run first (under nice: accuracy does not depend on load).
#   BENCH_PRECISION_ARGS      options of the speed part ("--quick", "--nets vgg", ...)
#   BENCH_PRECISION_AGREEMENT off: skip the agreement part (it trains ~100 networks)
#   BENCH_PRECISION_DB        an existing search memory to take the networks from
py=/usr/bin/python3
"$py" "$(dirname "$0")/bench_precision.py" ${BENCH_PRECISION_ARGS:-}
[ "${BENCH_PRECISION_AGREEMENT:-on}" = off ] && exit 0
db=${BENCH_PRECISION_DB:-}
tmp=
if [ -z "$db" ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_precision.XXXXXX")
    db=$tmp/evo.db
    echo "evolve on the demo subset for the agreement's networks (28 iterations, no abort) ..."
    nice -n 10 "$LLMNAS" run examples/evolve.lua --db "$db" --iterations 28 --set abort=off \
        --set reference=off >"$tmp/evolve.log" 2>&1 || { tail -5 "$tmp/evolve.log"; exit 1; }
fi
LLMNAS_ROOT=. nice -n 10 "$LLMNAS" run tests/bench/precision_agreement.lua "$db" 24
rc=$?
[ -n "$tmp" ] && rm -rf "$tmp"
exit $rc
