# bench_prompts.sh: prompt size per role at iterations 10/100/1,000 and the repair round's
# cost (see bench_prompts.lua).
"$LLMNAS" run tests/bench/bench_prompts.lua 1000
