# test_mpi.sh: a real `mpirun -n 3` on localhost — rank 0 runs the strategy and the
# memory, ranks 1 and 2 evaluate. The records must equal those of the same search on two
# local workers (same graphs, recipe, seed and threads give the same numbers); a killed
# evaluator rank ends the job with a message naming it, and --resume under mpirun then
# loses nothing acknowledged. Also: llmnas itself does not link MPI, and a plain
# `llmnas run` does not load it.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

if ldd "$LLMNAS" | grep -qi 'libmpi'; then fail "llmnas links libmpi"; else pass "llmnas does not link MPI"; fi
if ! command -v mpirun >/dev/null || [ ! -f "$(dirname "$(readlink -f "$LLMNAS")")/llmnas_mpi.so" ]; then
    skip "mpirun or the MPI plugin is not installed (make deps && make)"
    exit 0
fi
# as root Open MPI wants to be told; two cores run three ranks
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN="mpirun -n 3 --oversubscribe"
# Under ASan (`make SANITIZER=address test` sets LSAN_OPTIONS) the ranks' allocation stacks
# are unwound in full: Open MPI's libraries keep no frame pointers, so the fast unwinder
# stops at their first frame, often in a component unloaded by exit ("<unknown module>"),
# which no suppression can match; the full stack reaches the libraries tests/lsan.supp names.
case "${LSAN_OPTIONS:-}" in *suppressions=*) export LSAN_OPTIONS="$LSAN_OPTIONS:fast_unwind_on_malloc=0" ;; esac
EVOLVE="examples/evolve.lua --iterations 4 --order iteration --set subset=600 --set population=3"

run "$LLMNAS" run $EVOLVE --db "$T/local" --workers 2 --threads 1
expect_rc 0 "the search on two local workers"
run $MPIRUN "$LLMNAS" run $EVOLVE --db "$T/mpi" --threads 1
expect_rc 0 "mpirun -n 3 llmnas run"
expect_out "stopped (iterations budget reached) after 4 iterations" "rank 0 ran the strategy to its end"
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/local" 1 "$T/mpi" 1
expect_rc 0 "the evaluator ranks' records equal the local workers'"
ranks=$("$LLMNAS" show --db "$T/mpi" --format json 1 | /usr/bin/python3 -c '
import json, sys
print(" ".join(sorted({str(r.get("rank")) for r in json.load(sys.stdin)["history"]})))')
[ "$ranks" = "1 2" ] && pass "each record names its evaluator rank (both used)" || fail "ranks: $ranks"

# ---- an evaluator rank killed in the middle, then --resume ---------------------------
# emptied here: the background job truncates it only once it has started, and the
# wait below must not see the previous run's progress lines
: >"$T/out"
$MPIRUN "$LLMNAS" run $EVOLVE --db "$T/dead" --threads 1 >"$T/out" 2>"$T/err" &
job=$!
i=0
while ! grep -q "iter 1/4" "$T/out" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
victim=""
for p in $(pgrep -f -- "--db $T/dead( |\$)"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        # the rank itself (started by the launcher), not one of its training workers
        # (a fork with the same environment)
        case "$(ps -o comm= -p "$(ps -o ppid= -p "$p" | tr -d ' ')")" in orted | mpirun | prterun) victim=$p ;; esac
    fi
done
if [ -n "$victim" ]; then pass "found evaluator rank 1 (pid $victim)"; else fail "no rank 1 process found"; fi
kill -9 "$victim" 2>/dev/null
wait "$job"
rc=$?
[ "$rc" -ne 0 ] && pass "the job ends when a rank dies (exit $rc)" || fail "mpirun exited 0 after a rank died"
if grep -qi "rank 1" "$T/out" "$T/err"; then pass "the message names the dead rank"; else fail "no message names rank 1"; fi
done_n=$("$LLMNAS" show --db "$T/dead" --format json 1 | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["history"]))')
[ "$done_n" -lt 4 ] && pass "stopped after $done_n of 4 records" || fail "all 4 records before the kill: nothing tested"
run $MPIRUN "$LLMNAS" run $EVOLVE --db "$T/dead" --threads 1 --resume
expect_rc 0 "--resume under mpirun"
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/local" 1 "$T/dead" 1 ignore-cache-hits
expect_rc 0 "the resumed run has the uninterrupted run's records"
expect_out "same 4 records" "nothing lost, nothing twice"
