/*
 * cmd_export.c — `llmnas export ARCH.lua --format json|lua|pytorch [-o FILE]`:
 * compile a candidate in the sandbox and write it as canonical JSON, a clean
 * candidate program, or PyTorch source.
 */
#include "cli/cli.h"
#include "cli/cmd_arch.h"
#include "graph/graph_weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char export_usage[] =
    "llmnas export ARCH.lua --format json|lua|pytorch [-o FILE] [--input CxHxW] [--classes N]";

static const char export_help[] =
    "usage: llmnas export ARCH.lua --format json|lua|pytorch [OPTIONS]\n"
    "\n"
    "Compiles a candidate network (or reads a graph .json) and writes it as:\n"
    "  json     the canonical graph JSON (what the graph hash is computed from)\n"
    "  lua      a clean candidate program that compiles back to the same hash\n"
    "  pytorch  Python source, class Net(nn.Module), for training elsewhere\n"
    "\n"
    "options:\n"
    "  -o, --output FILE  write there instead of stdout\n"
    "  --input CxHxW      input shape without the batch (default 1x28x28)\n"
    "  --classes N        required output features, 0 = unchecked (default 10)\n"
    "  --time-limit S     CPU seconds for compiling (default 10; wall clock 2x)\n"
    "  -h, --help         this help\n"
    "\n"
    "exit codes: 0 written, 64 bad usage, 65 the candidate does not compile,\n"
    "66 file not readable, 73 output not writable, 130 interrupted\n";

static int write_out(const char *path, const char *text)
{
    if (!path) {
        fputs(text, stdout);
        return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
    }
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "llmnas export: cannot write '%s': %s\n", path, strerror(errno));
        return EX_CANTCREAT;
    }
    return EX_OK;
}

int cmd_export(int argc, char **argv);
int cmd_export(int argc, char **argv)
{
    sandbox_opts o;
    sandbox_opts_default(&o);
    const char *path = NULL, *format = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            fputs(export_help, stdout);
            return EX_OK;
        }
        int r = arch_cli_option("export", export_usage, argc, argv, &i, &o);
        if (r < 0)
            return -r;
        if (r)
            continue;
        if (strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0 || strcmp(a, "-o") == 0 ||
            strcmp(a, "--output") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("export", export_usage, "option %s needs a value", a);
            if (a[1] == 'o' || a[2] == 'o')
                output = argv[++i];
            else
                format = argv[++i];
        } else if (strncmp(a, "--format=", 9) == 0) {
            format = a + 9;
        } else if (strncmp(a, "--output=", 9) == 0) {
            output = a + 9;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("export", export_usage, "unknown option '%s'", a);
        } else if (path) {
            return cli_usage_error("export", export_usage, "one file at a time, got '%s' too", a);
        } else {
            path = a;
        }
    }
    if (!path)
        return cli_usage_error("export", export_usage, "no file given");
    if (!format)
        return cli_usage_error("export", export_usage, "--format is required");
    char *(*fn)(const graph *) = strcmp(format, "json") == 0      ? graph_to_json
                                 : strcmp(format, "lua") == 0     ? graph_to_lua
                                 : strcmp(format, "pytorch") == 0 ? graph_to_pytorch
                                                                  : NULL;
    if (!fn)
        return cli_usage_error("export", export_usage,
                               "--format must be json, lua or pytorch, got '%s'", format);
    graph *g;
    int rc = arch_cli_load("export", path, &o, &g);
    if (rc)
        return rc;
    char *text = fn(g);
    graph_free(g);
    if (!text) {
        fprintf(stderr, "llmnas export: out of memory\n");
        return EX_SOFTWARE;
    }
    size_t n = strlen(text);
    if (fn == graph_to_pytorch) {  /* and load_safetensors for a model saved by train --save */
        const char *ld = graph_pytorch_loader();
        char *t = realloc(text, n + strlen(ld) + 1);
        if (t) {
            text = t;
            memcpy(text + n, ld, strlen(ld) + 1);
            n = strlen(text);
        }
    }
    if (strcmp(format, "json") == 0 && (n == 0 || text[n - 1] != '\n')) {
        char *t = realloc(text, n + 2);
        if (t) {
            text = t;
            text[n] = '\n';
            text[n + 1] = '\0';
        }
    }
    rc = write_out(output, text);
    free(text);
    return rc;
}
