/*
 * train.c — the `train` Lua module: train a candidate graph and measure it.
 *
 *   local r, err, kind = train.evaluate(graph, {
 *       dataset = "fashion-mnist", data = nil, epochs = 1, batch = 128,
 *       subset = 0, stratified = false, val_fraction = 0.1, val_subset = 0,
 *       lr = 0.01, momentum = 0.9, weight_decay = 5e-4, cosine = true,
 *       augment = nil (dataset default), seed = 43, threads = 0,
 *       time_limit = 0, test = false, worker = true, winograd = false,
 *       precision = "fp32" | "bf16" | "auto",
 *       memory_limit = 0 (worker address-space headroom, bytes), deadline = 0 (worker
 *       wall clock, s; default time_limit * 1.25 + 120 when time_limit is set),
 *       max_params = ..., max_flops = ..., max_act_bytes = ...,
 *       checkpoints = 0, probe = 0,
 *       progress = function(p) end})   -- p: epoch, epochs, step, steps, loss, images_per_s,
 *                                      --    seconds [, checkpoint, window_loss, window_acc, probe_acc, probe_loss]
 *   → {dataset, every field of TRAIN_RESULT_FIELDS (runtime/train/train.h): val_acc, val_loss, train_loss, seconds, eval_seconds, build_seconds, probe_seconds,
 *      job_seconds, wall_seconds, images_per_s, steps, epochs_done, ntrain, nval, params,
 *      flops, peak_rss_mib [, test_acc, test_loss]}
 *   | nil, message, kind, step, cost (step: where a diverged run stopped, else nil; kind: too_large,
 *     diverged, timeout, interrupted, data, unsupported, crashed, limit_memory, limit_cpu,
 *     pruned, error; cost: {seconds, build_seconds, probe_seconds, cpu_seconds, wall_seconds, train_loss,
 *     steps})
 *   train.datasets() → {"fashion-mnist", ..., ["fashion-mnist"] = {name, about, input = {1, 28, 28},
 *                       classes = 10, splits = {train = 60000, test = 10000}, subdir, system_dir,
 *                       augment, mean, std}, ...}   (runtime/train/dataset.c's registry)
 *   train.precision(p [, g]) → "bf16" | "fp32", why   -- what precision p runs as in this
 *                       process, for graph g if given (auto is fp32 for a network with an op
 *                       that has no bf16 path); why: what the CPU and oneDNN report, or the op |
 *                       nil, message (bf16 without native bf16, bf16 for such a network, or an
 *                       unknown name)
 *   train.defaults() → {dataset, epochs, batch, lr, momentum, weight_decay, seed, ...}: the
 *                       values train.evaluate uses for options left out (train_opts_default)
 *   train.dataset(name) → that entry (also for a scheme: "folder:PATH" gives arg = "PATH") | nil, msg
 *   train.submit(graph, opts) → job | nil, message, kind    -- starts a worker, returns at once
 *   train.wait_any({job, ...}, timeout) → job, result | job, nil, message, kind, step, cost | nil
 *       (nil: timeout passed; result / cost carry wall_seconds and waited_seconds, cost.step;
 *        opts.progress of each job is called here, as its messages arrive; one that
 *        returns true stops that job: kind "pruned", as in evaluate)
 *   job:kill(), job:pid(), job:running()
 *   train.cores() → CPUs this process may use (for workers x threads <= cores)
 *   train.check_recipe(recipe) → true | nil, message: train.evaluate's option checks, no training
 *   train.memory_limit_enforced → true (every build, AddressSanitizer's too, enforces memory_limit)
 *   train.kinds → kind -> "ok" | "candidate" (cached like a score) | "transient" (not cached)
 *                 | "fatal" (the search stops), every kind a result can carry
 *
 * With worker = true (the default) training runs in a forked worker
 * (runtime/worker.h), so a crash or a hang costs one candidate. Wrong
 * arguments raise; a candidate that fails to train returns nil, msg, kind.
 *
 * Early abort: with checkpoints = N the progress function is also called at N
 * evenly spaced steps (p.checkpoint = 1..N, p.window_loss, p.window_acc, and with probe = M
 * p.probe_acc / p.probe_loss on M held-out images); a progress function that
 * returns true stops the candidate: nil, "stopped at step S of T", "pruned".
 * wall_seconds is the whole call (fork and result transfer included), so
 * wall_seconds - job_seconds is the worker's overhead.
 */
#include "bind/arch.h"
#include "train/dataset.h"
#include "host/host.h"
#include "base/rt.h"
#include "train/train.h"

#include <lauxlib.h>
#include <math.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

typedef struct progress_ud {
    lua_State *L;
    int fn;      /* stack index of the progress function */
    int failed;  /* the hook raised: stop calling it */
    char err[512];
} progress_ud;

/* Push the progress report p as the table a progress function gets. */
static void push_progress(lua_State *L, const train_progress *p)
{
    lua_createtable(L, 0, 11);
    lua_pushinteger(L, p->epoch), lua_setfield(L, -2, "epoch");
    lua_pushinteger(L, p->epochs), lua_setfield(L, -2, "epochs");
    lua_pushinteger(L, p->step), lua_setfield(L, -2, "step");
    lua_pushinteger(L, p->steps), lua_setfield(L, -2, "steps");
    lua_pushnumber(L, p->loss), lua_setfield(L, -2, "loss");
    lua_pushnumber(L, p->images_per_s), lua_setfield(L, -2, "images_per_s");
    lua_pushnumber(L, p->seconds), lua_setfield(L, -2, "seconds");
    if (p->checkpoint > 0) {
        lua_pushinteger(L, p->checkpoint), lua_setfield(L, -2, "checkpoint");
        if (isfinite(p->window_loss))
            lua_pushnumber(L, p->window_loss), lua_setfield(L, -2, "window_loss");
        if (isfinite(p->window_acc))
            lua_pushnumber(L, p->window_acc), lua_setfield(L, -2, "window_acc");
        if (isfinite(p->probe_acc))
            lua_pushnumber(L, p->probe_acc), lua_setfield(L, -2, "probe_acc");
        if (isfinite(p->probe_loss))
            lua_pushnumber(L, p->probe_loss), lua_setfield(L, -2, "probe_loss");
    }
}

/* Call the progress function on the stack top with p; 1 = stop the candidate
 * (it returned true, or raised: the error is raised once training stopped). */
static int call_progress(lua_State *L, const train_progress *p, int *failed, char *err, size_t errlen)
{
    push_progress(L, p);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        *failed = 1;
        rt_fmt(err, errlen, "in progress hook: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 1;
    }
    int stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

static int on_progress(const train_progress *p, void *ud)
{
    progress_ud *u = ud;
    if (u->failed)
        return 0;
    lua_pushvalue(u->L, u->fn);
    return call_progress(u->L, p, &u->failed, u->err, sizeof u->err);
}

static void read_opts(lua_State *L, int t, train_opts *o, int *worker, train_isolation *iso,
                      progress_ud *pu)
{
    train_opts_default(o);
    *worker = 1;
    if (lua_isnoneornil(L, t))
        return;
    luaL_checktype(L, t, LUA_TTABLE);
    o->dataset = host_opt_str(L, t, 2, "evaluate", "dataset", o->dataset);
    o->data_dir = host_opt_str(L, t, 2, "evaluate", "data", NULL);
    o->save_dir = host_opt_str(L, t, 2, "evaluate", "save", NULL);  /* a model folder (train_model.h) */
    o->epochs = (int)host_opt_int(L, t, 2, "evaluate", "epochs", o->epochs, 1, 10000);
    o->batch = (int)host_opt_int(L, t, 2, "evaluate", "batch", o->batch, 1, 65536);
    o->subset = (int)host_opt_int(L, t, 2, "evaluate", "subset", o->subset, 0, 1 << 30);
    o->stratified = host_opt_bool(L, t, "stratified", o->stratified);
    o->val_fraction = host_opt_num(L, t, 2, "evaluate", "val_fraction", o->val_fraction, 0, 0.99);
    o->val_subset = (int)host_opt_int(L, t, 2, "evaluate", "val_subset", o->val_subset, 0, 1 << 30);
    o->lr = host_opt_num(L, t, 2, "evaluate", "lr", o->lr, 1e-12, 1e30);
    o->momentum = host_opt_num(L, t, 2, "evaluate", "momentum", o->momentum, 0, 1);
    o->weight_decay = host_opt_num(L, t, 2, "evaluate", "weight_decay", o->weight_decay, 0, 1);
    o->cosine = host_opt_bool(L, t, "cosine", o->cosine);
    o->drop_last = host_opt_bool(L, t, "drop_last", o->drop_last);
    if (!o->drop_last)  /* a recipe's mistake, found before any training (train.check_recipe) */
        luaL_error(L, "train: drop_last = false is not supported: the trainer compiles its "
                   "primitives for one batch size, so an epoch's last partial batch is always "
                   "dropped (as PyTorch's drop_last=True)");
    lua_getfield(L, t, "augment");
    o->augment = lua_isnil(L, -1) ? o->augment : lua_toboolean(L, -1);
    lua_pop(L, 1);
    o->seed = (uint64_t)host_opt_int(L, t, 2, "evaluate", "seed", (lua_Integer)o->seed, 0, LUA_MAXINTEGER);
    o->threads = (int)host_opt_int(L, t, 2, "evaluate", "threads", o->threads, 0, 1024);
    o->time_limit = host_opt_num(L, t, 2, "evaluate", "time_limit", o->time_limit, 0, 1e7);
    o->test = host_opt_bool(L, t, "test", o->test);
    o->winograd = host_opt_bool(L, t, "winograd", o->winograd);
    const char *prec = host_opt_str(L, t, 2, "evaluate", "precision",
                                    train_precision_name(o->precision));
    o->precision = train_precision_parse(prec);
    if (o->precision < 0)
        luaL_error(L, "evaluate: precision must be \"fp32\", \"bf16\" or \"auto\", got '%s'", prec);
    o->checkpoints = (int)host_opt_int(L, t, 2, "evaluate", "checkpoints", o->checkpoints, 0, 1000);
    o->probe = (int)host_opt_int(L, t, 2, "evaluate", "probe", o->probe, 0, 1 << 30);
    o->max_params = (int64_t)host_opt_num(L, t, 2, "evaluate", "max_params", (double)o->max_params, 0, 1e15);
    o->max_flops = (int64_t)host_opt_num(L, t, 2, "evaluate", "max_flops", (double)o->max_flops, 0, 1e18);
    o->max_act_bytes = (int64_t)host_opt_num(L, t, 2, "evaluate", "max_act_bytes", (double)o->max_act_bytes, 0, 1e18);
    *worker = host_opt_bool(L, t, "worker", 1);
    iso->mem_bytes = (size_t)host_opt_num(L, t, 2, "evaluate", "memory_limit", 0, 0, 1e15);
    iso->deadline = host_opt_num(L, t, 2, "evaluate", "deadline", 0, 0, 1e7);
    lua_getfield(L, t, "progress");
    if (!lua_isnil(L, -1)) {
        luaL_argcheck(L, lua_isfunction(L, -1), t, "progress must be a function");
        pu->fn = lua_gettop(L);  /* stays on the stack during the call */
        pu->L = L;
        o->progress = on_progress;
        o->progress_ud = pu;
        return;
    }
    lua_pop(L, 1);
}

static void set_num(lua_State *L, const char *k, double v)
{
    if (isfinite(v)) {
        lua_pushnumber(L, v);
        lua_setfield(L, -2, k);
    }
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* The result as a table: every field of train_result_fields (train.h), doubles
 * left out when not measured. */
static void push_result(lua_State *L, const train_result *r)
{
    lua_createtable(L, 0, 20);
    for (const train_field *f = train_result_fields; f->name; f++) {
        double v = train_result_get(r, f);
        if (f->type == TRAIN_F_NUM)
            set_num(L, f->name, v);
        else
            set_int(L, f->name, (lua_Integer)v);
    }
}

/* evaluate's returns: the result table, or nil, message, kind, step, cost
 * (step: where a diverged run stopped, else nil; cost: what the failed or
 * stopped candidate cost). With t (a job) the job's times go on the result,
 * or on cost (with cost.step) for a failure. */
static int push_outcome(lua_State *L, int rc, const train_result *r, const char *err,
                        const char *kind, const char *dataset, double wall,
                        const train_job_times *t)
{
    if (t)
        wall = t->wall;
    if (rc) {
        lua_pushnil(L);
        /* Each stage names itself ("compiling candidate:", "building the network:"); an
         * early stop is a decision, not a failure of training. */
        const char *m = err[0] ? err : train_strerror(rc);
        if (strcmp(kind, "pruned") == 0 || strncmp(m, "training", 8) == 0)
            lua_pushstring(L, m);
        else
            lua_pushfstring(L, "training: %s", m);
        lua_pushstring(L, kind);
        if (r->diverged_step > 0)
            lua_pushinteger(L, r->diverged_step);
        else
            lua_pushnil(L);
        lua_createtable(L, 0, 8);
        set_num(L, "seconds", r->seconds);
        set_num(L, "build_seconds", r->build_seconds);
        set_num(L, "probe_seconds", r->probe_seconds);
        set_num(L, "cpu_seconds", r->cpu_seconds);
        set_num(L, "wall_seconds", wall);
        set_num(L, "train_loss", r->train_loss);
        set_int(L, "steps", r->steps);
        if (t) {
            set_num(L, "waited_seconds", t->waited);
            if (r->diverged_step > 0)
                set_int(L, "step", r->diverged_step);
        }
        return 5;
    }
    push_result(L, r);
    set_num(L, "wall_seconds", wall);
    if (t)
        set_num(L, "waited_seconds", t->waited);
    lua_pushstring(L, dataset);
    lua_setfield(L, -2, "dataset");
    return 1;
}

static int check_recipe_body(lua_State *L)
{
    train_opts o;
    int worker;
    train_isolation iso = {0};
    progress_ud pu = {0};
    read_opts(L, 1, &o, &worker, &iso, &pu);
    return 0;
}

/* train.check_recipe(recipe) → true | nil, message: the checks train.evaluate makes
 * of its options, without training (a search makes them before its run exists). */
static int l_check_recipe(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushcfunction(L, check_recipe_body);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_evaluate(lua_State *L)
{
    graph *g = arch_check_graph(L, 1);
    lua_settop(L, 2);
    train_opts o;
    int worker;
    train_isolation iso = {0};
    progress_ud pu = {0};
    read_opts(L, 2, &o, &worker, &iso, &pu);
    train_result r;
    char err[1024], kind[32];
    int rc;
    double t0 = rt_now();
    if (worker) {
        rc = train_evaluate_isolated(g, &o, &iso, &r, kind, sizeof kind, err, sizeof err);
    } else {
        rc = train_evaluate(g, &o, &r, err, sizeof err);
        rt_fmt(kind, sizeof kind, "%s", train_kind(rc));
    }
    double wall = rt_now() - t0;
    if (rc == TRAIN_EINTERRUPTED || rt_interrupted())
        return host_raise_interrupt(L);
    if (pu.failed)
        return luaL_error(L, "%s", pu.err);
    return push_outcome(L, rc, &r, err, kind, o.dataset, wall, NULL);
}

/* train.defaults(): the recipe train.evaluate uses for an option left out —
 * train_opts_default's values (runtime/train/train.c), the one place they
 * are written. augment is absent: the dataset decides (train.datasets()). */
static int l_defaults(lua_State *L)
{
    train_opts o;
    train_opts_default(&o);
    lua_createtable(L, 0, 20);
    lua_pushstring(L, o.dataset), lua_setfield(L, -2, "dataset");
    set_int(L, "epochs", o.epochs);
    set_int(L, "batch", o.batch);
    set_int(L, "subset", o.subset);
    lua_pushboolean(L, o.stratified), lua_setfield(L, -2, "stratified");
    set_num(L, "val_fraction", o.val_fraction);
    set_int(L, "val_subset", o.val_subset);
    set_num(L, "lr", o.lr);
    set_num(L, "momentum", o.momentum);
    set_num(L, "weight_decay", o.weight_decay);
    lua_pushboolean(L, o.cosine), lua_setfield(L, -2, "cosine");
    lua_pushboolean(L, o.drop_last), lua_setfield(L, -2, "drop_last");
    set_int(L, "seed", (lua_Integer)o.seed);
    set_int(L, "threads", o.threads);
    set_num(L, "time_limit", o.time_limit);
    lua_pushboolean(L, o.test), lua_setfield(L, -2, "test");
    lua_pushboolean(L, o.winograd), lua_setfield(L, -2, "winograd");
    lua_pushstring(L, train_precision_name(o.precision)), lua_setfield(L, -2, "precision");
    set_int(L, "max_params", o.max_params);
    set_int(L, "max_flops", o.max_flops);
    set_int(L, "max_act_bytes", o.max_act_bytes);
    return 1;
}

/* train.precision(p [, g]): what p resolves to here (for graph g: as the trainer
 * decides, train_bf16_unchecked), and why; nil, message when it cannot run (bf16
 * without native support, or for g) or is not a precision. */
static int l_precision(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const graph *g = lua_isnoneornil(L, 2) ? NULL : arch_check_graph(L, 2);
    int p = train_precision_parse(name), bf16;
    char err[256], why[160];
    if (p < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "precision must be \"fp32\", \"bf16\" or \"auto\", got '%s'", name);
        return 2;
    }
    if (train_precision_resolve(p, &bf16, err, sizeof err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    int k = bf16 && g ? train_bf16_refusal(g, err, sizeof err) : -1;
    if (k >= 0 && p == TRAIN_PRECISION_BF16) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    if (k >= 0) {
        lua_pushstring(L, "fp32");
        lua_pushfstring(L, "op %s has no bf16 path yet", graph_op_name(g->nodes[k].op));
        return 2;
    }
    int native = train_cpu_bf16(why, sizeof why);
    lua_pushstring(L, bf16 ? "bf16" : "fp32");
    lua_pushfstring(L, "%s%s", native ? "native bf16: " : "no native bf16: ", why);
    return 2;
}

/* The registry's entry e as a table: name, about, input {c, h, w}, classes,
 * splits {train, test}, subdir, system_dir, augment, mean, std (shape, classes
 * and splits absent where only the files tell, as for a scheme). */
static void push_dataset(lua_State *L, const ds_info *e)
{
    lua_createtable(L, 0, 10);
    lua_pushstring(L, e->name), lua_setfield(L, -2, "name");
    lua_pushstring(L, e->about), lua_setfield(L, -2, "about");
    if (e->c > 0) {
        int dims[3] = {e->c, e->h, e->w};
        lua_createtable(L, 3, 0);
        for (int i = 0; i < 3; i++)
            lua_pushinteger(L, dims[i]), lua_rawseti(L, -2, i + 1);
        lua_setfield(L, -2, "input");
        lua_createtable(L, e->c, 0);
        for (int i = 0; i < e->c && i < 3; i++)
            lua_pushnumber(L, e->mean[i]), lua_rawseti(L, -2, i + 1);
        lua_setfield(L, -2, "mean");
        lua_createtable(L, e->c, 0);
        for (int i = 0; i < e->c && i < 3; i++)
            lua_pushnumber(L, e->std[i]), lua_rawseti(L, -2, i + 1);
        lua_setfield(L, -2, "std");
    }
    if (e->classes > 0)
        lua_pushinteger(L, e->classes), lua_setfield(L, -2, "classes");
    if (e->ntrain > 0) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, e->ntrain), lua_setfield(L, -2, "train");
        lua_pushinteger(L, e->ntest), lua_setfield(L, -2, "test");
        lua_setfield(L, -2, "splits");
    }
    if (e->subdir)
        lua_pushstring(L, e->subdir), lua_setfield(L, -2, "subdir");
    if (e->system_dir)
        lua_pushstring(L, e->system_dir), lua_setfield(L, -2, "system_dir");
    lua_pushboolean(L, e->augment), lua_setfield(L, -2, "augment");
}

/* train.datasets(): the names in registry order (t[1], t[2], ...: the list
 * this function always returned) and, under each name, its entry. */
static int l_datasets(lua_State *L)
{
    int n = ds_count();
    lua_createtable(L, n, n);
    for (int i = 0; i < n; i++) {
        const ds_info *e = ds_at(i);
        lua_pushstring(L, e->name);
        lua_rawseti(L, -2, i + 1);
        push_dataset(L, e);
        lua_setfield(L, -2, e->name);
    }
    return 1;
}

/* train.dataset(name [, data [, load]]) → the entry for name (a plain name or a
 * scheme such as "folder:PATH", whose entry then carries arg = "PATH" and, from the
 * loaded files, input and classes), or nil, message. load = true also reads a
 * registered dataset's files from data (cached in this process, so forked workers
 * inherit them): a search checks its data this way before its run exists. */
static int l_dataset(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1), *arg;
    const char *data = luaL_optstring(L, 2, NULL);
    int load = lua_toboolean(L, 3);
    lua_settop(L, 3);
    const ds_info *e = ds_find(name, &arg);
    if (!e) {
        luaL_pushfail(L);
        lua_pushfstring(L, "unknown dataset '%s' (known: %s)", name, ds_names());
        return 2;
    }
    push_dataset(L, e);
    if (arg)
        lua_pushstring(L, arg), lua_setfield(L, -2, "arg");
    /* folder:PATH, or folder with the data directory: only the files tell; load them (cached) */
    int from_files = e->classes == 0 && arg && (*arg || data);
    if (from_files || load) {
        const ds_dataset *d;
        char err[1024];
        if (train_dataset_get(name, data, &d, err, sizeof err)) {
            luaL_pushfail(L);
            lua_pushstring(L, err);
            return 2;
        }
        if (from_files) {
            int dims[3] = {d->c, d->h, d->w};
            lua_createtable(L, 3, 0);
            for (int i = 0; i < 3; i++)
                lua_pushinteger(L, dims[i]), lua_rawseti(L, -2, i + 1);
            lua_setfield(L, -2, "input");
            lua_pushinteger(L, d->classes), lua_setfield(L, -2, "classes");
        }
    }
    return 1;
}

/* ---- asynchronous jobs: train.submit, train.wait_any, job:kill ---- */

#define JOB_MT "llmnas.train.job"
#define MAX_JOBS 64

typedef struct ljob {
    train_job *j;
    lua_State *L;      /* the thread inside wait_any, for progress calls */
    int fn_ref;        /* the progress function, LUA_NOREF if none */
    int failed;        /* the progress function raised: not called again */
    char err[512];
    char dataset[64];
    int taken;         /* its result was returned */
} ljob;

static ljob *check_job(lua_State *L, int i) { return luaL_checkudata(L, i, JOB_MT); }

static int job_progress(const train_progress *p, void *ud)
{
    ljob *u = ud;
    lua_State *L = u->L;
    if (u->failed || !L || u->fn_ref == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, u->fn_ref);
    return call_progress(L, p, &u->failed, u->err, sizeof u->err);
}

static int l_submit(lua_State *L)
{
    graph *g = arch_check_graph(L, 1);
    lua_settop(L, 2);
    train_opts o;
    int worker;
    train_isolation iso = {0};
    progress_ud pu = {0};
    read_opts(L, 2, &o, &worker, &iso, &pu);
    luaL_argcheck(L, worker, 2, "submit always trains in a worker (worker = false is evaluate's)");
    ljob *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->fn_ref = LUA_NOREF;
    luaL_setmetatable(L, JOB_MT);
    rt_fmt(u->dataset, sizeof u->dataset, "%s", o.dataset);
    if (o.progress) {
        lua_pushvalue(L, pu.fn);
        u->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        o.progress = job_progress;
        o.progress_ud = u;
    }
    char err[1024], kind[32];
    int rc = train_job_start(g, &o, &iso, &u->j, kind, sizeof kind, err, sizeof err);
    if (rc) {
        train_result r;
        train_result_init(&r);
        return push_outcome(L, rc, &r, err, kind, o.dataset, 0, NULL);
    }
    return 1;
}

static int l_wait_any(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    double timeout = luaL_optnumber(L, 2, -1);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n <= MAX_JOBS, 1, "at most 64 jobs at once");
    train_job *js[MAX_JOBS];
    ljob *us[MAX_JOBS];
    int live = 0;
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        ljob *u = check_job(L, -1);
        lua_pop(L, 1);  /* the table keeps it alive */
        us[i] = u;
        js[i] = u->taken || !u->j ? NULL : u->j;
        live += js[i] != NULL;
        u->L = L;
    }
    if (!live)
        return luaL_error(L, "train.wait_any: no job in the list is waiting for its result");
    int which;
    int rc = train_job_wait_any(js, n, timeout, &which);
    for (int i = 0; i < n; i++)
        us[i]->L = NULL;
    if (rc == TRAIN_EINTERRUPTED || rt_interrupted())
        return host_raise_interrupt(L);
    if (rc == 1) {
        lua_pushnil(L);
        return 1;
    }
    if (rc)
        return luaL_error(L, "train.wait_any: %s", train_strerror(rc));
    ljob *u = us[which];
    train_result r;
    train_job_times t;
    char err[1024], kind[32];
    rc = train_job_result(u->j, &r, &t, kind, sizeof kind, err, sizeof err);
    u->taken = 1;
    lua_rawgeti(L, 1, which + 1);
    if (u->failed) {
        /* a raising progress hook fails its candidate (it was stopped), as in evaluate */
        rt_fmt(err, sizeof err, "%s", u->err);
        rt_fmt(kind, sizeof kind, "hook");
        rc = TRAIN_EARG;
    }
    return 1 + push_outcome(L, rc, &r, err, kind, u->dataset, 0, &t);
}

static int l_job_kill(lua_State *L)
{
    ljob *u = check_job(L, 1);
    train_job_kill(u->j);
    return 0;
}

static int l_job_pid(lua_State *L)
{
    ljob *u = check_job(L, 1);
    lua_pushinteger(L, u->j ? train_job_pid(u->j) : -1);
    return 1;
}

static int l_job_running(lua_State *L)
{
    ljob *u = check_job(L, 1);
    lua_pushboolean(L, u->j && !u->taken && train_job_running(u->j));
    return 1;
}

static int l_job_gc(lua_State *L)
{
    ljob *u = check_job(L, 1);
    train_job_free(u->j);
    u->j = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, u->fn_ref);
    u->fn_ref = LUA_NOREF;
    return 0;
}

static int l_job_tostring(lua_State *L)
{
    ljob *u = check_job(L, 1);
    lua_pushfstring(L, "train.job (pid %d, %s)", (int)(u->j ? train_job_pid(u->j) : -1),
                    u->taken ? "done" : "in flight");
    return 1;
}

/* CPUs this process may run on (its affinity mask), for workers x threads. */
static int l_cores(lua_State *L)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n <= 0)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n > 0 ? n : 1);
    return 1;
}

int luaopen_llmnas_train(lua_State *L);
int luaopen_llmnas_train(lua_State *L)
{
    static const luaL_Reg fns[] = {{"evaluate", l_evaluate}, {"datasets", l_datasets},
                                   {"dataset", l_dataset}, {"defaults", l_defaults},
                                   {"submit", l_submit},     {"wait_any", l_wait_any},
                                   {"cores", l_cores},       {"precision", l_precision},
                                   {"check_recipe", l_check_recipe},
                                   {NULL, NULL}};
    static const luaL_Reg job_methods[] = {{"kill", l_job_kill}, {"pid", l_job_pid},
                                           {"running", l_job_running}, {NULL, NULL}};
    if (luaL_newmetatable(L, JOB_MT)) {
        luaL_newlib(L, job_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_job_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_job_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    /* Every build enforces it now (worker.h: under ASan too); kept for scripts that
     * asked, from when AddressSanitizer builds did not. */
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "memory_limit_enforced");
    /* train.kinds: kind -> "ok" | "candidate" | "transient" | "fatal" (train_status.c) */
    lua_createtable(L, 0, train_kind_count());
    for (int i = 0; i < train_kind_count(); i++) {
        const train_kind_info *k = train_kind_at(i);
        lua_pushstring(L, k->klass);
        lua_setfield(L, -2, k->kind);
    }
    lua_setfield(L, -2, "kinds");
    return 1;
}
