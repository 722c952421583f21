# bench_strategies.sh: evolve.lua vs random.lua at an equal training budget (both
# with their defaults: cache and early abort, BENCH_ON_ITERS iterations: the same
# evolve runs as bench_budget.sh's), BENCH_SEEDS seeds each, and the paper's loop
# (examples/paper.lua) replayed from recorded LLM replies when BENCH_PAPER names them:
# `llmnas compare`'s table of best-so-far against training CPU-seconds (median,
# min-max over seeds); then the 1-epoch proxy's rank correlation with
# BENCH_EPOCHS-epoch training (default 10) on BENCH_NETS networks of evolve's runs
# without early abort (bench_budget.sh's: every network has its full proxy), the
# top half and the rest at random (default 20; tests/bench/fidelity.lua;
# BENCH_NETS=0: the table alone, neither those runs nor the longer training).
#
#   BENCH_PAPER=DB[,DB...]  one memory per seed (the i-th for seed i), each holding a
#       paper.lua run recorded with --llm-cache record at this bench's settings
#       (tests/bench/record_paper.sh makes them). Each is replayed here with
#       --llm-cache replay (no LLM contacted) into a new store in the bench's folder
#       holding only the recorded replies, so its candidates train on this machine and
#       its training CPU-seconds are this machine's; the table gets a "paper" row.
# Settings: tests/bench/budget_env.sh (BENCH_FULL=1, BENCH_SEEDS, BENCH_DIR, ...).
set -u
paper_dbs=""  # BENCH_PAPER's memories, relative to where the bench was started
for p in $(echo "${BENCH_PAPER:-}" | tr ',' ' '); do
    case $p in /*) ;; *) p=$PWD/$p ;; esac
    paper_dbs="$paper_dbs $p"
done
cd "$(dirname "$0")/../.." || exit 2
. tests/bench/budget_env.sh
NETS=${BENCH_NETS:-20}
runs="" evolves=""
for s in $(seq 1 "$SEEDS"); do
    # long enough that evolution is under way: the first POPULATION (8) candidates
    # of evolve are random.lua's draws for the same seed
    RUN_ITERS=$ON_ITERS
    run_once "on$s" evolve "$s"
    run_once "random$s" random "$s"
    unset RUN_ITERS
    runs="$runs $D/on$s.db $D/random$s.db"
    if [ "$NETS" -gt 0 ]; then
        run_once "off$s" evolve "$s" --set abort=off
        evolves="$evolves,$D/off$s.db"
    fi
done

# paper_init DB: the replay's new store, holding the LLM replies of $paper_src
# (the store's `llm` table, stdlib/doc/memory.md) and nothing else: not its
# evaluation cache, whose results would make every candidate a free cache hit
paper_init() {
    "$LLMNAS" run tests/bench/paper_replay.lua init "$1" &&
        mdb_dump -s llm "$paper_src" | mdb_load -s llm "$1"
}
papers="" failed=0  # the exit status: 1 when a part failed (the paper's row included)
if [ -z "${BENCH_PAPER:-}" ]; then
    echo "paper.lua: its row is skipped: no recorded LLM replies (no LLM is called here); record them" \
        "against your endpoint with tests/bench/record_paper.sh, then BENCH_PAPER=DB1,DB2,... (one per seed)"
else
    # shellcheck disable=SC2086
    set -- $paper_dbs
    if [ $# -ne "$SEEDS" ]; then
        echo "paper.lua: BENCH_PAPER names $# memories for $SEEDS seeds: give one per seed (the i-th for seed i)"
        failed=1
        set --
    fi
    s=0
    for paper_src in "$@"; do
        s=$((s + 1))
        name=paper$s
        # a replay kept in BENCH_DIR is reused only for the same recording and settings
        key="$paper_src $ON_ITERS $TASK"
        if [ "$(cat "$D/$name.src" 2>/dev/null)" != "$key" ]; then rm -f "$D/$name.done"; fi
        if ! model=$("$LLMNAS" run tests/bench/paper_replay.lua source "$paper_src" "$ON_ITERS" 2>"$D/$name.err"); then
            echo "paper.lua seed $s: $(cat "$D/$name.err")"
            failed=1
            continue
        fi
        echo "$key" >"$D/$name.src"
        # run_once's note of a failed replay (llm_cache_miss, "resume with ...") is not
        # the remedy: the check below says what went wrong
        RUN_ITERS=$ON_ITERS RUN_SET=$TASK RUN_INIT=paper_init \
            run_once "$name" paper "$s" --llm-cache replay --model "$model" >/dev/null
        if out=$("$LLMNAS" run tests/bench/paper_replay.lua check "$paper_src" "$D/$name.db" "$ON_ITERS" 2>&1); then
            echo "paper.lua seed $s: $out"
            papers="$papers $D/$name.db"
        else
            echo "paper.lua seed $s: $out (the replay's log: $D/$name.log)"
            failed=1
        fi
    done
    if [ "$failed" = 1 ]; then
        echo "paper.lua: its row is left out (above: why; a row of fewer seeds or of other settings would not compare)"
        papers=""
    fi
fi
# shellcheck disable=SC2086
if ! "$LLMNAS" compare $runs $papers --points 6; then
    failed=1
    if [ -n "$papers" ]; then
        echo "paper.lua: compare refused its runs (above); the table without them:"
        "$LLMNAS" compare $runs --points 6
    fi
fi
if [ "$NETS" -gt 0 ]; then
    "$LLMNAS" run tests/bench/fidelity.lua "${evolves#,}" $((NETS / 2)) $((NETS - NETS / 2)) "${BENCH_EPOCHS:-10}" \
        "${BENCH_FIDELITY_SUBSET:-run}" || failed=1
fi
[ "$failed" = 0 ]
