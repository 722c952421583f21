/*
 * cmd_run.c — `llmnas run SCRIPT.lua [ARGS...]`: runs a strategy script in the
 * Lua host. Options of llmnas are accepted before or after the script (so
 * `llmnas run paper.lua --resume` works); everything else after the script,
 * and everything after `--`, goes to the script in `arg`. The parsed options
 * are the table `require "llmnas.options"`.
 */
#include "cli/cli.h"
#include "cli/script_options.h"
#include "host/core.h"
#include "host/host.h"
#include "base/rt.h"
#include "mpi/mpi_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char run_usage[] =
    "llmnas run [OPTIONS] SCRIPT.lua [ARGS...] [OPTIONS]";

static const char run_help[] =
    "usage: llmnas run [OPTIONS] SCRIPT.lua [ARGS...]\n"
    "\n"
    "Runs a search strategy written in Lua. ARGS are the script's `arg` table;\n"
    "the options below may stand before or after the script (use -- to pass\n"
    "an argument that looks like an option to the script). An option that is\n"
    "neither below nor declared by the script (`--@option --name VALUE help`\n"
    "lines; `llmnas run SCRIPT --help` lists them) is an error.\n"
    "\n"
    "options:\n"
    "  --db DIR           feedback memory directory (default ./llmnas.db)\n"
    "  --resume           continue the latest run where it stopped\n"
    "  --run ID           continue run ID\n"
    "  --iterations N     iteration budget\n"
    "  --dataset NAME     one of the datasets below (default: the strategy's task,\n"
    "                     else @DEFAULT_DATASET@)\n"
    "  --data DIR         dataset directory (default: $LLMNAS_DATA, else ./data; a dataset\n"
    "                     with a system copy, such as Debian's Fashion-MNIST, uses it only\n"
    "                     when no directory was chosen)\n"
    "  --workers N        candidates training at once, each in its own worker\n"
    "                     (default 1: the serial loop)\n"
    "  --threads N        OpenMP threads per training worker (default: cores / workers)\n"
    "  --order MODE       with --workers: arrival (default) or iteration (commit in\n"
    "                     proposal order: reproducible, the default with --llm-cache)\n"
    "  --set KEY=VALUE    a strategy setting (repeatable), e.g. --set k=5\n"
    "  --llm-cache MODE   record, replay or off\n"
    "  --base-url URL     OpenAI-compatible endpoint (e.g. http://127.0.0.1:11434/v1)\n"
    "  --model NAME       model name for the endpoint\n"
    "  -h, --help         this help\n"
    "\n"
    "datasets:\n"
    "@DATASETS@\n"
    "\n"
    "exit codes: 0 done, 64 bad usage, 65 script syntax error, 66 script not\n"
    "readable, 69 LLM server unreachable, 70 error escaping the script,\n"
    "78 configuration error (no LLM endpoint or model, unknown model, bad key),\n"
    "130 interrupted (Ctrl-C)\n";

/* Options with a value, stored under the key of the same name (dashes -> _). */
static const struct { const char *flag, *key; int integer; } value_opts[] = {
    {"--db", "db", 0},           {"--run", "run", 0},
    {"--iterations", "iterations", 1}, {"--dataset", "dataset", 0},
    {"--data", "data", 0},
    {"--llm-cache", "llm_cache", 0}, {"--base-url", "base_url", 0},
    {"--model", "model", 0},
    {"--workers", "workers", 1}, {"--threads", "threads", 1},
    {"--order", "order", 0},
    {NULL, NULL, 0}};

/* --set value: "true"/"false" become booleans, numerals numbers, the rest strings. */
static void push_setting(lua_State *L, const char *v)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
        lua_pushboolean(L, 1);
    else if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
        lua_pushboolean(L, 0);
    else if (lua_stringtonumber(L, v) == 0)
        lua_pushstring(L, v);
}

/* Parses one option at argv[*i] into the options table at the top of the
 * stack. Returns 1 if consumed, 0 if not an llmnas option, or -EX_USAGE. */
static int parse_option(lua_State *L, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--resume") == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "resume");
        return 1;
    }
    for (int k = 0; value_opts[k].flag; k++) {
        size_t fl = strlen(value_opts[k].flag);
        const char *val = NULL;
        if (strcmp(a, value_opts[k].flag) == 0) {
            if (*i + 1 >= argc)
                return -cli_usage_error("run", run_usage, "option %s needs a value", a);
            val = argv[++*i];
        } else if (strncmp(a, value_opts[k].flag, fl) == 0 && a[fl] == '=') {
            val = a + fl + 1;
        } else {
            continue;
        }
        if (value_opts[k].integer) {
            char *end;
            errno = 0;
            long long n = strtoll(val, &end, 10);
            if (errno || *end || end == val || n <= 0)
                return -cli_usage_error("run", run_usage,
                                        "option %s needs a positive integer, got '%s'",
                                        value_opts[k].flag, val);
            lua_pushinteger(L, (lua_Integer)n);
        } else {
            if (strcmp(value_opts[k].key, "order") == 0 && strcmp(val, "arrival") != 0 &&
                strcmp(val, "iteration") != 0)
                return -cli_usage_error("run", run_usage,
                                        "--order must be arrival or iteration, got '%s'", val);
            if (strcmp(value_opts[k].key, "llm_cache") == 0 && strcmp(val, "record") != 0 &&
                strcmp(val, "replay") != 0 && strcmp(val, "off") != 0)
                return -cli_usage_error("run", run_usage,
                                        "--llm-cache must be record, replay or off, got '%s'",
                                        val);
            lua_pushstring(L, val);
        }
        lua_setfield(L, -2, value_opts[k].key);
        return 1;
    }
    if (strcmp(a, "--set") == 0 || strncmp(a, "--set=", 6) == 0) {
        const char *kv = a[5] == '=' ? a + 6 : (*i + 1 < argc ? argv[++*i] : NULL);
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (eq == NULL || eq == kv)
            return -cli_usage_error("run", run_usage, "--set needs KEY=VALUE, got '%s'",
                                    kv ? kv : "nothing");
        lua_getfield(L, -1, "set");
        lua_pushlstring(L, kv, (size_t)(eq - kv));
        push_setting(L, eq + 1);
        lua_settable(L, -3);
        lua_pop(L, 1);
        return 1;
    }
    return 0;
}

/* Option flags that take no value, besides value_opts. */
static const char *const plain_flags[] = {"--resume", "--set", "--help", NULL};

/* A word that starts with '-' but is a script argument: a number such as -1 or -0.5. */
static int is_number(const char *a)
{
    char *end;
    strtod(a, &end);
    return end != a && *end == '\0';
}

/* argv index of the script (the first word that is not an option or an option's
 * value), or 0. A declared option with a value before the script needs the = form. */
static int find_script(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return i + 1 < argc ? i + 1 : 0;
        if (a[0] != '-' || a[1] == '\0' || is_number(a))
            return i;
        if (strcmp(a, "--set") == 0)
            i++;
        for (int k = 0; value_opts[k].flag; k++)
            if (strcmp(a, value_opts[k].flag) == 0)
                i++;
    }
    return 0;
}

/* A declared option at argv[*i] into options.set. Returns 1 if consumed, 0 if not
 * declared, or -EX_USAGE. */
static int parse_declared(lua_State *L, const script_options *decl, int argc, char **argv,
                          int *i)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    char flag[64];
    snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
    const script_option *o = script_options_find(decl, flag);
    if (!o)
        return 0;
    const char *val = eq ? eq + 1 : NULL;
    if (o->metavar[0] && !val) {
        if (*i + 1 >= argc)
            return -cli_usage_error("run", run_usage, "option %s needs a value (%s)", flag,
                                    o->metavar);
        val = argv[++*i];
    }
    lua_getfield(L, -1, "set");
    if (val)
        push_setting(L, val);
    else
        lua_pushboolean(L, 1);
    lua_setfield(L, -2, o->key);
    lua_pop(L, 1);
    return 1;
}

/* "unknown option '--iteration' (did you mean --iterations?)". */
static int unknown_option(const char *a, const script_options *decl)
{
    const char *names[64];
    int n = 0;
    for (int k = 0; value_opts[k].flag && n < 64; k++)
        names[n++] = value_opts[k].flag;
    for (int k = 0; plain_flags[k] && n < 64; k++)
        names[n++] = plain_flags[k];
    for (int k = 0; k < decl->n && n < 64; k++)
        names[n++] = decl->v[k].flag;
    const char *near = cli_nearest(a, names, n);
    if (near)
        return cli_usage_error("run", run_usage, "unknown option '%s' (did you mean %s?)", a,
                               near);
    return cli_usage_error("run", run_usage,
                           "unknown option '%s' (an argument for the script goes after --)",
                           a);
}

/* run --help, with the options the script declares. */
static void print_help(const char *script, const script_options *decl)
{
    cli_print_help(run_help, NULL);
    if (!script)
        return;
    printf("\noptions of %s:\n", script);
    if (decl->n == 0)
        printf("  (none declared)\n");
    for (int k = 0; k < decl->n; k++) {
        char left[100];
        snprintf(left, sizeof left, "%s%s%s", decl->v[k].flag, decl->v[k].metavar[0] ? " " : "",
                 decl->v[k].metavar);
        printf("  %-18s %s (--set %s=...)\n", left, decl->v[k].help, decl->v[k].key);
    }
}

/* Builds the options table and the script's arg table. Returns the index in
 * argv of the script, or -exit_code. Leaves options, args on the stack. */
static int parse_args(lua_State *L, int argc, char **argv, const script_options *decl)
{
    int script = 0, nargs = 0, dashdash = 0;
    lua_newtable(L);                  /* options */
    lua_newtable(L);
    lua_setfield(L, -2, "set");
    lua_newtable(L);                  /* arg */
    lua_insert(L, -2);                /* arg, options */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (!dashdash && a[0] == '-' && a[1] != '\0' && !is_number(a)) {
            if (cli_is_help(a)) {
                int si = find_script(argc, argv);
                print_help(si ? argv[si] : NULL, decl);
                return -EX_OK;
            }
            int r = parse_option(L, argc, argv, &i);
            if (r == 0)
                r = parse_declared(L, decl, argc, argv, &i);
            if (r < 0)
                return r;
            if (r == 1)
                continue;
            return -unknown_option(a, decl);
        }
        if (script == 0) {
            script = i;
            lua_pushstring(L, a);
            lua_rawseti(L, -3, 0);
        } else {
            lua_pushstring(L, a);
            lua_rawseti(L, -3, ++nargs);
        }
    }
    if (script == 0)
        return -cli_usage_error("run", run_usage, "no script given");
    lua_pushstring(L, argv[script]);
    lua_setfield(L, -2, "script");
    return script;
}

static int report_error(lua_State *L, int status)
{
    const char *msg = lua_tostring(L, -1);
    if (rt_interrupted()) {
        /* First line of the message says where the script stopped. */
        const char *nl = msg ? strchr(msg, '\n') : NULL;
        fprintf(stderr, "llmnas: %.*s\n", nl ? (int)(nl - msg) : (int)strlen(msg ? msg : ""),
                msg ? msg : "interrupted");
        if (core_resume_hint())
            fprintf(stderr, "llmnas: %s\n", core_resume_hint());
        return 130;
    }
    const char *user_msg;
    int code = host_user_error(L, -1, &user_msg);
    if (code) {
        fprintf(stderr, "llmnas: %s\n", user_msg ? user_msg : "error");
        return code;
    }
    fprintf(stderr, "llmnas: %s\n", msg ? msg : "(error object is not a string)");
    if (status == LUA_ERRMEM)
        fprintf(stderr, "llmnas: the strategy ran out of memory\n");
    return EX_SOFTWARE;
}

/* Calls require("llmnas.mpi")[fn]() protected; *flag = its boolean result. On an
 * error the message is left on the stack. */
static int mpi_step(lua_State *L, const char *fn, int *flag)
{
    *flag = 0;
    lua_getglobal(L, "require");
    lua_pushstring(L, "llmnas.mpi");
    int status = host_pcall(L, 1, 1);
    if (status != LUA_OK)
        return status;
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    status = host_pcall(L, 0, 1);
    if (status != LUA_OK)
        return status;
    *flag = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return LUA_OK;
}

int cmd_run(int argc, char **argv);
int cmd_run(int argc, char **argv)
{
    int si = find_script(argc, argv);  /* for package.path and the declarations */
    const char *path = si ? argv[si] : NULL;
    lua_State *L = host_new_state(path);
    if (L == NULL) {
        cli_error("cannot create the Lua state (out of memory)");
        return EX_OSERR;
    }
    script_options decl;
    char derr[512];
    if (script_options_read(si ? argv[si] : "", &decl, derr, sizeof derr) != 0) {
        cli_error("%s", derr);
        lua_close(L);
        return EX_DATAERR;
    }
    int script = parse_args(L, argc, argv, &decl);
    script_options_free(&decl);
    if (script <= 0) {
        lua_close(L);
        return -script;
    }
    /* stack: arg, options */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "llmnas.options");
    lua_pop(L, 2);
    /* stack: arg, options. The stdlib hands the options on (llm.configure); a
     * bad option is the user's mistake, reported without a traceback. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "llmnas");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        /* (a development stdlib, LLMNAS_STDLIB_DIR, may have no start) */
        lua_getfield(L, -1, "start");
        lua_remove(L, -2);
        if (!lua_isfunction(L, -1)) {
            lua_pop(L, 1);
            lua_pushnil(L);
        } else {
            lua_pushvalue(L, -2);
            if (lua_pcall(L, 1, 0, 0) == LUA_OK)
                lua_pushnil(L);
        }
    }
    if (!lua_isnil(L, -1)) {
        cli_error("%s", lua_tostring(L, -1));
        lua_close(L);
        return EX_USAGE;
    }
    lua_pop(L, 2);
    lua_setglobal(L, "arg");

    path = argv[script];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cli_error("cannot open script '%s': %s", path, strerror(errno));
        lua_close(L);
        return EX_NOINPUT;
    }
    fclose(f);
    int rc = EX_OK;
    int status = luaL_loadfilex(L, path, "t");
    if (status == LUA_ERRSYNTAX) {
        cli_error("%s", lua_tostring(L, -1));
        rc = EX_DATAERR;
    } else if (status != LUA_OK) {
        cli_error("cannot read script '%s': %s", path, lua_tostring(L, -1));
        rc = status == LUA_ERRFILE ? EX_NOINPUT : EX_SOFTWARE;
    } else {
        host_catch_interrupt(L);
        int evaluator = 0;
        status = LUA_OK;
        if (mpi_launched()) {
            /* rank 0 goes on to the script; the others evaluate until told to stop */
            status = mpi_step(L, "boot", &evaluator);
        }
        if (status == LUA_OK && !evaluator)
            status = host_pcall(L, 0, 0);
        else
            lua_remove(L, status == LUA_OK ? -1 : -2);  /* the script's chunk */
        if (status != LUA_OK)
            rc = report_error(L, status);
        else if (rt_interrupted())
            rc = 130;  /* Ctrl-C during the script's last C call */
        if (mpi_launched() && !evaluator) {
            int ignored;
            lua_settop(L, 0);
            if (mpi_step(L, "shutdown", &ignored) != LUA_OK)
                lua_pop(L, 1);
        }
        host_release_interrupt();
    }
    lua_close(L);
    return rc;
}
