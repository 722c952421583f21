-- test_train_jobs.lua: asynchronous training jobs (train.submit, train.wait_any,
-- job:kill) on real worker processes and the real dataset: several in flight at
-- once, progress delivered to each job's own function, and failures that stay
-- local — one worker crashing, one hanging past its deadline, one over its memory
-- limit while the others finish with their metrics.
local T = require "testing"

local tests = {}
local have_data = io.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") ~= nil

local SMALL = [[
function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 8, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(x), classes)
end
]]

local function graph()
  local g, err, kind = arch.compile(SMALL)
  assert(g, tostring(err) .. " " .. tostring(kind))
  return g
end

local function opts(extra)
  local t = { subset = 512, val_subset = 256, threads = 1 }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- Waits for every job; returns {job -> {result, msg, kind, cost}} in arrival order too.
local function wait_all(jobs)
  local out, order = {}, {}
  for _ = 1, #jobs do
    local job, r, msg, kind, _, cost = train.wait_any(jobs)
    T.ok(job, "wait_any without a timeout returns a job")
    T.ok(out[job] == nil, "a job's result is handed out once")
    out[job] = { r = r, msg = msg, kind = kind, cost = cost }
    order[#order + 1] = job
  end
  return out, order
end

function tests.jobs_run_at_once_and_progress_goes_to_each_job()
  if not T.need(have_data, "the Fashion-MNIST dataset") then return end
  local g = graph()
  local seen = { 0, 0 }
  local steps = { 0, 0 }
  local jobs = {}
  for i = 1, 2 do
    -- different subsets: each job's progress must carry its own step count
    jobs[i] = assert(train.submit(g, opts({ subset = i * 512, progress = function(p)
      seen[i] = seen[i] + 1
      steps[i] = p.steps
    end })))
  end
  T.ok(jobs[1]:running() and jobs[2]:running(), "submit returns while the worker trains")
  T.ok(jobs[1]:pid() ~= jobs[2]:pid(), "each job has its own worker process")
  local out = wait_all(jobs)
  for i = 1, 2 do
    local o = out[jobs[i]]
    T.ok(o.r, tostring(o.msg) .. " " .. tostring(o.kind))
    T.eq(o.r.ntrain, i * 512)
    T.ok(o.r.val_acc > 0.2, "job " .. i .. " learned something: " .. tostring(o.r.val_acc))
    T.ok(o.r.wall_seconds > 0 and o.r.waited_seconds >= 0, "times are measured")
    T.ok(seen[i] >= 1, "job " .. i .. " got its progress")
    T.eq(steps[i], i * 512 // 128, "job " .. i .. "'s progress is its own")
    T.ok(not jobs[i]:running())
  end
  T.raises(function() train.wait_any(jobs) end, "no job in the list is waiting")
end

function tests.a_progress_function_that_returns_true_prunes_its_job_alone()
  if not T.need(have_data, "the Fashion-MNIST dataset") then return end
  local g = graph()
  local calls = 0
  -- early abort over jobs: the pruned job stops at its first checkpoint, the other finishes
  local pruned = assert(train.submit(g, opts({ subset = 4096, epochs = 2, checkpoints = 4, probe = 64,
    progress = function(p)
      if p.checkpoint then calls = calls + 1 return true end
    end })))
  local waccs = {}
  local kept = assert(train.submit(g, opts({ checkpoints = 4, progress = function(p)
    if p.checkpoint then waccs[#waccs + 1] = p.window_acc end
    return false
  end })))
  local out = wait_all({ pruned, kept })
  local o = out[pruned]
  T.eq(o.r, nil)
  T.eq(o.kind, "pruned", tostring(o.msg))
  T.ok(o.msg:find("stopped at step", 1, true), o.msg)
  T.eq(calls, 1, "no progress call after the stop")
  T.ok(o.cost and o.cost.steps > 0 and o.cost.steps < 2 * 4096 // 128, "the cost is what ran before the stop")
  -- the stopped worker's build and probe time come from its last report, so the
  -- pruned record's time breakdown is complete (issue #12)
  T.ok((o.cost.build_seconds or 0) > 0, "a pruned job's build time: " .. tostring(o.cost.build_seconds))
  T.ok((o.cost.probe_seconds or 0) > 0 and o.cost.probe_seconds < o.cost.seconds,
    "a pruned job's probe time (one probe of 64 images): " .. tostring(o.cost.probe_seconds))
  T.ok(out[kept].r, tostring(out[kept].msg))
  T.eq(#waccs, 4, "every checkpoint reports its window's accuracy")
  for _, a in ipairs(waccs) do T.ok(a >= 0 and a <= 1, "a window accuracy is a share: " .. tostring(a)) end
end

function tests.a_timeout_returns_nil_and_jobs_keep_running()
  if not T.need(have_data, "the Fashion-MNIST dataset") then return end
  local job = assert(train.submit(graph(), opts({ subset = 4096, epochs = 3 })))
  local j = train.wait_any({ job }, 0)
  T.eq(j, nil, "timeout 0 returns at once with nothing")
  T.ok(job:running())
  job:kill()
  local k, r, _, kind = train.wait_any({ job })
  T.eq(k, job)
  T.eq(r, nil)
  T.eq(kind, "killed")
end

function tests.failures_stay_local_crash_hang_memory()
  if not T.need(have_data, "the Fashion-MNIST dataset") then return end
  local g = graph()
  local ok1 = assert(train.submit(g, opts()))
  local crash = assert(train.submit(g, opts({ subset = 8192, epochs = 5 })))
  local hang = assert(train.submit(g, opts({ subset = 8192, epochs = 50, deadline = 2 })))
  local jobs = { ok1, crash, hang }
  local mem = assert(train.submit(g, opts({ memory_limit = 4 * 2^20 })))
  jobs[#jobs + 1] = mem
  local ok2 = assert(train.submit(g, opts({ seed = 7 })))
  jobs[#jobs + 1] = ok2
  -- a segmentation fault in one worker, as a bug in a kernel would cause
  T.ok(os.execute("kill -SEGV " .. crash:pid()), "signal sent")
  local out = wait_all(jobs)
  T.ok(out[ok1].r and out[ok1].r.val_acc > 0.2, "the first healthy job finished: " .. tostring(out[ok1].msg))
  T.ok(out[ok2].r and out[ok2].r.val_acc > 0.2, "the second healthy job finished: " .. tostring(out[ok2].msg))
  T.eq(out[crash].r, nil)
  T.eq(out[crash].kind, "crashed", tostring(out[crash].msg))
  T.ok(out[crash].msg:find("Segmentation", 1, true), out[crash].msg)
  T.eq(out[hang].kind, "timeout", tostring(out[hang].msg))
  T.eq(out[mem].r, nil)
  T.ok(out[mem].kind == "limit_memory" or out[mem].kind == "crashed",
    tostring(out[mem].kind) .. ": " .. tostring(out[mem].msg))
end

function tests.bad_input_is_an_error_not_a_crash()
  T.raises(function() train.submit({}, {}) end, "Graph expected")
  if not have_data then return end
  T.raises(function() train.submit(graph(), { worker = false }) end, "always trains in a worker")
  local job, msg, kind = train.submit(graph(), { dataset = "cifar10", data = "/nonexistent" })
  T.eq(job, nil)
  T.eq(kind, "data", tostring(msg))
end

function tests.cores_is_positive()
  T.ok(math.type(train.cores()) == "integer" and train.cores() >= 1)
end

return tests
