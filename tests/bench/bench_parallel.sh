# bench_parallel.sh: throughput in candidates per hour, serial vs --workers 2 with
# asynchronous proposals, against the test LLM server answering after a fixed latency
# equal to a candidate's measured training time on this machine (so that serial costs
# LLM + training per candidate and the pipeline about max(LLM, training)). Medians of
# REPEATS runs of N distinct candidates each; fresh memory per run (no cache hits).
set -u
cd "$(dirname "$0")/../.." || exit 2
LLMNAS=${LLMNAS:-./llmnas}
N=${BENCH_N:-8}
REPEATS=${BENCH_REPEATS:-3}
T=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$T"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores," \
    "isa: $(if grep -qw avx512f /proc/cpuinfo; then echo avx512f; elif grep -qw avx2 /proc/cpuinfo; then echo avx2; else echo baseline; fi)," \
    "load $(cut -d' ' -f1 /proc/loadavg)"
train_s=$("$LLMNAS" run tests/bench/bench_parallel.lua calibrate)
echo "training one candidate: ${train_s} s (median of 3); LLM latency set to the same"
/usr/bin/python3 - "$T/replies.jsonl" "$train_s" "$N" <<'PY'
import json, sys
path, delay, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for i in range(n):
        w = 8 + i  # a distinct network each time
        net = ("function Net(x, classes)\n"
               "  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, %d, 3, {padding = 1, bias = false}))), 2)\n"
               "  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 24, 3, {padding = 1, bias = false}))), 2)\n"
               "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)\nend" % w)
        f.write(json.dumps({"reply": "```lua\n" + net + "\n```", "delay": delay}) + "\n")
PY
/usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --port-file "$T/port" --lifetime 3600 \
    --watch-pid $$ --loop >/dev/null &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat "$T/port")/v1"

# wall seconds of one run of N candidates
one() {
    db="$T/db-$1-$2"
    t0=$(date +%s.%N)
    "$LLMNAS" run tests/bench/bench_parallel.lua --db "$db" --iterations "$N" --base-url "$URL" \
        --model bench $3 >/dev/null 2>"$T/err" || { echo "run failed: $(tail -3 "$T/err")" >&2; echo 0; return; }
    awk "BEGIN {print $(date +%s.%N) - $t0}"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
serial=""
parallel=""
for r in $(seq 1 "$REPEATS"); do
    serial="$serial $(one serial "$r" "")"
    parallel="$parallel $(one parallel "$r" "--workers 2")"
done
s=$(echo "$serial" | median)
p=$(echo "$parallel" | median)
printf '%-28s %10s %14s\n' "" "wall (s)" "candidates/h"
printf '%-28s %10.1f %14.0f\n' "serial (workers 1)" "$s" "$(awk "BEGIN {print $N * 3600 / $s}")"
printf '%-28s %10.1f %14.0f\n' "--workers 2, async" "$p" "$(awk "BEGIN {print $N * 3600 / $p}")"
printf 'speed-up: %.2fx (target >= 1.7x; ideal 2x when LLM = training)   runs: serial%s / parallel%s\n' \
    "$(awk "BEGIN {print $s / $p}")" "$serial" "$parallel"
echo
"$LLMNAS" run tests/bench/bench_parallel_sim.lua "$T/db-serial-1" 1
