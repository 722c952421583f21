/*
 * cmd_arch.h — what `llmnas check` and `llmnas export` share (lua/cmd_check.c):
 * the common options and loading a candidate file into a graph.
 */
#ifndef LLMNAS_CMD_ARCH_H
#define LLMNAS_CMD_ARCH_H

#include "graph/graph.h"
#include "sandbox/sandbox.h"

/* Parse --input CxHxW, --classes N, --time-limit S at argv[*i] into o.
 * Returns 1 if consumed, 0 if not one of these, or -EX_USAGE after printing. */
int arch_cli_option(const char *cmd, const char *usage, int argc, char **argv, int *i,
                    sandbox_opts *o);

/* Compile the candidate file at path (a .json file is read as a graph) in a
 * sandboxed worker. Returns 0 with *out, or an exit code after printing the
 * error to stderr: 66 unreadable, 65 does not compile ("FILE: KIND error: MSG"),
 * 130 interrupted. */
int arch_cli_load(const char *cmd, const char *path, sandbox_opts *o, graph **out);

/* The same without printing a compile error: returns 0, 66 (printed), 130, or
 * 65 with kind and msg filled for the caller to report. */
int arch_cli_compile(const char *cmd, const char *path, sandbox_opts *o, graph **out,
                     char kind[SANDBOX_KIND_LEN], char *msg, size_t msglen);

#endif
