-- test_rank.lua: Spearman's rho and Kendall's tau-b (llmnas.rank) on cases worked by hand.
local T = require "testing"
local rank = require "llmnas.rank"

local tests = {}

function tests.perfect_and_reversed_orders()
  T.near(rank.spearman({ 1, 2, 3, 4 }, { 10, 20, 30, 40 }), 1, 1e-12)
  T.near(rank.kendall({ 1, 2, 3, 4 }, { 10, 20, 30, 40 }), 1, 1e-12)
  T.near(rank.spearman({ 1, 2, 3, 4 }, { 4, 3, 2, 1 }), -1, 1e-12)
  T.near(rank.kendall({ 1, 2, 3, 4 }, { 4, 3, 2, 1 }), -1, 1e-12)
end

function tests.one_swapped_pair()
  -- d = 0,1,1,0: rho = 1 - 6 * 2 / (4 * 15) = 0.8; 5 concordant, 1 discordant of 6: tau = 4/6
  T.near(rank.spearman({ 1, 2, 3, 4 }, { 1, 3, 2, 4 }), 0.8, 1e-12)
  T.near(rank.kendall({ 1, 2, 3, 4 }, { 1, 3, 2, 4 }), 4 / 6, 1e-12)
end

function tests.ties_take_the_mean_rank_and_tau_b_accounts_for_them()
  T.eq(rank.ranks({ 0.7, 0.5, 0.7, 0.1 }), { 3.5, 2, 3.5, 1 })
  -- x = 1,2,2,3, y = 1,2,3,4: 5 concordant, 0 discordant, 1 pair tied in x only:
  -- tau_b = 5 / sqrt(6 * 5)
  T.near(rank.kendall({ 1, 2, 2, 3 }, { 1, 2, 3, 4 }), 5 / math.sqrt(30), 1e-12)
  -- ranks 1, 2.5, 2.5, 4 against 1..4: Pearson of the ranks
  T.near(rank.spearman({ 1, 2, 2, 3 }, { 1, 2, 3, 4 }), 4.5 / math.sqrt(4.5 * 5), 1e-12)
  T.raises(function() rank.spearman({ 1 }, { 1 }) end, "two lists of the same length")
end

return tests
