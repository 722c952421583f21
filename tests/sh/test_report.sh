# test_report.sh: llmnas report, plot and serve end to end, on real runs (evolve.lua on a
# small subset; paper.lua against the scripted LLM server) and on fixture runs written
# through the memory API (one iteration, nothing valid, 240 mixed iterations), with the
# page loaded in a real headless chromium: screenshot, DOM, and a net log proving the page
# asks for nothing over the network.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

have_chromium=0
command -v chromium >/dev/null 2>&1 && have_chromium=1
# chromium on a closed network hangs without these; a fresh profile each time
chrome() {  # chrome OUTFLAGS... URL
    prof=$(mktemp -d "$T/chrome.XXXXXX")
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --hide-scrollbars "$@" 2>>"$T/chrome.err"
}
png_size() { /usr/bin/python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(24); \
print('%dx%d' % struct.unpack('>II', d[16:24]) if d[:8] == b'\x89PNG\r\n\x1a\n' else 'not-png')" "$1"; }

# ---- fixtures: one iteration, nothing valid, 240 mixed iterations ----------------------
run "$LLMNAS" run "$ROOT/tests/e2e/report_fixtures.lua" fx
expect_rc 0 "fixture runs written"

run "$LLMNAS" report --db fx -o all.html
expect_rc 0 "report of every run"
expect_err "wrote all.html (3 runs)" "it says what it wrote"
grep -qF "default-src 'none'" all.html && pass "the page forbids every fetch (CSP default-src 'none')" \
    || fail "no CSP default-src 'none' in the page"
if grep -qiE '<(script|img|link|iframe|object|embed)[ >]|src=|url\([^#]|href="https?:' all.html; then
    fail "the page has a script or an external reference: $(grep -oiE '<(script|img|link|iframe)[^>]*>|src=[^ ]*|url\([^#][^)]*\)|href="https?:[^"]*' all.html | head -3)"
else
    pass "no script, image, link, src=, url() (other than #fragments) or http(s) href in the page"
fi
grep -qF '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;' all.html \
    && pass "markup in a candidate's code is shown as text" || fail "candidate code with markup is not escaped"
n=$(grep -c '<figure' all.html)
[ "$n" -eq 8 ] && pass "8 figures: 5 overlaid + a status figure per run" || fail "$n figures, expected 8"
grep -qF 'No candidate of this run trained successfully' all.html && pass "nothing-valid run: says there is no best" \
    || fail "nothing-valid run not explained"
grep -qF 'no valid candidate' fx2.html 2>/dev/null; :
run "$LLMNAS" report --db fx 2 -o two.html
expect_rc 0 "report of the nothing-valid run alone"
grep -qF 'no valid candidate: nothing trained successfully' two.html && pass "its history figure says why it is empty" \
    || fail "empty history figure has no note"
run "$LLMNAS" report --db fx 1 -o one.html
expect_rc 0 "report of a one-iteration run"
grep -qF 'id="layer0"' one.html && pass "one-iteration run: its network is drawn" || fail "one-iteration run: no graph"

# A long run's table is sampled, keeping the best and every accepted candidate.
run "$LLMNAS" report --db fx 3 --max-rows 50 -o sampled.html
expect_rc 0 "report with at most 50 candidate rows before sampling"
rows=$(grep -o 'id="r3-i[0-9]*"' sampled.html | wc -l)
grep -qF "$rows of 240 iterations" sampled.html && [ "$rows" -lt 240 ] \
    && pass "the table says it shows $rows of 240 iterations" || fail "sampled table: $rows rows, no matching note"
best3=$("$LLMNAS" show --db fx --format csv | awk -F, '$1 == 3 {print $7}')
grep -q "<tr id=\"r3-i$best3\" class=\"best\"" sampled.html && pass "the best candidate ($best3) keeps its row" \
    || fail "the best candidate's row ($best3) was sampled away"
missing=0
for it in $("$LLMNAS" show --db fx 3 --all --format csv | awk -F, '$11 == "true" {print $1}'); do
    grep -q "id=\"r3-i$it\"" sampled.html || missing=$((missing + 1))
done
[ "$missing" -eq 0 ] && pass "every accepted candidate keeps its row" || fail "$missing accepted candidates lost their rows"

# Every valid candidate of run 3 is a mark in its Pareto figure: its marks less those of
# the one-iteration run (legend and definitions alike, plus that run's single candidate).
run "$LLMNAS" plot --db fx 3 --kind pareto -o p3.svg
run "$LLMNAS" plot --db fx 1 --kind pareto -o p1.svg
ok3=$("$LLMNAS" show --db fx 3 --all --format csv | awk -F, '$2 == "ok"' | wc -l)
marks=$(( $(grep -c '<use' p3.svg) - $(grep -c '<use' p1.svg) + 1 ))
[ "$marks" -eq "$ok3" ] && pass "pareto figure: one mark per valid candidate ($ok3)" \
    || fail "pareto figure has $marks candidate marks, run 3 has $ok3 valid candidates"

# ---- llmnas plot: formats and sizes ---------------------------------------------------
for kind in history history-time pareto pareto-flops status budget; do
    run "$LLMNAS" plot --db fx 3 --kind $kind -o "$kind.png" --size 640x400
    [ "$rc" -eq 0 ] && [ "$(png_size "$kind.png")" = 640x400 ] && pass "plot --kind $kind: a 640x400 PNG" \
        || fail "plot --kind $kind: exit $rc, $(png_size "$kind.png" 2>/dev/null)"
done
run "$LLMNAS" plot --db fx 1 3 --kind history -o h.svg --size 800x500
head -c 300 h.svg | tr -d '\n' | grep -q '<svg *width="800" height="500"' && pass "plot: an 800x500 SVG" \
    || fail "plot: SVG header $(head -c 200 h.svg)"
run "$LLMNAS" plot --db fx 1 3 --kind history -o h.pdf --size 800x500
head -c 5 h.pdf | grep -q '^%PDF-' && grep -aq 'MediaBox \[ 0 0 576 360 \]' h.pdf \
    && pass "plot: a PDF of 8x5 inches (800x500 at 100 per inch)" || fail "plot: bad PDF"
grep -q 'rgb(  0, 114, 178)\|#0072[bB]2' h.svg && pass "in colour by default" || fail "no palette colour in the SVG"
NO_COLOR=1 "$LLMNAS" plot --db fx 1 3 --kind history -o mono.svg 2>/dev/null
grep -q 'rgb(  0, 114, 178)\|#0072[bB]2\|rgb(213,  94,   0)' mono.svg && fail "NO_COLOR still draws in colour" \
    || pass "NO_COLOR draws without colour"
grep -q 'stroke-dasharray' mono.svg && pass "series told apart by dashes (greyscale-safe)" || fail "no dashed series"
run "$LLMNAS" plot --db fx 3 --kind nope
expect_rc 64 "an unknown kind is a usage error"
expect_err "unknown --kind 'nope'" "it names the kind"
run "$LLMNAS" plot --db fx 9 --kind history -o nine.png
expect_rc 66 "no such run"
expect_err "no run 9" "it names the run"
[ -e nine.png ] && fail "a failed plot left nine.png behind" || pass "a failed plot leaves no file"
run "$LLMNAS" plot --db fx 3 --kind history -o x.gif
expect_rc 64 "an unknown image format is a usage error"
run "$LLMNAS" plot --db fx 1 3 --kind status
expect_rc 64 "status of two runs is refused"
run "$LLMNAS" report --db nowhere
expect_rc 66 "report of a missing store"
expect_err "give the store with --db DIR" "it says how to name the store"
run "$LLMNAS" report --db fx 1x
expect_rc 64 "a malformed RUN is a usage error"

# ---- real runs: evolve on a subset, paper.lua against the test server --------------------
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db real --iterations 2 --set subset=300
expect_rc 0 "evolve.lua: 2 iterations on a 300-image subset"
/usr/bin/python3 "$ROOT/tests/e2e/paper_replies.py" "$T/replies.jsonl"
/usr/bin/python3 "$ROOT/tests/llm_server.py" --replies "$T/replies.jsonl" --requests "$T/requests.jsonl" \
    --port-file "$T/port" --lifetime 900 --watch-pid $$ >/dev/null 2>&1 &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" LLMNAS_MODEL=test-model
run "$LLMNAS" run "$ROOT/examples/paper.lua" --db real --iterations 3 --set subset=300
expect_rc 0 "paper.lua: 3 iterations against the test server"
run "$LLMNAS" report --db real 1 2 -o real.html
expect_rc 0 "report of evolve and paper overlaid"
best2=$("$LLMNAS" show --db real --format csv | awk -F, '$1 == 2 {print $6}')
pct=$(/usr/bin/python3 -c "print('%.2f%%' % (100 * float('$best2')))")
if [ "$have_chromium" = 1 ]; then
    chrome --dump-dom "file://$T/real.html" >dom.html
    grep -q '<figure id="fig-history"' dom.html && grep -q '<figure id="fig-pareto"' dom.html \
        && grep -q 'id="fig-status-2"' dom.html && pass "chromium: the figures are in the DOM" \
        || fail "chromium: figures missing from the DOM"
    grep -qF 'run 2 (paper) best so far' dom.html && grep -qF 'run 1 (evolve) best so far' dom.html \
        && pass "chromium: the history figure's legend names both runs" || fail "chromium: legend lacks the runs"
    grep -qF ">$pct<" dom.html && pass "chromium: run 2's best val_acc ($pct) is the one llmnas show gives" \
        || fail "chromium: run 2's best $pct (from show) not in the page"
    layers=$("$LLMNAS" export real/exports/run-2/best.lua --format json | /usr/bin/python3 -c \
        "import json,sys; print(len(json.load(sys.stdin)['nodes']))")
    drawn=$(grep -o 'id="layer[0-9]*"' dom.html | sort -u | wc -l)
    grep -q '<div class="dag" id="dag-2"' dom.html && [ "$drawn" -ge "$layers" ] \
        && pass "chromium: the best networks are drawn ($drawn layer nodes; run 2's has $layers)" \
        || fail "chromium: $drawn layer nodes drawn, run 2's best alone has $layers"
    grep -q 'id="triples-table-2"' dom.html && grep -q 'id="r2-i3"' dom.html \
        && pass "chromium: paper's triples and every candidate's row" || fail "chromium: triples or rows missing"
    chrome --window-size=1280,2400 --screenshot="$T/real.png" "file://$T/real.html" >/dev/null
    [ "$(png_size real.png)" = 1280x2400 ] && [ "$(wc -c <real.png)" -gt 50000 ] \
        && pass "chromium: a 1280x2400 screenshot with content" || fail "chromium: screenshot $(png_size real.png)"
    [ -n "${LLMNAS_KEEP_SCREENSHOTS:-}" ] && cp real.png "$LLMNAS_KEEP_SCREENSHOTS/report-real.png"
    # The net log sees a page's requests: a control page that asks for one proves it.
    printf '<!DOCTYPE html><img src="http://127.0.0.1:9/probe.png">' >control.html
    chrome --log-net-log="$T/control.netlog" --dump-dom "file://$T/control.html" >/dev/null
    chrome --log-net-log="$T/real.netlog" --dump-dom "file://$T/real.html" >/dev/null
    /usr/bin/python3 "$ROOT/tests/e2e/netlog_requests.py" control.netlog >control.req
    grep -qx 'http://127.0.0.1:9/probe.png' control.req && pass "net log: a control page's request is seen" \
        || fail "net log: the control page's request is not seen (the check below would prove nothing)"
    /usr/bin/python3 "$ROOT/tests/e2e/netlog_requests.py" real.netlog >real.req
    if [ $? -eq 0 ] && [ ! -s real.req ]; then
        pass "net log: loading the report makes no network request"
    else
        fail "net log: the report asked for $(head -3 real.req)"
    fi
else
    skip "chromium is not installed (make deps): the browser checks"
fi

# ---- serve: live while paper.lua writes, read-only, survives kill -9 of the writer -----
"$LLMNAS" serve --db live --port 0 --refresh 2 >serve.out 2>serve.err &
srvpid=$!
i=0
while ! grep -q 'http://' serve.out && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
url=$(grep -o 'http://[0-9.:]*/' serve.out)
case "$url" in http://127.0.0.1:*) pass "serve listens on 127.0.0.1 ($url)" ;; *) fail "serve: no loopback URL: $(cat serve.out serve.err)" ;; esac
code=$(curl -s -o wait.html -w '%{http_code}' "$url")
[ "$code" = 503 ] && grep -q 'reloads itself' wait.html && pass "before the store exists: 503 and a page that waits" \
    || fail "before the store exists: HTTP $code"
"$LLMNAS" run "$ROOT/examples/paper.lua" --db live --iterations 40 --set subset=300 >writer.out 2>&1 &
writer=$!
i=0
while [ $i -lt 600 ]; do  # until two iterations are committed
    n=$("$LLMNAS" show --db live --format csv 2>/dev/null | awk -F, '$1 == 1 {print $4}')
    [ "${n:-0}" -ge 2 ] && break
    sleep 0.5; i=$((i + 1))
done
code=$(curl -s -o live1.html -w '%{http_code}' "$url")
[ "$code" = 200 ] && grep -q 'id="fig-history"' live1.html && grep -q 'http-equiv="refresh" content="2"' live1.html \
    && pass "GET / while the run writes: the report, reloading every 2 s" || fail "GET / while writing: HTTP $code"
code=$(curl -s -o run1.html -w '%{http_code}' "${url}run/1")
[ "$code" = 200 ] && grep -q 'id="candidates-table-1"' run1.html && pass "GET /run/1 while the run writes" \
    || fail "GET /run/1: HTTP $code"
code=$(curl -s -o post.txt -w '%{http_code}' -X POST -d 'x=1' "$url")
[ "$code" = 405 ] && pass "POST is refused (405)" || fail "POST: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${url}run/1")
[ "$code" = 405 ] && pass "DELETE is refused (405)" || fail "DELETE: HTTP $code"
for p in etc/passwd ../llmnas.db/data.mdb run/1/../../x run/99 'run/1x' data.mdb; do
    code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$url$p")
    [ "$code" = 404 ] && pass "GET /$p is refused (404)" || fail "GET /$p: HTTP $code"
done
kill -9 $writer 2>/dev/null
wait $writer 2>/dev/null
committed=$("$LLMNAS" show --db live --format csv | awk -F, '$1 == 1 {print $4}')
code=$(curl -s -o after.html -w '%{http_code}' "${url}run/1")
rows=$(grep -o 'id="r1-i[0-9]*"' after.html | sort -u | wc -l)
[ "$code" = 200 ] && [ "$rows" -eq "$committed" ] \
    && pass "after kill -9 of the writer: still answering, with its $committed committed iterations" \
    || fail "after kill -9: HTTP $code, $rows rows, $committed committed"
# serve holds no writer lock: a new writer gets the store at once, and the page follows it
run "$LLMNAS" run "$ROOT/tests/e2e/report_fixtures.lua" live
expect_rc 0 "a writer opens the store while serve reads it"
code=$(curl -s -o more.html -w '%{http_code}' "$url")
grep -qF 'run 4 (mixed)' more.html && pass "the page follows the new commits (runs 2-4 appear)" \
    || fail "the page does not show the new runs (HTTP $code)"
kill -TERM $srvpid
wait $srvpid
rc=$?
[ $rc -eq 0 ] && grep -q 'stopped' serve.out && pass "SIGTERM stops serve cleanly (exit 0)" || fail "serve exit $rc"
run "$LLMNAS" serve --port 99999
expect_rc 64 "a port out of range is a usage error"
run "$LLMNAS" serve --bind nowhere
expect_rc 64 "a bind address that is not IPv4 is a usage error"
stop_pid "$srv"
