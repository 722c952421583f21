/*
 * script_options.h — the options a strategy script declares for `llmnas run`, and the
 * nearest-name suggestion for an unknown option.
 *
 * A script declares an option with a comment line of its own, anywhere in the file:
 *
 *     --@option --population N   individuals per generation (default 8)
 *     --@option --greedy         always keep the best (a flag)
 *
 * `--population 4` (or `--population=4`) is then `--set population=4` and a flag is
 * `--set greedy=true` (dashes in the name become _); `llmnas run SCRIPT --help` lists
 * the declarations. Any other unknown option is an error (stdlib/SCRIPTING.md).
 */
#ifndef LLMNAS_SCRIPT_OPTIONS_H
#define LLMNAS_SCRIPT_OPTIONS_H

#include <stddef.h>

typedef struct script_option {
    char flag[64];    /* "--population" */
    char key[64];     /* "population": the --set key */
    char metavar[32]; /* "N", or "" for a flag */
    char help[160];
} script_option;

typedef struct script_options {
    script_option *v;
    int n;
} script_options;

/* Read the declarations of the script at path (a missing or unreadable file has none:
 * opening it is reported later). Returns 0, or -1 with a message in err for a malformed
 * declaration (the line is named). */
int script_options_read(const char *path, script_options *out, char *err, size_t cap);
void script_options_free(script_options *o);

/* The declared option matching flag exactly, or NULL. */
const script_option *script_options_find(const script_options *o, const char *flag);

/* The candidate nearest to word by edit distance, if near enough to be a likely typo
 * (distance <= max(2, length / 3)); NULL otherwise. */
const char *cli_nearest(const char *word, const char *const *candidates, int n);

#endif
