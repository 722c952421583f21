# bench_search.sh: the search loop's own overhead per iteration (see bench_search.lua).
"$LLMNAS" run tests/bench/bench_search.lua 10000 300
