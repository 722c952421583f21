#!/bin/sh
# bench_compile.sh: compile + validate time of typical candidates through a sandboxed worker
# (fork included) against the same compile in-process, and `llmnas check` end to end.
cd "$(dirname "$0")/../.." || exit 2
LLMNAS=${LLMNAS:-./llmnas}
"$LLMNAS" run tests/bench/bench_compile.lua
start=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8 9 10; do "$LLMNAS" check examples/nets/bench_resnet.lua >/dev/null; done
echo "llmnas check examples/nets/bench_resnet.lua (whole process): $((($(date +%s%N) - start) / 10000000)) ms per run"
