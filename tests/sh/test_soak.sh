# test_soak.sh: the short form of `make soak` (tests/soak/soak.sh, issue 18): paper.lua
# under the test server's fault mix and evolve.lua side by side, 40 iterations each, readers running
# concurrently, the replayed run killed with SIGKILL 3 times and resumed; K's records
# must equal U's, none lost or duplicated, every reader exit 0, the parent's RSS within
# 10% from iteration 10 to 40 (the prompt tokens are printed, judged only by `make soak`:
# a plateau needs more than a few dozen iterations). soak.sh's own closing line
# ("soak: N passed, M failed") is what tests/run.sh counts; its exit status fails it too.
cd "$(dirname "$0")/../.." || exit 2
# Replayed, the 40 iterations run in a few seconds on a quiet machine: the last aimed kill
# can come after the run has ended. Two of the three must land (seen: 2 of 3 at load 2).
# Under AddressSanitizer freed memory waits in its quarantine (256 MiB) before it is reused:
# the parent's RSS grew 11.5% from iteration 10 to 40 by what it had freed, not kept, and
# the RSS target judged ASan. Without the quarantine it judges the parent (LeakSanitizer
# still checks for leaks at exit; a build without ASan ignores the variable).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
SOAK_KILLS=3 SOAK_MIN_KILLS=2 SOAK_TOKEN_TARGET=0 exec sh tests/soak/soak.sh 40
