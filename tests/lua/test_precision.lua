-- test_precision.lua: the precision recipe field in Lua — train.precision and
-- train.defaults, and the evaluation cache: results of one precision are never
-- served for another (auto keys as what it runs as on this machine).
local T = require "testing"
local F = require "fakes"
local search = require "llmnas.search"

local tests = {}

function tests.names_and_defaults()
  T.eq(train.defaults().precision, "fp32")
  T.eq(search.RECIPE.precision, "auto", "a search trains in auto (bf16 ranks as fp32: the agreement figures)")
  T.eq(train.precision("fp32"), "fp32")
  local auto, why = train.precision("auto")
  T.ok(auto == "bf16" or auto == "fp32", tostring(auto))
  T.ok(why:find("oneDNN ISA", 1, true), why)
  local none, msg = train.precision("fp16")
  T.eq(none, nil)
  T.ok(msg:find("\"fp32\", \"bf16\" or \"auto\"", 1, true), msg)
  T.raises(function() train.evaluate(arch.compile("function Net(x, c) return nn.Linear(nn.Flatten(x), c) end"),
    { precision = "half", worker = false }) end, "precision must be")
end

local function key(precision)
  return search.cache_key("h", { epochs = 1, lr = 0.01, dataset = "mnist", precision = precision })
end

function tests.cache_key_separates_precisions()
  T.eq(key("fp32"), search.cache_key("h", { epochs = 1, lr = 0.01, dataset = "mnist" }),
    "an fp32 key is the key records had before precision existed")
  T.eq(key("auto"), key((train.precision("auto"))), "auto keys as what it runs as here")
  if not train.precision("bf16") then T.skip("no native bf16 on this CPU") end
  T.ok(key("bf16") ~= key("fp32"), "bf16 and fp32 results have different keys")
end

-- A network with an op that has no bf16 path trains in fp32 under auto, so it keys
-- as fp32: an fp32 run is served what auto trained, and auto what fp32 trained.
function tests.auto_keys_a_network_of_an_unchecked_op_as_fp32()
  if not train.precision("bf16") then T.skip("no native bf16 on this CPU") end
  local shape = { input = { 1, 28, 28 }, classes = 10 }
  local ln = assert(arch.compile("function Net(x, c) return nn.Linear(nn.LayerNorm(nn.Flatten(x)), c) end", shape))
  local plain = assert(arch.compile("function Net(x, c) return nn.Linear(nn.Flatten(x), c) end", shape))
  local p, why = train.precision("auto", ln)
  T.eq(p, "fp32")
  T.ok(why:find("op LayerNorm has no bf16 path", 1, true), why)
  T.eq(train.precision("auto", plain), "bf16")
  local none, msg = train.precision("bf16", ln)
  T.eq(none, nil)
  T.ok(msg:find("op LayerNorm is not yet supported in bf16", 1, true), msg)
  local function k(g, precision)
    return search.cache_key(g, { epochs = 1, lr = 0.01, dataset = "mnist", precision = precision })
  end
  T.eq(k(ln, "auto"), k(ln, "fp32"), "auto's fp32 result is fp32's")
  T.eq(k(ln, "fp32"), k(ln:hash(), "fp32"), "a graph keys as its hash does")
  T.ok(k(plain, "auto") ~= k(plain, "fp32"), "a network auto trains in bf16 keys apart from fp32")
end

-- A fake trainer that notes the precision each evaluation asks for, and a one-iteration
-- search with the strategy's train table on a store.
local function recording()
  local tr, seen = F.train(), {}
  local evaluate = tr.evaluate
  tr.evaluate = function(g, o)
    seen[#seen + 1] = o.precision
    return evaluate(g, o)
  end
  local function run(db, train_opts)
    search.search({ name = "p", quiet = true, budget = { iterations = 1 }, train = train_opts,
      env = { arch = F.arch(), train = tr, db = db }, propose = function() return "net a 0.5" end })
  end
  return tr, seen, run
end

-- Two runs on one store: the second, in another precision, trains the network
-- again; a third, back in the first precision, is served from the cache.
function tests.a_search_never_serves_another_precisions_result()
  if not train.precision("bf16") then T.skip("no native bf16 on this CPU") end
  local db = F.db()
  local tr, seen, run = recording()
  run(db, { precision = "fp32" })
  run(db, { precision = "bf16" })
  T.eq(tr.trained, 2, "the bf16 run did not reuse the fp32 result")
  run(db, { precision = "fp32" })
  T.eq(tr.trained, 2, "the fp32 result is still served to fp32")
  T.eq(seen, { "fp32", "bf16" }, "the trainer was asked for each precision")
end

-- A strategy that says nothing of precision trains in auto; one that asks for fp32 gets it.
function tests.a_search_trains_in_auto_unless_told()
  local _, seen, run = recording()
  run(F.db(), nil)
  run(F.db(), { precision = "fp32" })
  T.eq(seen, { "auto", "fp32" })
end

function tests.a_precision_that_cannot_run_stops_the_search_before_it_starts()
  local s = { name = "p", quiet = true, budget = { iterations = 1 }, train = { precision = "half" },
    env = { arch = F.arch(), train = F.train(), db = F.db() }, propose = function() return "net a 0.5" end }
  T.raises(function() search.search(s) end, "train.precision: precision must be")
end

return tests
