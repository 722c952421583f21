#!/bin/sh
# soak.sh — long runs without surprises (issue 18). `make soak` runs it for 2,000
# iterations; tests/sh/test_soak.sh runs its short form inside `make test`.
#
#   sh tests/soak/soak.sh [ITERATIONS]        (default 2000)
#   env LLMNAS       the binary (default ./llmnas)
#       SOAK_KILLS   kill -9 rounds per script (default ITERATIONS / 100, at least 3)
#       SOAK_MIN_KILLS  how many of them must land before the run ends (default: all)
#       SOAK_DIR     keep the stores, logs and samples there (default: a temp dir, removed)
#       SOAK_SCRIPTS which to run: "paper evolve" (default), or one of them
#       SOAK_TOKEN_TARGET=0  print the prompt-token figures without judging them (the short
#                    form: the improver's digest of what left the window fills up over
#                    the first ~20 iterations, and a few dozen cannot show a plateau)
#
# For each of examples/paper.lua (against tests/llm_server.py, a fault mix: 429s with
# Retry-After, 5xx, closed and cut connections, replies too slow for the timeout or
# stalled, bodies that are not JSON, unparsable improver replies, candidates that fail to
# compile, diverge or hang) and examples/evolve.lua (no LLM), on a tiny Fashion-MNIST subset:
#   1. U, the run uninterrupted, ITERATIONS iterations (paper: --llm-cache record), while
#      `llmnas show` and `llmnas report` read the store over and over; its parent process
#      samples its RSS, Lua heap and prompt tokens per call (tests/soak/strategy.lua);
#      then where U's time went (tests/soak/time.lua: LLM calls by role, compile, training);
#   2. K, the same run replayed in the same store (run 2: paper --llm-cache replay with no
#      server at all; evolve the same seed), killed with SIGKILL at random moments and
#      resumed each time, the readers still reading;
#   3. K's records against U's: every field but wall-clock ones and the cache-hit flags (K
#      reads U's evaluations from the cache — that is what replay makes reproducible: the
#      proposals, code, graph hashes, statuses, error kinds, metrics, accepted/best,
#      triples, prompts and replies, the strategy's state); records lost or duplicated.
# K needs all of U (paper's replay needs U's recorded replies, evolve's K reads U's
# evaluations from the cache), so each script's steps run in that order; the two scripts
# share nothing (their own store, server, readers and random draws), so they run side by
# side: paper's U spends most of its time waiting on the fault mix (timeouts, stalls,
# Retry-After), evolve's trains, and the soak takes about as long as paper's U and K.
# Each script's block is printed when it ends.
# It prints the figures and "soak: N passed, M failed" (its targets: RSS growth < 10%
# from iteration ITERATIONS/20 to the last, prompt tokens per call flat once the window
# is full, 0 records lost or duplicated, K identical to U, every reader exit 0).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
LLMNAS=${LLMNAS:-$ROOT/llmnas}
N=${1:-2000}
KILLS=${SOAK_KILLS:-$((N / 100 < 3 ? 3 : N / 100))}
# At least this many must land (a replayed short run can end, on a fast machine, between
# the poll that sees the last target and the kill); the long soak wants them all.
MIN_KILLS=${SOAK_MIN_KILLS:-$KILLS}
if [ -n "${SOAK_DIR:-}" ]; then W=$SOAK_DIR; mkdir -p "$W"; else W=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-soak.XXXXXX"); fi
rm -f "$W"/*.result  # a kept SOAK_DIR's counts from before must not stand in for this run's
MARK1=$((N / 20 < 10 ? 10 : N / 20))   # 100 of 2,000: the history window (5) is full
MARK2=$((N / 2))
PY=/usr/bin/python3
npass=0
nfail=0
# Every process that must not outlive an interrupted soak writes its pid in $W/*.pid: the
# scripts' subshells, their current llmnas run, their readers, the server, the load sampler.
cleanup() {
    rm -f "$W"/*.on
    for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    [ -n "${SOAK_DIR:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { npass=$((npass + 1)); echo "ok   $1"; }
bad() { nfail=$((nfail + 1)); echo "FAIL $1"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

cat >"$W/last.lua" <<'EOF'
-- last.lua DB RUN: RUN's last committed iteration, "-" if RUN does not exist yet
local ok, db = pcall(memory.open, arg[1], { readonly = true })
local n = ok and db and db:last_iteration(tonumber(arg[2]))
print(n or "-")
EOF
last() { "$LLMNAS" run "$W/last.lua" "$1" "$2" 2>/dev/null | tail -n 1; }

# The readers: `llmnas show` (the runs, the latest run in json) and `llmnas report`, one
# after the other for as long as $W/NAME.readers.on exists; a non-zero exit is counted.
readers() {  # NAME DB
    : >"$W/$1.readers.on"
    (
        # from the moment run 1 exists (before, `show latest` rightly says there is none)
        while [ -f "$W/$1.readers.on" ] && [ "$(last "$2" 1)" = "-" ]; do sleep 0.2; done
        while [ -f "$W/$1.readers.on" ]; do
            for cmd in "show --db $2" "show --db $2 latest --format json" "report --db $2 -o $W/$1.report.html"; do
                # shellcheck disable=SC2086
                if "$LLMNAS" $cmd >/dev/null 2>"$W/$1.reader.err"; then echo ok >>"$W/$1.readers.log"
                else echo "exit $? from llmnas $cmd: $(head -c 300 "$W/$1.reader.err")" >>"$W/$1.readers.log"; fi
            done
            sleep 0.5
        done
    ) &
    echo $! >"$W/$1.readers.pid"
}
readers_stop() {  # NAME
    rm -f "$W/$1.readers.on"
    wait "$(cat "$W/$1.readers.pid")" 2>/dev/null
    rm -f "$W/$1.readers.pid"
}

# A run in the background, its pid in $W/NAME.run.pid (for cleanup), waited for.
run_bg() {  # NAME LOG CMD...
    name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    echo $! >"$W/$name.run.pid"
    wait $!
    rc=$?
    rm -f "$W/$name.run.pid"
    return "$rc"
}

# Random numbers from awk, seeded per soak (printed, so a failure can be re-run); each
# script draws its own stream (rnd_n starts at that script's offset).
SEED=${SOAK_SEED:-$$}
rnd_n=0
rand() {  # LO HI: a number in [LO, HI)
    rnd_n=$((rnd_n + 1))
    awk -v s="$SEED" -v n="$rnd_n" -v lo="$1" -v hi="$2" 'BEGIN { srand(s * 7919 + n); printf "%.3f", lo + rand() * (hi - lo) }'
}

# K: run 2 of DB killed with SIGKILL KILLS times and resumed each time: kill k is aimed
# at a random iteration of the k-th of KILLS + 1 equal stretches of the run and lands a
# random fraction of a second after that iteration's commit, or at the next commit if that
# comes first (in the next one's compile, training, LLM call or commit); the run writes its
# last commit to $W/NAME.progress.
killed() {  # NAME DB ARGS...
    name=$1 db=$2
    shift 2
    kills=0 rounds=0
    stretch=$((N / (KILLS + 1)))
    [ "$stretch" -ge 1 ] || stretch=1
    while :; do
        before=$(last "$db" 2)
        resume=
        [ "$before" != "-" ] && resume="--run 2"
        SOAK_PROGRESS=$W/$name.progress "$LLMNAS" run tests/soak/strategy.lua --db "$db" "$@" $resume \
            >>"$W/$name.K.log" 2>&1 &
        pid=$!
        echo "$pid" >"$W/$name.run.pid"
        rounds=$((rounds + 1))
        if [ "$kills" -ge "$KILLS" ]; then
            wait "$pid" 2>/dev/null
            rc=$?
            [ "$rc" -eq 0 ] || { bad "$name: the last resume exited $rc: $(tail -n 3 "$W/$name.K.log")"; return 1; }
            break
        fi
        target=$((kills * stretch + $(rand 1 "$stretch" | cut -d. -f1)))
        while kill -0 "$pid" 2>/dev/null; do
            now=$(cat "$W/$name.progress" 2>/dev/null || echo 0)
            [ "${now:-0}" -ge "$target" ] && break
            sleep 0.02
        done
        # a random moment after that commit: rand(0, 0.3) s later, but no later than the
        # next commit, so that a stretch served from the cache (a few ms an iteration on a
        # quiet machine) cannot outrun the kill to the end of the run
        d=$(rand 0 0.3)
        tk=$(date +%s.%N)
        while kill -0 "$pid" 2>/dev/null; do
            now=$(cat "$W/$name.progress" 2>/dev/null || echo 0)
            [ "${now:-0}" -gt "$target" ] && break
            awk -v a="$tk" -v b="$(date +%s.%N)" -v d="$d" 'BEGIN { exit !(b - a >= d) }' && break
            sleep 0.01
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rc=$?
        if [ "$rc" -eq 137 ]; then kills=$((kills + 1))
        elif [ "$rc" -eq 0 ]; then break
        else bad "$name: round $rounds exited $rc: $(tail -n 3 "$W/$name.K.log")"; return 1
        fi
    done
    rm -f "$W/$name.run.pid"
    echo "  $name K: $kills kill -9 in $rounds rounds ($(last "$db" 2) of $N iterations)"
    [ "$kills" -ge "$MIN_KILLS" ] && ok "$name: killed $kills times (of $KILLS aimed) and resumed to the end" ||
        bad "$name: only $kills of $KILLS kills landed before the run ended (at least $MIN_KILLS must)"
}

# The figures of one script: RSS, Lua heap and prompt tokens per call at MARK1, MARK2, N.
figures() {  # NAME DB
    $PY - "$W/$1.samples" "$MARK1" "$MARK2" "$N" "$2" <<'PY'
import json, os, sys
path, marks, db = sys.argv[1], [int(x) for x in sys.argv[2:5]], sys.argv[5]
rows = {}
for line in open(path):
    r = json.loads(line)
    rows[r["iter"]] = r
pids = {r["pid"] for r in rows.values()}
miss = [m for m in marks if m not in rows]
if miss:
    print(f"  samples missing at {miss}")
    print("FIGURES missing")
    sys.exit(0)
a, b, c = (rows[m] for m in marks)
growth = 100.0 * (c["rss_kib"] - a["rss_kib"]) / a["rss_kib"]
print("  parent RSS at iterations %d / %d / %d: %.1f / %.1f / %.1f MiB (%+.1f%% from %d to %d; one process: %s)"
      % (*marks, a["rss_kib"] / 1024, b["rss_kib"] / 1024, c["rss_kib"] / 1024, growth, marks[0], marks[2],
         "yes" if len(pids) == 1 else "NO"))
print("    of which RssAnon (heaps) %.1f / %.1f / %.1f MiB (%+.1f%%), RssFile (mapped files: LMDB pages, libraries) %.1f / %.1f / %.1f MiB"
      % (a["anon_kib"] / 1024, b["anon_kib"] / 1024, c["anon_kib"] / 1024,
         100.0 * (c["anon_kib"] - a["anon_kib"]) / a["anon_kib"], a["file_kib"] / 1024, b["file_kib"] / 1024, c["file_kib"] / 1024))
print("  Lua heap at the same points: %.0f / %.0f / %.0f KiB" % (a["lua_kib"], b["lua_kib"], c["lua_kib"]))
roles = sorted(set(a["prompt_tokens"]) | set(b["prompt_tokens"]) | set(c["prompt_tokens"]))
for role in roles:
    # per call, averaged over the samples around each mark (one record is one prompt)
    def around(m):
        vals = [r["prompt_tokens"].get(role) for k, r in rows.items() if abs(k - m) <= max(1, marks[0]) and role in r["prompt_tokens"]]
        return sum(vals) / len(vals) if vals else float("nan")
    print("  prompt tokens per %s call around %d / %d / %d: %.0f / %.0f / %.0f"
          % (role, *marks, around(marks[0]), around(marks[1]), around(marks[2])))
size = os.path.getsize(os.path.join(db, "data.mdb"))
print("  store %s: data.mdb %.1f MiB for 2 runs of %d records" % (os.path.basename(db), size / 2**20, marks[2]))
print("GROWTH %.2f" % growth)
print("ANON %.2f" % (100.0 * (c["anon_kib"] - a["anon_kib"]) / a["anon_kib"]))
for role in roles:
    vals = [r["prompt_tokens"][role] for k, r in rows.items() if k >= marks[1] and role in r["prompt_tokens"]]
    early = [r["prompt_tokens"][role] for k, r in rows.items() if marks[0] <= k < marks[1] and role in r["prompt_tokens"]]
    if vals and early:
        print("TOKENS %s %.1f %.1f" % (role, max(early), max(vals)))
PY
}

# K against U: the full comparison, and records lost or duplicated.
compare() {  # NAME DB
    "$LLMNAS" run tests/e2e/compare_runs.lua "$2" 1 "$2" 2 ignore-cache-hits >"$W/$1.cmp" 2>&1
    crc=$?
    "$LLMNAS" run tests/soak/count.lua "$2" >"$W/$1.count" 2>&1
    sed 's/^/  /' "$W/$1.count"
    if grep -q "^lost 0, duplicated 0" "$W/$1.count"; then ok "$1: 0 records lost, 0 duplicated"
    else bad "$1: records lost or duplicated"; fi
    if [ "$crc" -eq 0 ] && grep -q "same $N records" "$W/$1.cmp"; then ok "$1: K's $N records equal U's (replay)"
    else bad "$1: K differs from U: $(head -n 8 "$W/$1.cmp")"; fi
}

targets() {  # NAME
    f=$W/$1.figures
    if grep -q "FIGURES missing" "$f"; then bad "$1: samples missing"; return; fi
    g=$(sed -n 's/^GROWTH //p' "$f")
    if awk -v g="$g" 'BEGIN { exit !(g < 10) }'; then ok "$1: parent RSS growth ${g}% < 10%"
    else bad "$1: parent RSS grew ${g}% (target < 10%)"; fi
    g=$(sed -n 's/^ANON //p' "$f")
    if awk -v g="$g" 'BEGIN { exit !(g < 10) }'; then ok "$1: the parent's heaps (RssAnon) grew ${g}% < 10%"
    else bad "$1: the parent's heaps (RssAnon) grew ${g}% (target < 10%)"; fi
    grep '^TOKENS ' "$f" | while read -r _ role early late; do
        # flat: the largest prompt of the second half no larger than the largest of the first
        if [ "${SOAK_TOKEN_TARGET:-1}" = 0 ]; then
            echo "info $1: $role prompt tokens, max $early in the first half, $late in the second (not judged)"
        elif awk -v a="$early" -v b="$late" 'BEGIN { exit !(b <= a * 1.02 + 1) }'; then
            echo "ok   $1: $role prompt tokens flat once the window is full (max $early then $late)"
        else
            echo "FAIL $1: $role prompt tokens grow (max $early in the first half, $late in the second)"
        fi
    done >"$W/$1.tok"
    cat "$W/$1.tok"
    npass=$((npass + $(grep -c '^ok' "$W/$1.tok")))
    nfail=$((nfail + $(grep -c '^FAIL' "$W/$1.tok")))
}

readers_check() {  # NAME
    n=$(grep -c '^ok$' "$W/$1.readers.log" 2>/dev/null)
    f=$(grep -vc '^ok$' "$W/$1.readers.log" 2>/dev/null)
    echo "  $1 readers: ${n:-0} show/report calls exited 0, ${f:-0} did not"
    if [ "${f:-0}" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then ok "$1: every concurrent show/report exited 0"
    else bad "$1: concurrent readers failed: $(grep -v '^ok$' "$W/$1.readers.log" | head -n 3)"; fi
}

echo "soak: $N iterations per script, $KILLS kill -9 rounds each, seed $SEED, in $W"
echo "soak: load at start $(load); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
t0=$(date +%s)

# ---- paper.lua under faults ---------------------------------------------------------------
paper_soak() {
rnd_n=0
$PY tests/soak/replies.py "$W/replies.jsonl"
$PY tests/llm_server.py --replies "$W/replies.jsonl" --requests "$W/requests.jsonl" --loop \
    --port-file "$W/port" --lifetime 7200 --watch-pid $$ >"$W/server.log" 2>&1 &
srv=$!
echo "$srv" >"$W/server.pid"
i=0
while [ ! -s "$W/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PAPER="--iterations $N --set subset=128 --threads 1"
readers paper "$W/paper.db"
t=$(date +%s)
run_bg paper "$W/paper.U.log" env LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$W/port")/v1" LLMNAS_MODEL=soak-model \
    SOAK_EXAMPLE=examples/paper.lua SOAK_SAMPLES="$W/paper.samples" SOAK_SAMPLE_EVERY=$MARK1 "$LLMNAS" run tests/soak/strategy.lua --db "$W/paper.db" $PAPER --llm-cache record
rc=$?
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
rm -f "$W/server.pid"
faults=$($PY -c 'import json,sys,collections; c=collections.Counter(json.loads(l)["answer"] for l in open(sys.argv[1])); print(", ".join("%s %d" % kv for kv in sorted(c.items())))' "$W/requests.jsonl")
echo "  paper U: exit $rc in $(($(date +%s) - t)) s (load $(load)); server answers: $faults"
[ "$rc" -eq 0 ] && ok "paper: the uninterrupted run under faults completed" || bad "paper U exited $rc: $(tail -n 5 "$W/paper.U.log")"
"$LLMNAS" run tests/soak/time.lua "$W/paper.db" 1 2>&1 | sed 's/^/  /'
t=$(date +%s)
export LLMNAS_BASE_URL="http://127.0.0.1:9/v1" LLMNAS_MODEL=soak-model SOAK_EXAMPLE=examples/paper.lua
killed paper "$W/paper.db" $PAPER --llm-cache replay
unset LLMNAS_BASE_URL LLMNAS_MODEL
echo "  paper K: $(($(date +%s) - t)) s (load $(load))"
"$LLMNAS" run tests/soak/time.lua "$W/paper.db" 2 2>&1 | sed 's/^/  /'
readers_stop paper
figures paper "$W/paper.db" >"$W/paper.figures"
grep -v '^GROWTH\|^ANON\|^TOKENS' "$W/paper.figures"
targets paper
compare paper "$W/paper.db"
readers_check paper
}

# ---- evolve.lua ----------------------------------------------------------------------------
evolve_soak() {
rnd_n=1000000  # its own stream: paper draws two numbers per kill
EVOLVE="--iterations $N --set subset=128 --set val_subset=64 --set probe=32 --set reference=off --threads 1"
readers evolve "$W/evolve.db"
t=$(date +%s)
run_bg evolve "$W/evolve.U.log" env SOAK_EXAMPLE=examples/evolve.lua SOAK_SAMPLES="$W/evolve.samples" \
    SOAK_SAMPLE_EVERY=$MARK1 "$LLMNAS" run tests/soak/strategy.lua --db "$W/evolve.db" $EVOLVE
rc=$?
echo "  evolve U: exit $rc in $(($(date +%s) - t)) s (load $(load))"
[ "$rc" -eq 0 ] && ok "evolve: the uninterrupted run completed" || bad "evolve U exited $rc: $(tail -n 5 "$W/evolve.U.log")"
"$LLMNAS" run tests/soak/time.lua "$W/evolve.db" 1 2>&1 | sed 's/^/  /'
t=$(date +%s)
export SOAK_EXAMPLE=examples/evolve.lua
killed evolve "$W/evolve.db" $EVOLVE
echo "  evolve K: $(($(date +%s) - t)) s (load $(load))"
"$LLMNAS" run tests/soak/time.lua "$W/evolve.db" 2 2>&1 | sed 's/^/  /'
readers_stop evolve
figures evolve "$W/evolve.db" >"$W/evolve.figures"
grep -v '^GROWTH\|^ANON\|^TOKENS' "$W/evolve.figures"
targets evolve
compare evolve "$W/evolve.db"
readers_check evolve
}

# The load over the soak: the 1-minute average every 30 s, summed up at the end.
: >"$W/load.on"
(while [ -f "$W/load.on" ]; do load >>"$W/load.log"; sleep 30; done) >/dev/null 2>&1 &
echo $! >"$W/load.pid"

# Each script in its own subshell, side by side: its block (and its counts, in
# $W/NAME.result) when it ends.
SCRIPTS=${SOAK_SCRIPTS:-paper evolve}
jobs=
for name in $SCRIPTS; do
    case $name in paper | evolve) ;; *) echo "soak: SOAK_SCRIPTS: unknown script '$name' (paper, evolve)"; exit 2 ;; esac
    (
        began=$(date +%s)
        "${name}_soak" >"$W/$name.out" 2>&1
        echo "  $name: $(($(date +%s) - began)) s from its start to its end (load $(load))" >>"$W/$name.out"
        cat "$W/$name.out"
        echo "$npass $nfail" >"$W/$name.result"
    ) &
    echo $! >"$W/$name.pid"
    jobs="$jobs $!"
done
# shellcheck disable=SC2086
wait $jobs
for name in $SCRIPTS; do
    rm -f "$W/$name.pid"
    if [ -f "$W/$name.result" ]; then
        read -r p f <"$W/$name.result"
        npass=$((npass + p)) nfail=$((nfail + f))
    else
        bad "$name: its soak ended without counts (killed?): $(tail -n 5 "$W/$name.out" 2>/dev/null)"
    fi
done
rm -f "$W/load.on"
kill "$(cat "$W/load.pid")" 2>/dev/null
wait "$(cat "$W/load.pid")" 2>/dev/null
rm -f "$W/load.pid"

times >"$W/times"  # the second line: the CPU time of every child it waited for
echo "soak: $(($(date +%s) - t0)) s in all (load at the end $(load); the 1-minute load every 30 s: $(sort -n "$W/load.log" | awk '{ v[NR] = $1 } END { if (NR) printf "min %s, median %s, max %s over %d samples", v[1], v[int((NR + 1) / 2)], v[NR], NR }')); CPU time of its processes (user, system): $(tail -n 1 "$W/times")"
echo "soak: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
