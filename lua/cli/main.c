/*
 * main.c — the `llmnas` command: dispatches to the sub-commands of commands.h.
 * Exit codes follow sysexits.h (64 usage, 65 bad input, 66 missing input,
 * 70 internal error); 130 after Ctrl-C.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LLMNAS_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "cli/commands.h"
#undef LLMNAS_COMMAND

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
#define LLMNAS_COMMAND(name, fn, summary) {name, fn, summary},
#include "cli/commands.h"
#undef LLMNAS_COMMAND
    {NULL, NULL, NULL}};

static const char usage_line[] = "llmnas COMMAND [ARGS...]  (llmnas --help lists the commands)";

static void print_help(FILE *out)
{
    fprintf(out,
            "llmnas %s — LLM-driven neural architecture search on small compute\n\n"
            "usage: llmnas COMMAND [ARGS...]\n\ncommands:\n",
            LLMNAS_VERSION);
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
    fprintf(out,
            "\noptions:\n"
            "  -h, --help     this help; `llmnas COMMAND --help` for a command's own\n"
            "  -V, --version  print the version\n\n"
            "Documentation: README.md and stdlib/SCRIPTING.md in the source tree.\n");
}

/*
 * OpenMP threads waiting at a barrier spin by default (libgomp: 300,000 spins
 * before they sleep). On a machine shared with other jobs, a thread that loses
 * its core leaves its partners spinning for it. Measured on 2 cores at load 5,
 * one epoch of examples/nets/bench_small.lua on 6000 images: 18-29 s and 9-14
 * CPU-s with the default, 11-12 s and 5 with 10,000 spins, 8-10 s and 3-4 with
 * OMP_WAIT_POLICY=passive; on the quiet machine 10,000 spins is as fast as the
 * default, passive 5-21% slower (stdlib/doc/training.md, "Speed"). libgomp reads
 * its environment once, when it is loaded, before main runs: so when the user
 * has set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, llmnas sets the spin count
 * and executes itself again (the same arguments, descriptors and process). If
 * the exec fails it runs on with OpenMP's default.
 */
static void omp_short_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (setenv("GOMP_SPINCOUNT", "10000", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    omp_short_spin(argv);
    if (argc < 2) {
        fprintf(stderr, "llmnas: no command given\nusage: %s\n", usage_line);
        return EX_USAGE;
    }
    const char *cmd = argv[1];
    if (cli_is_help(cmd) || strcmp(cmd, "help") == 0) {
        print_help(stdout);
        return EX_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("llmnas %s\n", LLMNAS_VERSION);
        return EX_OK;
    }
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0)
            return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "llmnas: %s '%s'\nusage: %s\n",
            cmd[0] == '-' ? "unknown option" : "unknown command", cmd, usage_line);
    return EX_USAGE;
}
