-- test_genome.lua: the offline search space (llmnas.genome) on the real compiler:
-- every draw and mutation compiles, stays under the FLOPs cap (the estimate is the
-- compiler's count), and the reference genome is examples/nets/bench_small.lua.
local T = require "testing"
local genome = require "llmnas.genome"
local rng_mod = require "llmnas.rng"

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../../"
local SHAPE = { input = { 1, 28, 28 }, classes = 10 }

local tests = {}

function tests.the_reference_genome_is_bench_small()
  local f = assert(io.open(ROOT .. "examples/nets/bench_small.lua"))
  local ref = assert(arch.compile(f:read("a"), SHAPE))
  f:close()
  local g = assert(arch.compile(genome.render(genome.reference()), SHAPE))
  T.eq(g:hash(), ref:hash(), "the same graph")
end

function tests.draws_and_mutations_compile_under_the_cap()
  local rng = rng_mod.new(5)
  local kinds = {}
  local g = genome.random(rng)
  for i = 1, 60 do
    local child, kind = genome.mutate(g, rng)
    kinds[kind] = true
    for _, x in ipairs({ child, genome.random(rng) }) do
      local net, err = arch.compile(genome.render(x), SHAPE)
      T.ok(net, ("draw %d (%s) does not compile: %s"):format(i, genome.describe(x), tostring(err)))
      T.near(genome.mflops(x), net:flops() / 1e6, 1e-6, "the FLOPs estimate is the compiler's")
      T.ok(genome.mflops(x) <= genome.MAX_MFLOPS, "under the cap: " .. genome.describe(x))
    end
    if i % 3 == 0 then g = child end
  end
  for _, k in ipairs({ "width", "blocks", "kernel", "kind", "act", "pool", "hidden", "norm" }) do
    T.ok(kinds[k], "mutation kind seen: " .. k)
  end
end

return tests
