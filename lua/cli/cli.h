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

/* Print a command's help to stdout with its @NAME@ fields filled in, so that
 * facts kept elsewhere are not copied into help text:
 *   a line "@DATASETS@"     the dataset registry (dataset.h), one line each;
 *   "@DEFAULT_DATASET@"     the default dataset's name;
 *   any other "@NAME@"      field(NAME) when field is non-NULL and knows it (it
 *                           returns NULL otherwise, and the text stays as is). */
void cli_print_help(const char *text, const char *(*field)(const char *name));

#endif
