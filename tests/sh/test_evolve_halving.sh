# test_evolve_halving.sh: examples/evolve.lua with successive halving (--set halving=...)
# on real training (a small Fashion-MNIST subset): lower rungs are recorded with their
# fidelity, each rung promotes its best 1/eta by its recorded accuracies, the same
# genome goes up, the population holds the last rung's results only, the best, `llmnas
# show`, `llmnas compare` and the closing lines count only full-fidelity results, a
# resumed run continues the same bracket, a lower rung validates on its share of the
# validation images, and bad values get one-line errors.
. "$(dirname "$0")/lib.sh"

cd "$T" || exit 1
# 1024 images (8 steps), rungs of 256 and 512; brackets of 4 at eta 2: 4 + 2 + 1 = 7 a bracket
SMALL="--set subset=1024 --set val_subset=256 --set halving=256,512 --set bracket=4 --set eta=2 --set population=2"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db a.db --iterations 21 $SMALL
expect_rc 0 "evolve.lua runs with successive halving"
cp "$T/out" a.out
expect_out "iter 21/21" "it spends its whole budget"
expect_out "(subset=256)" "a first-rung candidate is shown with its fidelity"
expect_out "(subset=512)" "a second-rung candidate is shown with its fidelity"
run "$LLMNAS" run "$ROOT/tests/e2e/check_halving.lua" a.db 2 2
expect_rc 0 "fidelities, promotions, the population and the best agree with the records"
cp "$T/out" check.out
cat check.out
best=$(sed -n 's/^best \([0-9]*\) \([0-9.]*%\)$/\1 \2/p' check.out)
lower=$(sed -n 's/^lower \([0-9]*\)$/\1/p' check.out)
first=$(sed -n 's/^first \([0-9]*\) \([0-9.]*%\)$/\1 \2/p' check.out)
if [ -n "$best" ] && [ -n "$lower" ] && [ -n "$first" ]; then
    pass "the check names the best, the lower-rung count and the first full result"
else
    fail "the check's summary lines are missing"
fi
grep -F "best ${best#* } (iteration ${best% *})" a.out | grep -F "vs the first candidate ${first#* } (iteration ${first% *})" \
    >/dev/null && pass "the closing line compares the best with the first full-fidelity result" ||
    fail "the closing line does not name the first full-fidelity result (${first})"

run "$LLMNAS" show --db a.db 1
expect_rc 0 "show the run"
grep -E "^ +1 +${best% *} +${best#* }" "$T/out" >/dev/null && pass "show's leaderboard leads with the full-fidelity best" ||
    fail "show's first row is not iteration ${best% *} at ${best#* }"
ranked=$(awk '/^leaderboard/{on=1; next} /^history/{on=0} on && /^ +[0-9]+ +[0-9]+ +[0-9.]+%/{print $2}' "$T/out")
[ -n "$ranked" ] && pass "the leaderboard ranks records" || fail "an empty leaderboard"
leaked=""
for it in $ranked; do
    case " $(sed -n 's/^lower_iters //p' check.out) " in *" $it "*) leaked="$leaked $it" ;; esac
done
[ -z "$leaked" ] && pass "no lower-rung record on the leaderboard" || fail "lower-rung iterations ranked:$leaked"
expect_out "trained at a lower fidelity left out" "show says it left the lower rungs out"
run "$LLMNAS" compare a.db:1 --json
expect_rc 0 "compare the run"
cp "$T/out" table.json
run "$LLMNAS" run "$ROOT/tests/e2e/check_compare.lua" table.json a.db
expect_rc 0 "compare's best is the full-fidelity best, its budget every record's compute"

# interrupted mid-bracket (in its second bracket's first rung), then resumed: the same records
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db b.db --iterations 9 $SMALL --set reference=off
expect_rc 0 "a shorter run"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db b.db --iterations 21 --resume $SMALL --set reference=off
expect_rc 0 "resumed to the same budget"
cat > same.lua <<'LUA'
local function recs(p)
  local db = assert(memory.open(p, { readonly = true }))
  local out = {}
  for r in db:iter(db:latest_run()) do
    out[#out + 1] = json.encode({ r.iter, r.status, r.hash, r.fidelity or "", r.metrics.val_acc or -1, r.notes },
      { canonical = true })
  end
  return out
end
local a, b = recs(arg[1]), recs(arg[2])
assert(#a == #b, ("%d records against %d"):format(#a, #b))
for i = 1, #a do assert(a[i] == b[i], ("iteration %d differs:\n  %s\n  %s"):format(i, a[i], b[i])) end
print(("%d records alike"):format(#a))
LUA
run "$LLMNAS" run same.lua a.db b.db
expect_rc 0 "the resumed run continues the same bracket: its records are the uninterrupted run's"

# a lower rung validates on its share of the validation images (at least 500), the last
# rung on the run's: 256 of 1024 training images, 1024 validation images -> 500
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db v.db --iterations 3 --set subset=1024 --set val_subset=1024 \
    --set halving=256 --set bracket=2 --set eta=2 --set reference=off
expect_rc 0 "a run whose lower rung validates on fewer images"
cat > nval.lua <<'LUA'
local db = assert(memory.open(arg[1], { readonly = true }))
for r in db:iter(db:latest_run()) do print(("rec %s %s %s"):format(r.iter, r.fidelity or "full", r.metrics.nval)) end
LUA
run "$LLMNAS" run nval.lua v.db
expect_out "rec 1 subset=256 val_subset=500 500" "the lower rung's record: its fidelity and 500 validation images"
expect_out "rec 2 subset=256 val_subset=500 500" "the rung's other child alike"
expect_out "rec 3 full 1024" "the promoted child at the last rung: the run's 1024"

# bad values: one line naming the setting, exit 64, nothing written
for bad in "halving=abc:expected on, off or the lower rungs' subsets" \
    "halving=64:at least the batch (128)" "halving=512,256:larger than the rung below it" \
    "halving=1024:smaller than the run's subset (1024)" "eta=1:expected a number > 1" \
    "bracket=0:expected a positive integer"; do
    set_arg=${bad%%:*}
    extra="--set halving=256"
    case $set_arg in halving=*) extra="" ;; esac
    run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db bad.db --iterations 1 --set subset=1024 $extra --set "$set_arg"
    expect_rc 64 "--set $set_arg is refused"
    expect_err "${bad#*:}" "--set $set_arg: it says what is wrong"
    if grep -q "traceback" "$T/err" || [ -e bad.db ]; then fail "--set $set_arg: a traceback or a memory"; else
        pass "--set $set_arg: no traceback, no memory"; fi
done
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db bad.db --iterations 1 --set eta=3
expect_rc 64 "eta without halving is refused"
expect_err "applies to successive halving only" "it says why"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db bad.db --iterations 2 --workers 2 --set halving=on
expect_rc 64 "halving with --workers 2 is refused"
expect_err "not with --workers N" "it says why"
