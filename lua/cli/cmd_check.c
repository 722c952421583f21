/*
 * cmd_check.c — `llmnas check ARCH.lua [--input 1x28x28] [--classes 10]`:
 * compile a candidate in the sandbox and print a Keras-style summary, or its
 * error and kind (exit 65). Also the helpers shared with `llmnas export`.
 */
#include "cli/cli.h"
#include "cli/cmd_arch.h"
#include "base/rt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char check_usage[] =
    "llmnas check ARCH.lua [--input CxHxW] [--classes N] [--time-limit S] [--json]";

static const char check_help[] =
    "usage: llmnas check ARCH.lua [OPTIONS]\n"
    "\n"
    "Compiles a candidate network (the candidate language, or a graph .json) in\n"
    "the sandbox and prints a summary: each layer's output shape, parameters and\n"
    "FLOPs, then totals, FLOPs per image, activation memory and the graph hash.\n"
    "\n"
    "options:\n"
    "  --input CxHxW      input shape without the batch (default 1x28x28)\n"
    "  --classes N        required output features, 0 = unchecked (default 10)\n"
    "  --time-limit S     CPU seconds for compiling (default 10; wall clock 2x)\n"
    "  --json             one line of JSON on stdout instead: status (ok or the error\n"
    "                     kind), message, graph_hash, params, flops, act_bytes,\n"
    "                     layers, input, output, nodes, graph\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 valid, 64 bad usage, 65 the candidate does not compile (the\n"
    "error and its kind are printed), 66 file not readable, 130 interrupted\n";

int arch_cli_option(const char *cmd, const char *usage, int argc, char **argv, int *i,
                    sandbox_opts *o)
{
    const char *a = argv[*i], *v = NULL;
    static const char *const names[] = {"--input", "--classes", "--time-limit", NULL};
    int which = -1;
    for (int k = 0; names[k]; k++) {
        size_t n = strlen(names[k]);
        if (strcmp(a, names[k]) == 0) {
            if (*i + 1 >= argc)
                return -cli_usage_error(cmd, usage, "option %s needs a value", a);
            v = argv[++*i];
            which = k;
        } else if (strncmp(a, names[k], n) == 0 && a[n] == '=') {
            v = a + n + 1;
            which = k;
        }
        if (which >= 0)
            break;
    }
    if (which < 0)
        return 0;
    char *end;
    errno = 0;
    if (which == 0) {
        long long d[3];
        const char *p = v;
        for (int k = 0; k < 3; k++) {
            d[k] = strtoll(p, &end, 10);
            if (end == p || d[k] < 1 || d[k] > 65536 || (k < 2 && *end != 'x') ||
                (k == 2 && *end))
                return -cli_usage_error(cmd, usage, "--input needs CxHxW, e.g. 3x32x32, got '%s'",
                                        v);
            p = end + 1;
        }
        o->c = d[0], o->h = d[1], o->w = d[2];
    } else if (which == 1) {
        long long n = strtoll(v, &end, 10);
        if (errno || *end || end == v || n < 0 || n > (1 << 24))
            return -cli_usage_error(cmd, usage, "--classes needs a non-negative integer, got '%s'",
                                    v);
        o->classes = (int)n;
    } else {
        double s = strtod(v, &end);
        if (errno || *end || end == v || !(s > 0) || s > 86400)
            return -cli_usage_error(cmd, usage, "--time-limit needs seconds > 0, got '%s'", v);
        o->time_limit = s;
    }
    return 1;
}

static char *read_file(const char *path, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0 || n > max)
            break;
        if (n == cap) {
            char *p = realloc(buf, cap * 2 + 1);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        errno = err ? EIO : ENOMEM;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int arch_cli_compile(const char *cmd, const char *path, sandbox_opts *o, graph **out,
                     char kind[SANDBOX_KIND_LEN], char *msg, size_t msglen)
{
    size_t len = 0;
    char *src = read_file(path, &len, o->max_source + 1);
    if (!src) {
        fprintf(stderr, "llmnas %s: cannot read '%s': %s\n", cmd, path, strerror(errno));
        return EX_NOINPUT;
    }
    size_t pl = strlen(path);
    int rc;
    if (pl > 5 && strcmp(path + pl - 5, ".json") == 0) {
        rc = graph_from_json(src, out, msg, msglen);
        rt_fmt(kind, SANDBOX_KIND_LEN, "json");
    } else {
        rt_catch_interrupt(NULL);
        o->name = path;
        rc = sandbox_compile_isolated(src, len, o, out, kind, msg, msglen, NULL);
        rt_release_interrupt();
    }
    free(src);
    if (rc == 0)
        return 0;
    if (strcmp(kind, "interrupted") == 0) {
        fprintf(stderr, "llmnas %s: interrupted\n", cmd);
        return 130;
    }
    return EX_DATAERR;
}

int arch_cli_load(const char *cmd, const char *path, sandbox_opts *o, graph **out)
{
    char kind[SANDBOX_KIND_LEN], msg[4096];
    int rc = arch_cli_compile(cmd, path, o, out, kind, msg, sizeof msg);
    if (rc == EX_DATAERR)
        fprintf(stderr, "llmnas %s: %s: %s error\n%s\n", cmd, path, kind, msg);
    return rc;
}

static cJSON *int_array(const int64_t *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

/* --json: one line on stdout, the figures or the error. */
static void print_json(const graph *g, const char *kind, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", g ? "ok" : kind);
    if (!g) {
        cJSON_AddStringToObject(j, "message", msg);
    } else {
        char h[GRAPH_HASH_HEX] = "";
        graph_stats s;
        graph_hash(g, h);
        graph_stats_get(g, &s);
        cJSON_AddStringToObject(j, "graph_hash", h);
        cJSON_AddNumberToObject(j, "params", (double)s.params);
        cJSON_AddNumberToObject(j, "flops", (double)s.flops);
        cJSON_AddNumberToObject(j, "act_bytes", (double)s.act_bytes);
        cJSON_AddNumberToObject(j, "layers", s.layers);
        cJSON_AddItemToObject(j, "input", int_array(g->nodes[0].shape.dim + 1, 3));
        const graph_shape *o = &g->nodes[g->output].shape;
        cJSON_AddItemToObject(j, "output", int_array(o->dim + 1, o->rank - 1));
        cJSON *nodes = cJSON_AddArrayToObject(j, "nodes");
        graph_layer *rows;
        int m = graph_layers(g, &rows);
        for (int k = 0; nodes && k < m; k++) {
            const graph_node *n = rows[k].node;
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "id", rows[k].id);
            cJSON_AddStringToObject(x, "name", rows[k].name);
            cJSON_AddStringToObject(x, "op", graph_op_name(n->op));
            cJSON_AddItemToObject(x, "inputs", cJSON_CreateIntArray(rows[k].inputs, rows[k].n_inputs));
            cJSON_AddItemToObject(x, "shape", int_array(n->shape.dim + 1, n->shape.rank - 1));
            cJSON_AddNumberToObject(x, "params", (double)n->params);
            cJSON_AddNumberToObject(x, "flops", (double)n->flops);
            cJSON_AddNumberToObject(x, "act_bytes", (double)n->act_bytes);
            cJSON_AddItemToArray(nodes, x);
        }
        if (m >= 0)
            free(rows);
        char *gj = graph_to_json(g);
        cJSON_AddItemToObject(j, "graph", gj ? cJSON_Parse(gj) : cJSON_CreateNull());
        free(gj);
    }
    char *s = cJSON_PrintUnformatted(j);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(j);
}

int cmd_check(int argc, char **argv);
int cmd_check(int argc, char **argv)
{
    sandbox_opts o;
    sandbox_opts_default(&o);
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(check_help, stdout);
            return EX_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            continue;
        }
        int r = arch_cli_option("check", check_usage, argc, argv, &i, &o);
        if (r < 0)
            return -r;
        if (r)
            continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("check", check_usage, "unknown option '%s'", argv[i]);
        if (path)
            return cli_usage_error("check", check_usage, "one file at a time, got '%s' too",
                                   argv[i]);
        path = argv[i];
    }
    if (!path)
        return cli_usage_error("check", check_usage, "no file given");
    graph *g;
    char kind[SANDBOX_KIND_LEN], msg[4096];
    int rc = arch_cli_compile("check", path, &o, &g, kind, msg, sizeof msg);
    if (rc == EX_DATAERR && json)
        print_json(NULL, kind, msg);
    else if (rc == EX_DATAERR)
        fprintf(stderr, "llmnas check: %s: %s error\n%s\n", path, kind, msg);
    if (rc)
        return rc;
    if (json) {
        print_json(g, NULL, NULL);
        graph_free(g);
        return EX_OK;
    }
    char *s = graph_summary(g);
    char h[GRAPH_HASH_HEX] = "";
    graph_hash(g, h);
    if (s)
        fputs(s, stdout);
    printf("Graph hash: %s\n", h);
    free(s);
    graph_free(g);
    return EX_OK;
}
