# test_prompts_e2e.sh: paper.lua's prompts and repair round against the test server
# (issue #13, items 1 and 3) — real client, real compiles, real training on a small
# Fashion-MNIST subset, real memory. The recipe's numbers in the prompt are the ones the
# trainer reports; the improver's feedback carries the measured fields; a shape error is
# repaired into a trained candidate; a repair that fails again is recorded with both
# errors; --set repair=0 sends no repair request.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
SUBSET=640

/usr/bin/python3 tests/e2e/repair_replies.py "$T/replies.jsonl"
start_server() {  # $1 = name
    rm -f "$T/port.$1"
    /usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --requests "$T/requests.$1.jsonl" \
        --port-file "$T/port.$1" --lifetime 600 --watch-pid $$ --models test-model &
    srv=$!
    i=0
    while [ ! -s "$T/port.$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port.$1")/v1" LLMNAS_MODEL=test-model
}
stop_server() { stop_pid "$srv"; }

start_server a
run "$LLMNAS" run examples/paper.lua --db "$T/db" --iterations 3 --set subset=$SUBSET
expect_rc 0 "paper.lua with the repair round runs 3 iterations"
stop_server
cat >"$T/check.lua" <<'LUA'
local T = require "testing"
local db = assert(memory.open(os.getenv("CHECK_DB"), { readonly = true }))
local recs = {}
for r in db:iter(1) do recs[#recs + 1] = r end
local function prompt(rec, role, n)
  local k = 0
  for _, p in ipairs(rec.prompts) do
    if p.role == role then
      k = k + 1
      if k == (n or 1) then return p.messages[#p.messages].content, p end
    end
  end
  error(("no %s prompt in iteration %d"):format(role, rec.iter))
end
local function has(text, s, msg) T.ok(text:find(s, 1, true), msg .. ": lacks '" .. s .. "' in:\n" .. text) end
local tests = {}

function tests.recipe_numbers_are_the_trainers()
  local g = prompt(recs[2], "generator")
  local m = recs[1]
  has(g, ("%d training images, 1 epoch of %d steps of batch 128"):format(640, 640 // 128), "images and steps")
  has(g, "lr 0.01 with a per-step cosine schedule to 0, momentum 0.9, weight decay 0.0005", "optimiser")
  has(g, "augmentation: none", "augmentation (Fashion-MNIST has none)")
  has(g, "validation accuracy on 6000 held-out images", "validation size")
  local se = math.sqrt(m.metrics.val_acc * (1 - m.metrics.val_acc) / 6000) * 100
  has(g, ("its standard error is %.2f points"):format(se), "SE at the current accuracy")
  has(g, "at most 50 M parameters", "caps")
  has(g, "to apply now, to the best network (iteration 1, ", "what the suggestion applies to")
  -- Before any training the sizes are computed: they must be what the trainer then ran.
  has(prompt(recs[1], "generator"), ("%d training images, 1 epoch of %d steps"):format(m.ntrain or 640,
    m.steps or 5), "computed sizes")
end

function tests.improver_feedback_carries_the_measured_fields()
  local p = prompt(recs[1], "improver")
  local m = recs[1].metrics
  has(p, ("validation accuracy: %.2f%%"):format(m.val_acc * 100), "accuracy")
  has(p, ("training loss (last epoch): %.4f"):format(m.train_loss), "train loss")
  has(p, ("validation loss: %.4f"):format(m.val_loss), "val loss")
  has(p, ("parameters: %d"):format(m.params), "params")
  has(p, "FLOPs per image: ", "flops")
  has(p, ("training time: %.1f s"):format(m.seconds), "time")
  local p3 = prompt(recs[3], "improver")
  has(p3, "failed (shape): ", "a failure's kind")
end

function tests.a_shape_error_is_repaired_into_a_trained_candidate()
  local r = recs[2]
  T.eq(r.status, "ok", "iteration 2 trained")
  T.eq(r.repair.fixed, true)
  T.eq(#r.repair.attempts, 1)
  T.eq(r.repair.attempts[1].kind, "shape")
  T.ok(r.repair.attempts[1].error:find("Linear", 1, true), r.repair.attempts[1].error)
  T.eq(r.llm.repair.calls, 1, "the repair call is booked")
  T.eq(r.llm.repair.prompt_tokens, 100, "its tokens count")
  local content, p = prompt(r, "repair")
  has(content, "does not compile", "the repair prompt")
  has(content, "Linear", "the engine's error goes back")
  T.eq(p.messages[#p.messages - 1].role, "assistant", "the failing reply is in the conversation")
  T.ok(r.code:find("nn.Flatten", 1, true), "the record's code is the repaired one")
end

function tests.a_repair_that_fails_again_is_recorded()
  local r = recs[3]
  T.eq(r.status, "failed")
  T.eq(r.error_kind, "shape")
  T.eq(r.repair.fixed, false)
  T.eq(#r.repair.attempts, 1, "repair = 1: one attempt")
  T.ok(r.repair.attempts[1].error:find("Linear", 1, true), "the first error is kept")
  T.ok(r.error:find("Linear", 1, true), "the record's error is the repaired code's")
end

return tests
LUA
CHECK_DB="$T/db" run "$LLMNAS" run tests/lua/runner.lua "$T/check.lua"
cat "$T/out"
expect_rc 0 "the records and prompts hold what the run did"
n=$(grep -c '"POST"' "$T/requests.a.jsonl")
[ "$n" -eq 8 ] && pass "8 LLM calls: 3 generator + 2 repair + 3 improver" || fail "$n LLM calls, expected 8"

# repair=0: the paper — no repair request, iteration 2 fails with its shape error.
start_server b
run "$LLMNAS" run examples/paper.lua --db "$T/db0" --iterations 2 --set subset=$SUBSET --set repair=0
expect_rc 0 "repair=0 runs"
stop_server
if grep -q "does not compile" "$T/requests.b.jsonl"; then fail "repair=0 sent a repair request"
else pass "repair=0 sends no repair request"; fi
