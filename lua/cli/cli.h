/*
 * cli.h — helpers shared by the sub-commands (lua/cmd_*.c).
 */
#ifndef LLMNAS_CLI_H
#define LLMNAS_CLI_H

#include <sysexits.h>

/* Print "llmnas CMD: MESSAGE" and "usage: USAGE" to stderr; returns EX_USAGE (64). */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print "llmnas: MESSAGE" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
