#!/bin/sh
# run.sh — `make bench`: runs every benchmark (tests/bench/bench_*.sh and the C ones
# built to $BUILD/bench/), each printing its own figures and ratios.
#   $1  optional: only benchmarks whose name contains it
set -u
cd "$(dirname "$0")/../.." || exit 2
filter=${1:-}
export LLMNAS BUILD
# bench_budget.sh and bench_strategies.sh keep their runs in one folder
# (tests/bench/budget_env.sh); a BENCH_DIR given is kept, this one is removed
if [ -z "${BENCH_DIR:-}" ]; then
    BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-bench-runs.XXXXXX") && trap 'rm -rf "$BENCH_DIR"' EXIT
fi
export BENCH_DIR
found=0
for b in "$BUILD"/bench/bench_* tests/bench/bench_*.sh; do
    [ -e "$b" ] || continue
    case "$b" in *.d | *.o) continue ;; esac  # the compiler's dependency files beside C benches
    case "$(basename "$b")" in *"$filter"*) ;; *) continue ;; esac
    found=1
    echo "== $(basename "$b")"
    case "$b" in *.sh) sh "$b" ;; *) "$b" ;; esac || echo "   (failed: exit $?)"
done
[ "$found" = 1 ] || echo "no benchmarks yet"
