-- test_train.lua: the train module — train.evaluate in a worker and in-process,
-- the result table, progress hooks, failure kinds (nil, message, kind) and
-- argument errors.
local T = require "testing"

local tests = {}
local have_data = io.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") ~= nil

local SMALL = [[
function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 16, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(x), classes)
end
]]

local function graph(src)
  local g, err, kind = arch.compile(src or SMALL)
  assert(g, tostring(err) .. " " .. tostring(kind))
  return g
end

local OPTS = { subset = 512, val_subset = 500, threads = 2 }
local function opts(extra)
  local t = {}
  for k, v in pairs(OPTS) do t[k] = v end
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

function tests.evaluate_in_a_worker_returns_metrics()
  if not have_data then T.skip("Fashion-MNIST not installed (make deps installs it)") end
  local steps = 0
  local r, err, kind = train.evaluate(graph(), opts({ progress = function(p)
    T.ok(p.step >= 1 and p.step <= p.steps and p.loss == p.loss)
    steps = p.step
  end }))
  T.ok(r, tostring(err) .. " " .. tostring(kind))
  T.ok(r.val_acc > 0.4 and r.val_acc <= 1, "val_acc " .. tostring(r.val_acc))
  T.ok(r.val_loss > 0 and r.train_loss > 0)
  T.eq(r.ntrain, 512)
  T.eq(r.nval, 500)
  T.eq(r.steps, 4)
  T.eq(steps, 4, "progress reached the last step")
  T.eq(r.dataset, "fashion-mnist")
  T.eq(r.params, 16 * 9 + 32 + 16 * 14 * 14 * 10 + 10)
  T.ok(r.images_per_s > 0 and r.seconds > 0)
  T.eq(r.test_acc, nil, "no test metrics unless asked")
end

function tests.in_process_matches_the_worker()
  if not have_data then T.skip("Fashion-MNIST not installed (make deps installs it)") end
  local g = graph()
  local a = assert(train.evaluate(g, opts({ worker = false, test = true })))
  local b = assert(train.evaluate(g, opts({ test = true })))
  T.eq(a.val_loss, b.val_loss, "deterministic for a seed and thread count")
  T.ok(a.test_acc > 0.4)
end

function tests.failures_return_nil_message_kind()
  if not have_data then T.skip("Fashion-MNIST not installed (make deps installs it)") end
  local r, err, kind = train.evaluate(graph(), opts({ max_params = 100 }))
  T.eq(r, nil)
  T.eq(kind, "too_large")
  T.ok(err:find("parameters", 1, true), err)
  local step
  r, err, kind, step = train.evaluate(graph(), opts({ lr = 1e30 }))
  T.eq(r, nil)
  T.eq(kind, "diverged")
  T.ok(err:find("diverged", 1, true), err)
  T.ok(step >= 1 and step <= 4)
  r, err, kind = train.evaluate(graph(), opts({ dataset = "cifar10", data = "/nonexistent" }))
  T.eq(r, nil)
  T.eq(kind, "data")
  T.ok(err:find("not found", 1, true), err)
end

function tests.memory_limit_costs_one_candidate()
  if not have_data then T.skip("Fashion-MNIST not installed (make deps installs it)") end
  T.eq(train.memory_limit_enforced, true, "every build enforces the limit (ASan's too)")
  -- A network needing well over a GiB (512 channels at 28x28, batch 128) under a 256 MiB
  -- limit: enough to start the worker and its threads (a limit of a few MiB fails there,
  -- and the outcome says nothing about the limit), far too little for the network. The
  -- kind must be limit_memory, never a crash.
  local wide = graph([[
function Net(x, classes)
  x = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 512, 3, {padding = 1, bias = false})))
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x)), classes)
end
]])
  local r, err, kind = train.evaluate(wide, opts({ memory_limit = 256 * 2^20 }))
  T.eq(r, nil)
  T.eq(kind, "limit_memory", tostring(err))
  r = train.evaluate(graph(), opts())
  T.ok(r and r.val_acc > 0.4, "the next candidate trains normally")
end

function tests.bad_arguments_raise()
  T.raises(function() train.evaluate("graph") end, "llmnas.Graph expected")
  local g = graph()
  T.raises(function() train.evaluate(g, { epochs = 0 }) end, "epochs must be an integer")
  T.raises(function() train.evaluate(g, { lr = "fast" }) end, "lr must be a number")
  T.raises(function() train.evaluate(g, { progress = 5 }) end, "progress must be a function")
end

function tests.datasets_lists_the_registry()
  local d = train.datasets()
  T.eq(d[1], "fashion-mnist")
  T.eq(#d, 6)
  T.eq({ d[1], d[2], d[3], d[4], d[5], d[6] },
    { "fashion-mnist", "mnist", "cifar10", "cifar100", "cifar100-coarse", "folder:" })
  T.eq(d["folder:"].input, nil, "an image folder's shape comes from its files")
  T.eq(d["fashion-mnist"].input, { 1, 28, 28 })
  T.eq(d["fashion-mnist"].classes, 10)
  T.eq(d["fashion-mnist"].splits, { train = 60000, test = 10000 })
  T.eq(d["fashion-mnist"].system_dir, "/usr/share/datasets/fashion-mnist")
  T.eq(d.cifar10.input, { 3, 32, 32 })
  T.eq(d.cifar10.augment, true)
  T.eq(d.cifar100.classes, 100)
  T.eq(d["cifar100-coarse"].classes, 20)
  T.eq(d["cifar100-coarse"].subdir, "cifar-100-binary")
  for _, name in ipairs(d) do
    T.eq(train.dataset(name).name, name, "train.dataset finds every listed name")
  end
  local none, msg = train.dataset("imagenet")
  T.eq(none, nil)
  T.ok(msg:find("unknown dataset 'imagenet' (known: fashion-mnist, mnist", 1, true), msg)
end

-- The recipe defaults are the C trainer's (train_opts_default), the one place they live.
function tests.defaults_are_the_trainers()
  local d = train.defaults()
  T.eq(d.dataset, "fashion-mnist")
  T.eq({ d.epochs, d.batch, d.lr, d.momentum, d.weight_decay, d.seed, d.val_fraction, d.cosine },
    { 1, 128, 0.01, 0.9, 5e-4, 43, 0.1, true })
  T.eq(math.type(d.seed), "integer")
  T.eq(d.max_params, 50000000)
  d.seed = 7
  T.eq(train.defaults().seed, 43, "a fresh table each call")
end

-- issue #18: an epoch is full batches; the last partial one is dropped (PyTorch's
-- drop_last=True, tests/sh/test_train_partial.sh holds it against torch's DataLoader),
-- the recipe says so, and asking for the other behaviour is refused, not ignored.
function tests.the_last_partial_batch_is_dropped()
  T.eq(train.defaults().drop_last, true)
  if not have_data then T.skip("Fashion-MNIST not installed (make deps installs it)") end
  local seen = 0
  local r, err, kind = train.evaluate(graph(), opts({ subset = 300, epochs = 2,
    progress = function(p) seen = p.steps end }))
  T.ok(r, tostring(err) .. " " .. tostring(kind))
  T.eq(r.ntrain, 300)
  T.eq(r.steps, 4, "2 epochs of 300 images: 2 full batches of 128 each, 44 images dropped")
  T.eq(seen, 4, "the schedule's length (cosine T_max) counts full batches only")
  T.raises(function() train.evaluate(graph(), opts({ drop_last = false })) end,
    "drop_last = false is not supported")
end

-- issue #18: a chosen data directory without the dataset is an error naming what was
-- looked for, never Debian's Fashion-MNIST behind the user's back.
function tests.a_wrong_data_directory_is_an_error()
  local dir = os.tmpname()
  os.remove(dir)
  local r, err, kind = train.evaluate(graph(), { data = dir, subset = 64, epochs = 1 })
  T.eq(r, nil)
  T.eq(kind, "data")
  T.ok(err:find("train-images-idx3-ubyte or train-labels-idx1-ubyte (optionally .gz) not found in "
    .. dir .. "/fashion-mnist, " .. dir, 1, true), err)
  T.ok(err:find("so /usr/share/datasets/fashion-mnist is not used", 1, true), err)
end

return tests
